"""Billing, one service: BPJSTK issues a month's bill, Pemkot records its payment, unpaid bills lapse the source's
members, paying the arrears reactivates them, and coverage whose last day is past ends. The rules (due dates,
overdue, who a month counts) are api/rules/billing.py's."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError

from api.context import Context
from api.errors import Problem, Refused, not_found
from api.ids import require_id, to_global_id
from api.messages import Message, msg
from api.rules.billing import UNPAID_MONTHS_TO_LAPSE, covered_in, due_date, ended_by, overdue_on
from api.rules.lifecycle import check_transition
from api.rules.months import period_bounds
from api.services.funding import source_by_code
from db.models import BillStatus, ContributionBill, Enrollment, EnrollmentStatus, Worker
from db.scoping import FOR_WRITE

S = EnrollmentStatus


def overdue_sources(as_of: date, *, at_least: int = UNPAID_MONTHS_TO_LAPSE) -> Select[int]:
    """Ids of the sources with ``at_least`` bills overdue on ``as_of``: one aggregate."""
    return (
        select(ContributionBill.funding_source_id)
        .where(overdue_on(as_of))
        .group_by(ContributionBill.funding_source_id)
        .having(func.count(ContributionBill.id) >= at_least)
    )


async def overdue_bill_count(ctx: Context, source_id: int, as_of: date) -> int:
    """How many of a source's bills are overdue on ``as_of``."""
    count = await ctx.db.scalar(
        select(func.count(ContributionBill.id)).where(
            ContributionBill.funding_source_id == source_id, overdue_on(as_of)
        )
    )
    return int(count or 0)


async def members_at_risk(ctx: Context, source_id: int, as_of: date) -> int:
    """ACTIVE members of the source who would lapse if one more bill went unpaid: all of them when the source
    has exactly ``UNPAID_MONTHS_TO_LAPSE - 1`` unpaid past-due bills on ``as_of``, else none. One statement;
    the members counted are those the caller's scope shows (a city-wide reader sees the whole source)."""
    unpaid = (
        select(func.count(ContributionBill.id))
        .where(ContributionBill.funding_source_id == source_id, overdue_on(as_of))
        .scalar_subquery()
    )
    count = await ctx.db.scalar(
        select(func.count(Enrollment.id)).where(
            Enrollment.funding_source_id == source_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            unpaid == UNPAID_MONTHS_TO_LAPSE - 1,
        )
    )
    return int(count or 0)


def _already_billed(period: str, source_code: str) -> Message:
    return msg("period: {period} is already billed for {code}.", period=period, code=source_code)


async def issue_bill(ctx: Context, *, source_code: str, period: str) -> ContributionBill:
    """Bill one month of a source: the members active in that month, at their contributions."""
    bounds = period_bounds(period)
    if bounds is None:
        raise Refused(Problem("INVALID_PERIOD", msg("period: a month as YYYY-MM, e.g. 2025-04."), "period"))
    start, end = bounds
    # A bill counts every member of the source: only an issuer whose scope covers the source's region may issue it.
    source = await source_by_code(ctx, source_code, "fundingSourceCode", to_change=True)
    if source.coverage_start and source.coverage_end and not (source.coverage_start <= start <= source.coverage_end):
        raise Refused(Problem("OUTSIDE_COVERAGE", msg("period: outside the source's coverage period."), "period"))
    existing = await ctx.db.scalars(
        select(ContributionBill).where(
            ContributionBill.funding_source_id == source.id, ContributionBill.period == period
        )
    )
    if existing:
        raise Refused(Problem("ALREADY_BILLED", _already_billed(period, source_code), "period"))
    if start > ctx.today:
        # A month is billed once it has begun: who it counts is known only then (joiners, terminations, ends).
        raise Refused(
            Problem(
                "PERIOD_NOT_BEGUN",
                msg(
                    "period: {period} begins on {start}; a month is billed once it has begun.",
                    period=period,
                    start=start,
                ),
                "period",
            )
        )
    count, amount = (
        await ctx.db.execute(
            select(func.count(Enrollment.id), func.coalesce(func.sum(Enrollment.monthly_contribution), 0)).where(
                Enrollment.funding_source_id == source.id, *covered_in(start, end)
            )
        )
    ).one()
    bill = ContributionBill(
        funding_source_id=source.id,
        period=period,
        participants=int(count),
        amount=int(amount),
        status=BillStatus.ISSUED,
        due_date=due_date(start),
        issued_by=ctx.principal.subject,
    )
    ctx.db.add(bill)
    try:
        await ctx.db.flush()
    except IntegrityError as exc:  # a concurrent issue of the same month won the unique (source, period)
        raise Refused(Problem("ALREADY_BILLED", _already_billed(period, source_code), "period")) from exc
    ctx.audit(
        "bill:issue",
        target_id=to_global_id("ContributionBill", bill.id),
        region_code=source.region_code,
        detail=f"source={source_code};period={period};participants={count};amount={amount}",
    )
    return bill


async def pay_bill(ctx: Context, *, bill_gid: str, paid_at: datetime, amount: int) -> ContributionBill:
    # Found as a row to change: a city's bill is not there for a scope inside the city (db/scoping.py).
    bills = await ctx.db.scalars(
        select(ContributionBill)
        .where(ContributionBill.id == require_id(bill_gid, "ContributionBill", "billId"))
        .execution_options(**FOR_WRITE)
    )
    if not bills:
        raise Refused(not_found("billId", msg("contribution bill")))
    bill: ContributionBill = bills[0]
    if paid_at.tzinfo is None:
        raise Refused(
            Problem("INVALID_DATE", msg("paidAt: give a time zone, e.g. 2025-05-10T09:00:00+07:00."), "paidAt")
        )
    if paid_at > ctx.now + timedelta(minutes=5):
        raise Refused(Problem("INVALID_DATE", msg("paidAt: a payment cannot be recorded in the future."), "paidAt"))
    if bill.status == BillStatus.PAID:
        if bill.paid_amount == amount and bill.paid_at == paid_at:
            return bill  # the same payment recorded again: nothing to do twice
        raise Refused(Problem("ALREADY_PAID", msg("billId: this bill is already paid."), "billId"))
    if amount != bill.amount:
        raise Refused(
            Problem(
                "AMOUNT_MISMATCH",
                msg("amount: must equal the bill's amount, Rp{amount}.", amount=bill.amount),
                "amount",
            )
        )
    bill.status, bill.paid_at, bill.paid_amount, bill.paid_by = BillStatus.PAID, paid_at, amount, ctx.principal.subject
    await ctx.db.flush()
    # Paying arrears reactivates the source's lapsed members once fewer than three bills remain overdue.
    await reactivate_if_paid_up(ctx, bill.funding_source_id, ctx.today)
    source = await ctx.loaders.funding_source_by_id.load(bill.funding_source_id)
    assert source is not None, "a visible bill's funding source is always visible"
    ctx.audit(
        "bill:pay",
        target_id=to_global_id("ContributionBill", bill.id),
        region_code=source.region_code,
        detail=f"period={bill.period};amount={amount}",
    )
    return bill


async def _move_members(
    ctx: Context,
    *,
    where: tuple[ColumnElement[bool], ...],
    current: EnrollmentStatus,
    target: EnrollmentStatus,
    action: str,
    detail: str,
) -> list[Enrollment]:
    """Move the visible ``current`` members that match ``where`` to ``target``, one audit event each.

    Set-based: one select (ids and kelurahan, for the audit) and one conditional UPDATE per chunk, so that a
    source of thousands does not cost a statement per member, and a member changed meanwhile is left alone.
    """
    check_transition(current, target, "enrollmentId")
    rows = (
        await ctx.db.execute(
            select(Enrollment.id, Worker.kelurahan_code)
            .join(Worker, Worker.id == Enrollment.worker_id)
            .where(Enrollment.status == current, *where)
            .order_by(Enrollment.id)
        )
    ).all()
    region = {int(eid): str(code) for eid, code in rows}
    moved: list[Enrollment] = []
    ids = list(region)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        changed = (
            (
                await ctx.db.execute(
                    update(Enrollment)
                    .where(Enrollment.id.in_(chunk), Enrollment.status == current)
                    .values(status=target)
                    .returning(Enrollment.id)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        if not changed:
            continue
        moved += await ctx.db.scalars(
            select(Enrollment)
            .where(Enrollment.id.in_(changed))
            .order_by(Enrollment.id)
            .execution_options(populate_existing=True)
        )
    for enrollment in moved:
        ctx.audit(
            action,
            target_id=to_global_id("Enrollment", enrollment.id),
            region_code=region[enrollment.id],
            detail=detail,
        )
    return moved


async def lapse(ctx: Context, as_of: date) -> list[Enrollment]:
    """BPJSTK marks lapsed the ACTIVE members of every source with ``UNPAID_MONTHS_TO_LAPSE`` (3) or more bills
    unpaid and past due on ``as_of``; each gets an ``enrollment:lapse`` audit event. Running it again changes
    nothing (only ACTIVE members move). Members the caller's scope does not show are not touched.
    """
    return await _move_members(
        ctx,
        where=(Enrollment.funding_source_id.in_(overdue_sources(as_of)),),
        current=S.ACTIVE,
        target=S.LAPSED,
        action="enrollment:lapse",
        detail=f"as_of={as_of};unpaid_months>={UNPAID_MONTHS_TO_LAPSE}",
    )


async def reactivate_if_paid_up(ctx: Context, source_id: int, as_of: date) -> list[Enrollment]:
    """After a payment: when the source has fewer than ``UNPAID_MONTHS_TO_LAPSE`` bills unpaid and past due on
    ``as_of``, its LAPSED members (as the payer's scope shows them) return to ACTIVE, each with an
    ``enrollment:reactivate`` audit event: the domain's reactivation by paying the arrears, recorded."""
    unpaid = await overdue_bill_count(ctx, source_id, as_of)
    if unpaid >= UNPAID_MONTHS_TO_LAPSE:
        return []
    return await _move_members(
        ctx,
        where=(Enrollment.funding_source_id == source_id,),
        current=S.LAPSED,
        target=S.ACTIVE,
        action="enrollment:reactivate",
        detail=f"as_of={as_of};unpaid_months={unpaid}",
    )


async def end_coverage(ctx: Context, as_of: date) -> list[Enrollment]:
    """The members whose coverage's last day is behind ``as_of`` (ACTIVE or LAPSED: api/rules/lifecycle.py,
    coverage_has_ended) become ENDED, each with an ``enrollment:end`` audit event; their renewals, if any, carry
    on. ``as_of`` may not be later than today: coverage that has not ended yet is not ended ahead of time. Running
    it again changes nothing. Members the caller's scope does not show are not touched."""
    if as_of > ctx.today:
        raise Refused(
            Problem(
                "INVALID_DATE",
                msg(
                    "asOf: {as_of} is after today ({today}); coverage is ended once its last day is past.",
                    as_of=as_of,
                    today=ctx.today,
                ),
                "asOf",
            )
        )
    ended: list[Enrollment] = []
    for current in (S.ACTIVE, S.LAPSED):
        ended += await _move_members(
            ctx,
            where=ended_by(as_of),
            current=current,
            target=S.ENDED,
            action="enrollment:end",
            detail=f"as_of={as_of};coverage_end<{as_of}",
        )
    return sorted(ended, key=lambda e: e.id)
