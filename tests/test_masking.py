"""Field-level protection of personal data: masked NIKs, hidden contact fields, and the NIK-read audit trail.

Roles without `worker.nik:read` see a NIK as its first 6 and last 4 digits with `*` between; roles without
`worker.contact:read` see phone, address and family card number as null. Every full NIK a response shows is
written to the audit trail, one event per worker per request, with the worker's global id as target; masked
NIKs are not. Each test signs its tokens with its own subject, so the audit rows it counts are its own.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest

from api.ids import parse_global_id, to_global_id
from tests.conftest import BUGUL_LOR, CITY, TYPICAL_SCOPE, Api, Server, register_worker

MASKED = re.compile(r"^\d{6}\*{6}\d{4}$")
MASKED_ROLES = ["pemkot-analyst", "kelurahan-viewer"]
FULL_ROLES = ["pemkot-admin", "bpjstk-verifier", "kelurahan-operator", "auditor"]
NO_AUDIT_READ = ["pemkot-analyst", "bpjstk-verifier", "kelurahan-operator", "kelurahan-viewer"]
AGENCY = {
    "pemkot-admin": "PEMKOT",
    "pemkot-analyst": "PEMKOT",
    "bpjstk-verifier": "BPJSTK",
    "kelurahan-operator": "KELURAHAN",
    "kelurahan-viewer": "KELURAHAN",
    "auditor": "AUDITOR",
}
PAGE = 15

PERSONAL = "id nik phone address familyCardNumber"

BUGUL_LOR_WORKERS = f"""
query Workers($k: String!, $n: Int!) {{
  workers(filter: {{ kelurahanCode: $k }}, first: $n) {{ edges {{ node {{ {PERSONAL} }} }} }}
}}
"""

EVERY_PATH = f"""
query EveryPath($id: ID!, $nik: String!, $k: String!) {{
  node(id: $id) {{ ... on Worker {{ {PERSONAL} }} }}
  workerByNik(nik: $nik) {{ {PERSONAL} }}
  kelurahan(code: $k) {{ workers(first: 5) {{ edges {{ node {{ {PERSONAL} }} }} }} }}
  enrollments(filter: {{ kelurahanCode: $k }}, first: 5) {{ edges {{ node {{ worker {{ {PERSONAL} }} }} }} }}
}}
"""

NAMES_ONLY = """
query Names($k: String!) {
  workers(filter: { kelurahanCode: $k }, first: 20) { edges { node { id fullName phone address } } }
}
"""

AUDIT_EVENTS = """
query Audit($n: Int!) {
  auditEvents(last: $n) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage }
    edges { node { id at actor agency action targetId } }
  }
}
"""

AUDIT_NODE = "query AuditNode($id: ID!) { node(id: $id) { id ... on AuditEvent { action } } }"


def subject(role: str) -> str:
    """A subject no other test uses, so that the audit rows counted for it are this test's alone."""
    return f"{role}-masking-{secrets.token_hex(4)}@test"


def api_for(server: Server, role: str) -> tuple[Api, str]:
    who = subject(role)
    return server.api(role, TYPICAL_SCOPE[role], subject=who), who


def db_workers(server: Server, pks: list[int]) -> dict[int, dict[str, Any]]:
    """The stored personal fields of the given workers, read from the database directly."""
    rows = server.sql(
        "SELECT id, nik, phone, address, family_card_number, kelurahan_code FROM workers WHERE kelurahan_code = :k",
        k=BUGUL_LOR,
    )
    by_pk = {
        int(r[0]): {"nik": r[1], "phone": r[2], "address": r[3], "familyCardNumber": r[4], "kelurahan": r[5]}
        for r in rows
    }
    missing = set(pks) - set(by_pk)
    assert not missing, f"workers outside Bugul Lor in a Bugul Lor list: {missing}"
    return {pk: by_pk[pk] for pk in pks}


def worker_pk(global_id: str) -> int:
    parsed = parse_global_id(global_id)
    assert parsed is not None, global_id
    assert parsed[0] == "Worker", global_id
    return parsed[1]


def nik_events(server: Server, actor: str) -> list[tuple[Any, ...]]:
    """(target_id, agency, region_code, request_id) of every worker.nik:read event by ``actor``."""
    return server.sql(
        "SELECT target_id, agency, region_code, request_id FROM audit_events "
        "WHERE action = 'worker.nik:read' AND actor = :a ORDER BY id",
        a=actor,
    )


def shown_workers(data: Any) -> list[dict[str, Any]]:
    """Every Worker object anywhere in a response."""
    found: list[dict[str, Any]] = []
    if isinstance(data, dict):
        if "nik" in data and "id" in data:
            found.append(data)
        for value in data.values():
            found += shown_workers(value)
    elif isinstance(data, list):
        for value in data:
            found += shown_workers(value)
    return found


@pytest.fixture(scope="module")
def resident(server: Server, admin: Api) -> dict[str, Any]:
    """A Bugul Lor worker with every contact field filled, and an enrollment-less record: a known target."""
    payload = register_worker(
        admin,
        BUGUL_LOR,
        fullName=f"Warga Masking {secrets.token_hex(3)}",
        phone="0813" + "".join(secrets.choice("0123456789") for _ in range(8)),
        address="Jl. Masking No. 3, RT 002/RW 001, Bugul Lor",
        familyCardNumber="3575040202020002",
    )
    assert payload["errors"] == [], payload
    return dict(payload["worker"])


# --- what each role sees ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_roles_without_nik_read_see_masked_nik_and_no_contact(
    server: Server, role: str, resident: dict[str, Any]
) -> None:
    """pemkot-analyst and kelurahan-viewer see every NIK masked (first 6 and last 4 digits of the real NIK, six
    `*` between) and phone, address and KK number null; no NIK-read event is written for them."""
    api, who = api_for(server, role)
    nodes = [e["node"] for e in api.data(BUGUL_LOR_WORKERS, k=BUGUL_LOR, n=PAGE)["workers"]["edges"]]
    assert nodes, "Bugul Lor has workers"
    stored = db_workers(server, [worker_pk(n["id"]) for n in nodes])
    for node in nodes:
        real = stored[worker_pk(node["id"])]["nik"]
        assert MASKED.fullmatch(node["nik"]), node["nik"]
        assert node["nik"] == real[:6] + "******" + real[-4:]
        assert (node["phone"], node["address"], node["familyCardNumber"]) == (None, None, None)
    assert nik_events(server, who) == []


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_masking_holds_on_every_path_to_a_worker(server: Server, role: str, resident: dict[str, Any]) -> None:
    """The mask and the null contact fields are the Worker type's, whichever field led there: `node`,
    `workerByNik` (even asked with the full NIK), `kelurahan.workers` and `enrollments.worker`."""
    api, who = api_for(server, role)
    real_nik = server.sql("SELECT nik FROM workers WHERE id = :w", w=worker_pk(resident["id"]))[0][0]
    data = api.data(EVERY_PATH, id=resident["id"], nik=real_nik, k=BUGUL_LOR)
    workers = shown_workers(data)
    assert data["node"]["id"] == resident["id"]
    assert data["workerByNik"]["id"] == resident["id"]
    assert len(workers) >= 3
    stored = db_workers(server, [worker_pk(w["id"]) for w in workers])
    raw = json.dumps(data)
    for w in workers:
        row = stored[worker_pk(w["id"])]
        assert w["nik"] == row["nik"][:6] + "******" + row["nik"][-4:]
        assert MASKED.fullmatch(w["nik"])
        assert (w["phone"], w["address"], w["familyCardNumber"]) == (None, None, None)
        for secret in (row["nik"], row["phone"], row["address"], row["familyCardNumber"]):
            assert secret is None or secret not in raw
    assert nik_events(server, who) == []


@pytest.mark.parametrize("role", FULL_ROLES)
def test_roles_with_nik_read_see_nik_and_contact_and_are_audited(
    server: Server, role: str, resident: dict[str, Any]
) -> None:
    """pemkot-admin, bpjstk-verifier, kelurahan-operator and auditor see the stored NIK and contact fields; the
    response writes one worker.nik:read event per worker shown, with the worker's global id as target, the
    role's agency and the worker's kelurahan as region, all under one request id."""
    api, who = api_for(server, role)
    nodes = [e["node"] for e in api.data(BUGUL_LOR_WORKERS, k=BUGUL_LOR, n=PAGE)["workers"]["edges"]]
    assert nodes
    stored = db_workers(server, [worker_pk(n["id"]) for n in nodes])
    for node in nodes:
        row = stored[worker_pk(node["id"])]
        assert node["nik"] == row["nik"]
        assert re.fullmatch(r"\d{16}", node["nik"])
        assert (node["phone"], node["address"], node["familyCardNumber"]) == (
            row["phone"],
            row["address"],
            row["familyCardNumber"],
        )

    events = nik_events(server, who)
    assert sorted(e[0] for e in events) == sorted(n["id"] for n in nodes)
    assert {e[1] for e in events} == {AGENCY[role]}
    assert {e[2] for e in events} == {BUGUL_LOR}
    assert len({e[3] for e in events}) == 1, "one request, one request id"


def test_one_event_per_worker_per_request(server: Server, resident: dict[str, Any]) -> None:
    """A response that shows the same full NIK several times (node, workerByNik, a list) writes one event for
    that worker; a second request writes a second one."""
    api, who = api_for(server, "pemkot-admin")
    nik = server.sql("SELECT nik FROM workers WHERE id = :w", w=worker_pk(resident["id"]))[0][0]
    result = api.result(EVERY_PATH, id=resident["id"], nik=nik, k=BUGUL_LOR)
    assert not result.errors, result.errors
    shown = {w["id"] for w in shown_workers(result.data)}
    assert [w["nik"] for w in shown_workers(result.data) if w["id"] == resident["id"]].count(nik) >= 2
    first = nik_events(server, who)
    assert sorted(e[0] for e in first) == sorted(shown)

    api.data(EVERY_PATH, id=resident["id"], nik=nik, k=BUGUL_LOR)
    second = nik_events(server, who)
    assert [e[0] for e in second].count(resident["id"]) == 2
    assert len({e[3] for e in second}) == 2


def test_reads_without_the_nik_field_are_not_audited(server: Server) -> None:
    """Only a shown NIK is a NIK read: listing names and contact fields writes no worker.nik:read event."""
    api, who = api_for(server, "pemkot-admin")
    edges = api.data(NAMES_ONLY, k=BUGUL_LOR)["workers"]["edges"]
    assert edges
    assert all(e["node"]["phone"] is not None for e in edges), "the control: contact fields are shown"
    assert nik_events(server, who) == []


def test_a_mutation_showing_the_nik_is_audited(server: Server) -> None:
    """registerWorker answering with the new worker's NIK writes its worker.nik:read event (with the
    worker:create event) in the mutation's own transaction."""
    api, who = api_for(server, "kelurahan-operator")
    payload = register_worker(api, BUGUL_LOR)
    assert payload["errors"] == [], payload
    worker_id = payload["worker"]["id"]
    assert re.fullmatch(r"\d{16}", payload["worker"]["nik"])
    assert [e[0] for e in nik_events(server, who)] == [worker_id]
    actions = server.sql("SELECT action FROM audit_events WHERE actor = :a AND target_id = :t", a=who, t=worker_id)
    assert sorted(a[0] for a in actions) == ["worker.nik:read", "worker:create"]


# --- reading the trail -----------------------------------------------------------------------------------


def test_auditor_reads_the_nik_events(server: Server, auditor: Api) -> None:
    """After a verifier is shown N full NIKs, the city auditor's `auditEvents(last:)` holds those N events
    (actor, agency, action, target) and its totalCount is every event of the city in the database."""
    api, who = api_for(server, "bpjstk-verifier")
    nodes = [e["node"] for e in api.data(BUGUL_LOR_WORKERS, k=BUGUL_LOR, n=5)["workers"]["edges"]]
    assert len(nodes) == 5

    connection = auditor.data(AUDIT_EVENTS, n=100)["auditEvents"]
    mine = [e["node"] for e in connection["edges"] if e["node"]["actor"] == who]
    assert sorted(e["targetId"] for e in mine) == sorted(n["id"] for n in nodes)
    assert {(e["agency"], e["action"]) for e in mine} == {("BPJSTK", "worker.nik:read")}
    assert all(e["at"] for e in mine)
    in_city = server.sql("SELECT count(*) FROM audit_events WHERE region_code LIKE :p", p=CITY + "%")[0][0]
    assert connection["totalCount"] == in_city

    # The same events through `node`, by their global ids.
    pk = int(server.sql("SELECT id FROM audit_events WHERE actor = :a ORDER BY id", a=who)[0][0])
    assert auditor.data(AUDIT_NODE, id=to_global_id("AuditEvent", pk))["node"]["action"] == "worker.nik:read"


def test_pemkot_admin_reads_the_audit_trail(server: Server) -> None:
    """pemkot-admin holds audit:read too: its auditEvents connection is the city's trail, its own reads included."""
    api, who = api_for(server, "pemkot-admin")
    shown = [e["node"]["id"] for e in api.data(BUGUL_LOR_WORKERS, k=BUGUL_LOR, n=3)["workers"]["edges"]]
    connection = api.data(AUDIT_EVENTS, n=len(shown))["auditEvents"]
    in_city = server.sql("SELECT count(*) FROM audit_events WHERE region_code LIKE :p", p=CITY + "%")[0][0]
    assert connection["totalCount"] == in_city
    newest = [e["node"] for e in connection["edges"]]
    assert sorted(e["targetId"] for e in newest) == sorted(shown)
    assert {(e["actor"], e["action"]) for e in newest} == {(who, "worker.nik:read")}


@pytest.mark.parametrize("role", NO_AUDIT_READ)
def test_roles_without_audit_read_get_an_empty_trail(server: Server, role: str) -> None:
    """Without audit:read, `auditEvents` is an empty connection (totalCount 0, no error), and `node` on an
    audit event answers null, although the role's own reads are in the trail."""
    api, _ = api_for(server, role)
    api.data(BUGUL_LOR_WORKERS, k=BUGUL_LOR, n=3)  # leaves NIK-read events for the roles that see NIKs
    result = api.result(AUDIT_EVENTS, n=50)
    assert not result.errors, result.errors
    assert result.data == {
        "auditEvents": {"totalCount": 0, "pageInfo": {"hasNextPage": False, "hasPreviousPage": False}, "edges": []}
    }
    some_event = int(server.sql("SELECT id FROM audit_events WHERE region_code = :k", k=BUGUL_LOR)[0][0])
    assert api.data(AUDIT_NODE, id=to_global_id("AuditEvent", some_event)) == {"node": None}
