"""The `rentan` command: database, demo data, the server, and development tokens."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
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


# rich_markup_mode=None: click's plain help. Typer's rich help gives every flag a value column (`--if-empty <bool>`,
# even `--help <bool>`), as if it took a value; the plain help shows a flag alone.
app = typer.Typer(
    help="Rentan: the shared GraphQL API of the pekerja rentan programme.", no_args_is_help=True, rich_markup_mode=None
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")
mount_client(app)
app.add_typer(policy_app, name="policy")


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rentan")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rentan {package_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A RENTAN_* setting that is not valid stops every server command before it starts, one line per setting,
    exit 2 (the file client reads none of them)."""
    if ctx.invoked_subcommand == "client":
        return
    from pydantic import ValidationError

    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "RENTAN_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"{name}: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


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
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when workers exist already.")] = False,
) -> None:
    """Load deterministic synthetic demo data (no real person's data) into a migrated database."""
    from api.commands import require_schema
    from api.seed import is_empty
    from api.seed import seed as run_seed
    from db.session import create_engine

    require_schema("seed")

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


def _job_day(as_of: str, scope: str) -> date:
    """A monthly job's --as-of day, its --scope checked to be a region code."""
    from db.scoping import region_level

    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter("a date as YYYY-MM-DD", param_hint="--as-of") from None
    if region_level(scope) is None:
        raise typer.BadParameter(
            f"{scope!r} is not a region code; give one of 2, 4, 6 or 10 digits: 35, 3575, 357504 or 3575041010",
            param_hint="--scope",
        )
    return day


@app.command()
def lapse(
    as_of: Annotated[str, typer.Option("--as-of", help="The day to judge bills overdue on, YYYY-MM-DD.")],
    scope: Annotated[str, typer.Option(help="Region code the run covers (BPJSTK's province by default).")] = "35",
) -> None:
    """Mark LAPSED the active members of sources with 3 or more bills unpaid past due (as lapseOverdueMembers)."""

    from api.auth import Principal
    from api.commands import run_command
    from api.services.billing import lapse as run_lapse

    day = _job_day(as_of, scope)

    # The batch job acts as BPJSTK (whose act a lapse is) under a system subject, as a request would: the same
    # permission (what api/schema/access.py gives lapseOverdueMembers, under the policy in force), the same
    # row scoping (the province scope covers every source of the programme; no unrestricted
    # RowScope.for_operator() is needed, so the job cannot touch more than a BPJSTK token of that scope
    # could) and the same audit trail (actor rentan-cli). An unmigrated database exits 3, a refusal 1.
    principal = Principal(subject="rentan-cli", role="bpjstk-verifier", agency="BPJSTK", scope=(scope,))
    lapsed = run_command("lapse", principal, "lapseOverdueMembers", lambda ctx: run_lapse(ctx, day))
    typer.echo(f"lapsed {len(lapsed)} members as of {day}", err=True)


@app.command("end-coverage")
def end_coverage(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The day coverage is judged on, YYYY-MM-DD (at most today; default today)."),
    ] = None,
    scope: Annotated[str, typer.Option(help="Region code the run covers (BPJSTK's province by default).")] = "35",
) -> None:
    """Mark ENDED the active and lapsed members whose coverage's last day is before --as-of (as endCoverage): the
    monthly job beside `rentan lapse`, e.g. on 1 January for the year that ended. `make run` runs it for today."""

    from api import clock
    from api.auth import Principal
    from api.commands import run_command
    from api.services.billing import end_coverage as run_end
    from api.settings import get_settings

    day = _job_day(as_of or clock.today(get_settings().clock_file).isoformat(), scope)
    # As `rentan lapse`: BPJSTK's act under a system subject, endCoverage's permission, scoping and audit.
    principal = Principal(subject="rentan-cli", role="bpjstk-verifier", agency="BPJSTK", scope=(scope,))
    ended = run_command("end-coverage", principal, "endCoverage", lambda ctx: run_end(ctx, day))
    typer.echo(f"ended the coverage of {len(ended)} members as of {day}", err=True)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
) -> None:
    """Serve the API (GraphiQL at /graphql in development). Refuses to start on a database whose schema is not
    at this code's migration head: a half-upgraded database would fail request by request instead."""
    import uvicorn

    from api.commands import require_schema

    require_schema("serve")
    _check_documents(get_settings().trusted_documents_dir, listing=False)

    # access_log off: the app logs each request itself (api/logging.py), without the query string.
    uvicorn.run(
        "api.asgi:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=False, access_log=False
    )


def _check_documents(folder: Path | None, *, listing: bool) -> None:
    """The trusted-document settings checked as the server checks them at start (api/documents.py), each problem
    one line and exit 2; with ``listing``, each document's id, file and operations first."""
    from api.documents import InvalidDocuments, TrustedDocuments
    from api.policies.authorizer import Authorizer
    from api.schema.build import build_schema

    settings = get_settings()
    schema = build_schema(settings)._schema
    only_roles = frozenset(settings.trusted_documents_only_roles)
    try:
        registry = TrustedDocuments.load(folder, schema, only_roles, Authorizer().roles())
    except InvalidDocuments as invalid:
        for problem in invalid.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(2) from None
    if listing:
        for document in sorted(registry.documents.values(), key=lambda d: d.name):
            typer.echo(f"{document.id}  {document.name}  {', '.join(document.operations)}")


@app.command()
def documents(
    folder: Annotated[
        Path | None, typer.Option("--dir", help="The folder (default RENTAN_TRUSTED_DOCUMENTS_DIR).")
    ] = None,
) -> None:
    """List the trusted documents (id, file, operations) and check each against the schema: exit 2 naming any that
    does not validate. A frontend sends {"documentId": "<id>", "variables": {...}}."""
    folder = folder or get_settings().trusted_documents_dir
    if folder is None:
        typer.echo("no folder: give --dir or set RENTAN_TRUSTED_DOCUMENTS_DIR", err=True)
        raise typer.Exit(2)
    _check_documents(folder, listing=True)


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
    """Print a development bearer token (alone on standard output) that `rentan serve` accepts: a role of the
    policy, with a scope of a level that role may hold (exit 2 otherwise)."""
    from api.auth import issue_dev_token

    check_role_and_scope(role, scope)
    typer.echo(issue_dev_token(get_settings(), role=role, scope=scope, subject=subject or f"{role}@dev", ttl=ttl))


def check_role_and_scope(role: str, scope: str) -> None:
    """A BadParameter (exit 2, naming the option) unless ``role`` is a role of the policy files and ``scope`` a
    region code of a level that role may hold: the server refuses any other token (401)."""
    from api.policies.authorizer import Authorizer
    from db.scoping import REGION_LEVELS, region_level

    authorizer = Authorizer()
    roles = sorted(authorizer.roles())
    if role not in roles:
        raise typer.BadParameter(f"no role {role!r}; the roles are: {', '.join(roles)}", param_hint="--role")
    level = region_level(scope)
    if level is None:
        raise typer.BadParameter(
            f"{scope!r} is not a region code; give one of 2, 4, 6 or 10 digits: 35, 3575, 357504 or 3575041010",
            param_hint="--scope",
        )
    held = [name for name in REGION_LEVELS.values() if authorizer.allows_scope_level(role, name)]
    if level not in held:
        may = f"a scope of level {', '.join(held)} only" if held else "no scope at all"
        raise typer.BadParameter(f"{scope} is a {level} code; a {role} token may hold {may}", param_hint="--scope")


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
