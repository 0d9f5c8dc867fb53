"""Enrollments of workers in BPJSTK programmes, with BPJSTK's verification checks."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Enum, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, ThroughParent, UTCDateTime, utcnow


class EnrollmentStatus(enum.StrEnum):
    PROPOSED = "PROPOSED"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    LAPSED = "LAPSED"
    TERMINATED = "TERMINATED"
    ENDED = "ENDED"  # the coverage reached its end (the source's period) and was not renewed


OPEN_STATUSES = (EnrollmentStatus.PROPOSED, EnrollmentStatus.ACTIVE, EnrollmentStatus.LAPSED)
OPEN_NOT_RENEWAL = "status IN ('PROPOSED', 'ACTIVE', 'LAPSED') AND renews_id IS NULL"
# The enrollments a KPJ may appear on once: those that give a member their KPJ, not those that carry it on.
FIRST_HOLDER = "renews_id IS NULL AND NOT kpj_held_before"


class RejectionReason(enum.StrEnum):
    NIK_NOT_FOUND = "NIK_NOT_FOUND"
    ALREADY_ENROLLED = "ALREADY_ENROLLED"
    AGE_OUT_OF_RANGE = "AGE_OUT_OF_RANGE"
    DECEASED = "DECEASED"
    DUPLICATE_PROPOSAL = "DUPLICATE_PROPOSAL"
    OTHER = "OTHER"


class TerminationReason(enum.StrEnum):
    DECEASED = "DECEASED"
    MOVED_OUT = "MOVED_OUT"
    BECAME_WAGE_EARNER = "BECAME_WAGE_EARNER"
    AGE_LIMIT = "AGE_LIMIT"
    PROGRAMME_ENDED = "PROGRAMME_ENDED"
    OTHER = "OTHER"


class VerificationCheckKind(enum.StrEnum):
    NIK_MATCH = "NIK_MATCH"
    EXISTING_MEMBERSHIP = "EXISTING_MEMBERSHIP"
    AGE = "AGE"
    DECEASED = "DECEASED"


class Enrollment(Base):
    __tablename__ = "enrollments"
    # Its worker's region, not its funding source's: a kelurahan office sees the enrollments of its residents.
    __scope__ = ThroughParent("worker_id", probe="exists")
    __table_args__ = (
        # At most one open enrollment per worker, enforced by the database so that concurrent proposals
        # cannot both win (a partial unique index: both SQLite and PostgreSQL have them).
        # A renewal (renews_id set) is the one exception: it is proposed while the enrollment it continues is
        # still open, and each enrollment is renewed at most once (uq_enrollments_renews_id).
        Index(
            "uq_enrollments_open_worker",
            "worker_id",
            unique=True,
            sqlite_where=text(OPEN_NOT_RENEWAL),
            postgresql_where=text(OPEN_NOT_RENEWAL),
        ),
        Index("uq_enrollments_renews_id", "renews_id", unique=True),
        # A KPJ is one member's for good: a renewal carries its predecessor's, a member coming back after a gap
        # the one BPJSTK issued them before (kpj_held_before); every other holder is refused.
        Index(
            "uq_enrollments_membership_number",
            "membership_number",
            unique=True,
            sqlite_where=text(FIRST_HOLDER),
            postgresql_where=text(FIRST_HOLDER),
        ),
        # Keyset pages of one status (BPJSTK's queue of proposals), read in id order: db/explain/README.md.
        Index("ix_enrollments_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    funding_source_id: Mapped[int] = mapped_column(ForeignKey("funding_sources.id"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(Enum(EnrollmentStatus, native_enum=False, length=16))
    programmes: Mapped[str] = mapped_column(String(40))  # comma-separated Programme names, e.g. "JKK,JKM"
    membership_number: Mapped[str | None] = mapped_column(String(32))
    coverage_start: Mapped[date | None] = mapped_column(Date)
    coverage_end: Mapped[date | None] = mapped_column(Date)
    # Snapshot of the contribution at proposal, computed by the contribution rules in force then.
    monthly_contribution: Mapped[int] = mapped_column(BigInteger)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    proposed_by: Mapped[str] = mapped_column(String(120))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(120))
    rejection_reason: Mapped[RejectionReason | None] = mapped_column(
        Enum(RejectionReason, native_enum=False, length=32)
    )
    termination_reason: Mapped[TerminationReason | None] = mapped_column(
        Enum(TerminationReason, native_enum=False, length=32)
    )
    terminated_on: Mapped[date | None] = mapped_column(Date)
    # The enrollment this one continues into the next funding source's year (renewEnrollments), if any.
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    # Verified with a KPJ an earlier enrollment of the same worker holds (a member coming back after a gap). The
    # database's default only: an INSERT that does not name it (the seed's, written before it existed) still works.
    kpj_held_before: Mapped[bool] = mapped_column(Boolean, server_default=false())


class VerificationCheck(Base):
    __tablename__ = "verification_checks"
    __scope__ = ThroughParent("enrollment_id", probe="in")

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    kind: Mapped[VerificationCheckKind] = mapped_column(Enum(VerificationCheckKind, native_enum=False, length=32))
    passed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(500))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
