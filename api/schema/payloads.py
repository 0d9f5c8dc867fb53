"""Mutation payloads: the changed object, or the UserErrors that explain why nothing changed."""

from __future__ import annotations

import strawberry

from api.errors import Problem
from api.messages import render
from api.schema.types import ContributionBill, Enrollment, FundingSource, Info, Worker, WorkerMove


@strawberry.type(description="A rule the input broke, or a state that forbids the change: returned, not thrown.")
class UserError:
    code: str
    field: str | None
    # The problem's message (api/messages.py): English text, rendered in the request's language when it is read.
    message: strawberry.Private[str]

    @strawberry.field(
        name="message",
        description="What was wrong, for people: in Bahasa Indonesia for a request with `Accept-Language: id`, "
        "else English. `code` and `field` are the same in every language.",
    )
    def message_in_language(self, info: Info) -> str:
        return render(self.message, info.context.language)

    @classmethod
    def of(cls, p: Problem) -> UserError:
        return cls(code=p.code, field=p.field, message=p.message)


@strawberry.type
class WorkerPayload:
    worker: Worker | None
    errors: list[UserError]
    warnings: list[UserError] = strawberry.field(
        default_factory=list,
        description="Soft mismatches (NIK digits vs declared birth date or sex) for BPJSTK to look at.",
    )


@strawberry.type
class MoveWorkerPayload:
    move: WorkerMove | None
    worker: Worker | None = strawberry.field(
        description="Null when the worker's new kelurahan lies outside your scope: from now on they are not yours."
    )
    errors: list[UserError]


@strawberry.type
class RegisterWorkersPayload:
    outcomes: list[WorkerPayload]


@strawberry.type
class EnrollmentPayload:
    enrollment: Enrollment | None
    errors: list[UserError]


@strawberry.type
class VerificationOutcome:
    enrollment_id: strawberry.ID
    enrollment: Enrollment | None
    errors: list[UserError]


@strawberry.type
class VerifyEnrollmentsPayload:
    outcomes: list[VerificationOutcome]


@strawberry.type
class RenewalOutcome:
    enrollment_id: strawberry.ID
    renewal: Enrollment | None
    errors: list[UserError]


@strawberry.type
class RenewEnrollmentsPayload:
    outcomes: list[RenewalOutcome]
    errors: list[UserError]


@strawberry.type(description="The members endCoverage marked ENDED (none when run again).")
class EndCoveragePayload:
    ended_count: int
    enrollments: list[Enrollment]
    errors: list[UserError]


@strawberry.type
class FundingSourcePayload:
    funding_source: FundingSource | None
    errors: list[UserError]
    revised: bool = strawberry.field(
        default=False, description="True when this request revised a source that existed (allocation, name, dates)."
    )


@strawberry.type
class ContributionBillPayload:
    bill: ContributionBill | None
    errors: list[UserError]


@strawberry.type(description="The members lapseOverdueMembers marked LAPSED (none when run again).")
class LapsePayload:
    lapsed_count: int
    enrollments: list[Enrollment]
    errors: list[UserError]
