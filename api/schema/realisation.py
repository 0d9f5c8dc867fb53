"""Realisation of the DBHCHT allocation as the dashboard and the semester report read it."""

from __future__ import annotations

import strawberry

from api.reads import realisation as service
from api.schema.scalars import Rupiah


@strawberry.type(description="One month of coverage: what was (or would be) billed, and what was paid.")
class RealisationMonth:
    period: str = strawberry.field(description="Month covered, as YYYY-MM.")
    members_active: int = strawberry.field(
        description="Members a bill for this month counts by today's enrollments (active, or terminated during or "
        "after the month, coverage overlapping it)."
    )
    members_billed: int = strawberry.field(description="Participants on the month's bill; 0 while unbilled.")
    billed: Rupiah = strawberry.field(description="The month's bill amount; 0 while unbilled.")
    paid: Rupiah = strawberry.field(description="Paid on the month's bill.")
    projected: Rupiah = strawberry.field(
        description="The bill amount once billed; before, what members active today would cost that month."
    )
    is_projection: bool = strawberry.field(description="True while (some of) the month is not yet billed.")

    @classmethod
    def of(cls, m: service.Month) -> RealisationMonth:
        return cls(
            period=m.period,
            members_active=m.members_active,
            members_billed=m.members_billed,
            billed=Rupiah(m.billed),
            paid=Rupiah(m.paid),
            projected=Rupiah(m.projected),
            is_projection=m.is_projection,
        )


@strawberry.type(
    description="Allocated, billed, paid and remaining, month by month through the coverage end. The totals are "
    "the sums of the months, and each billed month is its bill: the figures reconcile with the bills exactly."
)
class Realisation:
    allocated: Rupiah
    billed: Rupiah
    paid: Rupiah
    remaining: Rupiah = strawberry.field(description="Allocated minus billed.")
    projected_spend: Rupiah = strawberry.field(
        description="Billed so far plus the projection of every month not yet billed, to the coverage end. "
        "Proposed members count once verified; the budget ceiling at proposal already reserves for them."
    )
    projected_remaining: Rupiah = strawberry.field(
        description="Allocated minus projected spend; negative when the allocation will not last."
    )
    months: list[RealisationMonth]

    @classmethod
    def of(cls, r: service.Realisation) -> Realisation:
        return cls(
            allocated=Rupiah(r.allocated),
            billed=Rupiah(r.billed),
            paid=Rupiah(r.paid),
            remaining=Rupiah(r.remaining),
            projected_spend=Rupiah(r.projected_spend),
            projected_remaining=Rupiah(r.projected_remaining),
            months=[RealisationMonth.of(m) for m in r.months],
        )
