"""Renewal: Pemkot carries the members of one year's funding source over to the next year's.

Each renewed enrollment gets a PROPOSED successor on the new source (``renews_id`` names the old one) whose
coverage continues the day after the old one ends, carrying the member's KPJ; BPJSTK then verifies it as any
proposal (api/services/enrollments.py, ``verify``), and the old one ends by itself when its last day is past
(api/services/billing.py, ``end_coverage``). The rules a proposal obeys hold here too, asked of the same
functions: the age at coverage start, the budget ceiling of the new source, one open enrollment per worker besides
the one renewed, and the first of the current month as the earliest coverage start (api/rules/lifecycle.py).

A retry acts once: an enrollment is renewed at most once (a unique index on ``renews_id``), and renewing again into
the same source answers the renewal already made, as its outcome, without an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.context import Context
from api.errors import Problem, Refused
from api.ids import require_id, to_global_id
from api.messages import msg, term
from api.rules.contributions import monthly_contribution
from api.rules.lifecycle import RENEWABLE, S, check_coverage_start
from api.services import funding
from api.services.enrollments import check_age, check_budget, duplicate_proposal, visible_enrollment
from api.services.funding import source_by_code
from api.services.workers import visible_worker
from db.models import OPEN_STATUSES, Enrollment, FundingSource


@dataclass
class Renewal:
    """One request's renewal from one source into the next: the sources, and the new source's commitment as it
    grows item by item (counted once, then added to, rather than counted again for every member)."""

    old: FundingSource
    new: FundingSource
    members: int
    committed: int


async def begin(ctx: Context, from_code: str, to_code: str) -> Renewal:
    """The two sources, refused whole when either is not the caller's to see or they cannot follow each other."""
    old = await source_by_code(ctx, from_code, "fromFundingSourceCode")
    new = await source_by_code(ctx, to_code, "toFundingSourceCode")
    if new.id == old.id:
        raise Refused(
            Problem(
                "SAME_SOURCE",
                msg("toFundingSourceCode: a renewal moves members to another source than {code}.", code=old.code),
                "toFundingSourceCode",
            )
        )
    if old.coverage_end is not None and new.coverage_end is not None and new.coverage_end <= old.coverage_end:
        raise Refused(
            Problem(
                "OUTSIDE_COVERAGE",
                msg(
                    "toFundingSourceCode: {new}'s coverage ends on {new_end}, not after {old}'s ({old_end}).",
                    new=new.code,
                    new_end=new.coverage_end,
                    old=old.code,
                    old_end=old.coverage_end,
                ),
                "toFundingSourceCode",
            )
        )
    members, committed = await funding.source_commitment(ctx, new)
    return Renewal(old=old, new=new, members=members, committed=committed)


async def candidates(ctx: Context, renewal: Renewal) -> list[str]:
    """Ids of the members renewEnrollments takes when none are named: the enrollments of the old source the caller
    sees whose coverage runs to the source's end (active, lapsed or just ended: not terminated, rejected or
    still proposed)."""
    stmt = (
        select(Enrollment.id)
        .where(
            Enrollment.funding_source_id == renewal.old.id,
            Enrollment.status.in_(sorted(RENEWABLE)),
            Enrollment.terminated_on.is_(None),
        )
        .order_by(Enrollment.id)
    )
    if renewal.old.coverage_end is not None:
        stmt = stmt.where(Enrollment.coverage_end == renewal.old.coverage_end)
    return [to_global_id("Enrollment", i) for i in await ctx.db.scalars(stmt)]


async def renew(ctx: Context, renewal: Renewal, enrollment_gid: str, today: date) -> Enrollment:
    """Renew one enrollment into ``renewal.new`` (or answer its renewal there, made before)."""
    field = "enrollmentIds"
    old = await visible_enrollment(ctx, require_id(enrollment_gid, "Enrollment", field), field)
    if old.funding_source_id != renewal.old.id:
        raise Refused(
            Problem(
                "WRONG_SOURCE",
                msg("{field}: not an enrollment of {code}.", field=field, code=renewal.old.code),
                field,
            )
        )
    worker = await visible_worker(ctx, old.worker_id)
    # The worker's enrollments (prefetched for the batch) hold any renewal of this one: no statement per item.
    history = await ctx.loaders.enrollments_by_worker.load(worker.id)
    made = [e for e in history if e.renews_id == old.id]
    if made:
        if made[0].funding_source_id == renewal.new.id:
            return made[0]  # renewed before, into this source: the retry's answer, nothing done twice
        raise Refused(
            Problem("ALREADY_RENEWED", msg("{field}: this enrollment was renewed already.", field=field), field)
        )
    if old.status not in RENEWABLE or old.coverage_end is None:
        raise Refused(
            Problem(
                "NOT_RENEWABLE",
                msg(
                    "{field}: the enrollment is {status}; only active, lapsed or ended coverage is renewed.",
                    field=field,
                    status=term("status", old.status.value),
                ),
                field,
            )
        )
    start = old.coverage_end + timedelta(days=1)
    check_coverage_start(start, today, field)
    new = renewal.new
    if (new.coverage_start is not None and start < new.coverage_start) or (
        new.coverage_end is not None and start > new.coverage_end
    ):
        raise Refused(
            Problem(
                "OUTSIDE_COVERAGE",
                msg(
                    "{field}: the renewal would start on {start}, outside {code}'s coverage ({begin} to {end}).",
                    field=field,
                    start=start,
                    code=new.code,
                    begin=new.coverage_start,
                    end=new.coverage_end,
                ),
                field,
            )
        )
    check_age(ctx, worker, start, field)
    if any(e.status in OPEN_STATUSES and e.id != old.id and e.renews_id is None for e in history):
        raise duplicate_proposal()
    programmes = frozenset(p for p in old.programmes.split(",") if p)
    contribution = monthly_contribution(new.funded_monthly_income, start, programmes)
    await check_budget(ctx, new, start, contribution, (renewal.members, renewal.committed))
    successor = Enrollment(
        worker_id=worker.id,
        funding_source_id=new.id,
        status=S.PROPOSED,
        programmes=old.programmes,
        membership_number=old.membership_number,  # the member's KPJ, kept
        coverage_start=start,
        monthly_contribution=contribution,
        proposed_by=ctx.principal.subject,
        renews_id=old.id,
    )
    ctx.db.add(successor)
    try:
        await ctx.db.flush()
    except IntegrityError as exc:  # a concurrent renewal of the same enrollment won the unique index
        raise Refused(
            Problem("ALREADY_RENEWED", msg("{field}: this enrollment was renewed already.", field=field), field)
        ) from exc
    renewal.members += 1
    renewal.committed += contribution
    ctx.loaders.forget(ctx.loaders.enrollments_by_worker, worker.id)
    ctx.audit(
        "enrollment:renew",
        target_id=to_global_id("Enrollment", successor.id),
        region_code=worker.kelurahan_code,
        detail=f"renews={to_global_id('Enrollment', old.id)};source={new.code};start={start}",
    )
    return successor
