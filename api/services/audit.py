"""Reading the audit trail. Writing happens through Context.audit, in the transaction of the change."""

from __future__ import annotations

from sqlalchemy import Select, select

from db.models import AuditEvent


def events_query() -> Select[AuditEvent]:
    """The events, scoped by region by the session (who may read them at all: api/schema/access.py)."""
    return select(AuditEvent)
