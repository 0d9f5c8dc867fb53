"""Funding sources: allocations (and revisions), finding a source, what its members commit. Bills are billing's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from api.context import Context
from api.errors import Problem, Refused
from api.ids import to_global_id
from api.messages import msg
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


# The order sources are listed in, wherever they are (the compiled reads' JSON too).
SOURCES_ORDER = (FundingSource.fiscal_year, FundingSource.code)


def sources_query(fiscal_year: int | None) -> Select[FundingSource]:
    stmt = select(FundingSource).order_by(*SOURCES_ORDER)
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
        raise Refused(
            Problem(
                "INVALID_CODE", msg("{field}: 2-40 capitals, digits and dashes, e.g. DBHCHT-2025.", field=field), field
            )
        )
    stmt = select(FundingSource).where(FundingSource.code == code)
    rows = await ctx.db.scalars(stmt.execution_options(**FOR_WRITE) if to_change else stmt)
    if not rows:
        raise Refused(
            Problem(
                "NOT_FOUND",
                msg("{field}: no funding source {code!r} is visible to you.", field=field, code=code),
                field,
            )
        )
    source: FundingSource = rows[0]
    return source


def _city_of(ctx: Context) -> str:
    """The city whose budget the caller holds: its scope must be that whole city (a kecamatan or kelurahan scope
    reads the city's sources but does not allocate them). Asked before any lookup, so the answer is the same
    whichever code is named."""
    scope = ctx.principal.scope
    if len(scope) != 1 or region_level(scope[0]) != "city":
        raise Refused(
            Problem("OUT_OF_SCOPE", msg("Funding is allocated for a whole city: your scope is not one city."), None)
        )
    return scope[0]


@dataclass(frozen=True)
class Allocation:
    """What recordFundingAllocation asks: a new source, or a revision of one (e.g. an APBD amendment)."""

    code: str
    name: str
    fiscal_year: int
    allocated: int
    legal_basis: str | None = None
    coverage_start: date | None = None
    coverage_end: date | None = None
    revision_reason: str | None = None


def _coverage_problems(fiscal_year: int, start: date | None, end: date | None) -> list[Problem]:
    if (start is None) != (end is None):
        return [Problem("REQUIRED", msg("coverageEnd: give both ends of the coverage or neither."), "coverageEnd")]
    problems: list[Problem] = []
    if start is not None and end is not None:
        if start > end:
            problems.append(
                Problem("INVALID_PERIOD", msg("coverageEnd: must not be before coverageStart."), "coverageEnd")
            )
        if start.year != fiscal_year or end.year != fiscal_year:
            problems.append(
                Problem("INVALID_PERIOD", msg("coverageStart: coverage lies within the fiscal year."), "coverageStart")
            )
        if start.day != 1:
            problems.append(
                Problem(
                    "INVALID_PERIOD",
                    msg("{field}: coverage starts on the first of a month.", field="coverageStart"),
                    "coverageStart",
                )
            )
    return problems


async def allocate(ctx: Context, a: Allocation) -> tuple[FundingSource, bool]:
    """Create a funding source, or revise one: (the source, whether this revised it). A revision says why
    (``revision_reason``), never goes below what is already billed, and keeps what the request leaves out (legal
    basis, coverage); asking again for what is stored changes nothing and writes nothing (a retry acts once)."""
    problems: list[Problem] = []
    if not _SOURCE_CODE.fullmatch(a.code):
        problems.append(
            Problem("INVALID_CODE", msg("code: 2-40 capitals, digits and dashes, e.g. DBHCHT-2025."), "code")
        )
    problems += validation.text(a.name, "name", max_length=200)
    if a.legal_basis is not None:
        problems += validation.text(a.legal_basis, "legalBasis", max_length=200, required=False)
    if a.revision_reason is not None:
        problems += validation.text(a.revision_reason, "revisionReason", max_length=200)
    if not 2000 <= a.fiscal_year <= 2100:
        problems.append(Problem("OUT_OF_RANGE", msg("fiscalYear: between 2000 and 2100."), "fiscalYear"))
    if a.allocated <= 0:
        problems.append(Problem("OUT_OF_RANGE", msg("allocated: must be more than zero."), "allocated"))
    if (a.coverage_start is None) != (a.coverage_end is None):
        problems += _coverage_problems(a.fiscal_year, a.coverage_start, a.coverage_end)
    if problems:
        raise Refused(*problems)
    city = _city_of(ctx)
    rows = await ctx.db.scalars(
        select(FundingSource).where(FundingSource.code == a.code).execution_options(**FOR_WRITE)
    )
    source = rows[0] if rows else None
    # What the source will hold: a revision keeps what the request leaves out.
    legal_basis = a.legal_basis if a.legal_basis is not None or source is None else source.legal_basis
    if a.coverage_start is not None or source is None:
        coverage_start, coverage_end = a.coverage_start, a.coverage_end
    else:
        coverage_start, coverage_end = source.coverage_start, source.coverage_end
    problems = _coverage_problems(a.fiscal_year, coverage_start, coverage_end)
    if problems:
        raise Refused(*problems)
    wanted = (a.name.strip(), a.fiscal_year, a.allocated, legal_basis, coverage_start, coverage_end)
    if source is None:
        source = FundingSource(code=a.code, region_code=city)
        ctx.db.add(source)
        action_detail = "created"
    else:
        stored = (
            source.name,
            source.fiscal_year,
            source.allocated,
            source.legal_basis,
            source.coverage_start,
            source.coverage_end,
        )
        if stored == wanted:
            return source, False  # asked again for what is stored: nothing to do twice
        if a.revision_reason is None:
            raise Refused(
                Problem(
                    "REVISION_REASON_REQUIRED",
                    msg(
                        "revisionReason: {code} exists (Rp{allocated}); revising it needs its reason, "
                        "e.g. the budget amendment that changes it.",
                        code=a.code,
                        allocated=source.allocated,
                    ),
                    "revisionReason",
                )
            )
        billed = (await ctx.loaders.funding_figures.load(source.id)).billed
        if a.allocated < billed:
            raise Refused(
                Problem(
                    "BELOW_BILLED",
                    msg("allocated: cannot go below the Rp{billed} already billed.", billed=billed),
                    "allocated",
                )
            )
        action_detail = f"revised from {source.allocated};reason={a.revision_reason.strip()}"
    source.name, source.fiscal_year, source.allocated, source.legal_basis = wanted[:4]
    source.coverage_start, source.coverage_end = coverage_start, coverage_end
    try:
        await ctx.db.flush()
    except IntegrityError as exc:
        # Codes are one namespace for the province: the code is another region's, or a concurrent request created
        # it a moment ago. Either way nothing is written, and nothing of the other source is told.
        taken = Problem(
            "CONFLICT", msg("code: {code} is taken; look again, or choose another code.", code=a.code), "code"
        )
        raise Refused(taken) from exc
    ctx.audit(
        "funding:allocate",
        target_id=to_global_id("FundingSource", source.id),
        region_code=source.region_code,
        detail=f"code={a.code};allocated={a.allocated};{action_detail}",
    )
    return source, action_detail != "created"
