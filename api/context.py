"""Per-request wiring: who asks (the principal), the session their scope applies to, the authorizer that decides,
the request's DataLoaders, the programme's clock and the audit trail. Services take a Context; what each of those
does lives in its own module (api/session.py, api/reads/loaders.py, api/audit_trail.py, api/policies/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from api import clock
from api.audit_trail import AuditTrail
from api.auth import Principal
from api.policies.authorizer import Authorizer
from api.policies.permissions import Permission
from api.reads.loaders import Loaders
from api.session import Db, RequestSession
from api.settings import Settings
from db.scoping import RowScope


@dataclass
class Context:
    principal: Principal
    settings: Settings
    authorizer: Authorizer
    session: RequestSession
    trail: AuditTrail
    language: str = "en"  # of the messages people read in the answer (api/messages.py); set from Accept-Language
    _loaders: Loaders | None = None
    _now: datetime | None = None

    @classmethod
    def open(
        cls,
        *,
        principal: Principal,
        settings: Settings,
        authorizer: Authorizer,
        engine: AsyncEngine,
        request_id: str,
        read_engine: AsyncEngine | None = None,
        writable: bool = False,
    ) -> Context:
        """A request's context: its session is scoped to the principal's regions (and to its subject's
        idempotency records), on ``read_engine`` for a request that only reads when there is one."""
        scope = RowScope(region_codes=principal.scope, subject=principal.subject)
        return cls(
            principal=principal,
            settings=settings,
            authorizer=authorizer,
            session=RequestSession(primary=engine, scope=scope, replica=read_engine, writable=writable),
            trail=AuditTrail(principal=principal, request_id=request_id),
        )

    @property
    def db(self) -> Db:
        return self.session.db

    @property
    def request_id(self) -> str:
        return self.trail.request_id

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
            self._loaders = Loaders(self.db)
        return self._loaders

    # --- authorization: the decision is the authorizer's; the context only names the caller. Which permission a
    # part of the graph needs is declared in api/schema/access.py, and only the guards built from it ask.
    def can(self, permission: Permission) -> bool:
        p = self.principal
        return self.authorizer.permits(p.role, permission, p.subject, p.scope)

    def decisions(self, permissions: tuple[Permission, ...]) -> tuple[bool, ...]:
        """:meth:`can` for each of ``permissions`` (a tuple kept for the life of the process)."""
        p = self.principal
        return self.authorizer.decisions(p.role, permissions, p.subject, p.scope)

    @property
    def suspended(self) -> bool:
        return self.authorizer.is_suspended(self.principal.subject, self.principal.scope)

    # --- audit trail
    def audit(self, action: str, *, target_id: str | None, region_code: str, detail: str | None = None) -> None:
        """A mutation's event is written in its transaction (gone if it rolls back); a query's after the query,
        on the primary, whatever the query's outcome (RequestSession.end)."""
        event = self.trail.event(action, target_id=target_id, region_code=region_code, detail=detail)
        if self.session.writable:
            self.db.add(event)
        else:
            self.trail.later.append(event)

    def note_nik_read(self, worker_id: int, region_code: str) -> None:
        self.trail.note_nik_read(worker_id, region_code)

    async def finish(self, *, commit: bool) -> None:
        """End the request: its transaction, and the audit events still pending (RequestSession.end)."""
        await self.session.end(commit=commit, trail=self.trail)
