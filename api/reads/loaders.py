"""Per-request DataLoaders: one SQL statement per relation per level of the query, whatever the page size.

Every loader runs an ORM select through the request's scoped session, so a row outside the principal's
scope is simply absent from the batch (the loader answers None / []), exactly as on every other path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from sqlalchemy import case, func, select
from sqlalchemy.orm import InstrumentedAttribute
from strawberry.dataloader import DataLoader

from api.reads import realisation
from api.session import Db
from db.models import (
    BillStatus,
    City,
    ContributionBill,
    Enrollment,
    FundingSource,
    Kecamatan,
    Kelurahan,
    VerificationCheck,
    Worker,
    WorkerMove,
)

M = TypeVar("M")
K = TypeVar("K")
V = TypeVar("V")


def now_or_later(loader: DataLoader[K, V], key: K) -> V | Awaitable[V]:
    """The value when this request has loaded it already (a page prefetched its relations), else the loader's
    awaitable. A resolver that returns a plain value costs graphql-core a function call; one that returns an
    awaitable costs a coroutine, and a list of them a task per item (bench/README.md: a third of a page's CPU)."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and future.exception() is None:
        return future.result()
    return loader.load(key)


def _one(db: Db, model: type[M], column: InstrumentedAttribute[Any]) -> DataLoader[Any, M | None]:
    async def load(keys: Sequence[Any]) -> list[M | None]:
        rows = await db.scalars(select(model).where(column.in_(set(keys))))
        by_key = {getattr(r, column.key): r for r in rows}
        return [by_key.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _many(db: Db, model: type[M], column: InstrumentedAttribute[Any], order: Any) -> DataLoader[Any, list[M]]:
    async def load(keys: Sequence[Any]) -> list[list[M]]:
        rows = await db.scalars(select(model).where(column.in_(set(keys))).order_by(order))
        grouped: dict[Any, list[M]] = defaultdict(list)
        for r in rows:
            grouped[getattr(r, column.key)].append(r)
        return [grouped.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


class FundingFigures:
    __slots__ = ("billed", "paid")

    def __init__(self, billed: int = 0, paid: int = 0) -> None:
        self.billed = billed
        self.paid = paid


def _funding_figures(db: Db) -> DataLoader[int, FundingFigures]:
    async def load(keys: Sequence[int]) -> list[FundingFigures]:
        paid = func.sum(case((ContributionBill.status == BillStatus.PAID, ContributionBill.paid_amount), else_=0))
        stmt = (
            select(ContributionBill.funding_source_id, func.sum(ContributionBill.amount), paid)
            .where(ContributionBill.funding_source_id.in_(set(keys)))
            .group_by(ContributionBill.funding_source_id)
        )
        figures = {sid: FundingFigures(int(b or 0), int(p or 0)) for sid, b, p in (await db.execute(stmt)).all()}
        return [figures.get(k, FundingFigures()) for k in keys]

    return DataLoader(load_fn=load)


def _realisation(db: Db, sources: DataLoader[Any, FundingSource | None]) -> DataLoader[int, realisation.Realisation]:
    async def load(keys: Sequence[int]) -> list[realisation.Realisation]:
        rows = [s for s in await sources.load_many(keys) if s is not None]
        by_id = await realisation.of_sources(db, rows)
        return [by_id.get(k, realisation.Realisation()) for k in keys]

    return DataLoader(load_fn=load)


# The lists a row has of another kind's rows: the rows, the column that names their owner, their order. The
# loaders below read them so, and the compiled reads (api/schema/compiled/plan.py) select them so, from here.
LISTS: dict[str, tuple[type[Any], InstrumentedAttribute[Any], InstrumentedAttribute[Any]]] = {
    "kecamatan_by_city": (Kecamatan, Kecamatan.city_code, Kecamatan.code),
    "kelurahan_by_kecamatan": (Kelurahan, Kelurahan.kecamatan_code, Kelurahan.code),
    "moves_by_worker": (WorkerMove, WorkerMove.worker_id, WorkerMove.id),
    "enrollments_by_worker": (Enrollment, Enrollment.worker_id, Enrollment.id),
    "checks_by_enrollment": (VerificationCheck, VerificationCheck.enrollment_id, VerificationCheck.id),
}


class Loaders:
    def __init__(self, db: Db) -> None:
        self.city_by_id = _one(db, City, City.id)
        self.city_by_code = _one(db, City, City.code)
        self.kecamatan_by_id = _one(db, Kecamatan, Kecamatan.id)
        self.kecamatan_by_code = _one(db, Kecamatan, Kecamatan.code)
        self.kecamatan_by_city: DataLoader[str, list[Kecamatan]] = _many(db, *LISTS["kecamatan_by_city"])
        self.kelurahan_by_id = _one(db, Kelurahan, Kelurahan.id)
        self.kelurahan_by_code = _one(db, Kelurahan, Kelurahan.code)
        self.kelurahan_by_kecamatan: DataLoader[str, list[Kelurahan]] = _many(db, *LISTS["kelurahan_by_kecamatan"])
        self.worker_by_id = _one(db, Worker, Worker.id)
        self.enrollment_by_id = _one(db, Enrollment, Enrollment.id)
        self.moves_by_worker: DataLoader[int, list[WorkerMove]] = _many(db, *LISTS["moves_by_worker"])
        self.enrollments_by_worker: DataLoader[int, list[Enrollment]] = _many(db, *LISTS["enrollments_by_worker"])
        self.checks_by_enrollment: DataLoader[int, list[VerificationCheck]] = _many(db, *LISTS["checks_by_enrollment"])
        self.funding_source_by_id = _one(db, FundingSource, FundingSource.id)
        self.bill_by_id = _one(db, ContributionBill, ContributionBill.id)
        self.funding_figures = _funding_figures(db)
        self.realisation = _realisation(db, self.funding_source_by_id)

    def forget(self, loader: DataLoader[Any, Any], key: Any) -> None:
        """Drop one cached key. Strawberry's DataLoader.clear raises KeyError for a key never loaded."""
        if loader.cache_map.get(key) is not None:
            loader.clear(key)
