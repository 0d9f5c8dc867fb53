"""The Mutation root: thin resolvers, each one unit of work with its payload (api/schema/units.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Any

import strawberry

from api.errors import Problem
from api.ids import require_id
from api.messages import msg
from api.rules import validation
from api.schema import types as t
from api.schema.inputs import (
    BillPaymentInput,
    FundingAllocationInput,
    IssueContributionBillInput,
    MoveWorkerInput,
    ProposeEnrollmentInput,
    RegisterWorkerInput,
    RenewEnrollmentsInput,
    TerminateEnrollmentInput,
    UpdateWorkerInput,
    VerificationResultInput,
)
from api.schema.payloads import (
    ContributionBillPayload,
    EndCoveragePayload,
    EnrollmentPayload,
    FundingSourcePayload,
    LapsePayload,
    MoveWorkerPayload,
    RegisterWorkersPayload,
    RenewalOutcome,
    RenewEnrollmentsPayload,
    UserError,
    VerificationOutcome,
    VerifyEnrollmentsPayload,
    WorkerPayload,
)
from api.schema.policy import PolicyMutation
from api.schema.units import MAX_BATCH, batch_too_large, errors, mutate, of, unit
from api.services import billing, enrollments, funding, renewals, workers
from db.models import RejectionReason, TerminationReason, VerificationCheckKind
from db.scoping import covers

Info = t.Info


def _unset(value: Any) -> bool:
    return value is None or value is strawberry.UNSET


async def _register(info: Info, inputs: list[RegisterWorkerInput]) -> list[WorkerPayload]:
    """registerWorker and registerWorkers alike: one unit (an unexpected error undoes all of it), in which each
    item succeeds or fails alone (api/services/workers.py)."""
    items = [
        workers.Registration(
            nik=item.nik,
            full_name=item.full_name,
            birth_date=item.birth_date,
            sex=item.sex,
            occupation=item.occupation,
            monthly_income=int(item.monthly_income),
            kelurahan_code=item.kelurahan_code,
            phone=item.phone,
            address=item.address,
            family_card_number=item.family_card_number,
            idempotency_key=item.idempotency_key,
        )
        for item in inputs
    ]
    async with info.context.db.savepoint():
        outcomes = await workers.register_many(info.context, items, today=info.context.today)
    return [
        WorkerPayload(worker=t.Worker.of(o.worker), errors=[], warnings=errors(o.warnings))
        if o.worker is not None
        else WorkerPayload(worker=None, errors=errors(o.problems))
        for o in outcomes
    ]


def _moved_out_of_view(code: str) -> UserError:
    return UserError(
        code="MOVED_OUT_OF_VIEW",
        field="kelurahanCode",
        message=msg(
            "kelurahanCode: the worker now lives in {code}, outside your scope; that office sees them now.", code=code
        ),
    )


@strawberry.type
class Mutation(PolicyMutation):
    @strawberry.mutation
    async def register_worker(self, info: Info, input: RegisterWorkerInput) -> WorkerPayload:
        [payload] = await _register(info, [input])
        return payload

    @strawberry.mutation(
        description="Register many residents at once (a kelurahan's sheet): each item succeeds or fails alone, "
        f"outcomes come back in input order; at most {MAX_BATCH} items per request."
    )
    async def register_workers(self, info: Info, input: list[RegisterWorkerInput]) -> RegisterWorkersPayload:
        refused = batch_too_large(input)
        if refused is not None:
            return RegisterWorkersPayload(outcomes=[WorkerPayload(worker=None, errors=refused)] * len(input))
        return RegisterWorkersPayload(outcomes=await _register(info, input))

    @strawberry.mutation
    async def update_worker(self, info: Info, input: UpdateWorkerInput) -> WorkerPayload:
        changes = {
            name: getattr(input, name)
            for name in ("full_name", "occupation", "monthly_income", "kelurahan_code", "phone", "address")
            if not _unset(getattr(input, name))
        }
        if "monthly_income" in changes:
            changes["monthly_income"] = int(changes["monthly_income"])

        def payload(row: Any, problems: list[UserError]) -> WorkerPayload:
            if row is not None and not covers(info.context.principal.scope, row.kelurahan_code):
                return WorkerPayload(worker=None, errors=[], warnings=[_moved_out_of_view(row.kelurahan_code)])
            return WorkerPayload(worker=of(row, t.Worker.of), errors=problems)

        return await mutate(info, lambda: workers.update(info.context, input.id, changes), payload)

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

        def payload(result: Any, problems: list[UserError]) -> MoveWorkerPayload:
            if result is None:
                return MoveWorkerPayload(move=None, worker=None, errors=problems)
            worker, move = result
            still_visible = covers(info.context.principal.scope, worker.kelurahan_code)
            return MoveWorkerPayload(
                move=t.WorkerMove.of(move), worker=t.Worker.of(worker) if still_visible else None, errors=[]
            )

        return await mutate(info, work, payload)

    @strawberry.mutation
    async def propose_enrollment(self, info: Info, input: ProposeEnrollmentInput) -> EnrollmentPayload:
        return await mutate(
            info,
            lambda: enrollments.propose(
                info.context,
                worker_gid=input.worker_id,
                source_code=input.funding_source_code,
                programmes=[p.value for p in input.programmes],
                today=info.context.today,
            ),
            _enrollment_payload,
        )

    @strawberry.mutation(description="BPJSTK records its checks, many at once; each item succeeds or fails alone.")
    async def verify_enrollments(self, info: Info, input: list[VerificationResultInput]) -> VerifyEnrollmentsPayload:
        refused = batch_too_large(input)
        if refused is not None:
            return VerifyEnrollmentsPayload(
                outcomes=[
                    VerificationOutcome(enrollment_id=item.enrollment_id, enrollment=None, errors=refused)
                    for item in input
                ]
            )
        # The batch is one unit too: an unexpected error in any item undoes the whole batch, never half of it.
        async with info.context.db.savepoint():
            await enrollments.prefetch_enrollments(info.context, [item.enrollment_id for item in input])
            today = info.context.today
            outcomes = []
            for item in input:

                def verify(item: VerificationResultInput = item) -> Awaitable[Any]:
                    return enrollments.verify(
                        info.context,
                        enrollment_gid=item.enrollment_id,
                        approved=item.approved,
                        membership_number=item.membership_number,
                        coverage_start=item.coverage_start,
                        rejection_reason=RejectionReason(item.rejection_reason) if item.rejection_reason else None,
                        checks=[(VerificationCheckKind(c.kind), c.passed, c.note) for c in item.checks or []],
                        today=today,
                    )

                def outcome(row: Any, problems: list[UserError], gid: strawberry.ID = item.enrollment_id) -> Any:
                    return VerificationOutcome(enrollment_id=gid, enrollment=of(row, t.Enrollment.of), errors=problems)

                outcomes.append(await mutate(info, verify, outcome))
        return VerifyEnrollmentsPayload(outcomes=outcomes)

    @strawberry.mutation
    async def terminate_enrollment(self, info: Info, input: TerminateEnrollmentInput) -> EnrollmentPayload:
        return await mutate(
            info,
            lambda: enrollments.terminate(
                info.context,
                enrollment_gid=input.enrollment_id,
                reason=TerminationReason(input.reason),
                effective=input.effective_date,
            ),
            _enrollment_payload,
        )

    @strawberry.mutation
    async def record_funding_allocation(self, info: Info, input: FundingAllocationInput) -> FundingSourcePayload:
        allocation = funding.Allocation(
            code=input.code,
            name=input.name,
            fiscal_year=input.fiscal_year,
            allocated=int(input.allocated),
            legal_basis=input.legal_basis,
            coverage_start=input.coverage_start,
            coverage_end=input.coverage_end,
            revision_reason=input.revision_reason,
        )

        def payload(result: Any, problems: list[UserError]) -> FundingSourcePayload:
            if result is None:
                return FundingSourcePayload(funding_source=None, errors=problems)
            source, revised = result
            return FundingSourcePayload(funding_source=t.FundingSource.of(source), errors=[], revised=revised)

        return await mutate(info, lambda: funding.allocate(info.context, allocation), payload)

    @strawberry.mutation
    async def issue_contribution_bill(self, info: Info, input: IssueContributionBillInput) -> ContributionBillPayload:
        return await mutate(
            info,
            lambda: billing.issue_bill(info.context, source_code=input.funding_source_code, period=input.period),
            _bill_payload,
        )

    @strawberry.mutation
    async def record_bill_payment(self, info: Info, input: BillPaymentInput) -> ContributionBillPayload:
        return await mutate(
            info,
            lambda: billing.pay_bill(
                info.context, bill_gid=input.bill_id, paid_at=input.paid_at, amount=int(input.amount)
            ),
            _bill_payload,
        )

    @strawberry.mutation(
        description="BPJSTK marks LAPSED the active members of every source with 3 or more bills unpaid and past "
        "due on asOf. Running it again changes nothing. Requires enrollment:verify (BPJSTK's own act)."
    )
    async def lapse_overdue_members(self, info: Info, as_of: date) -> LapsePayload:
        def payload(rows: Any, problems: list[UserError]) -> LapsePayload:
            lapsed = rows or []
            return LapsePayload(
                lapsed_count=len(lapsed), enrollments=[t.Enrollment.of(r) for r in lapsed], errors=problems
            )

        return await mutate(info, lambda: billing.lapse(info.context, as_of), payload)

    @strawberry.mutation(
        description="BPJSTK marks ENDED the ACTIVE and LAPSED members whose coverage's last day is before asOf "
        "(at most today): the monthly job, beside lapseOverdueMembers. Their renewals carry on. Running it again "
        "changes nothing. Requires enrollment:verify (BPJSTK's own act)."
    )
    async def end_coverage(self, info: Info, as_of: date) -> EndCoveragePayload:
        def payload(rows: Any, problems: list[UserError]) -> EndCoveragePayload:
            ended = rows or []
            return EndCoveragePayload(
                ended_count=len(ended), enrollments=[t.Enrollment.of(r) for r in ended], errors=problems
            )

        return await mutate(info, lambda: billing.end_coverage(info.context, as_of), payload)

    @strawberry.mutation(
        description="Pemkot carries members of one funding source over to the next year's: each enrollment named "
        "(or every member whose coverage runs to the old source's end, when none is named) gets a PROPOSED "
        "enrollment on the new source, whose coverage continues the day after the old one ends, under the new "
        "source's budget ceiling; BPJSTK then verifies it as any proposal, keeping the KPJ. Each item succeeds or "
        "fails on its own; a retry acts once (an enrollment is renewed once; asked again, the outcome is the "
        f"renewal already made). At most {MAX_BATCH} named items per request."
    )
    async def renew_enrollments(self, info: Info, input: RenewEnrollmentsInput) -> RenewEnrollmentsPayload:
        ctx = info.context
        problems: list[Problem] = []
        if input.idempotency_key is not None:
            # Accepted as on every write; a renewal acts once by construction, key or none.
            problems += validation.text(input.idempotency_key, "idempotencyKey", max_length=200)
        if problems:
            return RenewEnrollmentsPayload(outcomes=[], errors=errors(problems))
        if input.enrollment_ids is not None:
            refused = batch_too_large(input.enrollment_ids)
            if refused is not None:
                return RenewEnrollmentsPayload(
                    outcomes=[
                        RenewalOutcome(enrollment_id=i, renewal=None, errors=refused) for i in input.enrollment_ids
                    ],
                    errors=[],
                )
        renewal, problems = await unit(
            info, lambda: renewals.begin(ctx, input.from_funding_source_code, input.to_funding_source_code)
        )
        if renewal is None:
            return RenewEnrollmentsPayload(outcomes=[], errors=errors(problems))
        today = ctx.today
        # As verifyEnrollments: one unit for the batch (an unexpected error undoes all of it), one per item.
        async with ctx.db.savepoint():
            ids = input.enrollment_ids if input.enrollment_ids is not None else await renewals.candidates(ctx, renewal)
            await enrollments.prefetch_enrollments(ctx, ids, histories=True)
            outcomes = []
            for gid in [strawberry.ID(i) for i in ids]:

                def work(gid: strawberry.ID = gid) -> Awaitable[Any]:
                    return renewals.renew(ctx, renewal, gid, today)

                def outcome(row: Any, problems: list[UserError], gid: strawberry.ID = gid) -> Any:
                    return RenewalOutcome(enrollment_id=gid, renewal=of(row, t.Enrollment.of), errors=problems)

                outcomes.append(await mutate(info, work, outcome))
        return RenewEnrollmentsPayload(outcomes=outcomes, errors=[])


def _enrollment_payload(row: Any, problems: list[UserError]) -> EnrollmentPayload:
    return EnrollmentPayload(enrollment=of(row, t.Enrollment.of), errors=problems)


def _bill_payload(row: Any, problems: list[UserError]) -> ContributionBillPayload:
    return ContributionBillPayload(bill=of(row, t.ContributionBill.of), errors=problems)
