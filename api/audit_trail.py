"""The audit events of one request, buffered: who did what, which agency, when, in which region (the region scopes
who may read the event). A mutation's events go into its own transaction (undone with it); a query's, and the
reads of full NIKs any response shows, are written when the request ends, on the primary (api/session.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.ids import to_global_id
from api.policies.permissions import WORKER_NIK_READ
from db.base import utcnow
from db.models import AuditEvent


@dataclass
class AuditTrail:
    principal: Principal
    request_id: str
    # Full NIKs shown in this response: worker id -> region code, audited once each at the end of the request.
    nik_reads: dict[int, str] = field(default_factory=dict)
    # Events to write when the request ends (a query's; a mutation adds its own to its transaction).
    later: list[AuditEvent] = field(default_factory=list)

    def event(self, action: str, *, target_id: str | None, region_code: str, detail: str | None) -> AuditEvent:
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

    def pending(self) -> bool:
        return bool(self.nik_reads or self.later)

    async def write(self, session: AsyncSession) -> None:
        """What is pending, in ``session``'s transaction: one executemany INSERT for the full NIKs shown (one
        event per worker), and the events kept for later."""
        if self.nik_reads:
            rows = [
                dict(
                    at=utcnow(),
                    actor=self.principal.subject,
                    agency=self.principal.agency,
                    action=str(WORKER_NIK_READ),
                    target_id=to_global_id("Worker", wid),
                    region_code=region,
                    request_id=self.request_id,
                )
                for wid, region in self.nik_reads.items()
            ]
            self.nik_reads = {}
            await session.execute(insert(AuditEvent), rows)
        if self.later:
            session.add_all(self.later)
            self.later = []
