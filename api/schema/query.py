"""The Query root: thin resolvers that convert arguments, call a service and wrap rows in types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy import select

from api.context import Context
from api.ids import parse_global_id
from api.limits import answer_too_many_requests
from api.messages import msg
from api.schema import types as t
from api.schema.access import FIELDS, Needs
from api.schema.enums import Agency
from api.schema.inputs import EnrollmentFilter, WorkerFilter
from api.schema.lists import list_workers, selected_names
from api.schema.pagination import Connection, PageArgs, paginate
from api.schema.policy import PolicyQuery
from api.schema.summary import (
    KelurahanSummary,
    OccupationSummary,
    ProgrammeSummary,
    active,
    proposed,
    rejected,
)
from api.services import audit, enrollments, funding, nik_lookups, summary, workers
from db import models
from db.base import utcnow
from db.models import EnrollmentStatus

Info = t.Info

# The types `node(id:)` can fetch, each through its scoped loader.
NODE_LOADERS: dict[str, tuple[str, Callable[[Any], t.Node]]] = {
    "City": ("city_by_id", t.City.of),
    "Kecamatan": ("kecamatan_by_id", t.Kecamatan.of),
    "Kelurahan": ("kelurahan_by_id", t.Kelurahan.of),
    "Worker": ("worker_by_id", t.Worker.of),
    "Enrollment": ("enrollment_by_id", t.Enrollment.of),
    "FundingSource": ("funding_source_by_id", t.FundingSource.of),
    "ContributionBill": ("bill_by_id", t.ContributionBill.of),
}


# The order of ``cities`` (and of its compiled twin, api/schema/compiled/plan.py).
CITIES_ORDER = (models.City.code,)


def viewer_of(ctx: Context) -> t.Viewer:
    """The caller, as ``viewer`` answers (and the compiled plans that select it, api/schema/compiled/)."""
    p = ctx.principal
    return t.Viewer(
        subject=p.subject,
        agency=Agency(p.agency),
        roles=[p.role],
        scope=list(p.scope),
        permissions=[str(perm) for perm in ctx.authorizer.permissions_of(p.role, p.subject, p.scope)],
        server_time=utcnow(),
    )


@strawberry.type
class Query(PolicyQuery):
    @strawberry.field(description="Fetch any object by its global id; objects outside your scope answer null.")
    async def node(self, info: Info, id: strawberry.ID) -> t.Node | None:
        parsed = parse_global_id(id)
        if parsed is None:
            return None
        type_name, pk = parsed
        if type_name == "AuditEvent":
            rows = await info.context.db.scalars(audit.events_query().where(models.AuditEvent.id == pk))
            return t.AuditEvent.of(rows[0]) if rows else None
        if type_name not in NODE_LOADERS:
            return None
        loader_name, wrap = NODE_LOADERS[type_name]
        row = await getattr(info.context.loaders, loader_name).load(pk)
        return wrap(row) if row is not None else None

    @strawberry.field(description="Who the caller is, and what it may do.")
    def viewer(self, info: Info) -> t.Viewer:
        return viewer_of(info.context)

    @strawberry.field
    async def cities(self, info: Info) -> list[t.City]:
        return [t.City.of(c) for c in await info.context.db.scalars(select(models.City).order_by(*CITIES_ORDER))]

    @strawberry.field
    async def kelurahan(self, info: Info, code: str) -> t.Kelurahan | None:
        row = await info.context.loaders.kelurahan_by_code.load(code)
        return t.Kelurahan.of(row) if row is not None else None

    @strawberry.field
    async def workers(
        self,
        info: Info,
        filter: WorkerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.Worker]:
        return await list_workers(info, filter, PageArgs(first, after, last, before), t.Worker.of)

    @strawberry.field(description="A worker by full NIK; null when absent or outside your scope.")
    async def worker_by_nik(self, info: Info, nik: str) -> t.Worker | None:
        ctx = info.context
        # A caller who may not read a full NIK (the declaration of Worker.nik) would confirm a guessed one here:
        # its lookups are audited and its misses limited (api/services/nik_lookups.py).
        full_nik = FIELDS["Worker.nik"]
        assert isinstance(full_nik, Needs)
        masked = not any(ctx.can(p) for p in full_nik.any_of)
        try:
            row = await workers.by_nik(ctx, nik, masked=masked)
        except nik_lookups.MissesExhausted as exc:
            answer_too_many_requests(exc.retry_after)  # the whole response: HTTP 429 with Retry-After
            raise GraphQLError(
                msg(
                    "Too many workerByNik lookups that found no one: at most {per_hour} an hour; "
                    "retry after {retry_after} s.",
                    per_hour=exc.per_hour,
                    retry_after=exc.retry_after,
                ),
                extensions={
                    "code": "RATE_LIMITED",
                    "field": "workerByNik",
                    "retryAfter": exc.retry_after,
                    "missesPerHour": exc.per_hour,
                },
            ) from None
        return t.Worker.of(row) if row is not None else None

    @strawberry.field
    async def enrollments(
        self,
        info: Info,
        filter: EnrollmentFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.Enrollment]:
        f = filter or EnrollmentFilter()
        stmt = enrollments.enrollments_query(
            status=EnrollmentStatus(f.status.value) if f.status else None,
            kelurahan_code=f.kelurahan_code,
            source_code=f.funding_source_code,
        )
        return await paginate(
            info.context,
            stmt,
            models.Enrollment.id,
            "Enrollment",
            PageArgs(first, after, last, before),
            t.Enrollment.of,
        )

    @strawberry.field
    async def funding_sources(self, info: Info, fiscal_year: int | None = None) -> list[t.FundingSource]:
        stmt = funding.sources_query(fiscal_year)
        return [t.FundingSource.of(r) for r in await info.context.db.scalars(stmt)]

    @strawberry.field
    async def contribution_bills(
        self,
        info: Info,
        fiscal_year: int | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.ContributionBill]:
        return await paginate(
            info.context,
            funding.bills_query(fiscal_year),
            models.ContributionBill.id,
            "ContributionBill",
            PageArgs(first, after, last, before),
            t.ContributionBill.of,
        )

    @strawberry.field(description="Dashboard figures over the viewer's own scope.")
    async def programme_summary(self, info: Info, fiscal_year: int | None = None) -> ProgrammeSummary:
        # Only the parts the query selects are computed (the others stay empty: they are not in the answer).
        [summary_field] = info.selected_fields
        wanted = selected_names(summary_field.selections, ())
        s = await summary.programme_summary(
            info.context,
            fiscal_year,
            by_kelurahan="byKelurahan" in wanted,
            by_occupation="byOccupation" in wanted,
        )
        sources = funding.sources_query(fiscal_year) if wanted & {"funding", "realisation"} else None
        funding_rows = await info.context.db.scalars(sources) if sources is not None else None
        return ProgrammeSummary(
            workers=s.total.workers,
            active_enrollments=active(s.total),
            proposed_enrollments=proposed(s.total),
            rejected_enrollments=rejected(s.total),
            by_kelurahan=[
                KelurahanSummary(
                    kelurahan=t.Kelurahan.of(k),
                    workers=n.workers,
                    active_enrollments=active(n),
                    proposed_enrollments=proposed(n),
                )
                for k, n in s.kelurahan
            ],
            by_occupation=[
                OccupationSummary(occupation=o, workers=n.workers, active_enrollments=active(n))
                for o, n in s.occupations
            ],
            funding=[t.FundingSource.of(r) for r in funding_rows] if funding_rows is not None else None,
            source_ids=[r.id for r in funding_rows] if funding_rows is not None else None,
        )

    @strawberry.field(description="The audit trail, oldest first (use last: for the newest).")
    async def audit_events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.AuditEvent]:
        return await paginate(
            info.context,
            audit.events_query(),
            models.AuditEvent.id,
            "AuditEvent",
            PageArgs(first, after, last, before),
            t.AuditEvent.of,
        )
