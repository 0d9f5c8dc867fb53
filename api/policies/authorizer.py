"""THE place authorization decisions are made: Casbin over the committed model and policy files, plus the
runtime overrides an administrator recorded in the database (``policy_overrides``, see api/policies/store.py).

- The files are the baseline. A *grant* adds an allow line for a role, a *revoke* a deny line (the model's
  effect is deny-override), so Casbin still decides every (role, resource, action).
- A *suspension* names a subject (a token's ``sub``): that principal is refused every permission, whatever its
  role. It is checked here, in :meth:`Authorizer.allows`, before the role's decision; nowhere else.

Decisions are memoised per (role, resource, action): a pycasbin ``enforce()`` costs around a millisecond and
the answer only changes when the policy does. :meth:`Authorizer.apply` builds a new enforcer with the overrides
and swaps it in together with an empty memo and the suspended subjects, in one assignment, so a decision never
mixes two versions of the policy. The watcher (api/policy_watch.py) calls it in every server process.

Scope levels (which region levels a role's token may carry) are baseline only: no override touches them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import casbin
from graphql import GraphQLError

HERE = Path(__file__).parent
MODEL_FILE = HERE / "model.conf"
POLICY_FILE = HERE / "policy.csv"
SCOPE_RESOURCE = "scope"
GRANT, REVOKE, SUSPEND = "grant", "revoke", "suspend"


class Forbidden(GraphQLError):
    """The role may not perform this action at all (not: the row is out of scope, which is not-found)."""

    def __init__(self, permission: str, *, suspended: bool = False) -> None:
        message = (
            f"Your access is suspended: you may not perform {permission}."
            if suspended
            else f"Your role may not perform {permission}."
        )
        super().__init__(message, extensions={"code": "FORBIDDEN", "permission": permission})


@dataclass(frozen=True)
class Permission:
    resource: str
    action: str

    def __str__(self) -> str:
        return f"{self.resource}:{self.action}"


@dataclass(frozen=True, order=True)
class Override:
    """An active runtime change: ``grant``/``revoke`` (role, resource, action) or ``suspend`` (subject)."""

    kind: str
    role: str = ""
    resource: str = ""
    action: str = ""
    subject: str = ""


@dataclass(frozen=True)
class _State:
    enforcer: casbin.Enforcer
    overrides: tuple[Override, ...]
    suspended: frozenset[str]
    memo: dict[tuple[str, str, str], bool] = field(default_factory=dict)


class Authorizer:
    def __init__(self, model_file: Path = MODEL_FILE, policy_file: Path = POLICY_FILE) -> None:
        self._model_file = model_file
        self._policy_file = policy_file
        self._state = self._build(())

    def _build(self, overrides: tuple[Override, ...]) -> _State:
        enforcer = casbin.Enforcer(str(self._model_file), str(self._policy_file))
        rules = [
            [o.role, o.resource, o.action, "allow" if o.kind == GRANT else "deny"]
            for o in overrides
            if o.kind in (GRANT, REVOKE) and o.resource != SCOPE_RESOURCE
        ]
        if rules:
            enforcer.add_policies(rules)
        suspended = frozenset(o.subject for o in overrides if o.kind == SUSPEND)
        return _State(enforcer=enforcer, overrides=overrides, suspended=suspended)

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
        self._state = self._build(wanted)
        return True

    def reload(self) -> None:
        """Re-read the files (keeping the overrides applied) and forget every memoised decision."""
        self._state = self._build(self._state.overrides)

    def is_suspended(self, subject: str | None) -> bool:
        return subject is not None and subject in self._state.suspended

    def allows(self, role: str, resource: str, action: str, subject: str | None = None) -> bool:
        state = self._state
        if subject is not None and resource != SCOPE_RESOURCE and subject in state.suspended:
            return False
        key = (role, resource, action)
        decision = state.memo.get(key)
        if decision is None:
            decision = bool(state.enforcer.enforce(role, resource, action))
            state.memo[key] = decision
        return decision

    def require(self, role: str, resource: str, action: str, subject: str | None = None) -> None:
        if not self.allows(role, resource, action, subject):
            raise Forbidden(f"{resource}:{action}", suspended=self.is_suspended(subject))

    def roles(self) -> dict[str, str]:
        """Every known role with its agency."""
        return {role: agency for role, agency in self._state.enforcer.get_named_grouping_policy("g2")}

    def agency_of(self, role: str) -> str | None:
        return self.roles().get(role)

    def allows_scope_level(self, role: str, level: str) -> bool:
        return self.allows(role, SCOPE_RESOURCE, level)

    def permissions_of(self, role: str, subject: str | None = None) -> list[Permission]:
        """The role's permissions as resource:action pairs (scope levels are not permissions); none for a
        suspended subject."""
        state = self._state
        found = {
            Permission(obj, act)
            for _sub, obj, act, eft in state.enforcer.get_implicit_permissions_for_user(role)
            if obj != SCOPE_RESOURCE and eft == "allow" and self.allows(role, obj, act, subject)
        }
        return sorted(found, key=str)

    def known_permissions(self) -> set[Permission]:
        """Every permission the files name for any role: the only ones an override may grant or revoke."""
        baseline = casbin.Enforcer(str(self._model_file), str(self._policy_file))
        return {Permission(obj, act) for _sub, obj, act, _eft in baseline.get_policy() if obj != SCOPE_RESOURCE}
