"""The request's database session: where it is bound (the primary, or the read replica for a request that only
reads), the lock that lets concurrent resolvers share it, the per-request statement count, and how it ends.

Below the context and the loaders: it knows a session and a row scope, nothing of principals or policies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Executable, Result, Row, Select, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import greenlet_spawn

from api.audit_trail import AuditTrail
from db.scoping import RowScope, scope_parameters, scoped_sql, set_scope
from db.session import writer_bind

log = logging.getLogger("rentan.session")

T = TypeVar("T")
STATEMENTS_KEY = "rentan.statements"


@dataclass
class StatementCounter:
    count: int = 0


@event.listens_for(Session, "after_begin")
def _bind_counter(session: Session, _tx: SessionTransaction, connection: Any) -> None:
    # Statements are counted per request (tests and the benchmark read the figure): the counter travels from
    # the session to the connection it is using for this transaction.
    connection.info[STATEMENTS_KEY] = session.info.get(STATEMENTS_KEY)


def install_statement_counting(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counter = conn.info.get(STATEMENTS_KEY)
        if counter is not None and not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            counter.count += 1


class Db:
    """The request's session behind a lock: resolvers run concurrently, an AsyncSession may not."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        bind = self.session.bind
        return bind.dialect.name if bind is not None else ""

    async def execute(self, statement: Executable, params: Any = None) -> Result[*tuple[Any, ...]]:
        async with self._lock:
            return await self.session.execute(statement, params)

    async def scalars(self, statement: Executable, params: Any = None) -> Sequence[Any]:
        async with self._lock:
            return (await self.session.scalars(statement, params)).all()

    async def scalar(self, statement: Executable) -> Any:
        async with self._lock:
            return await self.session.scalar(statement)

    async def aggregate_within(self, scope: RowScope, statement: Select[*tuple[Any, ...]]) -> Row[*tuple[Any, ...]]:
        """One aggregate row computed under another region scope, e.g. a budget counted over a whole funding
        source for a kelurahan operator who sees one kelurahan. It runs on this request's connection (so it
        sees the transaction's own writes) in a throwaway session that the scoping hook treats like any other;
        the request's session keeps its own scope throughout. Give it aggregates only: rows must not leave."""
        async with self._lock:
            connection = await self.session.connection()
            aggregate = AsyncSession(bind=connection, expire_on_commit=False, autoflush=False)
            aggregate.info[STATEMENTS_KEY] = self.session.info.get(STATEMENTS_KEY)
            set_scope(aggregate, scope)
            try:
                return (await aggregate.execute(statement)).one()
            finally:
                await aggregate.close()

    def add(self, instance: object) -> None:
        self.session.add(instance)

    async def flush(self) -> None:
        async with self._lock:
            await self.session.flush()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[AsyncSessionTransaction]:
        """A unit that rolls back alone: one mutation, or one item of a batch."""
        async with self._lock:
            tx = await self.session.begin_nested()
        try:
            yield tx
        except BaseException:
            async with self._lock:
                # A failed flush deactivates the savepoint without closing it: it still needs its ROLLBACK,
                # or the session refuses every later statement of the request.
                if tx.is_active or tx.sync_transaction is self.session.sync_session.get_nested_transaction():
                    await tx.rollback()
            raise
        else:
            async with self._lock:
                if tx.is_active:
                    await tx.commit()


@asynccontextmanager
async def _pooled(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The driver's own connection, checked out of ``engine``'s pool (its checkout checks included) without
    SQLAlchemy's Connection around it, and returned to the pool whatever happens. The return is shielded, as
    SQLAlchemy's AsyncConnection shields it: a request cancelled meanwhile must not keep the connection."""
    proxied = await engine.raw_connection()
    try:
        driver = proxied.driver_connection
        assert driver is not None
        yield driver
    finally:
        await asyncio.shield(asyncio.ensure_future(greenlet_spawn(proxied.close)))


@dataclass
class RequestSession:
    """One request's session, opened on first use (after RequestTransaction has said whether the request writes)
    and ended once. A mutation's is on the primary: every read it makes (the reads before its writes, and those
    that follow them, e.g. the changed object it returns) sees its own transaction. A query's is on the read
    replica when there is one; what a query writes (audit events) goes to the primary in :meth:`end`."""

    primary: AsyncEngine
    scope: RowScope
    # A streaming replica of the primary (RENTAN_DATABASE_READ_URL), for requests that only read; None: the primary.
    replica: AsyncEngine | None = None
    writable: bool = False
    statements: StatementCounter = field(default_factory=StatementCounter)
    # Run once the request's transaction has committed, never after a rollback: what must follow a change that
    # is now real (the writing process applying its own policy change at once, api/services/policy_admin.py).
    after_commit: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    _db: Db | None = None

    @property
    def dialect(self) -> str:
        """The database's dialect (``postgresql``, ``sqlite``), without opening the session."""
        return (self.replica if self.replica is not None and not self.writable else self.primary).dialect.name

    async def run_alone(self, statement: Select[Any], params: dict[str, Any], *, writes: bool) -> Sequence[Any] | None:
        """The request's one statement (a compiled read, api/schema/compiled/), run on a connection of its own
        outside any transaction (autocommit): one round trip instead of three (BEGIN, the statement, ROLLBACK or
        COMMIT). A single statement sees one snapshot whether or not a transaction surrounds it, and one that
        writes (the audit of the full NIKs it shows, a CTE) commits all of it or nothing. ``writes``: on the
        primary. Returns the statement's one row; None when the request's session is open already (its
        transaction must see it).

        The SQL, compiled once per plan and scope shape (``scoped_sql``: every kelurahan office shares one text, its
        codes are parameters), goes to asyncpg's own connection: SQLAlchemy's layer around one execution (its
        greenlet, cursor and result adapters) was a third of the statement's CPU in the profile of a compiled
        read (bench/README.md). The connection still comes from the engine's pool (and its checkout checks), and
        SQLAlchemy, which began no transaction on it, has none to end."""
        if self._db is not None:
            return None
        bind = writer_bind(self.primary) if writes else self.replica if self.replica is not None else self.primary
        async with _pooled(bind) as driver:
            found = scoped_sql(statement, self.scope, bind.dialect)
            self.statements.count += 1  # as install_statement_counting counts every other statement
            values = found.values({**params, **scope_parameters(self.scope)})
            row: Sequence[Any] | None = await driver.fetchrow(found.sql, *values)
            if row is None:
                raise RuntimeError("a compiled read's statement returned no row")
            return row

    @property
    def db(self) -> Db:
        if self._db is None:
            if self.writable:
                bind = writer_bind(self.primary)
            else:
                bind = self.replica if self.replica is not None else self.primary
            session = AsyncSession(bind=bind, expire_on_commit=False, autoflush=True)
            session.info[STATEMENTS_KEY] = self.statements
            set_scope(session, self.scope)
            self._db = Db(session)
        return self._db

    async def end(self, *, commit: bool, trail: AuditTrail) -> None:
        """Commit (a writing request that succeeded) or roll back the request's transaction, and write the audit
        trail's pending events: within a committing mutation's transaction; otherwise afterwards, in a short
        transaction of their own on the primary (a query's session may be on a read-only replica; on SQLite a
        reader never has to upgrade its lock). Should that write fail, the exception leaves here and the whole
        response becomes an error (no data): a full NIK is never shown, nor a lookup answered, unaudited."""
        committed = False
        if self._db is not None:
            session = self._db.session
            # After the statement in flight, if any: a resolver cancelled mid-statement (graphql-core cancels the
            # others when one fails) is still ending it, and its connection must not go back to the pool before.
            async with self._db._lock:
                try:
                    if commit and self.writable:
                        await trail.write(session)
                        await session.commit()
                        committed = True
                    else:
                        await session.rollback()
                finally:
                    await session.close()  # a failed commit must not keep its connection (nor SQLite's write lock)
            if committed:
                for hook in self.after_commit:
                    try:
                        await hook()
                    except Exception:  # the change is committed; what follows it has a backstop of its own
                        log.exception("a hook after the commit failed")
        if trail.pending():
            session = AsyncSession(bind=writer_bind(self.primary), expire_on_commit=False)
            session.info[STATEMENTS_KEY] = self.statements
            try:
                async with session.begin():
                    await trail.write(session)
            finally:
                await session.close()
