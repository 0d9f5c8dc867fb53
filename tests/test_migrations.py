"""The alembic chain builds exactly the schema the models describe, on the suite's database (SQLite or
PostgreSQL): a model changed without its migration fails here, not in production."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from db.base import Base, is_region_code
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


def test_region_codes_compare_bytewise_and_their_prefix_uses_the_index(server: Server) -> None:
    """Every column the models type as a region code (db.base.region_code) has the C collation in the migrated
    database, whatever the database's own, and a scope's prefix (LIKE 'code%', db/scoping.py) is then an index
    range: under another collation it was a filter over the whole table (bench/README.md, "Region codes")."""
    if not server.database_url.startswith("postgresql"):
        pytest.skip("SQLite compares text bytewise and has no collation to set")
    wanted = sorted(
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if is_region_code(column.type)
    )
    assert ("workers", "kelurahan_code") in wanted
    assert ("kelurahan", "code") in wanted

    async def read() -> tuple[dict[tuple[str, str], str | None], str]:
        engine = create_engine(server.database_url)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema()"
                )
            )
            found = {(t, c): collation for t, c, collation in rows}
            # Off, so that the plan shows whether an index can take the prefix at all (a small table is
            # otherwise read whole, which proves nothing).
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = await conn.scalars(
                text("EXPLAIN SELECT id FROM workers WHERE kelurahan_code LIKE '3575%' ORDER BY kelurahan_code, id")
            )
            shown = "\n".join(plan)
            await conn.rollback()
        await engine.dispose()
        return found, shown

    found, plan = asyncio.run(read())
    assert {key: found.get(key) for key in wanted} == dict.fromkeys(wanted, "C")
    assert "Index Cond: ((kelurahan_code >= '3575'::text) AND (kelurahan_code < '3576'::text))" in plan, plan
