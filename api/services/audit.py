"""Reading the audit trail. Writing happens through Context.audit, in the transaction of the change."""

from __future__ import annotations

from sqlalchemy import Select, select

from api.context import Context
from db.models import AuditEvent


def events_query(ctx: Context) -> Select[AuditEvent] | None:
    """The events the viewer may read (rows are scoped by region), or None without audit:read."""
    if not ctx.can("audit", "read"):
        return None
    return select(AuditEvent)
