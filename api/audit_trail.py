"""The audit events of one request, buffered: who did what, which agency, when, in which region (the region scopes
who may read the event). A mutation's events go into its own transaction (undone with it); a query's, and the
reads of full NIKs any response shows, are written when the request ends, on the primary (api/session.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Insert, String, bindparam, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.ids import global_id_sql, to_global_id
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

    def nik_read_row(self, worker_id: int, region_code: str) -> dict[str, Any]:
        """The event of one full NIK shown: what ``write`` inserts, and ``nik_reads_insert`` in SQL."""
        return dict(
            at=utcnow(),
            actor=self.principal.subject,
            agency=self.principal.agency,
            action=str(WORKER_NIK_READ),
            target_id=to_global_id("Worker", worker_id),
            region_code=region_code,
            request_id=self.request_id,
        )

    @staticmethod
    def nik_reads_insert(worker_id: ColumnElement[int], region_code: ColumnElement[str], where: Any) -> Insert:
        """``write``'s events for the full NIKs of the workers ``where`` selects, as one INSERT ... SELECT that a
        compiled read puts in its own statement (api/schema/compiled/): the NIKs and their audit leave together.
        Who, when and which request are parameters (``nik_read_params``); the rest is ``nik_read_row``'s."""
        row = {k: bindparam(f"audit_{k}", type_=String) for k in ("actor", "agency", "request_id")}
        columns = ["at", "actor", "agency", "action", "target_id", "region_code", "request_id"]
        values = select(
            bindparam("audit_at", type_=AuditEvent.__table__.c.at.type),
            row["actor"],
            row["agency"],
            literal(str(WORKER_NIK_READ), String),
            global_id_sql("Worker", worker_id),
            region_code,
            row["request_id"],
        ).where(where)
        return insert(AuditEvent).from_select(columns, values)

    def nik_read_params(self) -> dict[str, Any]:
        row = self.nik_read_row(0, "")
        return {f"audit_{k}": row[k] for k in ("at", "actor", "agency", "request_id")}

    async def write(self, session: AsyncSession) -> None:
        """What is pending, in ``session``'s transaction: one executemany INSERT for the full NIKs shown (one
        event per worker), and the events kept for later."""
        if self.nik_reads:
            rows = [self.nik_read_row(wid, region) for wid, region in self.nik_reads.items()]
            self.nik_reads = {}
            await session.execute(insert(AuditEvent), rows)
        if self.later:
            session.add_all(self.later)
            self.later = []
