"""The enrollment lifecycle: proposal by Pemkot or a kelurahan, verification by BPJSTK, termination. Its rules
(which status may follow which, age) are api/rules/lifecycle.py's; lapse and reactivation are billing's."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Select, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.context import Context
from api.errors import Problem, Refused, not_found
from api.ids import parse_global_id, require_id, to_global_id
from api.messages import msg
from api.rules.billing import remaining
from api.rules.contributions import budget_shortfall, monthly_contribution
from api.rules.lifecycle import FUNDED_PROGRAMMES, S, age_on, check_coverage_start, check_has_happened, check_transition
from api.rules.months import months_inclusive, next_month_start
from api.services import funding
from api.services.funding import source_by_code
from api.services.workers import visible_worker
from db.base import utcnow
from db.models import (
    OPEN_STATUSES,
    Enrollment,
    EnrollmentStatus,
    FundingSource,
    RejectionReason,
    TerminationReason,
    VerificationCheck,
    VerificationCheckKind,
    Worker,
)


def enrollments_query(
    *, status: EnrollmentStatus | None = None, kelurahan_code: str | None = None, source_code: str | None = None
) -> Select[Enrollment]:
    stmt = select(Enrollment)
    if status is not None:
        stmt = stmt.where(Enrollment.status == status)
    if kelurahan_code is not None:
        stmt = stmt.where(exists().where(Worker.id == Enrollment.worker_id, Worker.kelurahan_code == kelurahan_code))
    if source_code is not None:
        stmt = stmt.where(
            exists().where(FundingSource.id == Enrollment.funding_source_id, FundingSource.code == source_code)
        )
    return stmt


async def prefetch_enrollments(ctx: Context, enrollment_gids: Sequence[str], *, histories: bool = False) -> None:
    """Load a batch's enrollments and their workers in two statements (and, with ``histories``, every enrollment
    of those workers in a third), so that each item then finds them in the request's loaders instead of asking
    one by one. Ids that do not parse are left for the item to refuse."""
    ids = []
    for gid in enrollment_gids:
        parsed = parse_global_id(gid)
        if parsed is not None and parsed[0] == "Enrollment":
            ids.append(parsed[1])
    rows = await ctx.loaders.enrollment_by_id.load_many(ids)
    workers = [r.worker_id for r in rows if r is not None]
    await ctx.loaders.worker_by_id.load_many(workers)
    if histories:
        await ctx.loaders.enrollments_by_worker.load_many(workers)


async def visible_enrollment(ctx: Context, enrollment_id: int, field: str) -> Enrollment:
    enrollment = await ctx.loaders.enrollment_by_id.load(enrollment_id)
    if enrollment is None:
        raise Refused(not_found(field, msg("enrollment")))
    return enrollment


async def propose(ctx: Context, *, worker_gid: str, source_code: str, programmes: list[str], today: date) -> Enrollment:
    worker = await visible_worker(ctx, require_id(worker_gid, "Worker", "workerId"), "workerId")
    if not programmes or not set(programmes) <= FUNDED_PROGRAMMES:
        raise Refused(
            Problem(
                "PROGRAMME_NOT_FUNDED", msg("programmes: the city funds JKK and JKM only (at least one)."), "programmes"
            )
        )
    source = await source_by_code(ctx, source_code, "fundingSourceCode")
    start = max(next_month_start(today), source.coverage_start or next_month_start(today))
    if source.coverage_end is not None and start > source.coverage_end:
        # Said with the dates: in December the source of the year is not "ended", a proposal would start after it.
        raise Refused(
            Problem(
                "SOURCE_CLOSED",
                msg(
                    "fundingSourceCode: coverage proposed on {today} would start on {start}, after {code}'s "
                    "coverage ends ({end}); propose against the next year's source.",
                    today=today,
                    start=start,
                    code=source.code,
                    end=source.coverage_end,
                ),
                "fundingSourceCode",
            )
        )
    check_age(ctx, worker, start)
    history = await ctx.loaders.enrollments_by_worker.load(worker.id)
    if any(e.termination_reason == TerminationReason.DECEASED for e in history):
        raise Refused(Problem("DECEASED", msg("workerId: the worker's coverage ended with their death."), "workerId"))
    if any(e.status in OPEN_STATUSES for e in history):
        raise duplicate_proposal()
    contribution = monthly_contribution(source.funded_monthly_income, start, frozenset(programmes))
    await check_budget(ctx, source, start, contribution)
    enrollment = Enrollment(
        worker_id=worker.id,
        funding_source_id=source.id,
        status=S.PROPOSED,
        programmes=",".join(p for p in ("JKK", "JKM", "JHT") if p in programmes),
        monthly_contribution=contribution,
        proposed_by=ctx.principal.subject,
    )
    ctx.db.add(enrollment)
    try:
        await ctx.db.flush()
    except IntegrityError as exc:  # a concurrent proposal for the same worker won the unique index
        raise duplicate_proposal() from exc
    ctx.loaders.forget(ctx.loaders.enrollments_by_worker, worker.id)
    ctx.audit(
        "enrollment:propose",
        target_id=to_global_id("Enrollment", enrollment.id),
        region_code=worker.kelurahan_code,
        detail=f"worker={to_global_id('Worker', worker.id)};source={source_code}",
    )
    return enrollment


async def check_budget(
    ctx: Context, source: FundingSource, start: date, contribution: int, commitment: tuple[int, int] | None = None
) -> None:
    """BUDGET_EXCEEDED when the source's committed members (active and proposed, over the whole source) and the
    new one, each at its monthly contribution from ``start`` through the source's coverage end (the fiscal
    year's end when the source names no coverage), cost more than what remains of the allocation.
    ``commitment``: (members, monthly sum) as :func:`funding.source_commitment` counted them and a batch has
    added since (renewals), instead of counting again for every item."""
    end = source.coverage_end or date(source.fiscal_year, 12, 31)
    months = months_inclusive(start, end)
    members, committed = commitment if commitment is not None else await funding.source_commitment(ctx, source)
    billed = (await ctx.loaders.funding_figures.load(source.id)).billed
    free = remaining(source.allocated, billed)
    over = budget_shortfall(committed_monthly=committed, new_monthly=contribution, months=months, remaining=free)
    if over > 0:
        need = (committed + contribution) * months
        raise Refused(
            Problem(
                "BUDGET_EXCEEDED",
                msg(
                    "fundingSourceCode: {members} committed members at Rp{committed}/month plus this one at "
                    "Rp{contribution}/month for {months} months need Rp{need}, but only Rp{free} remains of "
                    "{code}'s Rp{allocated} (Rp{billed} billed): Rp{over} over.",
                    members=members,
                    committed=committed,
                    contribution=contribution,
                    months=months,
                    need=need,
                    free=free,
                    code=source.code,
                    allocated=source.allocated,
                    billed=billed,
                    over=over,
                ),
                "fundingSourceCode",
            )
        )


def check_age(ctx: Context, worker: Worker, start: date, field: str = "workerId") -> None:
    age = age_on(worker.birth_date, start)
    if not ctx.settings.min_age <= age <= ctx.settings.max_age:
        raise Refused(
            Problem(
                "AGE_OUT_OF_RANGE",
                msg(
                    "{field}: aged {age} at coverage start; the programme covers {min_age}-{max_age}.",
                    field=field,
                    age=age,
                    min_age=ctx.settings.min_age,
                    max_age=ctx.settings.max_age,
                ),
                field,
            )
        )


def duplicate_proposal() -> Refused:
    return Refused(
        Problem(
            "DUPLICATE_PROPOSAL",
            msg("workerId: the worker already has a proposed, active or lapsed enrollment."),
            "workerId",
        )
    )


async def verify(
    ctx: Context,
    *,
    enrollment_gid: str,
    approved: bool,
    membership_number: str | None,
    coverage_start: date | None,
    rejection_reason: RejectionReason | None,
    checks: list[tuple[VerificationCheckKind, bool, str | None]],
    today: date,
) -> Enrollment:
    """Record BPJSTK's outcome for one proposal. Resubmitting the same outcome changes nothing."""
    enrollment = await visible_enrollment(ctx, require_id(enrollment_gid, "Enrollment", "enrollmentId"), "enrollmentId")
    target = S.ACTIVE if approved else S.REJECTED
    if enrollment.renews_id is not None and approved:
        # A renewal keeps the member's KPJ and continues the coverage from the day after the old one ends.
        membership_number, coverage_start = _renewal_terms(enrollment, membership_number, coverage_start)
    if (
        enrollment.status == target
        and enrollment.verified_at is not None
        and (
            enrollment.membership_number == membership_number
            if approved
            else enrollment.rejection_reason == rejection_reason
        )
    ):
        return enrollment  # the same result submitted again
    check_transition(enrollment.status, target, "enrollmentId")
    if approved:
        if membership_number is None or not re.fullmatch(ctx.settings.membership_number_pattern, membership_number):
            raise Refused(
                Problem(
                    "INVALID_MEMBERSHIP_NUMBER",
                    msg(
                        "membershipNumber: required when approved, matching {pattern}.",
                        pattern=ctx.settings.membership_number_pattern,
                    ),
                    "membershipNumber",
                )
            )
        source = await ctx.loaders.funding_source_by_id.load(enrollment.funding_source_id)
        assert source is not None
        start = coverage_start or max(next_month_start(today), source.coverage_start or today)
        check_coverage_start(start, today, "coverageStart")
        if source.coverage_start is not None and start < source.coverage_start:
            raise Refused(
                Problem(
                    "INVALID_DATE", msg("coverageStart: before the funding source's coverage start."), "coverageStart"
                )
            )
        if source.coverage_end is not None and start > source.coverage_end:
            raise Refused(
                Problem("INVALID_DATE", msg("coverageStart: after the funding source's coverage end."), "coverageStart")
            )
        values = dict(
            status=S.ACTIVE,
            membership_number=membership_number,
            coverage_start=start,
            coverage_end=source.coverage_end,
            kpj_held_before=await _held_before(ctx, enrollment, membership_number),
        )
    else:
        if rejection_reason is None:
            raise Refused(Problem("REQUIRED", msg("rejectionReason: required when not approved."), "rejectionReason"))
        values = dict(status=S.REJECTED, rejection_reason=rejection_reason)
    for _kind, _passed, note in checks:
        if note is not None and len(note) > 500:
            raise Refused(Problem("TOO_LONG", msg("checks.note: at most 500 characters."), "checks"))
    # Conditional on the state we read: of two concurrent verifications of one proposal, one wins.
    try:
        result = await ctx.db.execute(
            update(Enrollment)
            .where(Enrollment.id == enrollment.id, Enrollment.status == S.PROPOSED)
            .values(verified_at=utcnow(), verified_by=ctx.principal.subject, **values)
            .execution_options(synchronize_session="fetch")
        )
    except IntegrityError as exc:
        raise Refused(
            Problem(
                "DUPLICATE_MEMBERSHIP_NUMBER",
                msg("membershipNumber: already held by another member."),
                "membershipNumber",
            )
        ) from exc
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Refused(
            Problem("INVALID_TRANSITION", msg("enrollmentId: verified by someone else meanwhile."), "enrollmentId")
        )
    if checks:
        # One executemany: ORM objects would each INSERT ... RETURNING, four statements per item of a batch.
        await ctx.db.execute(
            insert(VerificationCheck),
            [
                {"enrollment_id": enrollment.id, "kind": kind, "passed": passed, "note": note, "checked_at": utcnow()}
                for kind, passed, note in checks
            ],
        )
    ctx.loaders.forget(ctx.loaders.checks_by_enrollment, enrollment.id)
    worker = await visible_worker(ctx, enrollment.worker_id)
    ctx.audit(
        "enrollment:verify",
        target_id=to_global_id("Enrollment", enrollment.id),
        region_code=worker.kelurahan_code,
        detail=f"approved={approved}",
    )
    return enrollment


async def _held_before(ctx: Context, enrollment: Enrollment, membership_number: str) -> bool:
    """Whether another enrollment of the same worker holds this KPJ: a member coming back after a gap keeps the
    number BPJSTK issued them (the KPJ's unique index leaves such an enrollment out; any other worker holding it is
    still a DUPLICATE_MEMBERSHIP_NUMBER). The worker is in the caller's scope, so are their enrollments."""
    held = exists().where(
        Enrollment.worker_id == enrollment.worker_id,
        Enrollment.membership_number == membership_number,
        Enrollment.id != enrollment.id,
    )
    return bool(await ctx.db.scalar(select(held)))


def _renewal_terms(
    enrollment: Enrollment, membership_number: str | None, coverage_start: date | None
) -> tuple[str | None, date | None]:
    """(KPJ, coverage start) of an approved renewal: its own, which the verifier may repeat but not change."""
    if membership_number is not None and membership_number != enrollment.membership_number:
        raise Refused(
            Problem(
                "INVALID_MEMBERSHIP_NUMBER",
                msg("membershipNumber: a renewal keeps the member's KPJ, {kpj}.", kpj=enrollment.membership_number),
                "membershipNumber",
            )
        )
    if coverage_start is not None and coverage_start != enrollment.coverage_start:
        raise Refused(
            Problem(
                "INVALID_DATE",
                msg("coverageStart: a renewal continues the coverage from {start}.", start=enrollment.coverage_start),
                "coverageStart",
            )
        )
    return enrollment.membership_number, enrollment.coverage_start


async def terminate(ctx: Context, *, enrollment_gid: str, reason: TerminationReason, effective: date) -> Enrollment:
    enrollment = await visible_enrollment(ctx, require_id(enrollment_gid, "Enrollment", "enrollmentId"), "enrollmentId")
    if (
        enrollment.status == S.TERMINATED
        and enrollment.termination_reason == reason
        and enrollment.terminated_on == effective
    ):
        return enrollment
    check_transition(enrollment.status, S.TERMINATED, "enrollmentId")
    check_has_happened(effective, ctx.today, msg("a termination"))
    if enrollment.coverage_start is not None and effective < enrollment.coverage_start:
        raise Refused(Problem("INVALID_DATE", msg("effectiveDate: before the coverage started."), "effectiveDate"))
    if enrollment.coverage_end is not None and effective > enrollment.coverage_end:
        # Coverage ends by itself at the source's end: a termination later than that would end nothing.
        raise Refused(Problem("INVALID_DATE", msg("effectiveDate: after the coverage ends."), "effectiveDate"))
    enrollment.status, enrollment.termination_reason, enrollment.terminated_on = S.TERMINATED, reason, effective
    # The termination's day is the coverage's last: coverageEnd shows it (bills count the member until then).
    enrollment.coverage_end = effective
    await ctx.db.flush()
    worker = await visible_worker(ctx, enrollment.worker_id)
    ctx.audit(
        "enrollment:terminate",
        target_id=to_global_id("Enrollment", enrollment.id),
        region_code=worker.kelurahan_code,
        detail=f"reason={reason.value};effective={effective}",
    )
    return enrollment
