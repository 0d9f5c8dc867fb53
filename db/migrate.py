"""Alembic driven from code, so that `rentan db upgrade` and the tests run the same chain."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate to ``revision``. Must run outside an event loop (the env starts its own)."""
    command.upgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def schema_behind(database_url: str) -> str | None:
    """Why the database cannot be served by this code (its schema is not at the code's head), or None.
    Must run outside an event loop."""
    import asyncio

    from db.session import create_engine

    async def current() -> str | None:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(current_revision)
        except Exception:
            # aiosqlite stops a connection that failed to open on its own thread, which then answers on this loop:
            # let it, or it finds the loop closed and prints a traceback under the caller's one-line message.
            await asyncio.sleep(0.2)
            raise
        finally:
            await engine.dispose()

    at, head = asyncio.run(current()), head_revision(database_url)
    if at == head:
        return None
    return f"the database schema is at {at or 'nothing'}, this code needs {head}: run `rentan db upgrade` first"
