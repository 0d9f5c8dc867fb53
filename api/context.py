"""Per-request wiring: the principal, one scoped session, per-request DataLoaders and the audit buffer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Executable, Result, Row, Select, event, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction
from sqlalchemy.orm import Session, SessionTransaction

from api import clock
from api.auth import Principal
from api.policies.authorizer import Authorizer
from api.policies.permissions import Permission
from api.settings import Settings
from db.base import utcnow
from db.models import AuditEvent
from db.scoping import RowScope, set_scope
from db.session import writer_bind

if TYPE_CHECKING:
    from api.schema.loaders import Loaders

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

    async def scalars(self, statement: Executable) -> Sequence[Any]:
        async with self._lock:
            return (await self.session.scalars(statement)).all()

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


@dataclass
class Context:
    principal: Principal
    settings: Settings
    authorizer: Authorizer
    engine: AsyncEngine  # the primary
    request_id: str
    writable: bool = False
    # A streaming replica of the primary (RENTAN_DATABASE_READ_URL), for requests that only read; None: the primary.
    read_engine: AsyncEngine | None = None
    statements: StatementCounter = field(default_factory=StatementCounter)
    _db: Db | None = None
    _loaders: Loaders | None = None
    _now: datetime | None = None
    # Full NIKs shown in this response: worker id -> region code, audited once each at the end of the request.
    nik_reads: dict[int, str] = field(default_factory=dict)
    # The other audit events of a query (e.g. a lookup by NIK), written with the NIK reads after it (finish).
    query_events: list[AuditEvent] = field(default_factory=list)

    @property
    def db(self) -> Db:
        """The request's session. A mutation's is on the primary: every read it makes (the reads before its
        writes, and those that follow them, e.g. the changed object it returns) sees its own transaction. A query's
        is on the read replica when there is one; what a query writes (the audit of full-NIK reads) goes to the
        primary in ``finish``. Bound on first use, which is after RequestTransaction has set ``writable``."""
        if self._db is None:
            if self.writable:
                bind = writer_bind(self.engine)
            else:
                bind = self.read_engine if self.read_engine is not None else self.engine
            session = AsyncSession(bind=bind, expire_on_commit=False, autoflush=True)
            session.info[STATEMENTS_KEY] = self.statements
            set_scope(session, RowScope(region_codes=self.principal.scope, subject=self.principal.subject))
            self._db = Db(session)
        return self._db

    @property
    def now(self) -> datetime:
        """The programme's moment for this request: read once, so every rule in a request sees the same day."""
        if self._now is None:
            self._now = clock.now(self.settings.clock_file)
        return self._now

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from api.schema.loaders import Loaders

            self._loaders = Loaders(self.db)
        return self._loaders

    # --- authorization: the decision is the authorizer's; the context only names the caller. Which permission a
    # part of the graph needs is declared in api/schema/access.py, and only the guards built from it ask.
    def can(self, permission: Permission) -> bool:
        p = self.principal
        return self.authorizer.permits(p.role, permission, p.subject, p.scope)

    @property
    def suspended(self) -> bool:
        return self.authorizer.is_suspended(self.principal.subject, self.principal.scope)

    # --- audit trail
    def audit(self, action: str, *, target_id: str | None, region_code: str, detail: str | None = None) -> None:
        """A mutation's event is written in its transaction (gone if it rolls back); a query's after the query,
        on the primary, whatever the query's outcome (see ``finish``)."""
        event = self._event(action, target_id, region_code, detail)
        if self.writable:
            self.db.add(event)
        else:
            self.query_events.append(event)

    def _event(self, action: str, target_id: str | None, region_code: str, detail: str | None) -> AuditEvent:
        return AuditEvent(
            actor=self.principal.subject,
            agency=self.principal.agency,
            action=action,
            target_id=target_id,
            region_code=region_code,
            request_id=self.request_id,
            detail=detail,
        )

    def note_nik_read(self, worker_id: int, region_code: str) -> None:
        self.nik_reads[worker_id] = region_code

    async def finish(self, *, commit: bool) -> None:
        """End the request's transaction and write the NIK-read audit events: a committing mutation's within
        its transaction; a query's afterwards, in a short transaction of their own on the primary (a query's
        session may be on a read-only replica; on SQLite a reader never has to upgrade its lock), together with
        the query's other audit events (``query_events``). Should that write fail, the exception leaves here and
        the whole response becomes an error (no data): a full NIK is never shown, nor a lookup answered,
        unaudited."""
        if self._db is not None:
            session = self._db.session
            try:
                if commit and self.writable:
                    await self._write_nik_reads(session)
                    await session.commit()
                else:
                    await session.rollback()
            finally:
                await session.close()  # a failed commit must not keep its connection (and SQLite's write lock)
        if self.nik_reads or self.query_events:
            session = AsyncSession(bind=writer_bind(self.engine), expire_on_commit=False)
            session.info[STATEMENTS_KEY] = self.statements
            try:
                async with session.begin():
                    await self._write_nik_reads(session)
                    session.add_all(self.query_events)
                    self.query_events = []
            finally:
                await session.close()

    async def _write_nik_reads(self, session: AsyncSession) -> None:
        """One executemany INSERT for all the full NIKs this response shows, one event per worker."""
        from api.ids import to_global_id

        if not self.nik_reads:
            return
        rows = [
            dict(
                at=utcnow(),
                actor=self.principal.subject,
                agency=self.principal.agency,
                action="worker.nik:read",
                target_id=to_global_id("Worker", wid),
                region_code=region,
                request_id=self.request_id,
            )
            for wid, region in self.nik_reads.items()
        ]
        self.nik_reads = {}
        await session.execute(insert(AuditEvent), rows)
