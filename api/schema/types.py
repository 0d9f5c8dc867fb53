"""The node types of the graph. Each wraps one ORM row; relations go through the request's DataLoaders.

Field-level permissions (NIK, contact fields, funding figures) are asked of the authorizer here, where the
value is presented; which rows exist at all was already decided by the scoped session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import strawberry

from api.context import Context
from api.ids import to_global_id
from api.reads.loaders import now_or_later
from api.rules.billing import is_overdue, remaining
from api.rules.lifecycle import current_enrollment_key
from api.schema.enums import (
    Agency,
    BillStatus,
    EnrollmentStatus,
    Occupation,
    Programme,
    RejectionReason,
    Sex,
    TerminationReason,
    VerificationCheckKind,
)
from api.schema.lists import list_workers
from api.schema.pagination import Connection, PageArgs
from api.schema.realisation import Realisation
from api.schema.scalars import Rupiah
from api.services import billing
from db import models

if TYPE_CHECKING:
    from api.schema.inputs import WorkerFilter

Info = strawberry.Info[Context, None]
X = TypeVar("X")
Y = TypeVar("Y")


@strawberry.interface(description="An object with a global id, fetchable through Query.node.")
class Node:
    id: strawberry.ID


@strawberry.type
class City(Node):
    code: str
    name: str

    @classmethod
    def of(cls, row: models.City) -> City:
        return cls(id=strawberry.ID(to_global_id("City", row.id)), code=row.code, name=row.name)

    @strawberry.field
    async def kecamatan(self, info: Info) -> list[Kecamatan]:
        return [Kecamatan.of(k) for k in await info.context.loaders.kecamatan_by_city.load(self.code)]


@strawberry.type
class Kecamatan(Node):
    code: str
    name: str
    city_code: strawberry.Private[str]

    @classmethod
    def of(cls, row: models.Kecamatan) -> Kecamatan:
        return cls(
            id=strawberry.ID(to_global_id("Kecamatan", row.id)), code=row.code, name=row.name, city_code=row.city_code
        )

    @strawberry.field
    async def city(self, info: Info) -> City:
        row = await info.context.loaders.city_by_code.load(self.city_code)
        assert row is not None, "a visible kecamatan's city is always visible"
        return City.of(row)

    @strawberry.field
    async def kelurahan(self, info: Info) -> list[Kelurahan]:
        return [Kelurahan.of(k) for k in await info.context.loaders.kelurahan_by_kecamatan.load(self.code)]


@strawberry.type
class Kelurahan(Node):
    code: str = strawberry.field(description="Kemendagri code without dots, e.g. 3575041010 (Bugul Lor).")
    name: str
    kecamatan_code: strawberry.Private[str]

    @classmethod
    def of(cls, row: models.Kelurahan) -> Kelurahan:
        return cls(
            id=strawberry.ID(to_global_id("Kelurahan", row.id)),
            code=row.code,
            name=row.name,
            kecamatan_code=row.kecamatan_code,
        )

    @strawberry.field
    async def kecamatan(self, info: Info) -> Kecamatan:
        row = await info.context.loaders.kecamatan_by_code.load(self.kecamatan_code)
        assert row is not None, "a visible kelurahan's kecamatan is always visible"
        return Kecamatan.of(row)

    @strawberry.field
    async def workers(
        self,
        info: Info,
        filter: Annotated[WorkerFilter, strawberry.lazy("api.schema.inputs")] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Worker]:
        page = PageArgs(first, after, last, before)
        return await list_workers(info, filter, page, Worker.of, kelurahan_code=self.code)


@strawberry.type
class Worker(Node):
    row: strawberry.Private[models.Worker]
    full_name: str
    sex: Sex
    occupation: Occupation
    monthly_income: Rupiah = strawberry.field(
        description="Declared monthly income, which sets the JKK contribution bracket."
    )
    registered_at: datetime

    @classmethod
    def of(cls, row: models.Worker) -> Worker:
        return cls(
            id=strawberry.ID(to_global_id("Worker", row.id)),
            row=row,
            full_name=row.full_name,
            sex=row.sex,
            occupation=row.occupation,
            monthly_income=row.monthly_income,
            registered_at=row.registered_at,
        )

    # Who may read what of a worker is declared in api/schema/access.py: these resolvers run only for callers
    # the declaration lets through (the others get the NIK masked and the rest null).
    @strawberry.field(description="16-digit NIK; masked (first 6 and last 4 digits shown) without worker.nik:read.")
    def nik(self, info: Info) -> str:
        info.context.note_nik_read(self.row.id, self.row.kelurahan_code)
        return self.row.nik

    @strawberry.field(
        description="Null for viewers without worker.nik:read: with sex and the masked NIK, the birth date gives "
        "the full NIK back."
    )
    def birth_date(self) -> date | None:
        return self.row.birth_date

    @strawberry.field(description="The year of birth, for everyone who sees the worker (age groups, eligibility).")
    def birth_year(self) -> int:
        return self.row.birth_date.year

    @strawberry.field(description="Null for viewers without worker.contact:read.")
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field(description="Null for viewers without worker.contact:read.")
    def address(self) -> str | None:
        return self.row.address

    @strawberry.field(description="Family card (KK) number; null for viewers without worker.contact:read.")
    def family_card_number(self) -> str | None:
        return self.row.family_card_number

    # kelurahan, enrollments and currentEnrollment answer at once when the page prefetched them (list_workers),
    # else through their loaders: see now_or_later.
    @strawberry.field
    def kelurahan(self, info: Info) -> Kelurahan:
        loaded = now_or_later(info.context.loaders.kelurahan_by_code, self.row.kelurahan_code)
        return cast("Kelurahan", _then(loaded, _visible_kelurahan))

    @strawberry.field
    def enrollments(self, info: Info) -> list[Enrollment]:
        return cast(
            "list[Enrollment]",
            _then(now_or_later(info.context.loaders.enrollments_by_worker, self.row.id), _enrollments),
        )

    @strawberry.field(description="Changes of kelurahan, oldest first: the history a resident takes with them.")
    async def moves(self, info: Info) -> list[WorkerMove]:
        return [WorkerMove.of(m) for m in await info.context.loaders.moves_by_worker.load(self.row.id)]

    @strawberry.field(
        description="The open enrollment (proposed, active or lapsed) whose coverage runs today, else the latest "
        "open one (a renewal waits behind the enrollment it continues until that one ends), else the latest one."
    )
    def current_enrollment(self, info: Info) -> Enrollment | None:
        loaded = now_or_later(info.context.loaders.enrollments_by_worker, self.row.id)
        today = info.context.today
        return cast("Enrollment | None", _then(loaded, lambda rows: _current_enrollment(rows, today)))


def _then(value: X | Awaitable[X], wrap: Callable[[X], Y]) -> Any:
    """``wrap(value)`` now when the value is here, or an awaitable of it once it arrives. Typed ``Any`` because
    the resolvers above are annotated with the GraphQL type they give (Strawberry reads the annotation), and
    graphql-core awaits whatever a resolver returns when it is awaitable."""
    if isinstance(value, Awaitable):
        return _after(value, wrap)
    return wrap(value)


async def _after(value: Awaitable[X], wrap: Callable[[X], Y]) -> Y:
    return wrap(await value)


def _visible_kelurahan(row: models.Kelurahan | None) -> Kelurahan:
    assert row is not None, "a visible worker's kelurahan is always visible"
    return Kelurahan.of(row)


def _enrollments(rows: list[models.Enrollment]) -> list[Enrollment]:
    return [Enrollment.of(e) for e in rows]


def _current_enrollment(rows: list[models.Enrollment], today: date) -> Enrollment | None:
    if not rows:
        return None
    chosen = min(rows, key=lambda e: current_enrollment_key(e.status, e.coverage_start, e.id, today))
    return Enrollment.of(chosen)


@strawberry.type
class VerificationCheck:
    kind: VerificationCheckKind
    passed: bool
    note: str | None


@strawberry.type
class Enrollment(Node):
    row: strawberry.Private[models.Enrollment]
    status: EnrollmentStatus
    membership_number: str | None = strawberry.field(description="BPJSTK membership number (KPJ).")
    coverage_start: date | None
    coverage_end: date | None
    monthly_contribution: Rupiah = strawberry.field(description="JKK by income bracket plus JKM.")
    proposed_at: datetime
    verified_at: datetime | None
    rejection_reason: RejectionReason | None
    termination_reason: TerminationReason | None

    @classmethod
    def of(cls, row: models.Enrollment) -> Enrollment:
        return cls(
            id=strawberry.ID(to_global_id("Enrollment", row.id)),
            row=row,
            status=row.status,
            membership_number=row.membership_number,
            coverage_start=row.coverage_start,
            coverage_end=row.coverage_end,
            monthly_contribution=row.monthly_contribution,
            proposed_at=row.proposed_at,
            verified_at=row.verified_at,
            rejection_reason=row.rejection_reason,
            termination_reason=row.termination_reason,
        )

    @strawberry.field
    def programmes(self) -> list[Programme]:
        return [Programme(p) for p in self.row.programmes.split(",") if p]

    @strawberry.field
    async def worker(self, info: Info) -> Worker:
        row = await info.context.loaders.worker_by_id.load(self.row.worker_id)
        assert row is not None, "a visible enrollment's worker is always visible"
        return Worker.of(row)

    @strawberry.field
    async def funding_source(self, info: Info) -> FundingSource:
        row = await info.context.loaders.funding_source_by_id.load(self.row.funding_source_id)
        assert row is not None, "a visible enrollment's funding source is always visible"
        return FundingSource.of(row)

    @strawberry.field(description="The enrollment this one continues (renewEnrollments), if any.")
    async def renews(self, info: Info) -> Enrollment | None:
        if self.row.renews_id is None:
            return None
        row = await info.context.loaders.enrollment_by_id.load(self.row.renews_id)
        return Enrollment.of(row) if row is not None else None

    @strawberry.field(description="BPJSTK's checks, one result each.")
    async def checks(self, info: Info) -> list[VerificationCheck]:
        rows = await info.context.loaders.checks_by_enrollment.load(self.row.id)
        return [VerificationCheck(kind=c.kind, passed=c.passed, note=c.note) for c in rows]


@strawberry.type(description="A move between kelurahan of the city, recorded by the office the resident left.")
class WorkerMove:
    from_kelurahan_code: str
    to_kelurahan_code: str
    effective_date: date
    recorded_at: datetime
    recorded_by: str

    @classmethod
    def of(cls, row: models.WorkerMove) -> WorkerMove:
        return cls(
            from_kelurahan_code=row.from_kelurahan_code,
            to_kelurahan_code=row.to_kelurahan_code,
            effective_date=row.effective_date,
            recorded_at=row.recorded_at,
            recorded_by=row.recorded_by,
        )


@strawberry.type
class FundingSource(Node):
    row: strawberry.Private[models.FundingSource]
    code: str = strawberry.field(description="E.g. DBHCHT-2025.")
    name: str
    fiscal_year: int
    legal_basis: str | None = strawberry.field(description="The decree that authorises spending.")
    coverage_start: date | None
    coverage_end: date | None

    @classmethod
    def of(cls, row: models.FundingSource) -> FundingSource:
        return cls(
            id=strawberry.ID(to_global_id("FundingSource", row.id)),
            row=row,
            code=row.code,
            name=row.name,
            fiscal_year=row.fiscal_year,
            legal_basis=row.legal_basis,
            coverage_start=row.coverage_start,
            coverage_end=row.coverage_end,
        )

    @strawberry.field
    def allocated(self, info: Info) -> Rupiah:
        return Rupiah(self.row.allocated)

    @strawberry.field(description="Sum of contribution bills issued against this source.")
    async def billed(self, info: Info) -> Rupiah:
        return Rupiah((await info.context.loaders.funding_figures.load(self.row.id)).billed)

    @strawberry.field(description="Sum of the payments recorded on its bills.")
    async def paid(self, info: Info) -> Rupiah:
        return Rupiah((await info.context.loaders.funding_figures.load(self.row.id)).paid)

    @strawberry.field(description="Allocated minus billed: what is still free to commit.")
    async def remaining(self, info: Info) -> Rupiah:
        figures = await info.context.loaders.funding_figures.load(self.row.id)
        return Rupiah(remaining(self.row.allocated, figures.billed))

    @strawberry.field(
        description="Active members who would lapse if one more bill went unpaid: all of them when the source has "
        "exactly 2 bills unpaid and past due today, else 0 (members within your scope)."
    )
    async def members_at_risk(self, info: Info) -> int:
        return await billing.members_at_risk(info.context, self.row.id, info.context.today)

    @strawberry.field(description="Month by month billed, paid and projected, through the coverage end.")
    async def realisation(self, info: Info) -> Realisation:
        return Realisation.of(await info.context.loaders.realisation.load(self.row.id))

    @strawberry.field(description="The monthly income the source funds each member at (sets the JKK bracket).")
    def funded_monthly_income(self) -> Rupiah:
        return Rupiah(self.row.funded_monthly_income)


@strawberry.type
class ContributionBill(Node):
    row: strawberry.Private[models.ContributionBill]
    period: str = strawberry.field(description="Month covered, as YYYY-MM.")
    participants: int
    amount: Rupiah
    status: BillStatus
    due_date: date = strawberry.field(description="The 15th of the month covered, moved past weekends.")
    issued_at: datetime
    paid_at: datetime | None

    @classmethod
    def of(cls, row: models.ContributionBill) -> ContributionBill:
        return cls(
            id=strawberry.ID(to_global_id("ContributionBill", row.id)),
            row=row,
            period=row.period,
            participants=row.participants,
            amount=row.amount,
            status=row.status,
            due_date=row.due_date,
            issued_at=row.issued_at,
            paid_at=row.paid_at,
        )

    @strawberry.field
    def overdue(self, info: Info) -> bool:
        return is_overdue(self.row, info.context.today)

    @strawberry.field
    async def funding_source(self, info: Info) -> FundingSource:
        row = await info.context.loaders.funding_source_by_id.load(self.row.funding_source_id)
        assert row is not None, "a visible bill's funding source is always visible"
        return FundingSource.of(row)


@strawberry.type
class AuditEvent(Node):
    at: datetime
    actor: str
    agency: Agency
    action: str = strawberry.field(description="E.g. worker:create, enrollment:verify, worker.nik:read.")
    target_id: strawberry.ID | None
    detail: str | None

    @classmethod
    def of(cls, row: models.AuditEvent) -> AuditEvent:
        return cls(
            id=strawberry.ID(to_global_id("AuditEvent", row.id)),
            at=row.at,
            actor=row.actor,
            agency=Agency(row.agency),
            action=row.action,
            target_id=strawberry.ID(row.target_id) if row.target_id else None,
            detail=row.detail,
        )


@strawberry.type(description="Who the caller is, and what it may do.")
class Viewer:
    subject: str
    agency: Agency
    roles: list[str]
    scope: list[str] = strawberry.field(description="Region codes the viewer may see.")
    permissions: list[str] = strawberry.field(description="Permissions as resource:action strings.")
    server_time: datetime = strawberry.field(
        description="The server's clock as it answers, to the microsecond: the clock registeredAt, proposedAt and "
        "verifiedAt are stamped with. A client that reads it before sending tells what it did from what was there."
    )
