"""The `rentan` command: database, demo data, the server, and development tokens."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

import typer

from api.policy_cli import policy_app
from api.settings import get_settings


def mount_client(app: typer.Typer) -> None:
    """`rentan client ...`: the file client (the `client` package, its own program `rentan-client`) under this
    command. Where the package is not installed (the server image ships without it), `rentan client` says how to
    install it; where its extra's libraries are missing, each of its commands does the same (client/cli.py)."""
    try:
        from client.cli import client_app
    except ModuleNotFoundError as missing:
        if missing.name != "client":
            raise
    else:
        app.add_typer(client_app, name="client")
        return
    hint = 'the file client is not installed here: pip install "rentan[client]", then run `rentan-client`'

    @app.command("client", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, help=hint)
    def client_not_installed() -> None:
        typer.echo(f"rentan client: {hint}", err=True)
        raise typer.Exit(2)


app = typer.Typer(help="Rentan: the shared GraphQL API of the pekerja rentan programme.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
mount_client(app)
app.add_typer(policy_app, name="policy")

ROLE_SCOPES = {
    "pemkot-admin": "3575",
    "pemkot-analyst": "3575",
    "bpjstk-verifier": "35",
    "kelurahan-operator": "3575041010",
    "kelurahan-viewer": "3575041010",
    "auditor": "3575",
}


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations (alembic) up to REVISION."""
    from db.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}", err=True)


@app.command()
def seed(
    workers: Annotated[int, typer.Option(help="How many synthetic workers.")] = 9_038,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data.")] = 2025,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when workers exist already.")] = False,
) -> None:
    """Load deterministic synthetic demo data (no real person's data)."""
    from api.seed import is_empty
    from api.seed import seed as run_seed
    from db.session import create_engine

    async def main() -> None:
        engine = create_engine(get_settings().database_url)
        try:
            if if_empty and not await is_empty(engine):
                typer.echo("database already holds workers: not seeding", err=True)
                return
            report = await run_seed(engine, workers=workers, seed_value=seed)
            typer.echo(
                f"seeded {report.workers} workers, enrollments {report.enrollments}, {report.bills} bills", err=True
            )
        finally:
            await engine.dispose()

    asyncio.run(main())


@app.command()
def lapse(
    as_of: Annotated[str, typer.Option("--as-of", help="The day to judge bills overdue on, YYYY-MM-DD.")],
    scope: Annotated[str, typer.Option(help="Region code the run covers (BPJSTK's province by default).")] = "35",
) -> None:
    """Mark LAPSED the active members of sources with 3 or more bills unpaid past due (as lapseOverdueMembers)."""

    from api.auth import Principal
    from api.commands import run_as
    from api.services.billing import lapse as run_lapse

    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter("a date as YYYY-MM-DD", param_hint="--as-of") from None

    async def main() -> int:
        # The batch job acts as BPJSTK (whose act a lapse is) under a system subject, as a request would: the same
        # permission (what api/schema/access.py gives lapseOverdueMembers, under the policy in force), the same
        # row scoping (the province scope covers every source of the programme; no unrestricted
        # RowScope.for_operator() is needed, so the job cannot touch more than a BPJSTK token of that scope
        # could) and the same audit trail (actor rentan-cli).
        principal = Principal(subject="rentan-cli", role="bpjstk-verifier", agency="BPJSTK", scope=(scope,))
        lapsed = await run_as(principal, "lapseOverdueMembers", lambda ctx: run_lapse(ctx, day))
        return len(lapsed)

    count = asyncio.run(main())
    typer.echo(f"lapsed {count} members as of {day}", err=True)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
) -> None:
    """Serve the API (GraphiQL at /graphql in development). Refuses to start on a database whose schema is not
    at this code's migration head: a half-upgraded database would fail request by request instead."""
    import uvicorn

    from db.migrate import schema_behind

    problem = schema_behind(get_settings().database_url)
    if problem is not None:
        typer.echo(f"refusing to serve: {problem}", err=True)
        raise typer.Exit(code=3)

    # access_log off: the app logs each request itself (api/logging.py), without the query string.
    uvicorn.run(
        "api.asgi:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=False, access_log=False
    )


@app.command()
def start(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
) -> None:
    """Migrate the database to this code's head, then serve: the container's entry command (Dockerfile CMD).
    With PROMETHEUS_MULTIPROC_DIR set, that directory is created and emptied first, as prometheus_client
    requires of every start."""
    db_upgrade("head")
    if (directory := get_settings().prometheus_multiproc_dir) is not None:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # a previous run's figures would be summed with this one's
            stale.unlink()
    serve(host=host, port=port, workers=workers)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="One of the roles in api/policies/policy.csv.")],
    scope: Annotated[str, typer.Option(help="Region code: 35, 3575, 357504 or 3575041010.")],
    subject: Annotated[str | None, typer.Option(help="Who the token names; default <role>@dev.")] = None,
    ttl: Annotated[int | None, typer.Option(help="Seconds until it expires.")] = None,
) -> None:
    """Print a development bearer token (alone on standard output) that `rentan serve` accepts."""
    from api.auth import issue_dev_token

    typer.echo(issue_dev_token(get_settings(), role=role, scope=scope, subject=subject or f"{role}@dev", ttl=ttl))


@app.command("dev-tokens")
def dev_tokens() -> None:
    """Print a ready-made development token for every role, with the scope it is typically given."""
    from api.auth import issue_dev_token

    settings = get_settings()
    for role, scope in ROLE_SCOPES.items():
        tok = issue_dev_token(settings, role=role, scope=scope, subject=f"{role}@dev")
        typer.echo(f'\n{role} (scope {scope}):\n  {{"Authorization": "Bearer {tok}"}}')


if __name__ == "__main__":
    app()
