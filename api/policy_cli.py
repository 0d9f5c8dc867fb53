"""`rentan policy`: runtime policy changes from the server's shell, straight on the database.

The same service as the GraphQL mutations (api/services/policy_admin.py): the same rules, an audit event under the actor
``rentan-cli`` (agency PEMKOT) and the same change signal, so every running server applies it within a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

policy_app = typer.Typer(
    help="Grant or revoke a role's permission, suspend or reinstate a subject, at runtime (audited).",
    no_args_is_help=True,
    rich_markup_mode=None,  # as the `rentan` app (api/cli.py): flags without a <bool> value column
)
ACTOR = "rentan-cli"
# The programme's city: by default the region a command-line change is made for (it affects the principals inside
# it, and its audit event is filed under it), as if a city-scoped pemkot-admin made it through the API.
CITY = "3575"
_region = {"code": CITY}

Reason = Annotated[str, typer.Option(help="Why (kept with the change and shown in `rentan policy list`).")]


@policy_app.callback()
def _options(
    region: Annotated[
        str, typer.Option(help="The region the change is made for: it affects only principals inside it.")
    ] = CITY,
) -> None:
    from db.scoping import region_level

    if region_level(region) is None:
        raise typer.BadParameter("a region code: 35, 3575, 357504 or 3575041010", param_hint="--region")
    _region["code"] = region


def _run(command: str, change: Callable[[Any], Awaitable[Any]], mutation: str | None = None) -> Any:
    """`rentan policy <command>`: run one change as ``rentan-cli`` in one transaction, asking first what the graph
    asks of ``mutation``; on an unmigrated database exit 3, on refusal print the problems and exit 1 (api/commands.py
    run_command)."""
    from api.auth import Principal
    from api.commands import run_command

    principal = Principal(subject=ACTOR, role="pemkot-admin", agency="PEMKOT", scope=(_region["code"],))
    return run_command(f"policy {command}", principal, mutation, change)


def _permission(value: str) -> tuple[str, str]:
    resource, sep, action = value.rpartition(":")
    if not sep or not resource or not action:
        raise typer.BadParameter("resource:action, e.g. worker:create", param_hint="PERMISSION")
    return resource, action


def _done(verb: str, row: Any) -> None:
    what = f"{row.role} {row.resource}:{row.action}" if row.subject is None else row.subject
    typer.echo(f"{verb}: {what} (override {row.id}, {row.kind}{', lifted' if row.lifted_at else ''})", err=True)


@policy_app.command("list")
def list_overrides() -> None:
    """The runtime changes in force over api/policies/policy.csv for --region (made for it, inside it or over it),
    one per line, tab-separated: id, kind, region, role and permission (or subject), author, time, reason."""
    from api.services import policy_admin as store

    rows = _run("list", store.active_rows)
    for r in rows:
        target = r.subject if r.kind == "suspend" else f"{r.role}\t{r.resource}:{r.action}"
        typer.echo(
            f"{r.id}\t{r.kind}\t{r.region_code}\t{target}\t{r.created_by}\t{r.created_at.isoformat()}\t{r.reason}"
        )
    if not rows:
        typer.echo("no runtime overrides: the policy files rule alone", err=True)


@policy_app.command()
def grant(
    role: Annotated[str, typer.Argument(help="e.g. kelurahan-operator")],
    permission: Annotated[str, typer.Argument(help="resource:action, e.g. worker:create")],
    reason: Reason,
) -> None:
    """Let ROLE perform PERMISSION (or lift an earlier revoke of it)."""
    from api.services import policy_admin as store

    resource, action = _permission(permission)
    row = _run(
        "grant",
        lambda ctx: store.grant(ctx, role=role, resource=resource, action=action, reason=reason),
        "grantPermission",
    )
    _done("granted", row)


@policy_app.command()
def revoke(
    role: Annotated[str, typer.Argument(help="e.g. kelurahan-operator")],
    permission: Annotated[str, typer.Argument(help="resource:action, e.g. worker:create")],
    reason: Reason,
) -> None:
    """Take PERMISSION from ROLE (or lift an earlier grant of it)."""
    from api.services import policy_admin as store

    resource, action = _permission(permission)
    row = _run(
        "revoke",
        lambda ctx: store.revoke(ctx, role=role, resource=resource, action=action, reason=reason),
        "revokePermission",
    )
    _done("revoked", row)


@policy_app.command()
def suspend(
    subject: Annotated[str, typer.Argument(help="The token subject (sub) of the person concerned.")],
    reason: Reason,
) -> None:
    """Refuse SUBJECT every permission, whatever its role, until reinstated."""
    from api.services import policy_admin as store

    _done(
        "suspended", _run("suspend", lambda ctx: store.suspend(ctx, subject=subject, reason=reason), "suspendSubject")
    )


@policy_app.command()
def reinstate(
    subject: Annotated[str, typer.Argument(help="The token subject (sub) of the person concerned.")],
    reason: Reason,
) -> None:
    """Lift SUBJECT's suspension."""
    from api.services import policy_admin as store

    _done(
        "reinstated",
        _run("reinstate", lambda ctx: store.reinstate(ctx, subject=subject, reason=reason), "reinstateSubject"),
    )
