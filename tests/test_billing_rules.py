"""Rules with two renderings answer alike: Python for one row, SQL for aggregates (api/rules/billing.py).

The overdue rule: Python for one bill (``overdue`` in the graph), SQL for lapse, members at risk and reactivation,
for every bill and every day around its due date. The end-of-coverage rule: Python (api/rules/lifecycle.py) and
the SQL the monthly job runs, for every enrollment and every day around a coverage end. Each runs the SQL on the
suite's database and the Python on the same rows."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import select

from api.rules.billing import ended_by, is_overdue, overdue_on
from api.rules.lifecycle import coverage_has_ended
from db.models import ContributionBill, Enrollment, EnrollmentStatus
from db.session import create_engine
from tests.conftest import Server


def _days_around(bills: list[ContributionBill]) -> list[date]:
    days = {b.due_date + timedelta(days=d) for b in bills for d in (-1, 0, 1)}
    return sorted(days | {date(2025, 12, 31), date(2026, 1, 1)})


def test_overdue_in_sql_equals_overdue_in_python(server: Server) -> None:
    async def run() -> list[tuple[date, set[int], set[int]]]:
        engine = create_engine(server.database_url)
        try:
            async with engine.connect() as conn:
                bills = [
                    ContributionBill(id=r.id, status=r.status, due_date=r.due_date)
                    for r in (await conn.execute(select(ContributionBill.__table__))).all()
                ]
                assert bills, "the seed has bills"
                outcomes = []
                for day in _days_around(bills):
                    in_sql = set((await conn.execute(select(ContributionBill.id).where(overdue_on(day)))).scalars())
                    in_python = {b.id for b in bills if is_overdue(b, day)}
                    outcomes.append((day, in_sql, in_python))
                return outcomes
        finally:
            await engine.dispose()

    outcomes = asyncio.run(run())
    assert any(sql for _day, sql, _py in outcomes), "no day had an overdue bill: the comparison proves nothing"
    for day, in_sql, in_python in outcomes:
        assert in_sql == in_python, (day, in_sql ^ in_python)


def test_ended_coverage_in_sql_equals_it_in_python(server: Server) -> None:
    """The end-of-coverage rule (api/rules/lifecycle.py, coverage_has_ended) and its SQL (api/rules/billing.py,
    ended_by) pick the same enrollments, on every day around the coverage ends the database holds."""

    async def run() -> list[tuple[date, set[int], set[int]]]:
        engine = create_engine(server.database_url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(Enrollment.id, Enrollment.status, Enrollment.coverage_end))).all()
                ends = {r.coverage_end for r in rows if r.coverage_end is not None}
                assert ends, "the seed has coverage"
                days = sorted({end + timedelta(days=d) for end in ends for d in (-1, 0, 1, 2)})
                outcomes = []
                for day in days:
                    in_sql = set((await conn.execute(select(Enrollment.id).where(*ended_by(day)))).scalars())
                    in_python = {
                        r.id for r in rows if coverage_has_ended(EnrollmentStatus(r.status), r.coverage_end, day)
                    }
                    outcomes.append((day, in_sql, in_python))
                return outcomes
        finally:
            await engine.dispose()

    outcomes = asyncio.run(run())
    assert any(sql for _day, sql, _py in outcomes), "no day ended any coverage: the comparison proves nothing"
    assert any(not sql for _day, sql, _py in outcomes), "every day ended coverage: the comparison proves little"
    for day, in_sql, in_python in outcomes:
        assert in_sql == in_python, (day, in_sql ^ in_python)
