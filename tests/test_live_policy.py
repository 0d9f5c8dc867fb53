"""Live policy administration across processes: a change made through one server process (or `rentan policy`)
is applied by the process that made it as it commits and by every other process within a second (PostgreSQL:
LISTEN/NOTIFY; SQLite: polling), audited, and reserved to pemkot-admin.

The suite shares one database: every test puts the policy back as it found it (try/finally), or the tests after
it would run under a changed policy.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ROOT, Api, Server, extra_server, timings_reported, worker_input

DEADLINE = 1.0  # seconds: what "every process within a second" means here
OPERATOR = "kelurahan-operator"

VIEWER = "{ viewer { subject permissions } }"
# Refused by the input rules (a NIK is 16 digits) when permitted, FORBIDDEN when not: it never changes anything.
REGISTER = "mutation($input: RegisterWorkerInput!) { registerWorker(input: $input) { worker { id } errors { code } } }"
OVERRIDES = "{ policyOverrides { id kind role permission subject reason createdBy liftedAt } }"
PAYLOAD = "override { id kind role permission subject liftedAt } errors { code field message }"
GRANT = f"mutation($i: PermissionChangeInput!) {{ grantPermission(input: $i) {{ {PAYLOAD} }} }}"
REVOKE = f"mutation($i: PermissionChangeInput!) {{ revokePermission(input: $i) {{ {PAYLOAD} }} }}"
SUSPEND = f"mutation($i: SubjectChangeInput!) {{ suspendSubject(input: $i) {{ {PAYLOAD} }} }}"
REINSTATE = f"mutation($i: SubjectChangeInput!) {{ reinstateSubject(input: $i) {{ {PAYLOAD} }} }}"
AUDIT = "{ auditEvents(last: 20) { edges { node { actor agency action targetId detail } } } }"

# Figures for the report: seconds from a change's commit to the other process applying it.
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def second(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server process on the suite's database (process B; the session's server is A)."""
    with extra_server(server, tmp_path_factory.mktemp("rentan-b")) as running:
        yield running


@pytest.fixture(scope="module", autouse=True)
def report_timings() -> Iterator[None]:
    with timings_reported("live policy, seconds to the other process", TIMINGS):
        yield


def on(server: Server, role: str, subject: str | None = None) -> Api:
    return server.api(role, subject=subject)


def forbidden_to_register(api: Api) -> bool:
    result = api.result(REGISTER, input=worker_input(nik="35750"))
    if [e.get("extensions") for e in result.errors] == [{"code": "FORBIDDEN", "reason": "SUSPENDED"}]:
        return True  # refused whole (HTTP 403): a suspended subject
    if "FORBIDDEN" in result.error_codes:
        forbidden = next(e for e in result.errors if (e.get("extensions") or {}).get("code") == "FORBIDDEN")
        assert forbidden["extensions"]["permission"] == "worker:create"
        return True
    assert not result.errors, result.errors
    assert result.data is not None
    assert result.data["registerWorker"]["errors"], result.data  # refused: a bad NIK
    return False


def refused_whole(api: Api) -> bool:
    """Refused whole, before any GraphQL runs (HTTP 403, FORBIDDEN with reason SUSPENDED)."""
    result = api.result(VIEWER)
    return result.data is None and [e.get("extensions") for e in result.errors] == [
        {"code": "FORBIDDEN", "reason": "SUSPENDED"}
    ]


def permissions(api: Api) -> set[str]:
    return set(api.data(VIEWER)["viewer"]["permissions"])


def within(deadline: float, condition: Callable[[], bool]) -> float:
    """Seconds until ``condition`` held, polling every 20 ms; fails when it does not hold by ``deadline``."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > deadline:
            raise AssertionError(f"not applied within {deadline} s")
        time.sleep(0.02)


def change(api: Api, mutation: str, name: str, **fields: str) -> dict[str, Any]:
    payload: dict[str, Any] = api.data(mutation, i=fields)[name]
    assert payload["errors"] == [], payload
    return payload


def rentan_policy(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RENTAN_DATABASE_URL": server.database_url}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "policy", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def audit_actions(server: Server) -> list[tuple[str, str, str | None]]:
    edges = on(server, "auditor").data(AUDIT)["auditEvents"]["edges"]
    return [(e["node"]["actor"], e["node"]["action"], e["node"]["detail"]) for e in edges]


def overrides_table(server: Server) -> list[tuple[Any, ...]]:
    return server.sql("SELECT * FROM policy_overrides ORDER BY id")


def test_suspension_reaches_the_other_process_within_a_second(server: Server, second: Server) -> None:
    """Suspend a kelurahan operator's subject through process A: within a second process B refuses them
    (403, nothing at all) while their colleague works on; reinstate through B: both serve them again."""
    subject = f"siti-{secrets.token_hex(3)}@bugul-lor"
    colleague_b = on(second, OPERATOR, f"budi-{secrets.token_hex(3)}@bugul-lor")
    admin_a, admin_b = on(server, "pemkot-admin"), on(second, "pemkot-admin")
    siti_a, siti_b = on(server, OPERATOR, subject), on(second, OPERATOR, subject)
    assert not forbidden_to_register(siti_b)
    assert "worker:create" in permissions(siti_b)
    suspended = False
    try:
        payload = change(admin_a, SUSPEND, "suspendSubject", subject=subject, reason="laptop stolen")
        suspended = True
        assert payload["override"]["kind"] == "SUSPEND"
        assert payload["override"]["subject"] == subject
        # The process that made the change applies it as it commits: no wait on A itself.
        assert refused_whole(siti_a)
        TIMINGS["suspend A->B"] = within(DEADLINE, lambda: refused_whole(siti_b))
        assert not forbidden_to_register(colleague_b)  # a subject is suspended, not the role
        listed = admin_b.data(OVERRIDES)["policyOverrides"]
        assert next(o for o in listed if o["subject"] == subject)["reason"] == "laptop stolen"

        lifted = change(admin_b, REINSTATE, "reinstateSubject", subject=subject, reason="laptop recovered")
        suspended = False
        assert lifted["override"]["id"] == payload["override"]["id"]
        assert lifted["override"]["liftedAt"]
        TIMINGS["reinstate B->A"] = within(
            DEADLINE, lambda: not refused_whole(siti_a) and "worker:create" in permissions(siti_a)
        )
        assert not forbidden_to_register(siti_a)
        assert not forbidden_to_register(siti_b)  # B made the change: applied there as it committed
        assert not [o for o in admin_a.data(OVERRIDES)["policyOverrides"] if o["subject"] == subject]
    finally:
        if suspended:
            admin_a.data(REINSTATE, i={"subject": subject, "reason": "test cleanup"})
    trail = audit_actions(server)
    assert ("pemkot-admin-3575@test", "policy:suspend", f"subject={subject}") in trail
    assert ("pemkot-admin-3575@test", "policy:reinstate", f"subject={subject}") in trail


def test_revoke_by_command_line_reaches_both_processes(server: Server, second: Server) -> None:
    """`rentan policy revoke kelurahan-operator worker:create` takes the permission from every kelurahan operator
    on both processes within a second; `rentan policy grant` gives it back, leaving no override behind."""
    operators = [on(server, OPERATOR), on(second, OPERATOR)]
    assert not any(forbidden_to_register(api) for api in operators)
    revoked = False
    try:
        done = rentan_policy(server, "revoke", OPERATOR, "worker:create", "--reason", "registration paused")
        assert done.returncode == 0, done.stderr
        revoked = True
        TIMINGS["cli revoke->A"] = within(DEADLINE, lambda: forbidden_to_register(operators[0]))
        TIMINGS["cli revoke->B"] = within(DEADLINE, lambda: forbidden_to_register(operators[1]))
        assert "worker:create" not in permissions(operators[1])
        assert "worker:update" in permissions(operators[1])  # one permission, not the role
        listing = rentan_policy(server, "list")
        assert listing.returncode == 0, listing.stderr
        assert f"revoke\t3575\t{OPERATOR}\tworker:create" in listing.stdout, listing.stdout

        again = rentan_policy(server, "revoke", OPERATOR, "worker:create", "--reason", "twice")
        assert again.returncode == 1, again.stderr
        assert "NOT_ALLOWED" in again.stderr, again.stderr

        done = rentan_policy(server, "grant", OPERATOR, "worker:create", "--reason", "registration resumed")
        assert done.returncode == 0, done.stderr
        revoked = False
        TIMINGS["cli grant->B"] = within(DEADLINE, lambda: not forbidden_to_register(operators[1]))
        within(DEADLINE, lambda: not forbidden_to_register(operators[0]))
        assert rentan_policy(server, "list").stdout == ""  # back to the files alone
    finally:
        if revoked:
            rentan_policy(server, "grant", OPERATOR, "worker:create", "--reason", "test cleanup")
    trail = audit_actions(server)
    detail = f"role={OPERATOR};permission=worker:create"
    assert ("rentan-cli", "policy:revoke", f"{detail};revoked") in trail
    assert ("rentan-cli", "policy:grant", f"{detail};revoke lifted") in trail


def test_grant_through_the_api_and_back(server: Server, second: Server) -> None:
    """grantPermission gives kelurahan-viewer funding:read on the other process too; revokePermission lifts that
    grant; the auditor sees the override while it is in force."""
    viewer_b = on(second, "kelurahan-viewer")
    admin_a = on(server, "pemkot-admin")
    fields = {"role": "kelurahan-viewer", "resource": "funding", "action": "read", "reason": "budget pilot"}
    granted = False
    try:
        payload = change(admin_a, GRANT, "grantPermission", **fields)
        granted = True
        assert payload["override"]["kind"] == "GRANT"
        assert payload["override"]["permission"] == "funding:read"
        TIMINGS["grant A->B"] = within(DEADLINE, lambda: "funding:read" in permissions(viewer_b))
        listed = on(second, "auditor").data(OVERRIDES)["policyOverrides"]
        assert any(o["id"] == payload["override"]["id"] and o["createdBy"] == "pemkot-admin-3575@test" for o in listed)
        lifted = change(on(second, "pemkot-admin"), REVOKE, "revokePermission", **fields)
        granted = False
        assert lifted["override"]["id"] == payload["override"]["id"]
        assert lifted["override"]["liftedAt"]
        within(DEADLINE, lambda: "funding:read" not in permissions(on(server, "kelurahan-viewer")))
    finally:
        if granted:
            admin_a.data(REVOKE, i={**fields, "reason": "test cleanup"})


REFUSALS = [
    (GRANT, "grantPermission", {"role": "lurah", "resource": "worker", "action": "read"}, "INVALID_ROLE", "role"),
    (
        GRANT,
        "grantPermission",
        {"role": OPERATOR, "resource": "wrkr", "action": "read"},
        "INVALID_RESOURCE",
        "resource",
    ),
    (
        GRANT,
        "grantPermission",
        {"role": OPERATOR, "resource": "worker", "action": "delete"},
        "INVALID_ACTION",
        "action",
    ),
    (
        GRANT,
        "grantPermission",
        {"role": OPERATOR, "resource": "scope", "action": "city"},
        "INVALID_RESOURCE",
        "resource",
    ),
    (
        GRANT,
        "grantPermission",
        {"role": OPERATOR, "resource": "policy", "action": "administer"},
        "RESERVED_PERMISSION",
        "action",
    ),
    (
        REVOKE,
        "revokePermission",
        {"role": "pemkot-admin", "resource": "policy", "action": "administer"},
        "RESERVED_PERMISSION",
        "action",
    ),
    (
        GRANT,
        "grantPermission",
        {"role": OPERATOR, "resource": "enrollment", "action": "verify"},
        "SEPARATION_OF_DUTIES",
        "action",
    ),
    (GRANT, "grantPermission", {"role": OPERATOR, "resource": "worker", "action": "read"}, "ALREADY_ALLOWED", "action"),
    (REVOKE, "revokePermission", {"role": OPERATOR, "resource": "bill", "action": "pay"}, "NOT_ALLOWED", "action"),
    (SUSPEND, "suspendSubject", {"subject": "pemkot-admin-3575@test"}, "SELF_SUSPENSION", "subject"),
    (SUSPEND, "suspendSubject", {"subject": " padded@x "}, "INVALID_SUBJECT", "subject"),
    (REINSTATE, "reinstateSubject", {"subject": "nobody@test"}, "NOT_SUSPENDED", "subject"),
    (SUSPEND, "suspendSubject", {"subject": "someone@test", "reason": "  "}, "REQUIRED", "reason"),
]


@pytest.mark.parametrize(
    ("mutation", "name", "fields", "code", "field"), REFUSALS, ids=[f"{r[1]}-{r[3]}" for r in REFUSALS]
)
def test_refusals_name_the_field_and_change_nothing(
    server: Server, mutation: str, name: str, fields: dict[str, str], code: str, field: str
) -> None:
    before, overrides = server.snapshot(), overrides_table(server)
    payload = on(server, "pemkot-admin").data(mutation, i={"reason": "test", **fields})[name]
    assert payload["override"] is None
    assert (code, field) in [(e["code"], e["field"]) for e in payload["errors"]], payload["errors"]
    assert server.snapshot() == before
    assert overrides_table(server) == overrides


NOT_ADMINS = ["pemkot-analyst", "bpjstk-verifier", OPERATOR, "kelurahan-viewer", "auditor"]
MUTATIONS = [
    (GRANT, {"role": OPERATOR, "resource": "funding", "action": "allocate", "reason": "x"}),
    (REVOKE, {"role": OPERATOR, "resource": "worker", "action": "create", "reason": "x"}),
    (SUSPEND, {"subject": "pemkot-admin-3575@test", "reason": "x"}),
    (REINSTATE, {"subject": "nobody@test", "reason": "x"}),
]


@pytest.mark.parametrize("role", NOT_ADMINS)
def test_only_pemkot_admin_changes_the_policy(server: Server, role: str) -> None:
    """Every other role gets FORBIDDEN (policy:administer) from each mutation and nothing changes; the list of
    overrides is empty for roles that are neither admins nor auditors."""
    api = on(server, role)
    before, overrides = server.snapshot(), overrides_table(server)
    for mutation, fields in MUTATIONS:
        result = api.result(mutation, i=fields)
        assert "FORBIDDEN" in result.error_codes, (mutation, result.errors)
        assert result.errors[0]["extensions"]["permission"] == "policy:administer"
    assert server.snapshot() == before
    assert overrides_table(server) == overrides
    if role != "auditor":
        assert api.data(OVERRIDES)["policyOverrides"] == []
