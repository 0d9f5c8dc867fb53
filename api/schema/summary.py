"""ProgrammeSummary and its parts: the dashboard's figures."""

from __future__ import annotations

import strawberry

from api.reads import realisation as service
from api.schema.enums import Occupation
from api.schema.realisation import Realisation
from api.schema.types import FundingSource, Info, Kelurahan
from api.services.summary import Tally
from db.models import EnrollmentStatus


@strawberry.type
class KelurahanSummary:
    kelurahan: Kelurahan
    workers: int
    active_enrollments: int
    proposed_enrollments: int


@strawberry.type
class OccupationSummary:
    occupation: Occupation
    workers: int
    active_enrollments: int


@strawberry.type
class ProgrammeSummary:
    workers: int
    active_enrollments: int
    proposed_enrollments: int
    rejected_enrollments: int
    by_kelurahan: list[KelurahanSummary]
    by_occupation: list[OccupationSummary]
    funding: list[FundingSource] | None = strawberry.field(description="Null for viewers without funding:read.")
    source_ids: strawberry.Private[list[int] | None] = None

    @strawberry.field(
        description="The year's sources (all visible sources without fiscalYear) as one monthly series, with the "
        "projection to the coverage end. Null for viewers without funding:read."
    )
    async def realisation(self, info: Info) -> Realisation | None:
        if self.source_ids is None:
            return None
        parts = await info.context.loaders.realisation.load_many(self.source_ids)
        return Realisation.of(service.combined(parts))


# The enrollments each figure counts, by the figure's field name (in a compiled read too, api/schema/compiled/).
COUNTED_STATUS = {
    "activeEnrollments": EnrollmentStatus.ACTIVE,
    "proposedEnrollments": EnrollmentStatus.PROPOSED,
    "rejectedEnrollments": EnrollmentStatus.REJECTED,
}


def active(t: Tally) -> int:
    return t.by_status[COUNTED_STATUS["activeEnrollments"]]


def proposed(t: Tally) -> int:
    return t.by_status[COUNTED_STATUS["proposedEnrollments"]]


def rejected(t: Tally) -> int:
    return t.by_status[COUNTED_STATUS["rejectedEnrollments"]]
