"""Live policy administration in the graph: the active runtime overrides, and the four mutations that change
them (pemkot-admin, ``policy:administer``). The rules live in api/services/policy_admin.py, shared with
`rentan policy`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry

from api.ids import to_global_id
from api.schema.payloads import UserError
from api.schema.types import Info
from api.schema.units import mutate, of
from api.services import policy_admin as store
from db import models

OverrideKind = strawberry.enum(models.OverrideKind, name="PolicyOverrideKind")


@strawberry.type(description="A runtime change over the policy files: a grant or revoke for a role, or a suspension.")
class PolicyOverride:
    id: strawberry.ID
    kind: OverrideKind
    role: str | None
    permission: str | None = strawberry.field(description="resource:action, for a grant or a revoke.")
    subject: str | None = strawberry.field(description="The suspended token subject (`sub`).")
    region: str = strawberry.field(
        description="The region it was made for (its administrator's scope): it touches only principals inside it."
    )
    reason: str
    created_by: str
    created_at: datetime
    lifted_at: datetime | None = strawberry.field(description="Set once undone (reinstated, granted back, ...).")
    lifted_by: str | None

    @classmethod
    def of(cls, row: models.PolicyOverride) -> PolicyOverride:
        return cls(
            id=strawberry.ID(to_global_id("PolicyOverride", row.id)),
            kind=models.OverrideKind(row.kind),
            role=row.role,
            permission=f"{row.resource}:{row.action}" if row.resource else None,
            subject=row.subject,
            region=row.region_code,
            reason=row.reason,
            created_by=row.created_by,
            created_at=row.created_at,
            lifted_at=row.lifted_at,
            lifted_by=row.lifted_by,
        )


@strawberry.input
class PermissionChangeInput:
    role: str
    resource: str = strawberry.field(description="e.g. worker")
    action: str = strawberry.field(description="e.g. create")
    reason: str


@strawberry.input
class SubjectChangeInput:
    subject: str = strawberry.field(description="The token subject (`sub`) of the person concerned.")
    reason: str


@strawberry.type
class PolicyChangePayload:
    override: PolicyOverride | None = strawberry.field(
        description="The override created, or the one lifted when the change undoes an earlier one."
    )
    errors: list[UserError]


async def _change(info: Info, work: Callable[[], Awaitable[models.PolicyOverride]]) -> PolicyChangePayload:
    return await mutate(
        info, work, lambda row, problems: PolicyChangePayload(override=of(row, PolicyOverride.of), errors=problems)
    )


@strawberry.type
class PolicyQuery:
    @strawberry.field(
        description="The runtime changes in force over the policy files that lie inside your scope or over it "
        "(pemkot-admin and auditors; empty for others). Their history is in auditEvents (policy:grant, "
        "policy:revoke, policy:suspend, policy:reinstate)."
    )
    async def policy_overrides(self, info: Info) -> list[PolicyOverride]:
        return [PolicyOverride.of(r) for r in await store.active_rows(info.context)]


@strawberry.type
class PolicyMutation:
    @strawberry.mutation(description="Let a role perform a permission it lacks (or lift an earlier revoke).")
    async def grant_permission(self, info: Info, input: PermissionChangeInput) -> PolicyChangePayload:
        return await _change(
            info,
            lambda: store.grant(
                info.context, role=input.role, resource=input.resource, action=input.action, reason=input.reason
            ),
        )

    @strawberry.mutation(description="Take a permission from a role (or lift an earlier grant).")
    async def revoke_permission(self, info: Info, input: PermissionChangeInput) -> PolicyChangePayload:
        return await _change(
            info,
            lambda: store.revoke(
                info.context, role=input.role, resource=input.resource, action=input.action, reason=input.reason
            ),
        )

    @strawberry.mutation(description="Refuse a token subject every permission, whatever its role, until reinstated.")
    async def suspend_subject(self, info: Info, input: SubjectChangeInput) -> PolicyChangePayload:
        return await _change(info, lambda: store.suspend(info.context, subject=input.subject, reason=input.reason))

    @strawberry.mutation(description="Lift a subject's suspension.")
    async def reinstate_subject(self, info: Info, input: SubjectChangeInput) -> PolicyChangePayload:
        return await _change(info, lambda: store.reinstate(info.context, subject=input.subject, reason=input.reason))
