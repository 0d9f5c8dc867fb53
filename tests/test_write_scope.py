"""Writes are scoped like reads: a mutation acts on a row only when the principal's scope covers the row's region,
and a row outside answers byte for byte as a row that was never created (access.md, "How a refusal looks").

Each mutation that names a target is sent by principals at every position around one real target: inside its
scope (the control: it gets past the lookup to a later rule, which refuses it so nothing changes), the target a
parent row above the scope (a city-wide funding source or bill, seen from a kecamatan or kelurahan), a sibling
kelurahan, and another city. Outside, the answer must equal, once ids are set aside, the answer to the same
request naming an id (or code) never issued, and the database must not change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from api.ids import to_global_id
from tests.conftest import BUGUL_LOR, CITY, KARANGKETUG, Api, Server, worker_input
from tests.test_policies import Ids, ids  # noqa: F401 - ids is a fixture

SOURCE = "DBHCHT-2025"
NEVER_CODE = "NEVER-ALLOCATED-9"
NEVER_PK = 99_999_999
OTHER_CITY = "3573"  # Kota Malang
OTHER_CITY_KELURAHAN = "3573011001"
PANGGUNGREJO = BUGUL_LOR[:6]
OPERATOR = "kelurahan-operator"


@dataclass(frozen=True)
class Targets:
    worker: str
    enrollment: str
    bill: str
    nik: str


@pytest.fixture(scope="module")
def targets(server: Server, ids: Ids) -> Targets:
    """The seeded rows of tests/test_policies.py (an ACTIVE Bugul Lor worker, its enrollment, a city bill), and
    the worker's NIK."""
    node = server.api("auditor").data("query($id: ID!) { node(id: $id) { ... on Worker { nik } } }", id=ids.worker)
    return Targets(ids.worker, ids.enrollment, ids.bill, node["node"]["nik"])


@dataclass(frozen=True)
class Case:
    """A mutation by ``role`` against a target; ``request(target)`` builds its document and variables."""

    name: str
    role: str
    inside: str  # a scope covering the target
    outside: dict[str, str]  # position -> a scope that does not cover it
    target: Callable[[Targets], str]
    never: str
    request: Callable[[str, Targets], tuple[str, dict[str, Any]]]


def _payload(name: str, arg: str = "input") -> str:
    return f"{{ {name}({arg}: $i) {{ errors {{ code field message }} }} }}"


def _update(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    return f"mutation($i: UpdateWorkerInput!) {_payload('updateWorker')}", {"i": {"id": target, "fullName": " "}}


def _move(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    variables = {"i": {"workerId": target, "toKelurahanCode": BUGUL_LOR, "effectiveDate": "2025-06-01"}}
    return f"mutation($i: MoveWorkerInput!) {_payload('moveWorker')}", variables


def _propose(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    variables = {"i": {"workerId": target, "fundingSourceCode": SOURCE, "programmes": ["JHT"]}}
    return f"mutation($i: ProposeEnrollmentInput!) {_payload('proposeEnrollment')}", variables


def _verify(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    document = (
        "mutation($i: [VerificationResultInput!]!) {"
        " verifyEnrollments(input: $i) { outcomes { enrollmentId errors { code field message } } } }"
    )
    return document, {"i": [{"enrollmentId": target, "approved": True, "membershipNumber": "not-a-kpj"}]}


def _terminate(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    variables = {"i": {"enrollmentId": target, "reason": "OTHER", "effectiveDate": "2000-01-01"}}
    return f"mutation($i: TerminateEnrollmentInput!) {_payload('terminateEnrollment')}", variables


def _issue(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    variables = {"i": {"fundingSourceCode": target, "period": "2025-01"}}  # January: outside the coverage
    return f"mutation($i: IssueContributionBillInput!) {_payload('issueContributionBill')}", variables


def _pay(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    variables = {"i": {"billId": target, "paidAt": "2025-10-01T09:00:00+07:00", "amount": "1"}}
    return f"mutation($i: BillPaymentInput!) {_payload('recordBillPayment')}", variables


def _allocate(target: str, _t: Targets) -> tuple[str, dict[str, Any]]:
    # Below what is billed already: refused by a rule once the source is found, so nothing changes.
    variables = {"i": {"code": target, "name": "Revisi uji", "fiscalYear": 2025, "allocated": "1"}}
    return f"mutation($i: FundingAllocationInput!) {_payload('recordFundingAllocation')}", variables


def _register(target: str, t: Targets) -> tuple[str, dict[str, Any]]:
    # The NIK of a registered worker: refused as a duplicate once the kelurahan is found, so nothing is created.
    variables = {"i": worker_input(target, nik=t.nik)}
    return f"mutation($i: RegisterWorkerInput!) {_payload('registerWorker')}", variables


WORKER_OUTSIDE = {"sibling kelurahan": KARANGKETUG, "another city": OTHER_CITY_KELURAHAN}
ROW_OUTSIDE = {"sibling kecamatan": KARANGKETUG[:6], "sibling kelurahan": KARANGKETUG, "another city": OTHER_CITY}
CITY_OUTSIDE = {"above a kecamatan": PANGGUNGREJO, "above a kelurahan": BUGUL_LOR, "another city": OTHER_CITY}

CASES = [
    Case("registerWorker", OPERATOR, BUGUL_LOR, WORKER_OUTSIDE, lambda _: BUGUL_LOR, "3575049999", _register),
    Case("updateWorker", OPERATOR, BUGUL_LOR, WORKER_OUTSIDE, lambda t: t.worker, "Worker", _update),
    Case("moveWorker", OPERATOR, BUGUL_LOR, WORKER_OUTSIDE, lambda t: t.worker, "Worker", _move),
    Case("proposeEnrollment", OPERATOR, BUGUL_LOR, WORKER_OUTSIDE, lambda t: t.worker, "Worker", _propose),
    Case("verifyEnrollments", "bpjstk-verifier", CITY, ROW_OUTSIDE, lambda t: t.enrollment, "Enrollment", _verify),
    Case("terminateEnrollment", "bpjstk-verifier", CITY, ROW_OUTSIDE, lambda t: t.enrollment, "Enrollment", _terminate),
    Case("issueContributionBill", "bpjstk-verifier", CITY, CITY_OUTSIDE, lambda t: SOURCE, NEVER_CODE, _issue),
    Case("recordBillPayment", "pemkot-admin", CITY, CITY_OUTSIDE, lambda t: t.bill, "ContributionBill", _pay),
    Case(
        "recordFundingAllocation",
        "pemkot-admin",
        CITY,
        {"above a kecamatan": PANGGUNGREJO, "above a kelurahan": BUGUL_LOR},
        lambda t: SOURCE,
        NEVER_CODE,
        _allocate,
    ),
]


def _never(case: Case) -> str:
    """A target never issued: an id of the same type with a primary key no row has, or an unused code."""
    return to_global_id(case.never, NEVER_PK) if case.never[0].isupper() and "-" not in case.never else case.never


def _answer(api: Api, case: Case, target: str, targets: Targets) -> str:
    document, variables = case.request(target, targets)
    result = api.result(document, **variables)
    text = json.dumps({"data": result.data, "errors": result.errors}, sort_keys=True)
    return text.replace(target, "<TARGET>")


@pytest.mark.parametrize(
    ("case", "position"),
    [(c, p) for c in CASES for p in c.outside],
    ids=[f"{c.name}-{p}" for c in CASES for p in c.outside],
)
def test_outside_the_scope_answers_as_never_issued(server: Server, targets: Targets, case: Case, position: str) -> None:
    api = server.api(case.role, scope=case.outside[position], subject=f"{case.role}-{position}@write-scope")
    before = server.snapshot()
    real = _answer(api, case, case.target(targets), targets)
    never = _answer(api, case, _never(case), targets)
    assert server.snapshot() == before
    assert real == never
    assert "FORBIDDEN" not in real


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_inside_the_scope_the_target_is_found(server: Server, targets: Targets, case: Case) -> None:
    """The control: inside, the same request gets past the lookup (a later rule refuses it; nothing changes)."""
    api = server.api(case.role, scope=case.inside, subject=f"{case.role}-inside@write-scope")
    before = server.snapshot()
    real = _answer(api, case, case.target(targets), targets)
    assert server.snapshot() == before
    assert '"code": "' in real, real  # refused by a rule past the lookup
    assert "NOT_FOUND" not in real, real
    assert "OUT_OF_SCOPE" not in real, real


def test_another_citys_allocation_of_a_taken_code_changes_nothing(server: Server) -> None:
    """Funding codes are one namespace for the province: another city's administrator naming Kota Pasuruan's
    code is refused (CONFLICT, "taken"), learns nothing of the source, and changes nothing. (A code never
    issued would create a source of its own city, so no answer can be the same here: the refusal names no
    region, amount or date.)"""
    api = server.api("pemkot-admin", scope=OTHER_CITY, subject="admin@kota-malang")
    before = server.snapshot()
    document, variables = _allocate(SOURCE, Targets("", "", "", ""))
    variables["i"]["allocated"] = "999999999"
    result = api.result(document, **variables)
    assert server.snapshot() == before
    assert result.data is not None
    [error] = result.data["recordFundingAllocation"]["errors"]
    assert error["code"] == "CONFLICT"
    assert error["message"] == f"code: {SOURCE} is taken; look again, or choose another code."
