"""One unit of work from the command line (`rentan lapse`, `rentan policy ...`), run as a request would be, and
the checks every command that opens the database makes first.

A person's mistake on the command line (a database not migrated yet, a change the policy refuses) ends in one line
on standard error and an exit code, never a traceback: exit 3 when the database cannot be used by this code (the
same as `rentan serve`), exit 1 when the work was refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from api.auth import Principal
from api.context import Context
from api.errors import Refused
from api.policies.authorizer import Authorizer, Forbidden
from api.policies.overrides import load_active
from api.schema.guards import require_mutation
from api.settings import get_settings
from db.session import create_engine

T = TypeVar("T")
# The exit codes of the `rentan` commands that touch the database.
REFUSED_EXIT = 1
DATABASE_EXIT = 3


def require_schema(doing: str) -> None:
    """Exit 3 with one line (``refusing to <doing>: ...``) unless the database is reachable and its schema is at
    this code's migration head (db/migrate.py): a command on an unmigrated or half-upgraded database would
    otherwise fail deep inside with a traceback. Every command that opens the database calls it first; it must run
    outside an event loop."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

    from db.migrate import schema_behind

    url = get_settings().database_url
    try:
        problem = schema_behind(url)
    except (OperationalError, InterfaceError, OSError) as exc:
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except ArgumentError:
            shown = "RENTAN_DATABASE_URL"
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = first[0] if first else type(exc).__name__
        problem = f"cannot open the database at {shown} ({reason}): check RENTAN_DATABASE_URL"
    if problem is not None:
        typer.echo(f"refusing to {doing}: {problem}", err=True)
        raise typer.Exit(code=DATABASE_EXIT)


def run_command(command: str, principal: Principal, mutation: str | None, work: Callable[[Context], Awaitable[T]]) -> T:
    """`rentan <command>`'s unit of work: the schema checked first (:func:`require_schema`), then :func:`run_as`;
    a refusal (the service's problems, or FORBIDDEN from the policy in force) printed one line per problem,
    ``refused: CODE: message``, and exit 1."""
    require_schema(f"run `rentan {command}`")
    try:
        return asyncio.run(run_as(principal, mutation, work))
    except Refused as refused:
        for p in refused.problems:
            typer.echo(f"refused: {p.code}: {p.message}", err=True)
        raise typer.Exit(code=REFUSED_EXIT) from None
    except Forbidden as forbidden:
        typer.echo(f"refused: FORBIDDEN: {forbidden.message}", err=True)
        raise typer.Exit(code=REFUSED_EXIT) from None


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
