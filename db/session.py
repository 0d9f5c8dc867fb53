"""Engines and sessions: SQLite tuned to behave like a transactional database, PostgreSQL through asyncpg."""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Execution option naming how a SQLite transaction begins: IMMEDIATE takes the write lock at BEGIN, so that
# two writers queue on busy_timeout instead of failing when a read lock cannot be upgraded.
SQLITE_BEGIN = "rentan_sqlite_begin"
# A pooled PostgreSQL connection idle for longer than this is pinged before use (_ping_when_idle).
PING_AFTER_IDLE_SECONDS = 10.0
IDLE_SINCE = "rentan_idle_since"
APPLICATION_NAME = "rentan"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 20,
    max_overflow: int = 0,
    pool_timeout: float = 30,
    statement_timeout_ms: int = 0,
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
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
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)
        # Named after the process (pg_stat_activity.application_name): which server holds which connections.
        # UTC: a compiled read's JSON writes timestamps in the session's time zone (api/schema/compiled/), and
        # UTCDateTime hands them to Python in UTC; both then say the same.
        server_settings = {"application_name": f"{APPLICATION_NAME}/{os.getpid()}", "timezone": "UTC"}
        if statement_timeout_ms > 0:
            server_settings["statement_timeout"] = str(statement_timeout_ms)
        kwargs["connect_args"] = {"server_settings": server_settings}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        _tune_sqlite(engine)
    else:
        _ping_when_idle(engine, ping_after_idle_seconds)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Check a pooled connection with a round trip before use, but only when it sat idle longer than
    ``idle_seconds`` (0: every time, as ``pool_pre_ping``). A connection that dies while idle (a database restart,
    a firewall dropping quiet connections) is replaced before a request sees it. SQLAlchemy's ``pool_pre_ping``
    pings on every checkout, and on asyncpg that is BEGIN, a statement and ROLLBACK: three round trips before each
    request's first query, for connections that under load were in use a millisecond earlier (bench/README.md).
    A connection that breaks while busy fails its statement; SQLAlchemy then discards the whole pool, so a
    database restart under load costs each process about one failed request."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "connect")
    @event.listens_for(pool, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:  # a new connection needs no ping: it has just answered
            record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _closed(record.driver_connection):
            # Closed on our side: a task cancelled mid-statement (graphql-core cancels a request's other resolvers
            # when one fails) has the driver terminate its connection, which may reach the pool uninvalidated.
            raise DisconnectionError("connection closed while checked in")
        since = record.info.get(IDLE_SINCE)
        if since is not None and time.monotonic() - since <= idle_seconds:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception:  # whatever the reason, this connection is no use: a new one says what is wrong
            alive = False
        if not alive:
            # The pool discards this connection and checks out another (documented: "pessimistic" handling).
            raise DisconnectionError("connection found dead after being idle")


def _closed(driver_connection: Any) -> bool:
    """Whether asyncpg has closed this connection: a flag of the driver's, no round trip (other drivers: never)."""
    is_closed = getattr(driver_connection, "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


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


@lru_cache(maxsize=8)
def writer_bind(engine: AsyncEngine) -> AsyncEngine:
    """The engine a writing request uses: on SQLite it begins IMMEDIATE (takes the write lock first).
    Same pool as ``engine``; built once per engine."""
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
