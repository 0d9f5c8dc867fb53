"""Row scoping fails closed: a session that carries no scope sees no scoped row, never all rows."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent, Enrollment, FundingSource, Kelurahan, Worker
from db.scoping import RowScope, set_scope
from db.session import create_engine
from tests.conftest import BUGUL_LOR, Server


def _counts(database_url: str, scope: RowScope | None) -> dict[str, int]:
    async def run() -> dict[str, int]:
        engine = create_engine(database_url)
        async with AsyncSession(engine) as session:
            if scope is not None:
                set_scope(session, scope)
            counts = {
                m.__name__: int(await session.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Worker, Enrollment, FundingSource, Kelurahan, AuditEvent)
            }
            counts["get"] = int(await session.get(Worker, 1) is not None)
        await engine.dispose()
        return counts

    return asyncio.run(run())


def test_a_session_without_scope_sees_nothing(server: Server) -> None:
    """No scope set: every scoped table is empty, `session.get` finds nothing."""
    assert set(_counts(server.database_url, None).values()) == {0}


def test_the_scope_narrows_and_the_operator_scope_sees_all(server: Server) -> None:
    """The same statements under a kelurahan scope see that kelurahan only; the operator's CLI scope sees all."""
    everything = _counts(server.database_url, RowScope.for_operator())
    bugul_lor = _counts(server.database_url, RowScope(region_codes=(BUGUL_LOR,), subject="t"))
    (in_bugul_lor,) = server.sql("SELECT count(*) FROM workers WHERE kelurahan_code = :k", k=BUGUL_LOR)[0]
    assert bugul_lor["Worker"] == in_bugul_lor < everything["Worker"]
    assert bugul_lor["Kelurahan"] == 1
    assert everything["Kelurahan"] == 34
    assert 0 < bugul_lor["Enrollment"] < everything["Enrollment"]
