"""The overdue rule has two renderings (api/rules/billing.py): Python for one bill (``overdue`` in the graph) and SQL
for aggregates (lapse, members at risk, reactivation). Both must answer alike, for every bill and every day around
its due date: this runs the SQL on the suite's database and the Python on the same rows."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import select

from api.rules.billing import is_overdue, overdue_on
from db.models import ContributionBill
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
