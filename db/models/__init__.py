"""All mapped classes, imported together so that the metadata is complete wherever one is used."""

from db.models.audit import AuditEvent, IdempotencyKey
from db.models.enrollments import (
    OPEN_STATUSES,
    Enrollment,
    EnrollmentStatus,
    RejectionReason,
    TerminationReason,
    VerificationCheck,
    VerificationCheckKind,
)
from db.models.funding import BillStatus, ContributionBill, FundingSource
from db.models.limits import RateLimitBucket
from db.models.policy import OverrideKind, PolicyOverride
from db.models.regions import City, Kecamatan, Kelurahan
from db.models.workers import Occupation, Sex, Worker, WorkerMove

__all__ = [
    "OPEN_STATUSES",
    "AuditEvent",
    "BillStatus",
    "City",
    "ContributionBill",
    "Enrollment",
    "EnrollmentStatus",
    "FundingSource",
    "IdempotencyKey",
    "Kecamatan",
    "Kelurahan",
    "Occupation",
    "OverrideKind",
    "PolicyOverride",
    "RateLimitBucket",
    "RejectionReason",
    "Sex",
    "TerminationReason",
    "VerificationCheck",
    "VerificationCheckKind",
    "Worker",
    "WorkerMove",
]
