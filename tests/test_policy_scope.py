"""Policy administration is bounded by scope, a suspended subject gets nothing on any path, and a document of
several mutations is refused whole when the caller may not run one of them.

- An override belongs to the region of the administrator who made it and touches only principals inside it; its
  audit event is filed under that region; `policyOverrides` shows an auditor only overrides inside (or over) its
  scope. Another city's administrator can neither suspend nor reinstate Kota Pasuruan's officers.
- A suspended subject is answered HTTP 403 before any GraphQL runs: queries, mutations and `viewer` alike.

Every test puts the policy back as it found it (the suite shares one database).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from api.ids import to_global_id
from tests.conftest import BUGUL_LOR, CITY, HTTP, REGISTER, Api, Server, worker_input

OTHER_CITY = "3573"
PAYLOAD = "override { id kind subject } errors { code field message }"
SUSPEND = f"mutation($i: SubjectChangeInput!) {{ suspendSubject(input: $i) {{ {PAYLOAD} }} }}"
REINSTATE = f"mutation($i: SubjectChangeInput!) {{ reinstateSubject(input: $i) {{ {PAYLOAD} }} }}"
REVOKE = "mutation($i: PermissionChangeInput!) { revokePermission(input: $i) { errors { code message } } }"
GRANT = "mutation($i: PermissionChangeInput!) { grantPermission(input: $i) { errors { code message } } }"
OVERRIDES = "{ policyOverrides { kind subject role permission } }"
AUDIT = "{ auditEvents(last: 30) { edges { node { action detail } } } }"
WORKERS = "{ workers(first: 1) { totalCount } }"


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _status(server: Server, token: str, query: str) -> int:
    response = HTTP.post(server.url, json={"query": query}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return response.status_code


def _payload(api: Api, mutation: str, name: str, **fields: str) -> dict[str, object]:
    result: dict[str, object] = api.data(mutation, i=fields)[name]
    return result


def test_suspended_subject_gets_403_on_every_path(server: Server) -> None:
    """Suspended: 403 for a list, a lookup, `viewer` and a mutation; a colleague of the same role is served."""
    admin = server.api("pemkot-admin")
    subject = f"siti-{secrets.token_hex(3)}@bugul-lor"
    token = server.token("kelurahan-operator", subject=subject)
    colleague = server.token("kelurahan-operator", subject=f"budi-{secrets.token_hex(3)}@bugul-lor")
    assert _payload(admin, SUSPEND, "suspendSubject", subject=subject, reason="uji")["errors"] == []
    try:
        _until(lambda: _status(server, token, WORKERS) == 403, "not refused within 5 s")
        response = HTTP.post(
            server.url, json={"query": "{ viewer { permissions } }"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 403
        assert response.json() == {
            "errors": [
                {
                    "message": "Your access is suspended: ask the programme's administrator.",
                    "extensions": {"code": "FORBIDDEN", "reason": "SUSPENDED"},
                }
            ]
        }
        assert _status(server, token, '{ workerByNik(nik: "3575040101800001") { id } }') == 403
        mutation = HTTP.post(
            server.url,
            json={"query": REGISTER, "variables": {"input": worker_input()}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert mutation.status_code == 403
        assert _status(server, colleague, WORKERS) == 200
    finally:
        assert _payload(admin, REINSTATE, "reinstateSubject", subject=subject, reason="uji")["errors"] == []
    _until(lambda: _status(server, token, WORKERS) == 200, "not served again within 5 s")


def test_another_citys_suspension_does_not_reach_pasuruan(server: Server) -> None:
    """Kota Malang's administrator suspends a subject: its tokens in Kota Pasuruan are served as before; the
    event is Malang's (Malang's auditor sees it, Pasuruan's does not), and Pasuruan's overrides list lacks it."""
    malang_admin = server.api("pemkot-admin", scope=OTHER_CITY, subject="admin@kota-malang")
    malang_auditor = server.api("auditor", scope=OTHER_CITY, subject="auditor@kota-malang")
    pasuruan_auditor = server.api("auditor")
    subject = f"officer-{secrets.token_hex(3)}@pasuruan"
    token = server.token("kelurahan-operator", subject=subject)
    assert _payload(malang_admin, SUSPEND, "suspendSubject", subject=subject, reason="uji")["errors"] == []
    try:
        time.sleep(1.2)  # past the watcher's poll: a change that would apply has applied by now
        assert _status(server, token, WORKERS) == 200
        assert subject in str(malang_auditor.data(AUDIT))
        assert subject not in str(pasuruan_auditor.data(AUDIT))
        assert subject in str(malang_auditor.data(OVERRIDES))
        assert subject not in str(pasuruan_auditor.data(OVERRIDES))
        # Pasuruan's administrator neither sees it nor lifts it; Malang's own suspension stays.
        pasuruan = _payload(server.api("pemkot-admin"), REINSTATE, "reinstateSubject", subject=subject, reason="x")
        assert [e["code"] for e in pasuruan["errors"]] == ["NOT_SUSPENDED"]  # type: ignore[union-attr]
        # The same subject holding a Malang token is refused.
        malang_token = server.token("kelurahan-operator", scope=f"{OTHER_CITY}011001", subject=subject)
        assert _status(server, malang_token, WORKERS) == 403
    finally:
        assert _payload(malang_admin, REINSTATE, "reinstateSubject", subject=subject, reason="uji")["errors"] == []


def test_pasuruan_suspensions_are_not_read_from_another_city(server: Server) -> None:
    admin = server.api("pemkot-admin")
    subject = f"officer-{secrets.token_hex(3)}@pasuruan"
    assert _payload(admin, SUSPEND, "suspendSubject", subject=subject, reason="uji")["errors"] == []
    try:
        assert subject in str(server.api("auditor").data(OVERRIDES))
        assert subject in str(server.api("auditor").data(AUDIT))
        malang_auditor = server.api("auditor", scope=OTHER_CITY, subject="auditor@kota-malang")
        assert subject not in str(malang_auditor.data(OVERRIDES))
        assert subject not in str(malang_auditor.data(AUDIT))
        malang_admin = server.api("pemkot-admin", scope=OTHER_CITY, subject="admin@kota-malang")
        refused = _payload(malang_admin, REINSTATE, "reinstateSubject", subject=subject, reason="x")
        assert [e["code"] for e in refused["errors"]] == ["NOT_SUSPENDED"]  # type: ignore[union-attr]
    finally:
        assert _payload(admin, REINSTATE, "reinstateSubject", subject=subject, reason="uji")["errors"] == []


def test_another_citys_revoke_stays_in_that_city(server: Server) -> None:
    """Malang revokes worker:read from kelurahan-viewer: Malang's viewers lose it, Bugul Lor's keep it."""
    malang_admin = server.api("pemkot-admin", scope=OTHER_CITY, subject="admin@kota-malang")
    change = {"role": "kelurahan-viewer", "resource": "worker", "action": "read", "reason": "uji"}
    bugul_lor = server.api("kelurahan-viewer", subject="viewer@bugul-lor")
    malang = server.api("kelurahan-viewer", scope=f"{OTHER_CITY}011001", subject="viewer@malang")
    assert malang_admin.data(REVOKE, i=change)["revokePermission"]["errors"] == []
    try:
        _until(
            lambda: "worker:read" not in malang.data("{ viewer { permissions } }")["viewer"]["permissions"],
            "Malang's viewer kept worker:read",
        )
        assert "worker:read" in bugul_lor.data("{ viewer { permissions } }")["viewer"]["permissions"]
        assert bugul_lor.data(WORKERS)["workers"]["totalCount"] > 0
    finally:
        assert malang_admin.data(GRANT, i=change)["grantPermission"]["errors"] == []


def test_policy_administration_needs_one_region(server: Server) -> None:
    token_admin = server.api("pemkot-admin", scope=f"{BUGUL_LOR} 3575011001", subject="admin@two-kelurahan")
    refused = _payload(token_admin, SUSPEND, "suspendSubject", subject="someone@x", reason="uji")
    assert [e["code"] for e in refused["errors"]] == ["OUT_OF_SCOPE"]  # type: ignore[union-attr]


# --- a document of several mutations ----------------------------------------------------------------------------

TWO_MUTATIONS = """
mutation Two($w: RegisterWorkerInput!, $b: IssueContributionBillInput!) {
  registerWorker(input: $w) { worker { id } errors { code } }
  issueContributionBill(input: $b) { bill { id } errors { code } }
}
"""


def test_a_document_with_a_forbidden_mutation_runs_none(server: Server, operator: Api) -> None:
    """The operator may register but not issue bills: neither runs, and the refusal names the one it may not."""
    before = server.snapshot()
    result = operator.result(
        TWO_MUTATIONS, w=worker_input(), b={"fundingSourceCode": "DBHCHT-2025", "period": "2025-05"}
    )
    assert server.snapshot() == before
    assert result.data is None
    assert result.error_codes == ["FORBIDDEN"]
    assert result.errors[0]["extensions"]["permission"] == "bill:issue"


def test_a_document_failing_midway_commits_nothing(server: Server, operator: Api) -> None:
    """A mutation that fails after the first committed (here: a change of kelurahan, which is worker:move,
    revoked at runtime) leaves `data: null`; the first mutation's registration is undone with it."""
    admin = server.api("pemkot-admin")
    change = {"role": "kelurahan-operator", "resource": "worker", "action": "move", "reason": "uji"}
    seeded = operator.data("{ workers(first: 1) { edges { node { id } } } }")["workers"]["edges"][0]["node"]["id"]
    document = """
    mutation Two($w: RegisterWorkerInput!, $u: UpdateWorkerInput!) {
      registerWorker(input: $w) { worker { id } errors { code } }
      updateWorker(input: $u) { worker { id } errors { code } }
    }
    """
    assert admin.data(REVOKE, i=change)["revokePermission"]["errors"] == []
    try:
        _until(
            lambda: "worker:move" not in operator.data("{ viewer { permissions } }")["viewer"]["permissions"],
            "worker:move not revoked within 5 s",
        )
        before = server.snapshot()
        result = operator.result(document, w=worker_input(), u={"id": seeded, "kelurahanCode": CITY + "011001"})
        assert result.data is None, result.data
        assert result.error_codes == ["FORBIDDEN"]
        assert result.errors[0]["extensions"]["permission"] == "worker:move"
        assert server.snapshot() == before
    finally:
        assert admin.data(GRANT, i=change)["grantPermission"]["errors"] == []


def test_move_worker_is_forbidden_before_its_target_is_looked_up(server: Server) -> None:
    """A role without worker:move learns nothing of the id it names: FORBIDDEN for a never-issued id, for a
    malformed one and for a real one alike (the finding was NOT_FOUND for an unknown id)."""
    viewer = server.api("kelurahan-viewer")
    real = viewer.data("{ workers(first: 1) { edges { node { id } } } }")["workers"]["edges"][0]["node"]["id"]
    document = "mutation($i: MoveWorkerInput!) { moveWorker(input: $i) { errors { code } } }"
    answers = []
    for worker_id in (real, to_global_id("Worker", 99_999_999), "bm90LWFuLWlk"):
        result = viewer.result(
            document, i={"workerId": worker_id, "toKelurahanCode": "3575011001", "effectiveDate": "2025-01-01"}
        )
        assert result.data is None
        assert result.error_codes == ["FORBIDDEN"]
        assert result.errors[0]["extensions"]["permission"] == "worker:move"
        answers.append(result.errors)
    assert answers[0] == answers[1] == answers[2]
