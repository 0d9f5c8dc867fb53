"""DBHCHT realisation: month by month, what was billed and paid, and what the rest of the coverage will cost.

The figures reconcile with the bills by construction: a billed month's amount *is* its bill's amount, and a
month's paid figure *is* what was paid on that bill. Months not yet billed are projected with the very rule a
bill would apply (``api.rules.billing.covered_in``), evaluated on today's enrollments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select

from api.rules.billing import covered_in, remaining
from api.rules.months import month_bounds, months_between
from api.session import Db
from db.models import BillStatus, ContributionBill, Enrollment, FundingSource


@dataclass
class Month:
    period: str
    members_active: int = 0
    members_billed: int = 0
    billed: int = 0
    paid: int = 0
    projected: int = 0
    is_projection: bool = True

    def add(self, other: Month) -> None:
        self.members_active += other.members_active
        self.members_billed += other.members_billed
        self.billed += other.billed
        self.paid += other.paid
        self.projected += other.projected
        # A month of several sources is a projection while any of its sources is unbilled.
        self.is_projection = self.is_projection or other.is_projection


@dataclass
class Realisation:
    allocated: int = 0
    months: list[Month] = field(default_factory=list)

    @property
    def billed(self) -> int:
        return sum(m.billed for m in self.months)

    @property
    def paid(self) -> int:
        return sum(m.paid for m in self.months)

    @property
    def remaining(self) -> int:
        return remaining(self.allocated, self.billed)

    @property
    def projected_spend(self) -> int:
        return sum(m.projected for m in self.months)

    @property
    def projected_remaining(self) -> int:
        return self.allocated - self.projected_spend


def _periods(source: FundingSource, billed: Sequence[str]) -> list[str]:
    periods = set(billed)
    if source.coverage_start is not None and source.coverage_end is not None:
        periods.update(months_between(source.coverage_start, source.coverage_end))
    return sorted(periods)


async def of_sources(db: Db, sources: Sequence[FundingSource]) -> dict[int, Realisation]:
    """Each source's realisation. Two statements whatever the number of sources and months: the bills, and
    one aggregate over enrollments with a (count, sum) column pair per month."""
    if not sources:
        return {}
    ids = [s.id for s in sources]
    bill_rows = (
        await db.execute(
            select(
                ContributionBill.funding_source_id,
                ContributionBill.period,
                ContributionBill.participants,
                ContributionBill.amount,
                ContributionBill.status,
                ContributionBill.paid_amount,
            ).where(ContributionBill.funding_source_id.in_(ids))
        )
    ).all()
    bills: dict[tuple[int, str], Month] = {}
    for source_id, period, participants, amount, status, paid_amount in bill_rows:
        bills[(source_id, period)] = Month(
            period=period,
            members_billed=participants,
            billed=amount,
            paid=(paid_amount or 0) if status == BillStatus.PAID else 0,
            projected=amount,
            is_projection=False,
        )
    periods = {s.id: _periods(s, [p for (sid, p) in bills if sid == s.id]) for s in sources}
    all_periods = sorted({p for ps in periods.values() for p in ps})
    columns = []
    for period in all_periods:
        start, end = month_bounds(period)
        in_month = and_(*covered_in(start, end))
        columns.append(func.sum(case((in_month, 1), else_=0)))
        columns.append(func.sum(case((in_month, Enrollment.monthly_contribution), else_=0)))
    active: dict[tuple[int, str], tuple[int, int]] = {}
    if columns:
        rows = await db.execute(
            select(Enrollment.funding_source_id, *columns)
            .where(Enrollment.funding_source_id.in_(ids))
            .group_by(Enrollment.funding_source_id)
        )
        for source_id, *figures in rows.all():
            for i, period in enumerate(all_periods):
                active[(source_id, period)] = (int(figures[2 * i] or 0), int(figures[2 * i + 1] or 0))
    result: dict[int, Realisation] = {}
    for source in sources:
        months = []
        for period in periods[source.id]:
            members, amount = active.get((source.id, period), (0, 0))
            month = bills.get((source.id, period)) or Month(period=period, projected=amount)
            month.members_active = members
            months.append(month)
        result[source.id] = Realisation(allocated=source.allocated, months=months)
    return result


def combined(parts: Sequence[Realisation]) -> Realisation:
    """Several sources' realisation as one series (the programme's year): months merged by period."""
    by_period: dict[str, Month] = {}
    for part in parts:
        for month in part.months:
            into = by_period.setdefault(month.period, Month(period=month.period, is_projection=False))
            into.add(month)
    return Realisation(allocated=sum(p.allocated for p in parts), months=[by_period[p] for p in sorted(by_period)])
