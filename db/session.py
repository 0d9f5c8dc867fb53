"""Engines and sessions: SQLite tuned to behave like a transactional database, PostgreSQL through asyncpg."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# Execution option naming how a SQLite transaction begins: IMMEDIATE takes the write lock at BEGIN, so that
# two writers queue on busy_timeout instead of failing when a read lock cannot be upgraded.
SQLITE_BEGIN = "rentan_sqlite_begin"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30,
    statement_timeout_ms: int = 0,
) -> AsyncEngine:
    """The engine for ``url``. On PostgreSQL: a pool per process (size + overflow connections at most, so N
    processes need N x that many of the server's max_connections) and, when given, a statement timeout set on
    every connection, so a runaway query is cancelled by the server instead of holding a connection."""
    # hide_parameters: a database error's message must not carry the bound values (NIKs, phones) into logs or
    # development responses.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if is_sqlite(url):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout, pool_pre_ping=True)
        if statement_timeout_ms > 0:
            kwargs["connect_args"] = {"server_settings": {"statement_timeout": str(statement_timeout_ms)}}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it would not emit BEGIN before reads and
        # breaks SAVEPOINT), then switch on what SQLite leaves off by default.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


@lru_cache(maxsize=8)
def writer_bind(engine: AsyncEngine) -> AsyncEngine:
    """The engine a writing request uses: on SQLite it begins IMMEDIATE (takes the write lock first).
    Same pool as ``engine``; built once per engine."""
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
