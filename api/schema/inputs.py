"""Input types, as the contract names them."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.schema.enums import (
    EnrollmentStatus,
    Occupation,
    Programme,
    RejectionReason,
    Sex,
    TerminationReason,
    VerificationCheckKind,
)
from api.schema.scalars import Rupiah


@strawberry.input
class WorkerFilter:
    kelurahan_code: str | None = None
    kecamatan_code: str | None = None
    occupation: Occupation | None = None
    enrollment_status: EnrollmentStatus | None = strawberry.field(
        default=None, description="Workers who have an enrollment in this status."
    )
    name_contains: str | None = strawberry.field(default=None, description="Case-insensitive part of the name.")


@strawberry.input
class EnrollmentFilter:
    status: EnrollmentStatus | None = None
    kelurahan_code: str | None = None
    funding_source_code: str | None = None


@strawberry.input
class RegisterWorkerInput:
    nik: str
    full_name: str
    birth_date: date
    sex: Sex
    occupation: Occupation
    monthly_income: Rupiah
    kelurahan_code: str
    phone: str | None = None
    address: str | None = None
    family_card_number: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Same key, same result: a retried request registers nobody twice."
    )


@strawberry.input
class UpdateWorkerInput:
    id: strawberry.ID
    full_name: str | None = None
    occupation: Occupation | None = None
    monthly_income: Rupiah | None = None
    kelurahan_code: str | None = None
    phone: str | None = None
    address: str | None = None


@strawberry.input(description="A resident moved to another kelurahan of the city; the office they left records it.")
class MoveWorkerInput:
    worker_id: strawberry.ID
    to_kelurahan_code: str
    effective_date: date


@strawberry.input
class ProposeEnrollmentInput:
    worker_id: strawberry.ID
    funding_source_code: str
    programmes: list[Programme]


@strawberry.input
class RenewEnrollmentsInput:
    from_funding_source_code: str
    to_funding_source_code: str
    enrollment_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Omitted: every member whose coverage runs to the old source's end."
    )
    idempotency_key: str | None = None


@strawberry.input
class VerificationCheckInput:
    kind: VerificationCheckKind
    passed: bool
    note: str | None = None


@strawberry.input
class VerificationResultInput:
    enrollment_id: strawberry.ID
    approved: bool
    membership_number: str | None = None
    coverage_start: date | None = None
    rejection_reason: RejectionReason | None = None
    checks: list[VerificationCheckInput] | None = None


@strawberry.input
class TerminateEnrollmentInput:
    enrollment_id: strawberry.ID
    reason: TerminationReason
    effective_date: date


@strawberry.input
class FundingAllocationInput:
    code: str
    name: str
    fiscal_year: int
    allocated: Rupiah
    legal_basis: str | None = None
    coverage_start: date | None = None
    coverage_end: date | None = None
    revision_reason: str | None = strawberry.field(
        default=None,
        description="Required to revise a source that exists (e.g. the budget amendment); kept in the audit trail. "
        "A revision keeps the legal basis and coverage it does not give.",
    )


@strawberry.input
class IssueContributionBillInput:
    funding_source_code: str
    period: str


@strawberry.input
class BillPaymentInput:
    bill_id: strawberry.ID
    paid_at: datetime
    amount: Rupiah
