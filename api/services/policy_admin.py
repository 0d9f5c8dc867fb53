"""Runtime policy changes, kept in ``policy_overrides`` and applied by every server process.

One service for both doors: the GraphQL mutations (api/schema/policy.py) and ``rentan policy`` (api/policy_cli.py)
call these functions with a Context, so the input rules, the audit event and the change signal are the same (the
permission, ``policy:administer``, is declared for the mutations in api/schema/access.py and both doors ask it).
Each change is written in the caller's transaction together with its audit event and, on PostgreSQL, a
``NOTIFY rentan_policy`` that PostgreSQL delivers to every listening process
when (and only if) that transaction commits (api/policies/watch.py).

Rules, so that an override always means one thing:
- grant/revoke name a role of the files and a permission the files name for some role (scope levels are not
  permissions and cannot be changed here); granting what the role already has, or revoking what it lacks, is
  refused (ALREADY_ALLOWED, NOT_ALLOWED) rather than stacked.
- Granting back a revoked permission lifts the revoke, revoking a granted one lifts the grant: undoing a change
  leaves no override behind, the baseline files rule again.
- ``policy:administer`` is not changed at runtime (only pemkot-admin holds it, in the files), and no grant may
  join what separation of duties keeps apart: enrollment:propose with enrollment:verify, bill:issue with bill:pay.
- A suspension names a subject (a token's ``sub``), who then holds no permission at all; nobody suspends
  themselves. Reinstating lifts it.
- Scope bounds policy administration as it bounds every write: an override belongs to the region of the
  administrator who made it (whose token must name one region) and affects only principals inside it; the audit
  event is filed under that region, so its auditors see it. An administrator sees and lifts only overrides of
  its own region (or inside it); one made for a wider region is refused as ``WIDER_REGION``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from sqlalchemy import select, text

from api.context import Context
from api.errors import Problem, Refused
from api.ids import to_global_id
from api.messages import Message, msg
from api.policies.authorizer import GRANT, REVOKE, SUSPEND, Authorizer
from api.policies.overrides import CHANNEL, apply_active, override_of
from api.policies.permissions import POLICY_ADMINISTER, SEPARATED, Permission
from api.rules import validation
from db.base import utcnow
from db.models import PolicyOverride
from db.scoping import covers


async def active_rows(ctx: Context) -> list[PolicyOverride]:
    """The active overrides the caller's scope shows: its region's, those inside it, and wider ones in force
    there (db/scoping.py)."""
    stmt = select(PolicyOverride).where(PolicyOverride.lifted_at.is_(None)).order_by(PolicyOverride.id)
    return list(await ctx.db.scalars(stmt))


def _region(ctx: Context) -> str:
    """The one region the administrator acts for: its token's scope."""
    scope = ctx.principal.scope
    if len(scope) != 1:
        raise Refused(
            Problem("OUT_OF_SCOPE", msg("Policy administration acts for one region: your token names several."), None)
        )
    return scope[0]


async def _effective(ctx: Context, region: str) -> tuple[list[PolicyOverride], Authorizer]:
    """(active rows, the policy in force for the region's principals), read in this transaction: never a
    process's copy, which may be up to a second behind."""
    rows = await active_rows(ctx)
    now = Authorizer()
    now.apply(override_of(r) for r in rows)
    return rows, now


async def _signal(ctx: Context) -> None:
    """Tell every process to reload: delivered by PostgreSQL on commit, dropped with a rollback. SQLite has no
    channel; its processes poll the table instead (api/policies/watch.py). The process that made the change
    applies it as soon as it commits, so the administrator's next request already sees it."""
    if ctx.db.dialect == "postgresql":
        await ctx.db.execute(text(f"NOTIFY {CHANNEL}"))
    if not any(getattr(hook, "func", None) is apply_active for hook in ctx.session.after_commit):
        ctx.session.after_commit.append(partial(apply_active, ctx.session.primary, ctx.authorizer))


async def _lift(ctx: Context, rows: Sequence[PolicyOverride], reason: str) -> None:
    now = utcnow()
    for row in rows:
        row.lifted_at, row.lifted_by, row.lifted_reason = now, ctx.principal.subject, reason.strip()
    await ctx.db.flush()


async def _record(ctx: Context, action: str, row: PolicyOverride, detail: str) -> PolicyOverride:
    await ctx.db.flush()
    await _signal(ctx)
    # Filed under the region the override affects: that region's auditors (and the province's) see it.
    ctx.audit(action, target_id=to_global_id("PolicyOverride", row.id), region_code=row.region_code, detail=detail)
    return row


def _wider(rows: list[PolicyOverride], region: str) -> list[PolicyOverride]:
    """Rows made for a region wider than the administrator's: in force there, not theirs to lift."""
    return [r for r in rows if r.region_code != region and covers((r.region_code,), region)]


def _wider_refusal(rows: list[PolicyOverride], what: Message, field: str) -> Refused:
    regions = ", ".join(sorted({r.region_code for r in rows}))
    return Refused(
        Problem(
            "WIDER_REGION",
            msg(
                "{field}: {what} for a wider region ({regions}); its administrators change it.",
                field=field,
                what=what,
                regions=regions,
            ),
            field,
        )
    )


def _permission_problems(authorizer: Authorizer, role: str, resource: str, action: str) -> list[Problem]:
    problems: list[Problem] = []
    roles = authorizer.roles()
    if role not in roles:
        problems.append(Problem("INVALID_ROLE", msg("role: one of {roles}.", roles=", ".join(roles)), "role"))
    known = authorizer.known_permissions()
    resources = sorted({p.resource for p in known})
    if resource not in resources:
        problems.append(
            Problem(
                "INVALID_RESOURCE", msg("resource: one of {resources}.", resources=", ".join(resources)), "resource"
            )
        )
    elif Permission(resource, action) not in known:
        actions = sorted(p.action for p in known if p.resource == resource)
        problems.append(
            Problem(
                "INVALID_ACTION",
                msg("action: {resource} has {actions}.", resource=resource, actions=", ".join(actions)),
                "action",
            )
        )
    elif Permission(resource, action) == POLICY_ADMINISTER:
        problems.append(
            Problem(
                "RESERVED_PERMISSION",
                msg("action: policy:administer belongs to pemkot-admin alone and changes only in policy.csv."),
                "action",
            )
        )
    return problems


async def _prepare(
    ctx: Context, role: str, resource: str, action: str, reason: str
) -> tuple[str, list[PolicyOverride], Authorizer, Authorizer]:
    problems = validation.text(reason, "reason", max_length=500)
    problems += _permission_problems(Authorizer(), role, resource, action)
    if problems:
        raise Refused(*problems)
    region = _region(ctx)
    rows, now = await _effective(ctx, region)
    return region, rows, now, Authorizer()


def _matching(
    rows: list[PolicyOverride], kind: str, role: str, resource: str, action: str, region: str
) -> tuple[list[PolicyOverride], list[PolicyOverride]]:
    """(the region's own rows of this change, the wider regions' rows of it in force there)."""
    same = [r for r in rows if (r.kind, r.role, r.resource, r.action) == (kind, role, resource, action)]
    return [r for r in same if r.region_code == region], _wider(same, region)


async def grant(ctx: Context, *, role: str, resource: str, action: str, reason: str) -> PolicyOverride:
    region, rows, now, files = await _prepare(ctx, role, resource, action, reason)
    scope = (region,)
    permission = Permission(resource, action)
    if now.allows(role, resource, action, scope=scope):
        raise Refused(
            Problem(
                "ALREADY_ALLOWED",
                msg("action: {role} may already perform {permission}.", role=role, permission=permission),
                "action",
            )
        )
    partner = SEPARATED.get(permission)
    if partner is not None and now.allows(role, partner.resource, partner.action, scope=scope):
        raise Refused(
            Problem(
                "SEPARATION_OF_DUTIES",
                msg(
                    "action: {role} holds {partner}, which separation of duties keeps apart from {permission}.",
                    role=role,
                    partner=partner,
                    permission=permission,
                ),
                "action",
            )
        )
    revokes, wider = _matching(rows, REVOKE, role, resource, action, region)
    if wider:
        raise _wider_refusal(
            wider, msg("{permission} is revoked from {role}", permission=permission, role=role), "action"
        )
    await _lift(ctx, revokes, reason)
    if files.allows(role, resource, action):  # the files allow it: lifting the revoke is the whole change
        target, how = revokes[0], "revoke lifted"
    else:
        target = PolicyOverride(
            kind=GRANT, role=role, resource=resource, action=action, reason=reason.strip(), region_code=region
        )
        target.created_by = ctx.principal.subject
        ctx.db.add(target)
        how = "granted"
    return await _record(ctx, "policy:grant", target, f"role={role};permission={permission};{how}")


async def revoke(ctx: Context, *, role: str, resource: str, action: str, reason: str) -> PolicyOverride:
    region, rows, now, files = await _prepare(ctx, role, resource, action, reason)
    permission = Permission(resource, action)
    if not now.allows(role, resource, action, scope=(region,)):
        raise Refused(
            Problem(
                "NOT_ALLOWED",
                msg("action: {role} may not perform {permission} now.", role=role, permission=permission),
                "action",
            )
        )
    # A grant of a wider region is not lifted here: the revoke below overrides it inside this region.
    grants, _wider_grants = _matching(rows, GRANT, role, resource, action, region)
    await _lift(ctx, grants, reason)
    if not files.allows(role, resource, action) and grants:  # only a grant allowed it: lifting it is the change
        target, how = grants[0], "grant lifted"
    else:
        target = PolicyOverride(
            kind=REVOKE, role=role, resource=resource, action=action, reason=reason.strip(), region_code=region
        )
        target.created_by = ctx.principal.subject
        ctx.db.add(target)
        how = "revoked"
    return await _record(ctx, "policy:revoke", target, f"role={role};permission={permission};{how}")


def _subject_problems(subject: str, reason: str) -> list[Problem]:
    problems = validation.text(subject, "subject", max_length=120)
    if not problems and subject != subject.strip():
        problems.append(
            Problem("INVALID_SUBJECT", msg("subject: a token's sub, without surrounding spaces."), "subject")
        )
    return problems + validation.text(reason, "reason", max_length=500)


async def _suspensions(ctx: Context, subject: str) -> list[PolicyOverride]:
    return [r for r in await active_rows(ctx) if r.kind == SUSPEND and r.subject == subject]


async def suspend(ctx: Context, *, subject: str, reason: str) -> PolicyOverride:
    problems = _subject_problems(subject, reason)
    if not problems and subject == ctx.principal.subject:
        problems.append(Problem("SELF_SUSPENSION", msg("subject: you cannot suspend yourself."), "subject"))
    if problems:
        raise Refused(*problems)
    region = _region(ctx)
    if [r for r in await _suspensions(ctx, subject) if covers((r.region_code,), region)]:
        raise Refused(
            Problem("ALREADY_SUSPENDED", msg("subject: {subject} is suspended already.", subject=subject), "subject")
        )
    row = PolicyOverride(
        kind=SUSPEND, subject=subject, reason=reason.strip(), created_by=ctx.principal.subject, region_code=region
    )
    ctx.db.add(row)
    return await _record(ctx, "policy:suspend", row, f"subject={subject}")


async def reinstate(ctx: Context, *, subject: str, reason: str) -> PolicyOverride:
    problems = _subject_problems(subject, reason)
    if problems:
        raise Refused(*problems)
    region = _region(ctx)
    suspensions = await _suspensions(ctx, subject)
    rows = [r for r in suspensions if covers((region,), r.region_code)]  # the region's own, and those inside it
    if not rows:
        wider = _wider(suspensions, region)
        if wider:
            raise _wider_refusal(wider, msg("{subject} is suspended", subject=subject), "subject")
        raise Refused(Problem("NOT_SUSPENDED", msg("subject: {subject} is not suspended.", subject=subject), "subject"))
    await _lift(ctx, rows, reason)
    return await _record(ctx, "policy:reinstate", rows[0], f"subject={subject}")
