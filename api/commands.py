"""One unit of work from the command line (`rentan lapse`, `rentan policy ...`), run as a request would be."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from api.auth import Principal
from api.context import Context
from api.policies.authorizer import Authorizer
from api.policies.overrides import load_active
from api.schema.guards import require_mutation
from api.settings import get_settings
from db.session import create_engine

T = TypeVar("T")


async def run_as(principal: Principal, mutation: str | None, work: Callable[[Context], Awaitable[T]]) -> T:
    """Run ``work`` as ``principal`` through the very Context a request uses (the same row scoping and audit trail),
    in one transaction, after asking what the graph asks of ``mutation`` (api/schema/access.py) under the policy
    in force: the files plus the runtime overrides, as a server process applies them."""
    settings = get_settings()
    engine = create_engine(settings.database_url)
    try:
        authorizer = Authorizer()
        async with engine.connect() as conn:
            authorizer.apply(await load_active(conn))
        ctx = Context.open(
            principal=principal,
            settings=settings,
            authorizer=authorizer,
            engine=engine,
            request_id=f"cli-{uuid.uuid4().hex}",
            writable=True,
        )
        committed = False
        try:
            if mutation is not None:
                require_mutation(ctx, mutation)
            result = await work(ctx)
            await ctx.finish(commit=True)
            committed = True
            return result
        finally:
            if not committed:
                await ctx.finish(commit=False)
    finally:
        await engine.dispose()
