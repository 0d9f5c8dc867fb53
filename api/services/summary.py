"""Dashboard figures, computed by SQL aggregates over the viewer's scope (the session applies it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select

from api.context import Context
from db.models import Enrollment, EnrollmentStatus, FundingSource, Kelurahan, Occupation, Worker
from db.scoping import through_parent


@dataclass
class Tally:
    workers: int = 0
    by_status: Counter[EnrollmentStatus] = field(default_factory=Counter)


@dataclass
class Summary:
    total: Tally
    kelurahan: list[tuple[Kelurahan, Tally]]
    occupations: list[tuple[Occupation, Tally]]


def worker_counts(keys: Sequence[Any]) -> Select[Any]:
    """Workers per ``keys`` (a kelurahan code, an occupation), the count last."""
    return select(*keys, func.count(Worker.id)).group_by(*keys)


def _of_year(source_id: Any, fiscal_year: int | None) -> list[ColumnElement[bool]]:
    """The enrollments counted for a fiscal year: those of its funding sources (every one when none is given)."""
    if fiscal_year is None:
        return []
    return [exists().where(FundingSource.id == source_id, FundingSource.fiscal_year == fiscal_year)]


def enrollment_counts(keys: Sequence[Any], fiscal_year: int | None) -> Select[Any]:
    """Enrollments per ``keys`` and status (of the year's sources, when given), the status and the count last."""
    stmt = select(*keys, Enrollment.status, func.count(Enrollment.id)).join(Worker, Worker.id == Enrollment.worker_id)
    return stmt.where(*_of_year(Enrollment.funding_source_id, fiscal_year)).group_by(*keys, Enrollment.status)


def enrollment_figures(
    keys: Sequence[Any], statuses: Sequence[EnrollmentStatus], fiscal_year: int | None
) -> Select[Any]:
    """Per ``keys``, how many enrollments of each of ``statuses`` (of the year's sources, when given) there are, a
    column each, named by its status: enrollment_counts' figures for the compiled dashboard, with each enrollment
    reached through its worker (db/scoping.through_parent) rather than asking for its worker twice."""
    rows, select_from = through_parent(Enrollment, "counted")
    figures: list[ColumnElement[Any]] = [
        func.count(rows.id).filter(rows.status == status).label(status.value) for status in statuses
    ]
    stmt = select_from(*keys, *figures).where(*_of_year(rows.funding_source_id, fiscal_year))
    return stmt.group_by(*keys)


# The order the dashboard lists kelurahan in (a compiled read's JSON too, api/schema/compiled/).
KELURAHAN_ORDER = (Kelurahan.code,)


def kelurahan_rows() -> Select[Any]:
    """The kelurahan of the dashboard, in the order it lists them."""
    return select(Kelurahan).order_by(*KELURAHAN_ORDER)


async def programme_summary(
    ctx: Context, fiscal_year: int | None, *, by_kelurahan: bool = True, by_occupation: bool = True
) -> Summary:
    """The scope's totals, and per kelurahan / per occupation only when asked: each breakdown is a GROUP BY
    column of the same two aggregates (workers; enrollments by status), and the dashboard's usual question,
    per kelurahan, then costs no grouping by occupation (bench/README.md, Q2)."""
    keys = [c for c, wanted in ((Worker.kelurahan_code, by_kelurahan), (Worker.occupation, by_occupation)) if wanted]
    by_kel: dict[str, Tally] = {}
    by_occ: dict[Occupation, Tally] = {}
    total = Tally()

    def tallies(row: Sequence[Any]) -> list[Tally]:
        found = [total]
        if by_kelurahan:
            found.append(by_kel.setdefault(row[0], Tally()))
        if by_occupation:
            found.append(by_occ.setdefault(row[len(keys) - 1], Tally()))
        return found

    worker_rows = await ctx.db.execute(worker_counts(keys))
    for row in worker_rows.all():
        for tally in tallies(row):
            tally.workers += row[-1]
    enrollment_rows = await ctx.db.execute(enrollment_counts(keys, fiscal_year))
    for row in enrollment_rows.all():
        for tally in tallies(row):
            tally.by_status[row[-2]] += row[-1]
    kelurahan = list(await ctx.db.scalars(kelurahan_rows())) if by_kelurahan else []
    return Summary(
        total=total,
        kelurahan=[(k, by_kel.get(k.code, Tally())) for k in kelurahan],
        occupations=[(o, by_occ.get(o, Tally())) for o in Occupation] if by_occupation else [],
    )
