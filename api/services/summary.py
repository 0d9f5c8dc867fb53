"""Dashboard figures, computed by SQL aggregates over the viewer's scope (the session applies it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


async def programme_summary(
    ctx: Context, fiscal_year: int | None, *, by_kelurahan: bool = True, by_occupation: bool = True
) -> Summary:
    """The scope's totals, and per kelurahan / per occupation only when asked: each breakdown is a GROUP BY
    column of the same two aggregates (workers; enrollments by status), and the dashboard's usual question,
    per kelurahan, then costs no grouping by occupation (bench/README.md, Q2)."""
    enrollment_filter = []
    if fiscal_year is not None:
        enrollment_filter.append(
            exists().where(FundingSource.id == Enrollment.funding_source_id, FundingSource.fiscal_year == fiscal_year)
        )
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

    worker_rows = await ctx.db.execute(select(*keys, func.count(Worker.id)).group_by(*keys))
    for row in worker_rows.all():
        for tally in tallies(row):
            tally.workers += row[-1]
    enrollment_rows = await ctx.db.execute(
        select(*keys, Enrollment.status, func.count(Enrollment.id))
        .join(Worker, Worker.id == Enrollment.worker_id)
        .where(*enrollment_filter)
        .group_by(*keys, Enrollment.status)
    )
    for row in enrollment_rows.all():
        for tally in tallies(row):
            tally.by_status[row[-2]] += row[-1]
    kelurahan = list(await ctx.db.scalars(select(Kelurahan).order_by(Kelurahan.code))) if by_kelurahan else []
    return Summary(
        total=total,
        kelurahan=[(k, by_kel.get(k.code, Tally())) for k in kelurahan],
        occupations=[(o, by_occ.get(o, Tally())) for o in Occupation] if by_occupation else [],
    )
