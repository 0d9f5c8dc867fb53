"""THE place authorization decisions are made: Casbin over the committed model and policy files, plus the
runtime overrides an administrator recorded in the database (``policy_overrides``, see api/services/policy_admin.py).

- The files are the baseline. A *grant* adds an allow line for a role, a *revoke* a deny line (the model's
  effect is deny-override), so Casbin still decides every (role, resource, action).
- Every override belongs to a *region* (the scope of the administrator who made it) and touches only principals
  whose whole scope lies inside that region: a city's administrator changes what its own offices may do, never
  another city's or the province's. So the decision depends on the principal's scope too: the overrides that
  apply to a scope are picked first, and Casbin decides over the files plus those.
- A *suspension* names a subject (a token's ``sub``) inside a region: that principal is refused everything.
  The HTTP layer asks :meth:`Authorizer.is_suspended` before any GraphQL runs (403); :meth:`allows` refuses a
  suspended subject as well, for every other caller.

Decisions are memoised per (applicable overrides, role, resource, action): a pycasbin ``enforce()`` costs around a
millisecond and the answer only changes when the policy does. :meth:`Authorizer.apply` swaps in a new state (the
overrides, an empty memo, no enforcer built yet) in one assignment, so a decision never mixes two versions of the
policy. The watcher (api/policies/watch.py) calls it in every server process.

Scope levels (which region levels a role's token may carry) are baseline only: no override touches them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import casbin
from graphql import GraphQLError

from api.messages import msg
from api.policies.permissions import Permission

HERE = Path(__file__).parent
MODEL_FILE = HERE / "model.conf"
POLICY_FILE = HERE / "policy.csv"
SCOPE_RESOURCE = "scope"
GRANT, REVOKE, SUSPEND = "grant", "revoke", "suspend"
# Distinct scopes whose applicable overrides are remembered; beyond it the memo starts again (8,491 villages).
SCOPES_REMEMBERED = 20_000

__all__ = ["Authorizer", "Forbidden", "Override", "Permission"]


class Forbidden(GraphQLError):
    """The role may not perform this action at all (not: the row is out of scope, which is not-found)."""

    def __init__(self, permission: Permission | str, *, suspended: bool = False) -> None:
        # A Message: rendered in the request's language when the answer is written (api/app.py).
        message = (
            msg("Your access is suspended: you may not perform {permission}.", permission=permission)
            if suspended
            else msg("Your role may not perform {permission}.", permission=permission)
        )
        super().__init__(message, extensions={"code": "FORBIDDEN", "permission": str(permission)})


@dataclass(frozen=True, order=True)
class Override:
    """An active runtime change: ``grant``/``revoke`` (role, resource, action) or ``suspend`` (subject), in force
    for the principals inside ``region`` ("" only for a change that applies everywhere)."""

    kind: str
    role: str = ""
    resource: str = ""
    action: str = ""
    subject: str = ""
    region: str = ""

    def applies_to(self, scope: Sequence[str] | None) -> bool:
        """Whether a principal of ``scope`` lies inside this override's region (None: a question about no
        particular principal, e.g. the policy as a whole, which every override is part of)."""
        if scope is None:
            return True
        return bool(scope) and all(code.startswith(self.region) for code in scope)


Applicable = tuple[Override, ...]


@dataclass(frozen=True)
class _State:
    overrides: tuple[Override, ...]
    suspended: frozenset[str]
    enforcers: dict[Applicable, casbin.Enforcer] = field(default_factory=dict)
    by_scope: dict[tuple[str, ...] | None, Applicable] = field(default_factory=dict)
    memo: dict[tuple[Applicable, str, str, str], bool] = field(default_factory=dict)
    batches: dict[tuple[Applicable, str, int, bool], tuple[tuple[Permission, ...], tuple[bool, ...]]] = field(
        default_factory=dict
    )


class Authorizer:
    def __init__(self, model_file: Path = MODEL_FILE, policy_file: Path = POLICY_FILE) -> None:
        self._model_file = model_file
        self._policy_file = policy_file
        self._files = casbin.Enforcer(str(model_file), str(policy_file))
        self._state = _State(overrides=(), suspended=frozenset())

    def _enforcer(self, state: _State, applicable: Applicable) -> casbin.Enforcer:
        if not applicable:
            return self._files
        enforcer = state.enforcers.get(applicable)
        if enforcer is None:
            enforcer = casbin.Enforcer(str(self._model_file), str(self._policy_file))
            enforcer.add_policies(
                [[o.role, o.resource, o.action, "allow" if o.kind == GRANT else "deny"] for o in applicable]
            )
            state.enforcers[applicable] = enforcer
        return enforcer

    def _applicable(self, state: _State, scope: Sequence[str] | None) -> Applicable:
        key = tuple(scope) if scope is not None else None
        found = state.by_scope.get(key)
        if found is None:
            found = tuple(
                o
                for o in state.overrides
                if o.kind in (GRANT, REVOKE) and o.resource != SCOPE_RESOURCE and o.applies_to(scope)
            )
            if len(state.by_scope) >= SCOPES_REMEMBERED:
                state.by_scope.clear()
            state.by_scope[key] = found
        return found

    @property
    def overrides(self) -> tuple[Override, ...]:
        """The overrides applied now (sorted)."""
        return self._state.overrides

    def apply(self, overrides: Iterable[Override]) -> bool:
        """Decide from the files plus these active overrides from now on; False when they are the ones applied
        already (nothing rebuilt, the memo kept)."""
        wanted = tuple(sorted(set(overrides)))
        if wanted == self._state.overrides:
            return False
        suspended = frozenset(o.subject for o in wanted if o.kind == SUSPEND)
        self._state = _State(overrides=wanted, suspended=suspended)
        return True

    def is_suspended(self, subject: str | None, scope: Sequence[str] | None = None) -> bool:
        """Whether a suspension made inside a region that holds ``scope`` names this subject."""
        state = self._state
        if subject is None or subject not in state.suspended:
            return False
        return any(o.kind == SUSPEND and o.subject == subject and o.applies_to(scope) for o in state.overrides)

    def allows(
        self,
        role: str,
        resource: str,
        action: str,
        subject: str | None = None,
        scope: Sequence[str] | None = None,
    ) -> bool:
        """May ``role`` (as ``subject``, holding ``scope``) perform ``resource:action``? Without a scope, every
        override counts (the policy as a whole)."""
        state = self._state
        if resource != SCOPE_RESOURCE and self.is_suspended(subject, scope):
            return False
        applicable = self._applicable(state, scope) if resource != SCOPE_RESOURCE else ()
        key = (applicable, role, resource, action)
        decision = state.memo.get(key)
        if decision is None:
            decision = bool(self._enforcer(state, applicable).enforce(role, resource, action))
            state.memo[key] = decision
        return decision

    def permits(self, role: str, permission: Permission, subject: str | None, scope: Sequence[str] | None) -> bool:
        return self.allows(role, permission.resource, permission.action, subject, scope)

    def decisions(
        self, role: str, permissions: tuple[Permission, ...], subject: str | None, scope: Sequence[str] | None
    ) -> tuple[bool, ...]:
        """:meth:`permits` for each of ``permissions``, remembered as one tuple per policy state, role, applicable
        overrides and suspension: a compiled read's plan key asks for all of them on every request, and one by
        one they were 3% of its CPU (bench/README.md). ``permissions`` must live as long as the process (the
        schema's list): it is remembered by identity, not hashed each time."""
        state = self._state
        applicable = self._applicable(state, scope)
        key = (applicable, role, id(permissions), self.is_suspended(subject, scope))
        found = state.batches.get(key)
        if found is None or found[0] is not permissions:
            found = (permissions, tuple(self.permits(role, p, subject, scope) for p in permissions))
            state.batches[key] = found
        return found[1]

    def roles(self) -> dict[str, str]:
        """Every known role with its agency."""
        return {role: agency for role, agency in self._files.get_named_grouping_policy("g2")}

    def agency_of(self, role: str) -> str | None:
        return self.roles().get(role)

    def allows_scope_level(self, role: str, level: str) -> bool:
        return self.allows(role, SCOPE_RESOURCE, level)

    def permissions_of(
        self, role: str, subject: str | None = None, scope: Sequence[str] | None = None
    ) -> list[Permission]:
        """The role's permissions as resource:action pairs (scope levels are not permissions); none for a
        suspended subject."""
        state = self._state
        enforcer = self._enforcer(state, self._applicable(state, scope))
        found = {
            Permission(obj, act)
            for _sub, obj, act, eft in enforcer.get_implicit_permissions_for_user(role)
            if obj != SCOPE_RESOURCE and eft == "allow" and self.allows(role, obj, act, subject, scope)
        }
        return sorted(found, key=str)

    def known_permissions(self) -> set[Permission]:
        """Every permission the files name for any role: the only ones an override may grant or revoke."""
        return {Permission(obj, act) for _sub, obj, act, _eft in self._files.get_policy() if obj != SCOPE_RESOURCE}
