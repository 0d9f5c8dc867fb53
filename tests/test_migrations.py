"""The alembic chain builds exactly the schema the models describe, on the suite's database (SQLite or
PostgreSQL): a model changed without its migration fails here, not in production."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from db.base import Base
from db.session import create_engine
from tests.conftest import Server


def test_migrations_match_the_models(server: Server) -> None:
    async def diff() -> list[Any]:
        engine = create_engine(server.database_url)
        async with engine.connect() as conn:
            result: list[Any] = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        await engine.dispose()
        return result

    assert asyncio.run(diff()) == []
