"""Dashboard figures, computed by SQL aggregates over the viewer's scope (the session applies it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select

from api.context import Context
from db.models import Enrollment, EnrollmentStatus, FundingSource, Kelurahan, Occupation, Worker


@dataclass
class Tally:
    workers: int = 0
    by_status: Counter[EnrollmentStatus] = field(default_factory=Counter)


@dataclass
class Summary:
    total: Tally
    kelurahan: list[tuple[Kelurahan, Tally]]
    occupations: list[tuple[Occupation, Tally]]


async def programme_summary(ctx: Context, fiscal_year: int | None) -> Summary:
    enrollment_filter = []
    if fiscal_year is not None:
        enrollment_filter.append(
            exists().where(FundingSource.id == Enrollment.funding_source_id, FundingSource.fiscal_year == fiscal_year)
        )
    by_kel: dict[str, Tally] = {}
    by_occ: dict[Occupation, Tally] = {}
    total = Tally()
    worker_rows = await ctx.db.execute(
        select(Worker.kelurahan_code, Worker.occupation, func.count(Worker.id)).group_by(
            Worker.kelurahan_code, Worker.occupation
        )
    )
    for code, occupation, n in worker_rows.all():
        by_kel.setdefault(code, Tally()).workers += n
        by_occ.setdefault(occupation, Tally()).workers += n
        total.workers += n
    enrollment_rows = await ctx.db.execute(
        select(Worker.kelurahan_code, Worker.occupation, Enrollment.status, func.count(Enrollment.id))
        .join(Worker, Worker.id == Enrollment.worker_id)
        .where(*enrollment_filter)
        .group_by(Worker.kelurahan_code, Worker.occupation, Enrollment.status)
    )
    for code, occupation, status, n in enrollment_rows.all():
        by_kel.setdefault(code, Tally()).by_status[status] += n
        by_occ.setdefault(occupation, Tally()).by_status[status] += n
        total.by_status[status] += n
    kelurahan = await ctx.db.scalars(select(Kelurahan).order_by(Kelurahan.code))
    return Summary(
        total=total,
        kelurahan=[(k, by_kel.get(k.code, Tally())) for k in kelurahan],
        occupations=[(o, by_occ.get(o, Tally())) for o in Occupation],
    )
