"""PostgreSQL connection settings of the app's engine: the statement timeout the server enforces."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.session import create_engine

URL = os.environ.get("RENTAN_TEST_DATABASE_URL") or ""
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="PostgreSQL only: set RENTAN_TEST_DATABASE_URL, as .ci/run does"
)


def test_a_runaway_statement_is_cancelled_by_the_server() -> None:
    async def run() -> tuple[str, str]:
        engine = create_engine(URL, statement_timeout_ms=300, pool_size=2, max_overflow=0)
        try:
            async with engine.connect() as conn:
                shown = str((await conn.execute(text("SHOW statement_timeout"))).scalar())
                try:
                    await conn.execute(text("SELECT pg_sleep(3)"))
                except DBAPIError as exc:
                    return shown, type(exc.orig).__name__ + ": " + str(exc.orig)
                return shown, "not cancelled"
        finally:
            await engine.dispose()

    shown, outcome = asyncio.run(run())
    assert shown == "300ms"
    assert "QueryCanceled" in outcome or "statement timeout" in outcome, outcome
