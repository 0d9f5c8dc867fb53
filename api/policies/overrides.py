"""The runtime overrides as the authorizer takes them, read from ``policy_overrides`` on a plain connection (no
request, no scope: every process applies all of them, each to the principals inside its region), and the channel
a change is announced on. Written by api/services/policy_admin.py; applied by api/policies/watch.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.policies.authorizer import Authorizer, Override
from db.models import PolicyOverride

CHANNEL = "rentan_policy"


def override_of(row: Any) -> Override:
    """An ORM row or a Core row of policy_overrides, as the authorizer takes it."""
    return Override(row.kind, row.role or "", row.resource or "", row.action or "", row.subject or "", row.region_code)


async def load_active(conn: AsyncConnection) -> list[Override]:
    """The active overrides, read on a plain connection (the watcher's: Core, so no request scope applies)."""
    table = PolicyOverride.__table__
    return [override_of(r) for r in (await conn.execute(select(table).where(table.c.lifted_at.is_(None)))).all()]


async def apply_active(engine: AsyncEngine, authorizer: Authorizer) -> bool:
    """Make ``authorizer`` decide from the database's active overrides; True when they changed. The watcher's
    refresh, and the writing process's own right after its change commits (its next request sees the change)."""
    async with engine.connect() as conn:
        overrides = await load_active(conn)
    return authorizer.apply(overrides)
