"""Funding sources: allocations (and revisions), finding a source, what its members commit. Bills are billing's."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from api.context import Context
from api.errors import Problem, Refused
from api.ids import to_global_id
from api.rules import validation
from db.models import ContributionBill, Enrollment, EnrollmentStatus, FundingSource
from db.scoping import FOR_WRITE, RowScope, region_level

_SOURCE_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,39}")


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

