"""The Casbin policy against the agreed access matrix, cell by cell, and the same decisions as the API serves them.

Everything here is read from the real files: the permissions and roles tables of ``tests/access_matrix.md`` and
``api/policies/policy.csv``. A change to either that the other does not follow fails a test naming the cell.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.policies.authorizer import GRANT, MODEL_FILE, POLICY_FILE, REVOKE, SUSPEND, Authorizer, Override
from api.policies.permissions import Permission
from db.scoping import REGION_LEVELS
from tests.conftest import BUGUL_LOR, TYPICAL_SCOPE, Api, Server, worker_input

MATRIX_FILE = Path(__file__).parent / "access_matrix.md"
TICK, NO_TICK = "✓", "–"
SOURCE_CODE = "DBHCHT-2025"
# One region code of each level, all on the path to Bugul Lor (so every seeded row used below lies inside them).
LEVEL_CODES = {"province": "35", "city": "3575", "kecamatan": "357504", "kelurahan": BUGUL_LOR}


# --- the access matrix, parsed -----------------------------------------------------------------------------------


def _section(markdown: str, heading: str) -> str:
    """The text under a ``## heading`` up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", markdown, re.MULTILINE | re.DOTALL)
    assert match, f"access_matrix.md has no '## {heading}' section"
    return match.group(1)


def _table(section: str) -> tuple[list[str], list[list[str]]]:
    """The first markdown table of a section: its header cells and its body rows (cells stripped)."""
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    assert len(lines) >= 3, "expected a markdown table with a header, a rule and rows"
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, rule, body = rows[0], rows[1], rows[2:]
    assert all(set(cell) <= set("-: ") for cell in rule), f"second table line is not a rule: {rule}"
    return header, body


@dataclass(frozen=True)
class Cell:
    """One cell of the permissions table: may ``role`` do ``permission``?"""

    role: str
    permission: str
    ticked: bool

    @property
    def resource_action(self) -> tuple[str, str]:
        resource, _, action = self.permission.rpartition(":")
        return resource, action


def _parse_matrix() -> tuple[dict[str, str], list[Cell]]:
    """(role -> agency from the Principals table, every cell of the Permissions table)."""
    markdown = MATRIX_FILE.read_text(encoding="utf-8")

    header, body = _table(_section(markdown, "Principals"))
    assert header[:2] == ["role", "agency"], header
    agencies = {row[0].strip("`"): row[1] for row in body}

    header, body = _table(_section(markdown, "Permissions (resource:action), inside the principal's scope only"))
    assert header[0] == "permission", header
    roles = header[1:]
    assert roles == list(agencies), f"permission columns {roles} differ from the roles table {list(agencies)}"
    cells: list[Cell] = []
    for row in body:
        assert len(row) == len(header), f"row has {len(row)} cells, header {len(header)}: {row}"
        permissions = re.findall(r"`([^`]+)`", row[0])
        assert permissions, f"no `resource:action` in {row[0]!r}"
        for mark, role in zip(row[1:], roles, strict=True):
            assert mark in (TICK, NO_TICK), f"cell {row[0]} / {role} is {mark!r}, expected {TICK} or {NO_TICK}"
            cells.extend(Cell(role, permission, mark == TICK) for permission in permissions)
    return agencies, cells


AGENCIES, CELLS = _parse_matrix()
ROLES = list(AGENCIES)


def ticked(role: str) -> set[str]:
    """The permissions the matrix grants a role."""
    return {c.permission for c in CELLS if c.role == role and c.ticked}


# --- policy.csv, parsed ------------------------------------------------------------------------------------------


def _policy_lines() -> list[list[str]]:
    lines = [line for line in POLICY_FILE.read_text(encoding="utf-8").splitlines() if line.strip() and line[0] != "#"]
    return [[field.strip() for field in row] for row in csv.reader(lines, skipinitialspace=True)]


POLICY = _policy_lines()
P_LINES = [row for row in POLICY if row[0] == "p"]
PERMISSION_LINES = [row for row in P_LINES if row[2] != "scope"]
SCOPE_LEVELS_ALLOWED = {(row[1], row[3]) for row in P_LINES if row[2] == "scope" and row[4] == "allow"}


@pytest.fixture(scope="module")
def authorizer() -> Authorizer:
    return Authorizer(MODEL_FILE, POLICY_FILE)


def test_matrix_parses_to_every_role_and_permission() -> None:
    """The parser found the whole matrix: six roles, every permission for each, so an empty parse cannot pass."""
    assert ROLES == [
        "pemkot-admin",
        "pemkot-analyst",
        "bpjstk-verifier",
        "kelurahan-operator",
        "kelurahan-viewer",
        "auditor",
    ]
    permissions = {c.permission for c in CELLS}
    assert len(permissions) >= 15, sorted(permissions)
    assert len(CELLS) == len(permissions) * len(ROLES)
    assert {"worker:create", "worker:update", "worker:move", "worker.nik:read", "bill:pay"} <= permissions


@pytest.mark.parametrize(
    "cell", CELLS, ids=[f"{c.role}-{c.permission}-{'allow' if c.ticked else 'deny'}" for c in CELLS]
)
def test_matrix_cell(authorizer: Authorizer, cell: Cell) -> None:
    """The Casbin decision for one (role, resource:action) equals the matrix's tick."""
    resource, action = cell.resource_action
    assert authorizer.allows(cell.role, resource, action) is cell.ticked


@pytest.mark.parametrize("line", PERMISSION_LINES, ids=[f"{row[1]}-{row[2]}:{row[3]}" for row in PERMISSION_LINES])
def test_policy_grants_nothing_outside_the_matrix(line: list[str]) -> None:
    """Every permission line of policy.csv is an allow for a cell the matrix ticks (no extra grant, no deny)."""
    _p, role, resource, action, effect = line
    assert effect == "allow", line
    assert Cell(role, f"{resource}:{action}", True) in CELLS, f"policy.csv grants {line}, the matrix does not"


def test_policy_roles_and_agencies_match_the_matrix(authorizer: Authorizer) -> None:
    """The g2 lines name exactly the matrix's roles, each with its agency; an unknown role is allowed nothing."""
    assert authorizer.roles() == AGENCIES
    assert all(row[1] in AGENCIES for row in P_LINES), "policy.csv names a role the matrix does not"
    assert not authorizer.allows("nobody", "worker", "read")
    assert not authorizer.allows("PEMKOT", "worker", "read")  # an agency is not a role


@pytest.mark.parametrize("role", ROLES)
def test_permissions_of_role_equal_the_matrix(authorizer: Authorizer, role: str) -> None:
    """What the authorizer lists for a role (and the viewer shows) is exactly its ticked permissions."""
    assert {str(p) for p in authorizer.permissions_of(role)} == ticked(role)


def test_batched_decisions_are_the_one_by_one_decisions() -> None:
    """A compiled read's plan key asks for every permission at once (Authorizer.decisions, remembered per policy
    state): it must answer as permits() does, one by one, for every role, under overrides applied at run time,
    in and out of their region, and for a suspended subject; applying a change must not leave a stale batch."""
    authorizer = Authorizer(MODEL_FILE, POLICY_FILE)
    every = tuple(sorted({Permission(*c.resource_action) for c in CELLS}, key=str))
    cases = [
        (role, subject, scope)
        for role in ROLES
        for subject in ("someone", "suspended-one")
        for scope in (("3575",), ("3575041010",), ("3573",))
    ]

    def check() -> list[tuple[bool, ...]]:
        seen = []
        for role, subject, scope in cases:
            batch = authorizer.decisions(role, every, subject, scope)
            assert batch == tuple(authorizer.permits(role, p, subject, scope) for p in every), (role, subject, scope)
            assert authorizer.decisions(role, every, subject, scope) == batch  # remembered, same answer
            seen.append(batch)
        return seen

    before = check()
    granted, revoked = every[0], every[-1]
    authorizer.apply(
        [
            Override(GRANT, "kelurahan-viewer", granted.resource, granted.action, region="3575"),
            Override(REVOKE, "pemkot-admin", revoked.resource, revoked.action, region="3575"),
            Override(SUSPEND, subject="suspended-one", region="3575"),
        ]
    )
    after = check()
    assert before != after, "the overrides changed no batched decision: the check above would prove nothing"
    authorizer.apply([])
    assert check() == before


# --- the same decisions, served ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apis(server: Server) -> dict[str, Api]:
    """One client per role, at its typical scope."""
    return {role: server.api(role) for role in ROLES}


VIEWER = "{ viewer { subject agency roles scope permissions } }"


@pytest.mark.parametrize("role", ROLES)
def test_viewer_shows_role_agency_scope_and_ticked_permissions(apis: dict[str, Api], role: str) -> None:
    """`viewer` tells a frontend exactly what the matrix grants the caller, and who and where it is."""
    viewer = apis[role].data(VIEWER)["viewer"]
    assert viewer["agency"] == AGENCIES[role]
    assert viewer["roles"] == [role]
    assert viewer["scope"] == [TYPICAL_SCOPE[role]]
    assert len(viewer["permissions"]) == len(set(viewer["permissions"]))
    assert set(viewer["permissions"]) == ticked(role)


@dataclass(frozen=True)
class Ids:
    """Real ids from the seed, read by an auditor: an ACTIVE enrollment in Bugul Lor, its worker, a bill."""

    worker: str
    enrollment: str
    bill: str


@pytest.fixture(scope="module")
def ids(server: Server) -> Ids:
    data = server.api("auditor").data(
        """
        query Ids($kel: String!) {
          workers(first: 1, filter: {kelurahanCode: $kel, enrollmentStatus: ACTIVE}) {
            edges { node { id currentEnrollment { id status } } }
          }
          contributionBills(first: 20) { edges { node { id status } } }
        }
        """,
        kel=BUGUL_LOR,
    )
    worker = data["workers"]["edges"][0]["node"]
    assert worker["currentEnrollment"]["status"] == "ACTIVE", worker
    bills = [e["node"] for e in data["contributionBills"]["edges"]]
    assert bills, "the seed has contribution bills"
    bill = next((b for b in bills if b["status"] == "ISSUED"), bills[0])
    return Ids(worker=worker["id"], enrollment=worker["currentEnrollment"]["id"], bill=bill["id"])


@dataclass(frozen=True)
class MutationCase:
    """A mutation, the permission it needs, and an input that a role holding it gets refused with UserErrors
    (so that running it changes nothing): the payload's UserError codes are read by ``user_errors``."""

    name: str
    permission: str
    query: str
    variables: Callable[[Ids], dict[str, Any]]
    user_errors: Callable[[dict[str, Any]], list[str]]


def _payload_errors(name: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda data: [e["code"] for e in data[name]["errors"]]


def _outcome_errors(data: dict[str, Any]) -> list[str]:
    return [e["code"] for outcome in data["verifyEnrollments"]["outcomes"] for e in outcome["errors"]]


MUTATIONS = [
    MutationCase(
        "registerWorker",
        "worker:create",
        "mutation($input: RegisterWorkerInput!) { registerWorker(input: $input) { worker { id } errors { code } } }",
        lambda ids: {"input": worker_input(BUGUL_LOR, nik="35750")},  # refused: a NIK is 16 digits
        _payload_errors("registerWorker"),
    ),
    MutationCase(
        "updateWorker",
        "worker:update",
        "mutation($input: UpdateWorkerInput!) { updateWorker(input: $input) { worker { id } errors { code } } }",
        lambda ids: {"input": {"id": ids.worker, "fullName": "   "}},  # refused: a blank name
        _payload_errors("updateWorker"),
    ),
    MutationCase(
        "proposeEnrollment",
        "enrollment:propose",
        "mutation($input: ProposeEnrollmentInput!) {"
        " proposeEnrollment(input: $input) { enrollment { id } errors { code } } }",
        # refused: JHT is not funded (and the worker is already ACTIVE)
        lambda ids: {"input": {"workerId": ids.worker, "fundingSourceCode": SOURCE_CODE, "programmes": ["JHT"]}},
        _payload_errors("proposeEnrollment"),
    ),
    MutationCase(
        "verifyEnrollments",
        "enrollment:verify",
        "mutation($input: [VerificationResultInput!]!) {"
        " verifyEnrollments(input: $input) { outcomes { enrollmentId errors { code } } } }",
        # refused: the enrollment is ACTIVE already, and under another membership number
        lambda ids: {"input": [{"enrollmentId": ids.enrollment, "approved": True, "membershipNumber": "not-a-kpj"}]},
        _outcome_errors,
    ),
    MutationCase(
        "renewEnrollments",
        "enrollment:propose",
        "mutation($input: RenewEnrollmentsInput!) {"
        " renewEnrollments(input: $input) { outcomes { errors { code } } errors { code } } }",
        # refused: a renewal moves members to another source than the one they are in
        lambda ids: {
            "input": {
                "fromFundingSourceCode": SOURCE_CODE,
                "toFundingSourceCode": SOURCE_CODE,
                "enrollmentIds": [ids.enrollment],
            }
        },
        lambda data: (
            [e["code"] for e in data["renewEnrollments"]["errors"]]
            + [e["code"] for o in data["renewEnrollments"]["outcomes"] for e in o["errors"]]
        ),
    ),
    MutationCase(
        "terminateEnrollment",
        "enrollment:terminate",
        "mutation($input: TerminateEnrollmentInput!) {"
        " terminateEnrollment(input: $input) { enrollment { id } errors { code } } }",
        # refused: effective before the coverage started
        lambda ids: {"input": {"enrollmentId": ids.enrollment, "reason": "OTHER", "effectiveDate": "2000-01-01"}},
        _payload_errors("terminateEnrollment"),
    ),
    MutationCase(
        "recordFundingAllocation",
        "funding:allocate",
        "mutation($input: FundingAllocationInput!) {"
        " recordFundingAllocation(input: $input) { fundingSource { id } errors { code } } }",
        # a new code (never DBHCHT-2025), refused anyway: nothing allocated
        lambda ids: {
            "input": {"code": "TEST-POLICY-2025", "name": "Uji kebijakan", "fiscalYear": 2025, "allocated": "0"}
        },
        _payload_errors("recordFundingAllocation"),
    ),
    MutationCase(
        "issueContributionBill",
        "bill:issue",
        "mutation($input: IssueContributionBillInput!) {"
        " issueContributionBill(input: $input) { bill { id } errors { code } } }",
        # refused: January lies outside the source's coverage (April to December)
        lambda ids: {"input": {"fundingSourceCode": SOURCE_CODE, "period": "2025-01"}},
        _payload_errors("issueContributionBill"),
    ),
    MutationCase(
        "recordBillPayment",
        "bill:pay",
        "mutation($input: BillPaymentInput!) { recordBillPayment(input: $input) { bill { id } errors { code } } }",
        # refused: Rp1 is not the bill's amount (or the bill is paid already)
        lambda ids: {"input": {"billId": ids.bill, "paidAt": "2025-10-01T09:00:00+07:00", "amount": "1"}},
        _payload_errors("recordBillPayment"),
    ),
]


def test_mutation_cases_cover_the_contract() -> None:
    """Every mutation of the contract is exercised below, each against a permission of the matrix."""
    contract = (Path(__file__).parent / "contract.graphql").read_text(encoding="utf-8")
    block = re.search(r"type Mutation \{(.*?)\n\}", contract, re.DOTALL)
    assert block
    declared = set(re.findall(r"^\s+(\w+)\(", block.group(1), re.MULTILINE))
    assert {m.name for m in MUTATIONS} == declared
    assert {m.permission for m in MUTATIONS} <= {c.permission for c in CELLS}


@pytest.mark.parametrize(
    ("role", "case"),
    [(role, case) for case in MUTATIONS for role in ROLES],
    ids=[f"{case.name}-{role}" for case in MUTATIONS for role in ROLES],
)
def test_mutation_needs_its_permission(
    server: Server, apis: dict[str, Api], ids: Ids, role: str, case: MutationCase
) -> None:
    """A role without the permission gets a FORBIDDEN GraphQL error and nothing changes; a role with it gets past
    the permission check (no FORBIDDEN) to the input rules, which refuse it with UserErrors, changing nothing."""
    before = server.snapshot()
    result = apis[role].result(case.query, **case.variables(ids))
    after = server.snapshot()
    if case.permission in ticked(role):
        assert "FORBIDDEN" not in result.error_codes, result.errors
        assert not result.errors, result.errors
        assert result.data is not None
        assert case.user_errors(result.data), f"{case.name} by {role} was meant to be refused: {result.data}"
    else:
        assert "FORBIDDEN" in result.error_codes, (result.data, result.errors)
        forbidden = next(e for e in result.errors if (e.get("extensions") or {}).get("code") == "FORBIDDEN")
        assert forbidden["extensions"].get("permission") == case.permission
        assert not (result.data or {}).get(case.name), result.data
    assert after == before


# The mutations that take an id: a role that may not perform them is told so before its input is looked at.
ID_MUTATIONS = [
    m for m in MUTATIONS if m.name not in ("registerWorker", "recordFundingAllocation", "issueContributionBill")
]
BAD_ID = "bm90LWFuLWlk"  # base64 of "not-an-id"


def _with_bad_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: BAD_ID if k in ("id", "workerId", "enrollmentId", "billId") else _with_bad_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_with_bad_ids(v) for v in value]
    return value


@pytest.mark.parametrize("case", ID_MUTATIONS, ids=[m.name for m in ID_MUTATIONS])
def test_forbidden_comes_before_input_checks(
    server: Server, apis: dict[str, Api], ids: Ids, case: MutationCase
) -> None:
    """A role that may not perform a mutation gets FORBIDDEN even when the id it sends is malformed (the matrix:
    "a mutation the role may not perform fails with ... FORBIDDEN"), not a UserError about its input."""
    role = "kelurahan-viewer"
    assert case.permission not in ticked(role)
    before = server.snapshot()
    result = apis[role].result(case.query, **_with_bad_ids(case.variables(ids)))
    assert "FORBIDDEN" in result.error_codes, (result.data, result.errors)
    assert server.snapshot() == before


# --- scope levels ------------------------------------------------------------------------------------------------


def test_scope_level_codes_match_the_region_levels() -> None:
    """The four sample codes are one of each level the policy names, and the policy names no other level."""
    assert set(LEVEL_CODES) == set(REGION_LEVELS.values())
    assert {len(code): level for level, code in LEVEL_CODES.items()} == REGION_LEVELS
    assert {level for _role, level in SCOPE_LEVELS_ALLOWED} <= set(REGION_LEVELS.values())
    assert {role for role, _level in SCOPE_LEVELS_ALLOWED} == set(ROLES)


@pytest.fixture(scope="module")
def http() -> httpx.Client:
    return httpx.Client(timeout=30)


@pytest.mark.parametrize(
    ("role", "level"),
    [(role, level) for role in ROLES for level in LEVEL_CODES],
    ids=[f"{role}-{level}" for role in ROLES for level in LEVEL_CODES],
)
def test_scope_level_accepted_exactly_when_policy_lists_it(
    server: Server, http: httpx.Client, role: str, level: str
) -> None:
    """A token whose scope is a region of a level policy.csv lets the role hold is served (200, with that scope);
    any wider scope makes the token invalid (401), it is not narrowed or widened silently."""
    code = LEVEL_CODES[level]
    token = server.token(role, scope=code)
    response = http.post(server.url, json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"})
    if (role, level) in SCOPE_LEVELS_ALLOWED:
        assert response.status_code == 200, response.text
        assert response.json()["data"]["viewer"]["scope"] == [code]
    else:
        assert response.status_code == 401, response.text
        assert "data" not in response.json()
