"""The audit trail: append-only; every mutation and every read of a full NIK."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, InRegion, OwnedBySubject, UTCDateTime, region_code, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __scope__ = InRegion("region_code")

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    agency: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_id: Mapped[str | None] = mapped_column(String(120), index=True)
    # The region the target belongs to (a kelurahan code, or a city code for city-wide rows): scopes the event.
    region_code: Mapped[str] = mapped_column(region_code(10), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Never personal data: ids, codes and counts only.
    detail: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """A client-chosen key remembered with the result it produced, so that a retried request acts once."""

    __tablename__ = "idempotency_keys"
    __scope__ = OwnedBySubject("subject")
    __table_args__ = (UniqueConstraint("subject", "operation", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(120))
    operation: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(200))
    target_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
