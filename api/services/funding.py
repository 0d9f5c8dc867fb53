"""Funding sources and contribution bills: allocations, monthly bills, payments, realisation figures."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from api.context import Context
from api.ids import require_id, to_global_id
from api.services import validation
from api.services.errors import Problem, Refused, not_found
from db.models import BillStatus, ContributionBill, Enrollment, EnrollmentStatus, FundingSource
from db.reference import public_holidays
from db.scoping import FOR_WRITE, RowScope, region_level

_SOURCE_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,39}")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")
DUE_DAY = 15
# After this many months unpaid a BPU member becomes non-active (the domain's "3 months unpaid -> lapse").
UNPAID_MONTHS_TO_LAPSE = 3


def remaining(allocated: int, billed: int) -> int:
    """What is still free to commit: an issued bill is an obligation, paid or not."""
    return allocated - billed


def due_date(period_start: date) -> date:
    """The 15th of the month covered, moved to the next working day past weekends and public holidays."""
    due = period_start.replace(day=DUE_DAY)
    holidays = public_holidays()
    while due.weekday() >= 5 or due in holidays:
        due += timedelta(days=1)
    return due


def is_overdue(bill: ContributionBill, today: date) -> bool:
    return bill.status == BillStatus.ISSUED and today > bill.due_date


def overdue_sources(as_of: date, *, at_least: int = UNPAID_MONTHS_TO_LAPSE) -> Select[int]:
    """Ids of the sources with ``at_least`` bills still ISSUED (unpaid) and past due on ``as_of``: one aggregate."""
    return (
        select(ContributionBill.funding_source_id)
        .where(ContributionBill.status == BillStatus.ISSUED, ContributionBill.due_date < as_of)
        .group_by(ContributionBill.funding_source_id)
        .having(func.count(ContributionBill.id) >= at_least)
    )


async def overdue_bill_count(ctx: Context, source_id: int, as_of: date) -> int:
    """How many of a source's bills are unpaid and past due on ``as_of`` (the same rule as ``is_overdue``)."""
    count = await ctx.db.scalar(
        select(func.count(ContributionBill.id)).where(
            ContributionBill.funding_source_id == source_id,
            ContributionBill.status == BillStatus.ISSUED,
            ContributionBill.due_date < as_of,
        )
    )
    return int(count or 0)


async def members_at_risk(ctx: Context, source_id: int, as_of: date) -> int:
    """ACTIVE members of the source who would lapse if one more bill went unpaid: all of them when the source
    has exactly ``UNPAID_MONTHS_TO_LAPSE - 1`` unpaid past-due bills on ``as_of``, else none. One statement;
    the members counted are those the caller's scope shows (a city-wide reader sees the whole source)."""
    unpaid = (
        select(func.count(ContributionBill.id))
        .where(
            ContributionBill.funding_source_id == source_id,
            ContributionBill.status == BillStatus.ISSUED,
            ContributionBill.due_date < as_of,
        )
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


async def source_commitment(ctx: Context, source: FundingSource) -> tuple[int, int]:
    """(members, sum of their monthly contributions) of the source's ACTIVE and PROPOSED enrollments, counted
    over the WHOLE source, whoever asks. Numbers only: no row leaves this function.

    Why not ``ctx.db``: the request's session carries the caller's scope, so for a kelurahan operator it would
    count that kelurahan's members only, and the budget ceiling would be checked against a fraction of the
    commitment. Widening the request's session (even for one statement) would risk every other statement it
    runs meanwhile; writing a WHERE on kelurahan by hand would bypass ``db/scoping.py``. Instead the aggregate
    runs through ``Db.aggregate_within`` under the *source's* region scope: numbers, never rows.
    """
    count, monthly = await ctx.db.aggregate_within(
        RowScope(region_codes=(source.region_code,), subject=ctx.principal.subject),
        select(func.count(Enrollment.id), func.coalesce(func.sum(Enrollment.monthly_contribution), 0)).where(
            Enrollment.funding_source_id == source.id,
            Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PROPOSED]),
        ),
    )
    return int(count), int(monthly)


def sources_query(fiscal_year: int | None) -> Select[FundingSource]:
    stmt = select(FundingSource).order_by(FundingSource.fiscal_year, FundingSource.code)
    return stmt.where(FundingSource.fiscal_year == fiscal_year) if fiscal_year is not None else stmt


def bills_query(fiscal_year: int | None) -> Select[ContributionBill]:
    stmt = select(ContributionBill)
    if fiscal_year is not None:
        stmt = stmt.where(ContributionBill.period.startswith(f"{fiscal_year:04d}-"))
    return stmt


async def source_by_code(ctx: Context, code: str, field: str, *, to_change: bool = False) -> FundingSource:
    """The source of that code the caller sees; ``to_change``: only one its scope covers (a kelurahan reads its
    city's source but may not bill or revise it), else not found, worded as for a code never allocated."""
    if not _SOURCE_CODE.fullmatch(code):
        # Checked before the lookup: a NUL or a megabyte of text must not reach the database driver.
        raise Refused(Problem("INVALID_CODE", f"{field}: 2-40 capitals, digits and dashes, e.g. DBHCHT-2025.", field))
    stmt = select(FundingSource).where(FundingSource.code == code)
    rows = await ctx.db.scalars(stmt.execution_options(**FOR_WRITE) if to_change else stmt)
    if not rows:
        raise Refused(Problem("NOT_FOUND", f"{field}: no funding source {code!r} is visible to you.", field))
    source: FundingSource = rows[0]
    return source


def _city_of(ctx: Context) -> str:
    """The city whose budget the caller holds: its scope must be that whole city (a kecamatan or kelurahan scope
    reads the city's sources but does not allocate them). Asked before any lookup, so the answer is the same
    whichever code is named."""
    scope = ctx.principal.scope
    if len(scope) != 1 or region_level(scope[0]) != "city":
        raise Refused(
            Problem("OUT_OF_SCOPE", "Funding is allocated for a whole city: your scope is not one city.", None)
        )
    return scope[0]


async def allocate(
    ctx: Context,
    *,
    code: str,
    name: str,
    fiscal_year: int,
    allocated: int,
    legal_basis: str | None,
    coverage_start: date | None,
    coverage_end: date | None,
) -> FundingSource:
    """Create a funding source, or revise one (e.g. an APBD amendment); never below what is already billed."""
    problems: list[Problem] = []
    if not _SOURCE_CODE.fullmatch(code):
        problems.append(Problem("INVALID_CODE", "code: 2-40 capitals, digits and dashes, e.g. DBHCHT-2025.", "code"))
    problems += validation.text(name, "name", max_length=200)
    if legal_basis is not None:
        problems += validation.text(legal_basis, "legalBasis", max_length=200, required=False)
    if not 2000 <= fiscal_year <= 2100:
        problems.append(Problem("OUT_OF_RANGE", "fiscalYear: between 2000 and 2100.", "fiscalYear"))
    if allocated <= 0:
        problems.append(Problem("OUT_OF_RANGE", "allocated: must be more than zero.", "allocated"))
    if (coverage_start is None) != (coverage_end is None):
        problems.append(Problem("REQUIRED", "coverageEnd: give both ends of the coverage or neither.", "coverageEnd"))
    elif coverage_start is not None and coverage_end is not None:
        if coverage_start > coverage_end:
            problems.append(Problem("INVALID_PERIOD", "coverageEnd: must not be before coverageStart.", "coverageEnd"))
        if coverage_start.year != fiscal_year or coverage_end.year != fiscal_year:
            problems.append(
                Problem("INVALID_PERIOD", "coverageStart: coverage lies within the fiscal year.", "coverageStart")
            )
        if coverage_start.day != 1:
            problems.append(
                Problem("INVALID_PERIOD", "coverageStart: coverage starts on the first of a month.", "coverageStart")
            )
    if problems:
        raise Refused(*problems)
    city = _city_of(ctx)
    rows = await ctx.db.scalars(
        select(FundingSource).where(FundingSource.code == code).execution_options(**FOR_WRITE)
    )
    source = rows[0] if rows else None
    if source is None:
        source = FundingSource(code=code, region_code=city)
        ctx.db.add(source)
        action_detail = "created"
    else:
        billed = (await ctx.loaders.funding_figures.load(source.id)).billed
        if allocated < billed:
            raise Refused(
                Problem("BELOW_BILLED", f"allocated: cannot go below the Rp{billed} already billed.", "allocated")
            )
        action_detail = f"revised from {source.allocated}"
    source.name, source.fiscal_year, source.allocated = name.strip(), fiscal_year, allocated
    source.legal_basis, source.coverage_start, source.coverage_end = legal_basis, coverage_start, coverage_end
    try:
        await ctx.db.flush()
    except IntegrityError as exc:
        # Codes are one namespace for the province: the code is another region's, or a concurrent request created
        # it a moment ago. Either way nothing is written, and nothing of the other source is told.
        taken = Problem("CONFLICT", f"code: {code} is taken; look again, or choose another code.", "code")
        raise Refused(taken) from exc
    ctx.audit(
        "funding:allocate",
        target_id=to_global_id("FundingSource", source.id),
        region_code=source.region_code,
        detail=f"code={code};allocated={allocated};{action_detail}",
    )
    return source


def _period_bounds(period: str) -> tuple[date, date] | None:
    m = _PERIOD.fullmatch(period)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    start = date(int(m.group(1)), int(m.group(2)), 1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, end


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a well-formed YYYY-MM period (one read from the database)."""
    bounds = _period_bounds(period)
    if bounds is None:
        raise ValueError(f"not a YYYY-MM period: {period!r}")
    return bounds


def months_between(start: date, end: date) -> list[str]:
    """The YYYY-MM periods from the month of ``start`` to the month of ``end``, both included."""
    periods, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return periods


def covered_in(start: date, end: date) -> tuple[ColumnElement[bool], ...]:
    """THE rule of who a month's bill counts: members active now, or terminated during or after the month,
    whose coverage overlaps it. Lapsed members are not billed while lapsed. Realisation projects with it too."""
    return (
        Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.TERMINATED]),
        Enrollment.coverage_start <= end,
        Enrollment.coverage_end >= start,
        or_(Enrollment.terminated_on.is_(None), Enrollment.terminated_on >= start),
    )


async def issue_bill(ctx: Context, *, source_code: str, period: str) -> ContributionBill:
    """Bill one month of a source: the members active in that month, at their contributions."""
    bounds = _period_bounds(period)
    if bounds is None:
        raise Refused(Problem("INVALID_PERIOD", "period: a month as YYYY-MM, e.g. 2025-04.", "period"))
    start, end = bounds
    # A bill counts every member of the source: only an issuer whose scope covers the source's region may issue it.
    source = await source_by_code(ctx, source_code, "fundingSourceCode", to_change=True)
    if source.coverage_start and source.coverage_end and not (source.coverage_start <= start <= source.coverage_end):
        raise Refused(Problem("OUTSIDE_COVERAGE", "period: outside the source's coverage period.", "period"))
    existing = await ctx.db.scalars(
        select(ContributionBill).where(
            ContributionBill.funding_source_id == source.id, ContributionBill.period == period
        )
    )
    if existing:
        raise Refused(Problem("ALREADY_BILLED", f"period: {period} is already billed for {source_code}.", "period"))
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
        raise Refused(
            Problem("ALREADY_BILLED", f"period: {period} is already billed for {source_code}.", "period")
        ) from exc
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
        raise Refused(not_found("billId", "contribution bill"))
    bill: ContributionBill = bills[0]
    if paid_at.tzinfo is None:
        raise Refused(Problem("INVALID_DATE", "paidAt: give a time zone, e.g. 2025-05-10T09:00:00+07:00.", "paidAt"))
    if paid_at > ctx.now + timedelta(minutes=5):
        raise Refused(Problem("INVALID_DATE", "paidAt: a payment cannot be recorded in the future.", "paidAt"))
    if bill.status == BillStatus.PAID:
        if bill.paid_amount == amount and bill.paid_at == paid_at:
            return bill  # the same payment recorded again: nothing to do twice
        raise Refused(Problem("ALREADY_PAID", "billId: this bill is already paid.", "billId"))
    if amount != bill.amount:
        raise Refused(Problem("AMOUNT_MISMATCH", f"amount: must equal the bill's amount, Rp{bill.amount}.", "amount"))
    bill.status, bill.paid_at, bill.paid_amount, bill.paid_by = BillStatus.PAID, paid_at, amount, ctx.principal.subject
    await ctx.db.flush()
    # Paying arrears reactivates the source's lapsed members once fewer than three bills remain overdue.
    from api.services.enrollments import reactivate_if_paid_up  # enrollments imports this module

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
