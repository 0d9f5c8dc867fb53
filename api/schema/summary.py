"""ProgrammeSummary and its parts: the dashboard's figures."""

from __future__ import annotations

import strawberry

from api.schema.enums import Occupation
from api.schema.types import FundingSource, Kelurahan
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


def active(t: Tally) -> int:
    return t.by_status[EnrollmentStatus.ACTIVE]


def proposed(t: Tally) -> int:
    return t.by_status[EnrollmentStatus.PROPOSED]
