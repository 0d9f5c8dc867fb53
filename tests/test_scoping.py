"""Leak tests: a worker outside a principal's region scope does not exist for that principal, on every path.

A "canary" worker is registered in Karangketug (kecamatan Gadingrejo) by the city-wide pemkot-admin, with a
recognisable name, NIK and phone, and an enrollment is proposed for it. The Bugul Lor kelurahan offices
(kecamatan Panggungrejo) then try every road to it: lists, filters, counts, `node`, `workerByNik`,
`kelurahan(code:)`, the region tree, enrollments, the dashboard and every mutation. Every response they get
is also searched, as raw JSON text, for the canary's name, NIK (full and masked), phone and ids.

Positive controls run the same queries with a principal that may see the canary, so that a query which
finds nothing for everyone cannot pass for a scoping rule.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from api.ids import to_global_id
from api.rules.months import next_month_start
from api.rules.nik import mask_nik
from tests.conftest import (
    BUGUL_LOR,
    CITY,
    KARANGKETUG,
    REGISTER,
    Api,
    Result,
    Server,
    new_nik,
    programme_today,
    register_worker,
    worker_input,
)
from tests.documents import PROPOSE

PANGGUNGREJO = BUGUL_LOR[:6]  # 357504, Bugul Lor's kecamatan
GADINGREJO = KARANGKETUG[:6]  # 357501, Karangketug's kecamatan
SEEDED_SOURCE = "DBHCHT-2025"
MISSING_PK = 99_999_999
OUTSIDERS = ["kelurahan-operator", "kelurahan-viewer"]

# --- documents -------------------------------------------------------------------------------------------

WORKER_FIELDS = "id nik fullName phone address familyCardNumber kelurahan { code }"

WORKERS = f"""
query Workers($filter: WorkerFilter, $after: String) {{
  workers(filter: $filter, first: 100, after: $after) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ {WORKER_FIELDS} }} }}
  }}
}}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    id
    ... on Worker { nik fullName phone kelurahan { code } }
    ... on Enrollment { status worker { id fullName } }
    ... on Kelurahan { code name }
  }
}
"""

WORKER_BY_NIK = f"query ByNik($nik: String!) {{ workerByNik(nik: $nik) {{ {WORKER_FIELDS} }} }}"

KELURAHAN = f"""
query Kelurahan($code: String!, $filter: WorkerFilter, $after: String) {{
  kelurahan(code: $code) {{
    id code name
    workers(filter: $filter, first: 100, after: $after) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      edges {{ node {{ {WORKER_FIELDS} }} }}
    }}
  }}
}}
"""

REGION_TREE = "{ cities { code kecamatan { code city { code } kelurahan { code kecamatan { code } } } } }"

ENROLLMENTS = """
query Enrollments($filter: EnrollmentFilter, $after: String) {
  enrollments(filter: $filter, first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id status worker { id fullName kelurahan { code } } } }
  }
}
"""

SUMMARY = """
{
  programmeSummary {
    workers activeEnrollments proposedEnrollments rejectedEnrollments
    byKelurahan { kelurahan { code } workers activeEnrollments proposedEnrollments }
    byOccupation { occupation workers activeEnrollments }
    funding { code }
  }
}
"""

AUDIT = """
query Audit($after: String) {
  auditEvents(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id actor action targetId detail } }
  }
}
"""

UPDATE = """
mutation Update($input: UpdateWorkerInput!) {
  updateWorker(input: $input) { worker { id fullName phone } errors { code field message } }
}
"""


VERIFY = """
mutation Verify($input: [VerificationResultInput!]!) {
  verifyEnrollments(input: $input) {
    outcomes { enrollmentId enrollment { id status } errors { code field message } }
  }
}
"""

TERMINATE = """
mutation Terminate($input: TerminateEnrollmentInput!) {
  terminateEnrollment(input: $input) { enrollment { id status } errors { code field message } }
}
"""

ALLOCATE = """
mutation Allocate($input: FundingAllocationInput!) {
  recordFundingAllocation(input: $input) { fundingSource { code } errors { code field message } }
}
"""

# --- the canary ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Canary:
    tag: str
    name: str
    nik: str
    phone: str
    worker_pk: int
    worker_id: str
    enrollment_pk: int
    enrollment_id: str
    source_code: str

    def secrets(self, *, ids: bool) -> dict[str, str]:
        """What must never appear in a response to a principal that cannot see the canary."""
        found = {"name": self.tag, "nik": self.nik, "masked nik": mask_nik(self.nik), "phone": self.phone}
        if ids:
            found |= {"worker id": self.worker_id, "enrollment id": self.enrollment_id}
        return found


def _proposal_source(admin: Api) -> str:
    """The seeded DBHCHT-2025 source while it still covers next month; otherwise a source opened for this run.

    `proposeEnrollment` refuses a source whose coverage has ended (SOURCE_CLOSED), and the seed's source ends
    on 2025-12-31, so from December 2025 on the canary is proposed under a source of the current fiscal year.
    """
    start = next_month_start(programme_today())
    if start <= date(2025, 12, 31):
        return SEEDED_SOURCE
    code = f"SCOPE-TEST-{secrets.token_hex(3).upper()}"
    payload = admin.data(
        ALLOCATE,
        input={
            "code": code,
            "name": "Leak-test source",
            "fiscalYear": start.year,
            "allocated": "100000000",
            "coverageStart": date(start.year, 1, 1).isoformat(),
            "coverageEnd": date(start.year, 12, 31).isoformat(),
        },
    )["recordFundingAllocation"]
    assert payload["errors"] == [], payload
    return code


@pytest.fixture(scope="module")
def canary(server: Server, admin: Api) -> Canary:
    """A Karangketug worker, registered and proposed by the city-wide pemkot-admin."""
    tag = f"Kanari{secrets.token_hex(4)}"
    name = f"Kanari Karangketug {tag}"
    nik = new_nik()
    phone = "0857" + "".join(secrets.choice("0123456789") for _ in range(8))
    assert server.sql("SELECT count(*) FROM workers WHERE phone = :p", p=phone) == [(0,)]
    registered = register_worker(
        admin,
        KARANGKETUG,
        nik=nik,
        fullName=name,
        phone=phone,
        address=f"Jl. {tag} No. 7, Karangketug",
        familyCardNumber="3575010101019999",
    )
    assert registered["errors"] == [], registered
    worker = registered["worker"]
    assert worker["kelurahan"]["code"] == KARANGKETUG
    worker_pk = int(server.sql("SELECT id FROM workers WHERE nik = :nik", nik=nik)[0][0])
    assert worker["id"] == to_global_id("Worker", worker_pk)

    source_code = _proposal_source(admin)
    proposed = admin.data(
        PROPOSE, input={"workerId": worker["id"], "fundingSourceCode": source_code, "programmes": ["JKK", "JKM"]}
    )["proposeEnrollment"]
    assert proposed["errors"] == [], proposed
    assert proposed["enrollment"]["status"] == "PROPOSED"
    enrollment_pk = int(server.sql("SELECT id FROM enrollments WHERE worker_id = :w", w=worker_pk)[0][0])
    assert proposed["enrollment"]["id"] == to_global_id("Enrollment", enrollment_pk)
    return Canary(
        tag=tag,
        name=name,
        nik=nik,
        phone=phone,
        worker_pk=worker_pk,
        worker_id=worker["id"],
        enrollment_pk=enrollment_pk,
        enrollment_id=proposed["enrollment"]["id"],
        source_code=source_code,
    )


@pytest.fixture(params=OUTSIDERS)
def outsider(request: pytest.FixtureRequest, server: Server) -> Api:
    """A Bugul Lor kelurahan office: the operator (full NIK, contacts) and the viewer (masked)."""
    role: str = request.param
    return server.api(role, BUGUL_LOR, subject=f"{role}-scoping@test")


@pytest.fixture
def local_verifier(server: Server) -> Api:
    """A BPJSTK verifier whose token names Bugul Lor only."""
    return server.api("bpjstk-verifier", BUGUL_LOR, subject="bpjstk-verifier-bugul-lor-scoping@test")


# --- helpers ---------------------------------------------------------------------------------------------


def assert_no_leak(result: Result, canary: Canary, *, ids: bool = True) -> None:
    """Nothing of the canary in the raw response: data, errors and extensions, serialised as JSON text."""
    raw = json.dumps({"data": result.data, "errors": result.errors, "extensions": result.extensions}, default=str)
    for what, value in canary.secrets(ids=ids).items():
        assert value not in raw, f"the canary's {what} ({value}) appears in the response: {raw[:2000]}"


def ask(api: Api, canary: Canary, query: str, *, ids: bool = True, **variables: Any) -> dict[str, Any]:
    """Run a query for a principal that must not see the canary: its data, with no GraphQL error and no trace of
    the canary anywhere in the raw response."""
    result = api.result(query, **variables)
    assert_no_leak(result, canary, ids=ids)
    assert not result.errors, result.errors
    assert result.data is not None
    return result.data


def pages(
    api: Api, query: str, path: list[str], *, canary: Canary | None = None, **variables: Any
) -> tuple[int, list[dict[str, Any]]]:
    """Every node of a connection (following endCursor) and its totalCount; with ``canary``, every page's raw
    response is also searched for it."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        data = (
            ask(api, canary, query, after=after, **variables) if canary else api.data(query, after=after, **variables)
        )
        connection: Any = data
        for key in path:
            connection = connection[key]
        nodes += [e["node"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return int(connection["totalCount"]), nodes
        after = connection["pageInfo"]["endCursor"]


def scan(api: Api, canary: Canary, query: str, path: list[str], **variables: Any) -> tuple[int, list[dict[str, Any]]]:
    """`pages` for a principal that must not see the canary."""
    return pages(api, query, path, canary=canary, **variables)


def count(server: Server, statement: str, **params: Any) -> int:
    return int(server.sql(statement, **params)[0][0])


def workers_in(server: Server, kelurahan_code: str) -> int:
    return count(server, "SELECT count(*) FROM workers WHERE kelurahan_code = :k", k=kelurahan_code)


def workers_under(server: Server, prefix: str) -> int:
    return count(server, "SELECT count(*) FROM workers WHERE kelurahan_code LIKE :p", p=prefix + "%")


def enrollments_in(server: Server, kelurahan_code: str, status: str | None = None) -> int:
    sql = "SELECT count(*) FROM enrollments e JOIN workers w ON w.id = e.worker_id WHERE w.kelurahan_code = :k"
    if status is None:
        return count(server, sql, k=kelurahan_code)
    return count(server, sql + " AND e.status = :s", k=kelurahan_code, s=status)


def kelurahan_pk(server: Server, code: str) -> int:
    return int(server.sql("SELECT id FROM kelurahan WHERE code = :c", c=code)[0][0])


@pytest.fixture
def unchanged(server: Server) -> Iterator[None]:
    """The test's refused mutations leave every application table exactly as it was."""
    before = server.snapshot()
    yield
    assert server.snapshot() == before, "a refused mutation changed the database"


# --- reads -----------------------------------------------------------------------------------------------


def test_workers_list_holds_only_bugul_lor(server: Server, canary: Canary, outsider: Api, admin: Api) -> None:
    """`workers` lists every Bugul Lor worker and nothing else; totalCount is the Bugul Lor count in the DB."""
    total, nodes = scan(outsider, canary, WORKERS, ["workers"])
    assert {n["kelurahan"]["code"] for n in nodes} == {BUGUL_LOR}
    assert canary.worker_id not in {n["id"] for n in nodes}
    expected = workers_in(server, BUGUL_LOR)
    assert total == len(nodes) == expected

    # Control: the city-wide admin's list is the whole city's, the canary included.
    admin_total, _ = pages(admin, WORKERS, ["workers"], filter={"kelurahanCode": KARANGKETUG})
    assert admin_total == workers_in(server, KARANGKETUG)
    assert admin.data(WORKERS, filter={"nameContains": canary.tag})["workers"]["totalCount"] == 1


@pytest.mark.parametrize(
    "make_filter",
    [
        pytest.param(lambda c: {"nameContains": c.tag}, id="nameContains-tag"),
        pytest.param(lambda c: {"nameContains": c.name.upper()}, id="nameContains-full-name"),
        pytest.param(lambda c: {"kelurahanCode": KARANGKETUG}, id="kelurahanCode"),
        pytest.param(lambda c: {"kecamatanCode": GADINGREJO}, id="kecamatanCode"),
        pytest.param(lambda c: {"nameContains": c.tag, "enrollmentStatus": "PROPOSED"}, id="enrollmentStatus"),
    ],
)
def test_filters_aimed_at_the_canary_find_nothing(
    server: Server, canary: Canary, outsider: Api, admin: Api, make_filter: Any
) -> None:
    """A filter that selects the canary (or its kelurahan or kecamatan) answers an empty list with totalCount 0,
    while the same filter finds it for the city-wide admin."""
    flt = make_filter(canary)
    connection = ask(outsider, canary, WORKERS, filter=flt)["workers"]
    assert connection["edges"] == []
    assert connection["totalCount"] == 0
    assert connection["pageInfo"]["hasNextPage"] is False

    control_total, control = pages(admin, WORKERS, ["workers"], filter=flt)
    assert canary.worker_id in {n["id"] for n in control}
    assert control_total == len(control) >= 1


def test_node_answers_null_as_for_a_missing_id(server: Server, canary: Canary, outsider: Api, admin: Api) -> None:
    """`node` answers null for the canary worker, its enrollment and its kelurahan, exactly as for ids that do
    not exist; the admin gets all three."""
    karangketug_id = to_global_id("Kelurahan", kelurahan_pk(server, KARANGKETUG))
    missing = {
        "Worker": to_global_id("Worker", MISSING_PK),
        "Enrollment": to_global_id("Enrollment", MISSING_PK),
        "Kelurahan": to_global_id("Kelurahan", MISSING_PK),
    }
    for type_name, target in [
        ("Worker", canary.worker_id),
        ("Enrollment", canary.enrollment_id),
        ("Kelurahan", karangketug_id),
    ]:
        hidden = ask(outsider, canary, NODE, id=target)
        absent = ask(outsider, canary, NODE, id=missing[type_name])
        assert hidden == absent == {"node": None}, type_name

    assert admin.data(NODE, id=canary.worker_id)["node"]["fullName"] == canary.name
    assert admin.data(NODE, id=canary.enrollment_id)["node"]["worker"]["id"] == canary.worker_id
    assert admin.data(NODE, id=karangketug_id)["node"]["code"] == KARANGKETUG


def test_worker_by_nik_answers_null(canary: Canary, outsider: Api, admin: Api) -> None:
    """`workerByNik` with the canary's full NIK answers null, as for a NIK nobody holds."""
    hidden = ask(outsider, canary, WORKER_BY_NIK, nik=canary.nik)
    absent = ask(outsider, canary, WORKER_BY_NIK, nik=new_nik())
    assert hidden == absent == {"workerByNik": None}

    assert admin.data(WORKER_BY_NIK, nik=canary.nik)["workerByNik"]["id"] == canary.worker_id


def test_kelurahan_by_code(server: Server, canary: Canary, outsider: Api, admin: Api) -> None:
    """`kelurahan(code: KARANGKETUG)` is null; Bugul Lor's `workers` hold Bugul Lor workers only, and cannot be
    steered to another kelurahan by a filter."""
    hidden = ask(outsider, canary, KELURAHAN, code=KARANGKETUG)
    absent = ask(outsider, canary, KELURAHAN, code="3575049999")
    assert hidden == absent == {"kelurahan": None}

    total, nodes = scan(outsider, canary, KELURAHAN, ["kelurahan", "workers"], code=BUGUL_LOR)
    assert {n["kelurahan"]["code"] for n in nodes} == {BUGUL_LOR}
    assert total == len(nodes) == workers_in(server, BUGUL_LOR)

    for flt in ({"kelurahanCode": KARANGKETUG}, {"kecamatanCode": GADINGREJO}, {"nameContains": canary.tag}):
        steered = ask(outsider, canary, KELURAHAN, code=BUGUL_LOR, filter=flt)["kelurahan"]
        assert steered["workers"]["edges"] == [], flt
        assert steered["workers"]["totalCount"] == 0, flt

    control = admin.data(KELURAHAN, code=KARANGKETUG, filter={"nameContains": canary.tag})["kelurahan"]
    assert [e["node"]["id"] for e in control["workers"]["edges"]] == [canary.worker_id]


def test_region_tree_shows_only_bugul_lor_and_its_ancestors(server: Server, canary: Canary, outsider: Api) -> None:
    """`cities { kecamatan { kelurahan } }` holds Kota Pasuruan, Panggungrejo and Bugul Lor, nothing else."""
    data = ask(outsider, canary, REGION_TREE)
    assert data == {
        "cities": [
            {
                "code": CITY,
                "kecamatan": [
                    {
                        "code": PANGGUNGREJO,
                        "city": {"code": CITY},
                        "kelurahan": [{"code": BUGUL_LOR, "kecamatan": {"code": PANGGUNGREJO}}],
                    }
                ],
            }
        ]
    }


def test_region_tree_control_admin_sees_every_kelurahan(server: Server, admin: Api) -> None:
    """Control for the region tree: the city-wide admin sees all of the city's kelurahan, Karangketug included."""
    data = admin.data(REGION_TREE)
    seen = sorted(kel["code"] for c in data["cities"] for k in c["kecamatan"] for kel in k["kelurahan"])
    expected = sorted(r[0] for r in server.sql("SELECT code FROM kelurahan WHERE code LIKE :p", p=CITY + "%"))
    assert seen == expected
    assert KARANGKETUG in seen


def test_enrollments_hold_only_bugul_lor(server: Server, canary: Canary, outsider: Api, admin: Api) -> None:
    """`enrollments` lists Bugul Lor enrollments only (totalCount = DB count); a kelurahan filter pointing at
    Karangketug is empty, while the admin finds the canary's proposal there."""
    total, nodes = scan(outsider, canary, ENROLLMENTS, ["enrollments"])
    assert {n["worker"]["kelurahan"]["code"] for n in nodes} <= {BUGUL_LOR}
    assert canary.enrollment_id not in {n["id"] for n in nodes}
    assert total == len(nodes) == enrollments_in(server, BUGUL_LOR)

    steered = ask(outsider, canary, ENROLLMENTS, filter={"kelurahanCode": KARANGKETUG})["enrollments"]
    assert steered["edges"] == []
    assert steered["totalCount"] == 0

    control_total, control = pages(
        admin, ENROLLMENTS, ["enrollments"], filter={"kelurahanCode": KARANGKETUG, "status": "PROPOSED"}
    )
    assert canary.enrollment_id in {n["id"] for n in control}
    assert control_total == enrollments_in(server, KARANGKETUG, "PROPOSED")


def test_programme_summary_counts_bugul_lor_only(server: Server, canary: Canary, outsider: Api, admin: Api) -> None:
    """`programmeSummary` counts Bugul Lor only, lists Bugul Lor alone by kelurahan, and hides funding."""
    s = ask(outsider, canary, SUMMARY)["programmeSummary"]
    assert s["workers"] == workers_in(server, BUGUL_LOR)
    assert s["proposedEnrollments"] == enrollments_in(server, BUGUL_LOR, "PROPOSED")
    assert s["activeEnrollments"] == enrollments_in(server, BUGUL_LOR, "ACTIVE")
    assert s["rejectedEnrollments"] == enrollments_in(server, BUGUL_LOR, "REJECTED")
    assert [k["kelurahan"]["code"] for k in s["byKelurahan"]] == [BUGUL_LOR]
    assert s["byKelurahan"][0]["workers"] == s["workers"]
    assert s["byKelurahan"][0]["proposedEnrollments"] == s["proposedEnrollments"]
    assert sum(o["workers"] for o in s["byOccupation"]) == s["workers"]
    assert s["funding"] is None

    control = admin.data(SUMMARY)["programmeSummary"]
    assert control["workers"] == workers_under(server, CITY)
    by_code = {k["kelurahan"]["code"]: k for k in control["byKelurahan"]}
    assert by_code[KARANGKETUG]["workers"] == workers_in(server, KARANGKETUG)
    assert by_code[KARANGKETUG]["proposedEnrollments"] == enrollments_in(server, KARANGKETUG, "PROPOSED")
    assert control["funding"] is not None


def test_kelurahan_auditor_does_not_see_the_canarys_trail(server: Server, canary: Canary) -> None:
    """A Bugul Lor-scoped auditor reads Bugul Lor's audit events only: not the canary's registration, proposal or
    NIK reads; `node` on one of those events answers null."""
    auditor = server.api("auditor", BUGUL_LOR, subject="auditor-bugul-lor-scoping@test")
    total, events = scan(auditor, canary, AUDIT, ["auditEvents"])
    assert (
        total == len(events) == count(server, "SELECT count(*) FROM audit_events WHERE region_code = :k", k=BUGUL_LOR)
    )
    assert not {canary.worker_id, canary.enrollment_id} & {e["targetId"] for e in events}

    event_pk = int(server.sql("SELECT id FROM audit_events WHERE target_id = :t ORDER BY id", t=canary.worker_id)[0][0])
    event_id = to_global_id("AuditEvent", event_pk)
    assert ask(auditor, canary, NODE, id=event_id) == {"node": None}
    city_auditor = server.api("auditor", CITY, subject="auditor-city-scoping@test")
    assert city_auditor.data(NODE, id=event_id)["node"] == {"id": event_id}


# --- mutations -------------------------------------------------------------------------------------------


def _not_found(errors: list[dict[str, Any]]) -> str:
    """The message of a single NOT_FOUND user error."""
    assert [e["code"] for e in errors] == ["NOT_FOUND"], errors
    return str(errors[0]["message"])


@pytest.mark.usefixtures("unchanged")
def test_update_worker_on_the_canary_is_not_found(canary: Canary, operator: Api, server: Server) -> None:
    """The Bugul Lor operator's updateWorker on the canary answers NOT_FOUND, word for word as for a missing
    worker, and changes nothing."""
    changes = {"fullName": "Diganti", "phone": "081299999999"}
    hidden = ask(operator, canary, UPDATE, input={"id": canary.worker_id, **changes})
    absent = ask(operator, canary, UPDATE, input={"id": to_global_id("Worker", MISSING_PK), **changes})
    assert hidden == absent
    payload = hidden["updateWorker"]
    assert payload["worker"] is None
    assert _not_found(payload["errors"]) == _not_found(absent["updateWorker"]["errors"])


def test_update_worker_control_admin_finds_the_canary(canary: Canary, admin: Api) -> None:
    """Control: the city-wide admin's updateWorker reaches the canary (a no-op rename to its own name)."""
    payload = admin.data(UPDATE, input={"id": canary.worker_id, "fullName": canary.name})["updateWorker"]
    assert payload["errors"] == []
    assert payload["worker"]["id"] == canary.worker_id


@pytest.mark.usefixtures("unchanged")
def test_propose_enrollment_for_the_canary_is_not_found(canary: Canary, operator: Api, admin: Api) -> None:
    """The Bugul Lor operator's proposeEnrollment for the canary answers NOT_FOUND as for a missing worker;
    the admin, who sees it, is told it already has a proposal (DUPLICATE_PROPOSAL): found, not absent."""
    proposal = {"fundingSourceCode": canary.source_code, "programmes": ["JKK", "JKM"]}
    hidden = ask(operator, canary, PROPOSE, input={"workerId": canary.worker_id, **proposal})
    absent = ask(operator, canary, PROPOSE, input={"workerId": to_global_id("Worker", MISSING_PK), **proposal})
    assert hidden == absent
    payload = hidden["proposeEnrollment"]
    assert payload["enrollment"] is None
    assert _not_found(payload["errors"]) == _not_found(absent["proposeEnrollment"]["errors"])

    control = admin.data(PROPOSE, input={"workerId": canary.worker_id, **proposal})["proposeEnrollment"]
    assert [e["code"] for e in control["errors"]] == ["DUPLICATE_PROPOSAL"]


def _approval(enrollment_id: str, membership_number: str) -> dict[str, Any]:
    return {"enrollmentId": enrollment_id, "approved": True, "membershipNumber": membership_number}


@pytest.mark.usefixtures("unchanged")
def test_verify_the_canarys_enrollment_is_not_found(
    server: Server, canary: Canary, local_verifier: Api, verifier: Api
) -> None:
    """A verifier scoped to Bugul Lor cannot verify the canary's proposal: NOT_FOUND, as for a missing id. The
    province-wide verifier reaches it (its bad KPJ is refused after the enrollment was found)."""
    kpj = "9" + "".join(secrets.choice("0123456789") for _ in range(10))
    missing = to_global_id("Enrollment", MISSING_PK)
    hidden = ask(local_verifier, canary, VERIFY, ids=False, input=[_approval(canary.enrollment_id, kpj)])
    absent = ask(local_verifier, canary, VERIFY, input=[_approval(missing, kpj)])
    [outcome] = hidden["verifyEnrollments"]["outcomes"]
    [absent_outcome] = absent["verifyEnrollments"]["outcomes"]
    assert outcome["enrollment"] is None
    assert outcome["errors"] == absent_outcome["errors"]
    _not_found(outcome["errors"])

    # Control (also refused, so the database stays unchanged): the province-wide verifier finds it.
    control = verifier.data(VERIFY, input=[_approval(canary.enrollment_id, "not-a-kpj")])
    [c] = control["verifyEnrollments"]["outcomes"]
    assert [e["code"] for e in c["errors"]] == ["INVALID_MEMBERSHIP_NUMBER"]


@pytest.mark.usefixtures("unchanged")
def test_terminate_the_canarys_enrollment_is_not_found(canary: Canary, local_verifier: Api, verifier: Api) -> None:
    """A verifier scoped to Bugul Lor cannot terminate the canary's enrollment: NOT_FOUND, as for a missing id;
    the province-wide verifier is told the proposal cannot be terminated (INVALID_TRANSITION): found."""
    terms = {"reason": "MOVED_OUT", "effectiveDate": programme_today().isoformat()}
    hidden = ask(local_verifier, canary, TERMINATE, input={"enrollmentId": canary.enrollment_id, **terms})
    absent = ask(
        local_verifier,
        canary,
        TERMINATE,
        input={"enrollmentId": to_global_id("Enrollment", MISSING_PK), **terms},
    )
    assert hidden == absent
    payload = hidden["terminateEnrollment"]
    assert payload["enrollment"] is None
    _not_found(payload["errors"])

    control = verifier.data(TERMINATE, input={"enrollmentId": canary.enrollment_id, **terms})["terminateEnrollment"]
    assert [e["code"] for e in control["errors"]] == ["INVALID_TRANSITION"]


@pytest.mark.usefixtures("unchanged")
def test_registering_the_canarys_nik_says_only_duplicate(server: Server, canary: Canary, operator: Api) -> None:
    """The NIK is unique city-wide, so registering the canary's NIK in Bugul Lor must fail; it fails with the
    very answer a duplicate of a Bugul Lor resident's NIK gets, which names neither the holder nor its kelurahan."""
    in_scope_nik = server.sql("SELECT nik FROM workers WHERE kelurahan_code = :k ORDER BY id", k=BUGUL_LOR)[0][0]
    hidden = ask(operator, canary, REGISTER, input=worker_input(BUGUL_LOR, nik=canary.nik))
    local = ask(operator, canary, REGISTER, input=worker_input(BUGUL_LOR, nik=in_scope_nik))
    assert hidden == local
    payload = hidden["registerWorker"]
    assert payload["worker"] is None
    assert [e["code"] for e in payload["errors"]] == ["DUPLICATE_NIK"]
    assert KARANGKETUG not in json.dumps(hidden)


def test_the_canary_is_still_proposed(server: Server, canary: Canary) -> None:
    """After every refused mutation, the canary and its proposal are as the admin left them."""
    assert server.sql("SELECT full_name, phone FROM workers WHERE id = :w", w=canary.worker_pk) == [
        (canary.name, canary.phone)
    ]
    assert server.sql("SELECT status FROM enrollments WHERE worker_id = :w", w=canary.worker_pk) == [("PROPOSED",)]


# --- wider scopes ----------------------------------------------------------------------------------------


def test_kecamatan_scoped_admin_sees_panggungrejo_not_gadingrejo(server: Server, canary: Canary) -> None:
    """A pemkot-admin scoped to kecamatan Panggungrejo (357504) sees Bugul Lor's workers and every Panggungrejo
    worker, but neither Karangketug nor the canary."""
    kec_admin = server.api("pemkot-admin", PANGGUNGREJO, subject="pemkot-admin-357504-scoping@test")
    bugul, nodes = scan(kec_admin, canary, WORKERS, ["workers"], filter={"kelurahanCode": BUGUL_LOR})
    assert bugul == len(nodes) == workers_in(server, BUGUL_LOR) > 0
    everyone = ask(kec_admin, canary, WORKERS, filter=None)["workers"]["totalCount"]
    assert everyone == workers_under(server, PANGGUNGREJO)
    for flt in ({"kelurahanCode": KARANGKETUG}, {"nameContains": canary.tag}):
        assert ask(kec_admin, canary, WORKERS, filter=flt)["workers"]["totalCount"] == 0
    assert ask(kec_admin, canary, NODE, id=canary.worker_id) == {"node": None}
    assert ask(kec_admin, canary, KELURAHAN, code=KARANGKETUG) == {"kelurahan": None}
    assert ask(kec_admin, canary, KELURAHAN, code=BUGUL_LOR)["kelurahan"]["code"] == BUGUL_LOR


def test_province_scoped_verifier_sees_both_kelurahan(server: Server, canary: Canary, verifier: Api) -> None:
    """A bpjstk-verifier scoped to the province (35) sees Bugul Lor's workers and the Karangketug canary."""
    assert verifier.data(WORKERS, filter={"kelurahanCode": BUGUL_LOR})["workers"]["totalCount"] == workers_in(
        server, BUGUL_LOR
    )
    assert verifier.data(WORKERS, filter={"kelurahanCode": KARANGKETUG})["workers"]["totalCount"] == workers_in(
        server, KARANGKETUG
    )
    found = verifier.data(WORKERS, filter={"nameContains": canary.tag})["workers"]
    assert [e["node"]["id"] for e in found["edges"]] == [canary.worker_id]
    assert found["edges"][0]["node"]["nik"] == canary.nik
    assert verifier.data(NODE, id=canary.enrollment_id)["node"]["status"] == "PROPOSED"
    assert verifier.data(WORKER_BY_NIK, nik=canary.nik)["workerByNik"]["phone"] == canary.phone
