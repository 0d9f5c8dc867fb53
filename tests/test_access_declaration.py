"""Authorization total by construction: the declaration in api/schema/access.py binds every part of the served
graph, every permission of the policy files is asked somewhere, and revoking any ticked cell of the access matrix
at runtime changes what that role gets.

The revocation test is the matrix test turned around: for each (role, permission) the matrix grants, the role's
answer to a probe is read, the permission is revoked through the API (`revokePermission`, by Kota Pasuruan's
administrator), the probe must answer differently (reads: empty, null or masked; writes: FORBIDDEN), and once
granted back, as before. A permission that decides nothing fails here.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from graphql import GraphQLObjectType, get_introspection_query

from api.policies.authorizer import SCOPE_RESOURCE
from api.policies.permissions import Permission
from api.settings import Settings

# Importing the schema: strawberry deprecates class scalars (api/schema/scalars.py).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from api.schema import access
    from api.schema.build import build_schema
    from api.schema.guards import UndeclaredAccess, install
from tests.conftest import BUGUL_LOR, CITY, Api, Server
from tests.test_policies import CELLS, MUTATIONS, POLICY, Ids, ids  # noqa: F401 - ids is a fixture
from tests.test_tokens_and_metrics import KID, Production, production  # noqa: F401 - production is a fixture

# Every probe principal lies inside Kota Pasuruan, the region of the administrator who revokes.
PROBE_SCOPE = {
    "pemkot-admin": CITY,
    "pemkot-analyst": CITY,
    "bpjstk-verifier": CITY,
    "kelurahan-operator": BUGUL_LOR,
    "kelurahan-viewer": BUGUL_LOR,
    "auditor": CITY,
}
REVOKE = """mutation($i: PermissionChangeInput!) { revokePermission(input: $i) { errors { code message } } }"""
GRANT = """mutation($i: PermissionChangeInput!) { grantPermission(input: $i) { errors { code message } } }"""
VIEWER = "{ viewer { permissions } }"


# --- the declaration against the served schema --------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Any:
    return build_schema(Settings())


def test_every_root_field_mutation_and_object_type_is_declared(served: Any) -> None:
    """Query and Mutation fields each have their own line; every object type has one (connections and edges
    stand for their nodes)."""
    schema = served._schema
    for root in ("Query", "Mutation"):
        for name in schema.type_map[root].fields:
            assert f"{root}.{name}" in access.FIELDS, f"{root}.{name} is not declared"
    for name, named in schema.type_map.items():
        if isinstance(named, GraphQLObjectType) and not name.startswith("__"):
            if name.endswith(("Connection", "Edge")):
                continue
            assert name in access.TYPES, f"object type {name} is not declared"
    assert set(served.guards.fields) == {
        f"{name}.{field}"
        for name, named in schema.type_map.items()
        if isinstance(named, GraphQLObjectType) and not name.startswith("__")
        for field in named.fields
    }


def test_a_schema_with_an_undeclared_mutation_does_not_build(served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is the build's: leave one mutation out of the declaration and the server cannot start."""
    monkeypatch.delitem(access.FIELDS, "Mutation.recordBillPayment")
    with pytest.raises(UndeclaredAccess, match=r"Mutation\.recordBillPayment"):
        build_schema(Settings())


def test_a_declaration_naming_no_field_does_not_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(access.FIELDS, "Worker.shoeSize", access.needs(Permission("worker", "read")))
    with pytest.raises(UndeclaredAccess, match=r"Worker\.shoeSize"):
        build_schema(Settings())


def test_every_permission_of_the_policy_is_asked_somewhere(served: Any) -> None:
    """Each permission policy.csv grants (scope levels are not permissions) is one the declaration makes a check."""
    granted = {Permission(row[2], row[3]) for row in POLICY if row[0] == "p" and row[2] != SCOPE_RESOURCE}
    assert granted, "policy.csv parsed to nothing"
    assert granted <= served.guards.permissions(), granted - served.guards.permissions()


def test_install_is_the_only_door(served: Any) -> None:
    """Installing twice on one schema would wrap twice; the build installs once and keeps what it installed."""
    assert install is not None
    guarded = served.guards.fields["Worker.nik"]
    assert guarded.any_of == (Permission("worker.nik", "read"),)
    assert served.guards.fields["Mutation.moveWorker"].any_of == (Permission("worker", "move"),)
    assert served.guards.fields["Mutation.updateWorker"].inputs[0].input_field == "kelurahanCode"


# --- revoking each ticked cell changes what the role gets ------------------------------------------------------------


Probe = Callable[[Api, Ids], Any]


def _read(query: str) -> Probe:
    def probe(api: Api, _ids: Ids) -> Any:
        result = api.result(query)
        return json.dumps({"data": result.data, "codes": result.error_codes}, sort_keys=True)

    return probe


def _mutation(name: str) -> Probe:
    case = next(m for m in MUTATIONS if m.name == name)

    def probe(api: Api, ids: Ids) -> Any:
        result = api.result(case.query, **case.variables(ids))
        return "FORBIDDEN" in result.error_codes

    return probe


def _move(api: Api, ids: Ids) -> Any:
    result = api.result(
        "mutation($i: MoveWorkerInput!) { moveWorker(input: $i) { errors { code } } }",
        i={"workerId": ids.worker, "toKelurahanCode": "12", "effectiveDate": "2025-01-01"},  # refused: a bad code
    )
    return "FORBIDDEN" in result.error_codes


PROBES: dict[str, Probe] = {
    "worker:read": _read(
        f'{{ workers(first: 1) {{ totalCount }} kelurahan(code: "{BUGUL_LOR}") {{ workers(first: 1) {{ totalCount }} }}'
        " programmeSummary { workers } }"
    ),
    "worker.nik:read": _read("{ workers(first: 3) { edges { node { nik birthDate birthYear } } } }"),
    "worker.contact:read": _read("{ workers(first: 3) { edges { node { phone address familyCardNumber } } } }"),
    "enrollment:read": _read(
        "{ enrollments(first: 1) { totalCount } programmeSummary { activeEnrollments }"
        " workers(first: 3) { edges { node { currentEnrollment { status } } } } }"
    ),
    "funding:read": _read(
        "{ fundingSources { code allocated } contributionBills(first: 1) { totalCount }"
        " programmeSummary { funding { code } } }"
    ),
    "audit:read": _read("{ auditEvents(first: 1) { edges { node { action } } } policyOverrides { id } }"),
    "worker:create": _mutation("registerWorker"),
    "worker:update": _mutation("updateWorker"),
    "worker:move": _move,
    "enrollment:propose": _mutation("proposeEnrollment"),
    "enrollment:verify": _mutation("verifyEnrollments"),
    "enrollment:terminate": _mutation("terminateEnrollment"),
    "funding:allocate": _mutation("recordFundingAllocation"),
    "bill:issue": _mutation("issueContributionBill"),
    "bill:pay": _mutation("recordBillPayment"),
}
# policy:administer is not revocable at runtime (RESERVED_PERMISSION, tested below); schema:introspect decides only
# in production, so its cells are revoked against a production server (test_introspection_revocation_...).
REVOCABLE = [c for c in CELLS if c.ticked and c.permission in PROBES]


def test_every_ticked_cell_has_a_probe() -> None:
    ticked = {c.permission for c in CELLS if c.ticked}
    assert ticked - set(PROBES) == {"policy:administer", "schema:introspect"}


def _wait_for(api: Api, permission: str, present: bool) -> None:
    deadline = time.monotonic() + 5
    while (permission in api.data(VIEWER)["viewer"]["permissions"]) is not present:
        assert time.monotonic() < deadline, f"{permission} {'not back' if present else 'still there'} after 5 s"
        time.sleep(0.05)


@pytest.mark.parametrize("cell", REVOCABLE, ids=[f"{c.role}-{c.permission}" for c in REVOCABLE])
def test_revoking_a_cell_changes_what_the_role_gets(server: Server, ids: Ids, cell: Any) -> None:
    admin = server.api("pemkot-admin")
    api = server.api(cell.role, scope=PROBE_SCOPE[cell.role], subject=f"probe-{cell.role}@revocation")
    probe = PROBES[cell.permission]
    resource, action = cell.resource_action
    change = {"role": cell.role, "resource": resource, "action": action, "reason": "revocation test"}
    before = probe(api, ids)
    assert admin.data(REVOKE, i=change)["revokePermission"]["errors"] == []
    try:
        _wait_for(api, cell.permission, present=False)
        revoked = probe(api, ids)
    finally:
        assert admin.data(GRANT, i=change)["grantPermission"]["errors"] == []
        _wait_for(api, cell.permission, present=True)
    assert revoked != before, f"revoking {cell.permission} from {cell.role} changed nothing: {before}"
    if isinstance(revoked, bool):  # a write: FORBIDDEN once revoked, and only then
        assert (before, revoked) == (False, True)
    assert probe(api, ids) == before


def test_policy_administer_is_not_revocable_at_runtime(server: Server) -> None:
    """The one permission that changes permissions changes only in policy.csv (RESERVED_PERMISSION)."""
    change = {"role": "pemkot-admin", "resource": "policy", "action": "administer", "reason": "revocation test"}
    errors = server.api("pemkot-admin").data(REVOKE, i=change)["revokePermission"]["errors"]
    assert [e["code"] for e in errors] == ["RESERVED_PERMISSION"]


INTROSPECTING = [c for c in CELLS if c.ticked and c.permission == "schema:introspect"]


def _production_token(production: Production, role: str) -> str:
    now = int(time.time())
    settings = production.server.settings
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": f"probe-{role}@introspection",
        "role": role,
        "scope": PROBE_SCOPE[role],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, production.key, algorithm="ES256", headers={"kid": KID})


@pytest.mark.parametrize("cell", INTROSPECTING, ids=[c.role for c in INTROSPECTING])
def test_introspection_revocation_takes_the_schema_away_in_production(
    server: Server, production: Production, cell: Any
) -> None:
    """schema:introspect decides in production (development lets everyone introspect, for GraphiQL)."""
    token = _production_token(production, cell.role)

    def introspects() -> bool:
        response = production.http.post(
            production.server.url,
            json={"query": get_introspection_query()},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return bool((response.json().get("data") or {}).get("__schema"))

    admin = server.api("pemkot-admin")
    change = {"role": cell.role, "resource": "schema", "action": "introspect", "reason": "revocation test"}
    assert introspects()
    assert admin.data(REVOKE, i=change)["revokePermission"]["errors"] == []
    try:
        deadline = time.monotonic() + 5
        while introspects():
            assert time.monotonic() < deadline, "introspection still served 5 s after the revoke"
            time.sleep(0.05)
    finally:
        assert admin.data(GRANT, i=change)["grantPermission"]["errors"] == []
    deadline = time.monotonic() + 5
    while not introspects():
        assert time.monotonic() < deadline, "introspection not back 5 s after the grant"
        time.sleep(0.05)
