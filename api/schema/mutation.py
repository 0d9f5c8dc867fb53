"""The Mutation root. Each mutation is one unit: it runs in its own savepoint, and a refusal (UserErrors) or
an error (FORBIDDEN, unexpected) rolls that savepoint back, so a failed mutation changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import strawberry

from api.ids import require_id
from api.schema import types as t
from api.schema.inputs import (
    BillPaymentInput,
    FundingAllocationInput,
    IssueContributionBillInput,
    MoveWorkerInput,
    ProposeEnrollmentInput,
    RegisterWorkerInput,
    TerminateEnrollmentInput,
    UpdateWorkerInput,
    VerificationResultInput,
)
from api.schema.payloads import (
    ContributionBillPayload,
    EnrollmentPayload,
    FundingSourcePayload,
    LapsePayload,
    MoveWorkerPayload,
    RegisterWorkersPayload,
    UserError,
    VerificationOutcome,
    VerifyEnrollmentsPayload,
    WorkerPayload,
)
from api.schema.policy import PolicyMutation
from api.services import enrollments, funding, workers
from api.services.errors import Problem, Refused
from db.models import RejectionReason, TerminationReason, VerificationCheckKind
from db.scoping import covers

Info = t.Info
R = TypeVar("R")
MAX_BATCH = 1000


async def unit(info: Info, work: Callable[[], Awaitable[R]]) -> tuple[R | None, list[Problem]]:
    """Run ``work`` in a savepoint: its result, or the problems that made it roll back."""
    try:
        async with info.context.db.savepoint():
            return await work(), []
    except Refused as refused:
        return None, refused.problems


def errors(problems: list[Problem]) -> list[UserError]:
    return [UserError.of(p) for p in problems]


def _unset(value: Any) -> bool:
    return value is None or value is strawberry.UNSET


async def _register(info: Info, input: RegisterWorkerInput) -> WorkerPayload:
    today = info.context.today

    async def work() -> tuple[Any, list[Problem]]:
        return await workers.register(
            info.context,
            nik=input.nik,
            full_name=input.full_name,
            birth_date=input.birth_date,
            sex=input.sex,
            occupation=input.occupation,
            monthly_income=int(input.monthly_income),
            kelurahan_code=input.kelurahan_code,
            phone=input.phone,
            address=input.address,
            family_card_number=input.family_card_number,
            idempotency_key=input.idempotency_key,
            today=today,
        )

    result, problems = await unit(info, work)
    if result is None:
        return WorkerPayload(worker=None, errors=errors(problems))
    worker, warnings = result
    return WorkerPayload(worker=t.Worker.of(worker), errors=[], warnings=errors(warnings))


def _moved_out_of_view(code: str) -> UserError:
    return UserError(
        code="MOVED_OUT_OF_VIEW",
        field="kelurahanCode",
        message=f"kelurahanCode: the worker now lives in {code}, outside your scope; that office sees them now.",
    )


@strawberry.type
class Mutation(PolicyMutation):
    @strawberry.mutation
    async def register_worker(self, info: Info, input: RegisterWorkerInput) -> WorkerPayload:
        return await _register(info, input)

    @strawberry.mutation(
        description="Register many residents at once (a kelurahan's sheet): each item succeeds or fails alone, "
        f"outcomes come back in input order; at most {MAX_BATCH} items per request."
    )
    async def register_workers(self, info: Info, input: list[RegisterWorkerInput]) -> RegisterWorkersPayload:
        if len(input) > MAX_BATCH:
            problem = Problem("BATCH_TOO_LARGE", f"input: at most {MAX_BATCH} items per request.", "input")
            return RegisterWorkersPayload(outcomes=[WorkerPayload(worker=None, errors=errors([problem]))] * len(input))
        # As verifyEnrollments: one unit for the batch (an unexpected error undoes all of it), one per item.
        async with info.context.db.savepoint():
            return RegisterWorkersPayload(outcomes=[await _register(info, item) for item in input])

    @strawberry.mutation
    async def update_worker(self, info: Info, input: UpdateWorkerInput) -> WorkerPayload:
        async def work() -> Any:
            changes = {
                name: getattr(input, name)
                for name in ("full_name", "occupation", "monthly_income", "kelurahan_code", "phone", "address")
                if not _unset(getattr(input, name))
            }
            if "monthly_income" in changes:
                changes["monthly_income"] = int(changes["monthly_income"])
            return await workers.update(info.context, input.id, changes)

        row, problems = await unit(info, work)
        if row is not None and not covers(info.context.principal.scope, row.kelurahan_code):
            return WorkerPayload(worker=None, errors=[], warnings=[_moved_out_of_view(row.kelurahan_code)])
        return WorkerPayload(worker=t.Worker.of(row) if row else None, errors=errors(problems))

    @strawberry.mutation(
        description="Record that a resident moved to another kelurahan of the city. Their enrollments and history "
        "go with them; afterwards only offices whose scope holds the new kelurahan see them."
    )
    async def move_worker(self, info: Info, input: MoveWorkerInput) -> MoveWorkerPayload:
        async def work() -> Any:
            worker = await workers.visible_worker(info.context, require_id(input.worker_id, "Worker", "workerId"))
            field = "toKelurahanCode"
            return worker, await workers.move(
                info.context, worker, input.to_kelurahan_code, input.effective_date, field=field
            )

        result, problems = await unit(info, work)
        if result is None:
            return MoveWorkerPayload(move=None, worker=None, errors=errors(problems))
        worker, move = result
        still_visible = covers(info.context.principal.scope, worker.kelurahan_code)
        return MoveWorkerPayload(
            move=t.WorkerMove.of(move), worker=t.Worker.of(worker) if still_visible else None, errors=[]
        )

    @strawberry.mutation
    async def propose_enrollment(self, info: Info, input: ProposeEnrollmentInput) -> EnrollmentPayload:

        async def work() -> Any:
            return await enrollments.propose(
                info.context,
                worker_gid=input.worker_id,
                source_code=input.funding_source_code,
                programmes=[p.value for p in input.programmes],
                today=info.context.today,
            )

        row, problems = await unit(info, work)
        return EnrollmentPayload(enrollment=t.Enrollment.of(row) if row else None, errors=errors(problems))

    @strawberry.mutation(description="BPJSTK records its checks, many at once; each item succeeds or fails alone.")
    async def verify_enrollments(self, info: Info, input: list[VerificationResultInput]) -> VerifyEnrollmentsPayload:
        if len(input) > MAX_BATCH:
            problem = Problem("BATCH_TOO_LARGE", f"input: at most {MAX_BATCH} items per request.", "input")
            return VerifyEnrollmentsPayload(
                outcomes=[
                    VerificationOutcome(enrollment_id=item.enrollment_id, enrollment=None, errors=errors([problem]))
                    for item in input
                ]
            )
        # The batch is one unit too: an unexpected error in any item undoes the whole batch, never half of it.
        async with info.context.db.savepoint():
            await enrollments.prefetch_for_verification(info.context, [item.enrollment_id for item in input])
            today = info.context.today
            outcomes = []
            for item in input:

                async def work(item: VerificationResultInput = item) -> Any:
                    return await enrollments.verify(
                        info.context,
                        enrollment_gid=item.enrollment_id,
                        approved=item.approved,
                        membership_number=item.membership_number,
                        coverage_start=item.coverage_start,
                        rejection_reason=RejectionReason(item.rejection_reason) if item.rejection_reason else None,
                        checks=[(VerificationCheckKind(c.kind), c.passed, c.note) for c in item.checks or []],
                        today=today,
                    )

                row, problems = await unit(info, work)
                outcomes.append(
                    VerificationOutcome(
                        enrollment_id=item.enrollment_id,
                        enrollment=t.Enrollment.of(row) if row else None,
                        errors=errors(problems),
                    )
                )
        return VerifyEnrollmentsPayload(outcomes=outcomes)

    @strawberry.mutation
    async def terminate_enrollment(self, info: Info, input: TerminateEnrollmentInput) -> EnrollmentPayload:

        async def work() -> Any:
            return await enrollments.terminate(
                info.context,
                enrollment_gid=input.enrollment_id,
                reason=TerminationReason(input.reason),
                effective=input.effective_date,
            )

        row, problems = await unit(info, work)
        return EnrollmentPayload(enrollment=t.Enrollment.of(row) if row else None, errors=errors(problems))

    @strawberry.mutation
    async def record_funding_allocation(self, info: Info, input: FundingAllocationInput) -> FundingSourcePayload:

        async def work() -> Any:
            return await funding.allocate(
                info.context,
                code=input.code,
                name=input.name,
                fiscal_year=input.fiscal_year,
                allocated=int(input.allocated),
                legal_basis=input.legal_basis,
                coverage_start=input.coverage_start,
                coverage_end=input.coverage_end,
            )

        row, problems = await unit(info, work)
        return FundingSourcePayload(funding_source=t.FundingSource.of(row) if row else None, errors=errors(problems))

    @strawberry.mutation
    async def issue_contribution_bill(self, info: Info, input: IssueContributionBillInput) -> ContributionBillPayload:

        async def work() -> Any:
            return await funding.issue_bill(info.context, source_code=input.funding_source_code, period=input.period)

        row, problems = await unit(info, work)
        return ContributionBillPayload(bill=t.ContributionBill.of(row) if row else None, errors=errors(problems))

    @strawberry.mutation
    async def record_bill_payment(self, info: Info, input: BillPaymentInput) -> ContributionBillPayload:

        async def work() -> Any:
            return await funding.pay_bill(
                info.context,
                bill_gid=input.bill_id,
                paid_at=input.paid_at,
                amount=int(input.amount),
            )

        row, problems = await unit(info, work)
        return ContributionBillPayload(bill=t.ContributionBill.of(row) if row else None, errors=errors(problems))

    @strawberry.mutation(
        description="BPJSTK marks LAPSED the active members of every source with 3 or more bills unpaid and past "
        "due on asOf. Running it again changes nothing. Requires enrollment:verify (BPJSTK's own act)."
    )
    async def lapse_overdue_members(self, info: Info, as_of: date) -> LapsePayload:

        async def work() -> Any:
            return await enrollments.lapse(info.context, as_of)

        rows, problems = await unit(info, work)
        lapsed = rows or []
        return LapsePayload(
            lapsed_count=len(lapsed), enrollments=[t.Enrollment.of(r) for r in lapsed], errors=errors(problems)
        )
