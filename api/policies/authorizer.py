"""THE place authorization decisions are made: Casbin over the committed model and policy files.

Decisions are memoised per (role, resource, action): a pycasbin ``enforce()`` costs around a millisecond
and the answer only changes when the policy does, at which point :meth:`Authorizer.reload` clears the memo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from threading import Lock

import casbin
from graphql import GraphQLError

HERE = Path(__file__).parent
MODEL_FILE = HERE / "model.conf"
POLICY_FILE = HERE / "policy.csv"
SCOPE_RESOURCE = "scope"


class Forbidden(GraphQLError):
    """The role may not perform this action at all (not: the row is out of scope, which is not-found)."""

    def __init__(self, permission: str) -> None:
        super().__init__(
            f"Your role may not perform {permission}.",
            extensions={"code": "FORBIDDEN", "permission": permission},
        )


@dataclass(frozen=True)
class Permission:
    resource: str
    action: str

    def __str__(self) -> str:
        return f"{self.resource}:{self.action}"


class Authorizer:
    def __init__(self, model_file: Path = MODEL_FILE, policy_file: Path = POLICY_FILE) -> None:
        self._enforcer = casbin.Enforcer(str(model_file), str(policy_file))
        self._memo: dict[tuple[str, str, str], bool] = {}
        self._lock = Lock()

    def reload(self) -> None:
        with self._lock:
            self._enforcer.load_policy()
            self._memo.clear()

    def allows(self, role: str, resource: str, action: str) -> bool:
        key = (role, resource, action)
        decision = self._memo.get(key)
        if decision is None:
            decision = bool(self._enforcer.enforce(role, resource, action))
            self._memo[key] = decision
        return decision

    def require(self, role: str, resource: str, action: str) -> None:
        if not self.allows(role, resource, action):
            raise Forbidden(f"{resource}:{action}")

    def roles(self) -> dict[str, str]:
        """Every known role with its agency."""
        return {role: agency for role, agency in self._enforcer.get_named_grouping_policy("g2")}

    def agency_of(self, role: str) -> str | None:
        return self.roles().get(role)

    def allows_scope_level(self, role: str, level: str) -> bool:
        return self.allows(role, SCOPE_RESOURCE, level)

    def permissions_of(self, role: str) -> list[Permission]:
        """The role's permissions as resource:action pairs (scope levels are not permissions)."""
        found = {
            Permission(obj, act)
            for _sub, obj, act, eft in self._enforcer.get_implicit_permissions_for_user(role)
            if obj != SCOPE_RESOURCE and eft == "allow" and self.allows(role, obj, act)
        }
        return sorted(found, key=str)
