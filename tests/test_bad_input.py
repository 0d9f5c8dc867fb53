"""Bad input, as raw HTTP: every malformed request or value is a clear client error naming what is wrong, never a
500, and the database is byte-for-byte unchanged afterwards (``server.snapshot()`` before and after each case).

Two layers answer, as GraphQL over HTTP says for ``application/json`` responses:

- a request that is not a GraphQL request at all (malformed JSON, invalid UTF-8, lone surrogates, NaN, a body
  that is not an object, ``query`` or ``variables`` of the wrong type): **400**, with the reason;
- a GraphQL request whose values do not fit the schema (types, enums, scalars, overflowing Int and Rupiah,
  impossible dates, NUL characters): **200** with ``errors`` naming the variable path or the argument, no data;
- a value that fits the schema but breaks a domain rule (15- or 17-digit NIKs, huge or control-character
  text, tampered cursors and ids, page sizes): **200**, as a payload ``UserError`` (``code``, ``field``) or a
  ``BAD_USER_INPUT`` error naming the ``argument``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from api.ids import to_cursor, to_global_id
from tests.conftest import BUGUL_LOR, REGISTER, Server, new_nik, worker_input
from tests.documents import PROPOSE

JSON = "application/json"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture
def unchanged(server: Server) -> Iterator[None]:
    before = server.snapshot()
    yield
    assert server.snapshot() == before, "a refused request changed the database"


def post(http: httpx.Client, server: Server, role: str, content: bytes, **headers: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.token(role)}", "Content-Type": JSON, **headers}
    return http.post(server.url, content=content, headers=headers)


def body(query: str, **variables: Any) -> bytes:
    return json.dumps({"query": query, "variables": variables}).encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# --- not a GraphQL request: 400 ---------------------------------------------------------------------------------

VIEWER = b'{"query": "{ viewer { subject } }"'
NOT_A_REQUEST = {
    "truncated-json": (VIEWER, "Unable to parse request body as JSON"),
    "trailing-garbage": (VIEWER + b"} x", "Unable to parse request body as JSON"),
    "empty-body": (b"", "Unable to parse request body as JSON"),
    "json-string": (b'"{ viewer { subject } }"', "is a JSON object"),
    "json-number": (b"5", "is a JSON object"),
    "json-null": (b"null", "is a JSON object"),
    "json-true": (b"true", "is a JSON object"),
    "batch-array": (b'[{"query": "{ viewer { subject } }"}]', "Batching is not enabled"),
    "invalid-utf8-in-string": (b'{"query": "{ viewer { subject } }", "x": "\xff\xfe"}', "not UTF-8 at byte"),
    "invalid-utf8-in-query": (b'{"query": "{ viewer { subject \xc3\x28 } }"}', "not UTF-8 at byte"),
    "lone-surrogate-escape": (
        b'{"query": "query($s: String) { workers(filter: {nameContains: $s}) { totalCount } }",'
        b' "variables": {"s": "\\ud800"}}',
        "surrogate",
    ),
    "nan": (
        b'{"query": "query($n: Int) { workers(first: $n) { totalCount } }", "variables": {"n": NaN}}',
        "Unable to parse request body as JSON",
    ),
    "infinity": (
        b'{"query": "query($n: Int) { workers(first: $n) { totalCount } }", "variables": {"n": 1e400}}',
        "Unable to parse request body as JSON",
    ),
    "5000-digit-number": (
        b'{"query": "query($n: Int) { workers(first: $n) { totalCount } }", "variables": {"n": 1' + b"0" * 5000 + b"}}",
        "Unable to parse request body as JSON",
    ),
    "query-not-a-string": (b'{"query": 5}', "`query` must be a string"),
    "variables-not-an-object": (b'{"query": "{ viewer { subject } }", "variables": "x"}', "`variables` must be"),
    "no-query": (b'{"variables": {}}', "No GraphQL query found"),
}


@pytest.mark.parametrize("case", list(NOT_A_REQUEST), ids=list(NOT_A_REQUEST))
@pytest.mark.usefixtures("unchanged")
def test_not_a_graphql_request_is_400(http: httpx.Client, server: Server, case: str) -> None:
    content, reason = NOT_A_REQUEST[case]
    response = post(http, server, "pemkot-admin", content)
    assert response.status_code == 400, response.text
    assert reason in response.text


def test_wrong_content_type_is_refused(http: httpx.Client, server: Server) -> None:
    """A mutation sent as text/plain (as a form could) is not executed."""
    before = server.snapshot()
    content = body(REGISTER, input=worker_input())
    response = post(http, server, "pemkot-admin", content, **{"Content-Type": "text/plain"})
    assert response.status_code in (400, 415), response.text
    assert server.snapshot() == before


# --- GraphQL values that do not fit the schema: 200, errors naming the variable path -------------------------


@dataclass(frozen=True)
class Case:
    role: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    names: tuple[str, ...] = ()  # each must appear in the error message or its extensions
    code: str | None = None  # extensions.code, when the layer gives one


def reg(**overrides: Any) -> dict[str, Any]:
    return {"input": worker_input(BUGUL_LOR, **overrides)}


WORKERS_PAGE = """
query W($first: Int, $after: String, $last: Int, $before: String, $filter: WorkerFilter) {
  workers(first: $first, after: $after, last: $last, before: $before, filter: $filter) { totalCount }
}
"""
ALLOCATE = """
mutation A($i: FundingAllocationInput!) { recordFundingAllocation(input: $i) { errors { code field message } } }
"""
PAY = """
mutation P($i: BillPaymentInput!) { recordBillPayment(input: $i) { errors { code field message } } }
"""
UPDATE = "mutation U($i: UpdateWorkerInput!) { updateWorker(input: $i) { errors { code field message } } }"
TERMINATE = """
mutation T($i: TerminateEnrollmentInput!) { terminateEnrollment(input: $i) { errors { code field message } } }
"""
VERIFY = """
mutation V($i: [VerificationResultInput!]!) {
  verifyEnrollments(input: $i) { outcomes { errors { code field message } } }
}
"""
ISSUE = """
mutation I($i: IssueContributionBillInput!) { issueContributionBill(input: $i) { errors { code field message } } }
"""


def allocation(**overrides: Any) -> dict[str, Any]:
    values = {
        "code": "BAD-INPUT-1",
        "name": "bad input",
        "fiscalYear": 2026,
        "allocated": "1000",
        "coverageStart": "2026-01-01",
        "coverageEnd": "2026-12-31",
    }
    return {"i": {**values, **overrides}}


def payment(**overrides: Any) -> dict[str, Any]:
    return {"i": {"billId": to_global_id("ContributionBill", 1), "paidAt": "2025-05-10T09:00:00+07:00", **overrides}}


OP = "kelurahan-operator"
ADMIN = "pemkot-admin"

SCHEMA_ERRORS: dict[str, Case] = {
    # wrong types
    "fullName-number": Case(OP, REGISTER, reg(fullName=123), (".fullName", "String")),
    "sex-lowercase": Case(OP, REGISTER, reg(sex="male"), (".sex", "'Sex'")),
    "sex-unknown": Case(OP, REGISTER, reg(sex="OTHER"), (".sex", "'Sex'")),
    "occupation-unknown": Case(OP, REGISTER, reg(occupation="ASTRONAUT"), (".occupation", "'Occupation'")),
    "input-not-an-object": Case(OP, REGISTER, {"input": "x"}, ("$input", "RegisterWorkerInput")),
    "missing-required-field": Case(OP, REGISTER, {"input": {"fullName": "x"}}, ("$input", "required field 'nik'")),
    "unknown-input-field": Case(OP, REGISTER, reg(bogus=1), ("bogus", "RegisterWorkerInput")),
    "filter-enum-unknown": Case(OP, WORKERS_PAGE, {"filter": {"occupation": "PILOT"}}, ("occupation", "'Occupation'")),
    "programmes-unknown": Case(
        ADMIN,
        PROPOSE,
        {"input": {"workerId": to_global_id("Worker", 1), "fundingSourceCode": "X", "programmes": ["JKN"]}},
        ("programmes", "'Programme'"),
    ),
    # overflowing numbers and Rupiah
    "first-beyond-int32": Case(OP, WORKERS_PAGE, {"first": 2**31}, ("$first", "32-bit")),
    "fiscalYear-beyond-int32": Case(ADMIN, ALLOCATE, allocation(fiscalYear=2**40), (".fiscalYear", "32-bit")),
    "first-float": Case(OP, WORKERS_PAGE, {"first": 1.5}, ("$first", "non-integer")),
    "income-exponent": Case(OP, REGISTER, reg(monthlyIncome="1e20"), (".monthlyIncome", "Rupiah")),
    "income-huge-number": Case(OP, REGISTER, reg(monthlyIncome=10**30), (".monthlyIncome", "Rupiah")),
    "income-above-max": Case(OP, REGISTER, reg(monthlyIncome="1000000000000001"), (".monthlyIncome", "between")),
    "income-negative": Case(OP, REGISTER, reg(monthlyIncome="-1"), (".monthlyIncome", "Rupiah")),
    "income-decimal": Case(OP, REGISTER, reg(monthlyIncome="1200000.50"), (".monthlyIncome", "Rupiah")),
    "income-boolean": Case(OP, REGISTER, reg(monthlyIncome=True), (".monthlyIncome", "Rupiah")),
    "income-fullwidth-digits": Case(OP, REGISTER, reg(monthlyIncome="１２００"), (".monthlyIncome", "Rupiah")),
    "allocated-17-digits": Case(ADMIN, ALLOCATE, allocation(allocated="1" * 17), (".allocated", "Rupiah")),
    "payment-negative": Case(ADMIN, PAY, payment(amount="-16800"), (".amount", "Rupiah")),
    # impossible dates
    "birthDate-feb-30": Case(OP, REGISTER, reg(birthDate="1985-02-30"), (".birthDate", "Date")),
    "birthDate-month-13": Case(OP, REGISTER, reg(birthDate="1985-13-01"), (".birthDate", "Date")),
    "birthDate-year-0": Case(OP, REGISTER, reg(birthDate="0000-01-01"), (".birthDate", "Date")),
    "birthDate-number": Case(OP, REGISTER, reg(birthDate=19850615), (".birthDate", "Date")),
    "birthDate-text": Case(OP, REGISTER, reg(birthDate="yesterday"), (".birthDate", "Date")),
    "coverage-feb-29-non-leap": Case(ADMIN, ALLOCATE, allocation(coverageEnd="2026-02-29"), (".coverageEnd", "Date")),
    "paidAt-feb-30": Case(ADMIN, PAY, payment(paidAt="2025-02-30T09:00:00+07:00", amount="1"), (".paidAt",)),
    "paidAt-hour-25": Case(ADMIN, PAY, payment(paidAt="2025-05-10T25:00:00+07:00", amount="1"), (".paidAt",)),
    # NUL characters, which PostgreSQL cannot even compare: refused before execution, naming the variable path
    "nul-in-name-filter": Case(
        OP, WORKERS_PAGE, {"filter": {"nameContains": "a\x00"}}, ("$filter.nameContains",), "BAD_USER_INPUT"
    ),
    "nul-in-kelurahan-filter": Case(
        OP,
        WORKERS_PAGE,
        {"filter": {"kelurahanCode": BUGUL_LOR + "\x00"}},
        ("$filter.kelurahanCode",),
        "BAD_USER_INPUT",
    ),
    "nul-in-nik-lookup": Case(
        OP, "query N($nik: String!) { workerByNik(nik: $nik) { id } }", {"nik": "\x00"}, ("$nik",), "BAD_USER_INPUT"
    ),
    "nul-in-list-item": Case(
        OP,
        "query K($c: String!) { kelurahan(code: $c) { workers(filter: {nameContains: $c}) { totalCount } } }",
        {"c": "3575041010\x00"},
        ("$c",),
        "BAD_USER_INPUT",
    ),
    "nul-in-inline-literal": Case(
        OP, '{ workers(filter: {nameContains: "a\\u0000"}) { totalCount } }', {}, ("workers(filter.nameContains)",)
    ),
}


def assert_names(error: dict[str, Any], names: tuple[str, ...]) -> None:
    text = error["message"] + json.dumps(error.get("extensions") or {})
    for name in names:
        assert name in text, f"{name!r} not named in {error}"


@pytest.mark.parametrize("name", list(SCHEMA_ERRORS), ids=list(SCHEMA_ERRORS))
@pytest.mark.usefixtures("unchanged")
def test_value_outside_the_schema_is_a_request_error_naming_it(http: httpx.Client, server: Server, name: str) -> None:
    case = SCHEMA_ERRORS[name]
    response = post(http, server, case.role, body(case.query, **case.variables))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(JSON)
    answer = response.json()
    assert answer.get("data") is None, answer
    assert len(answer["errors"]) >= 1
    error = answer["errors"][0]
    assert_names(error, case.names)
    assert (error.get("extensions") or {}).get("code") not in ("INTERNAL_SERVER_ERROR", None) or "path" not in error
    if case.code:
        assert error["extensions"]["code"] == case.code


def test_graphql_response_json_media_type(http: httpx.Client, server: Server) -> None:
    """A client accepting only application/graphql-response+json gets a request error as 4xx in that media type,
    or (a server that does not offer it) the application/json answer, 200."""
    response = post(
        http,
        server,
        OP,
        body(WORKERS_PAGE, first=2**31),
        Accept="application/graphql-response+json",
    )
    media = response.headers["content-type"]
    if media.startswith("application/graphql-response+json"):
        assert response.status_code == 400, response.text
    else:
        assert media.startswith(JSON), media
        assert response.status_code == 200, response.text
    assert "$first" in response.json()["errors"][0]["message"]


# --- values that fit the schema but break a rule: 200, a UserError or BAD_USER_INPUT naming the field -----------

WORKER_1 = to_global_id("Worker", 1)
ENROLLMENT_1 = to_global_id("Enrollment", 1)

RULE_ERRORS: dict[str, tuple[str, str, dict[str, Any], str, str]] = {
    # name: (role, query, variables, UserError code, field)
    "nik-15-digits": (OP, REGISTER, reg(nik=new_nik()[:15]), "INVALID_NIK", "nik"),
    "nik-17-digits": (OP, REGISTER, reg(nik=new_nik() + "1"), "INVALID_NIK", "nik"),
    "nik-fullwidth-digits": (OP, REGISTER, reg(nik="３５７８０６１５０６８５０００１"), "INVALID_NIK", "nik"),
    "nik-serial-0000": (OP, REGISTER, reg(nik="3578061506850000"), "INVALID_NIK", "nik"),
    "fullName-100k": (OP, REGISTER, reg(fullName="A" * 100_000), "TOO_LONG", "fullName"),
    "address-1MB": (OP, REGISTER, reg(address="Jl. " + "x" * 1_000_000), "TOO_LONG", "address"),
    "fullName-nul": (OP, REGISTER, reg(fullName="Slamet\x00Riyadi"), "INVALID_CHARACTERS", "fullName"),
    "idempotency-key-nul": (OP, REGISTER, reg(idempotencyKey="k\x00"), "INVALID_CHARACTERS", "idempotencyKey"),
    "fullName-bell": (OP, REGISTER, reg(fullName="Slamet\x07"), "INVALID_CHARACTERS", "fullName"),
    "fullName-escape-sequence": (OP, REGISTER, reg(fullName="\x1b[31mSlamet"), "INVALID_CHARACTERS", "fullName"),
    "fullName-rtl-override": (OP, REGISTER, reg(fullName="Slamet\u202eteg"), "INVALID_CHARACTERS", "fullName"),
    "fullName-zero-width": (OP, REGISTER, reg(fullName="Sla\u200bmet"), "INVALID_CHARACTERS", "fullName"),
    "fullName-blank": (OP, REGISTER, reg(fullName="   "), "REQUIRED", "fullName"),
    "address-private-use": (OP, REGISTER, reg(address="Jl. \ue000"), "INVALID_CHARACTERS", "address"),
    "phone-letters": (OP, REGISTER, reg(phone="0812-CALL-ME"), "INVALID_PHONE", "phone"),
    "kk-15-digits": (
        OP,
        REGISTER,
        reg(familyCardNumber="357504010101000"),
        "INVALID_FAMILY_CARD_NUMBER",
        "familyCardNumber",
    ),
    "kelurahan-code-huge": (OP, REGISTER, reg(kelurahanCode="3" * 100_000), "INVALID_CODE", "kelurahanCode"),
    "idempotency-key-huge": (OP, REGISTER, reg(idempotencyKey="k" * 10_000), "TOO_LONG", "idempotencyKey"),
    "update-id-of-another-type": (OP, UPDATE, {"i": {"id": ENROLLMENT_1, "fullName": "X"}}, "INVALID_ID", "id"),
    "update-id-not-base64": (OP, UPDATE, {"i": {"id": "%%%", "fullName": "X"}}, "INVALID_ID", "id"),
    "update-id-pk-overflow": (
        OP,
        UPDATE,
        {"i": {"id": b64(b"Worker:99999999999"), "fullName": "X"}},
        "INVALID_ID",
        "id",
    ),
    "update-id-negative": (OP, UPDATE, {"i": {"id": b64(b"Worker:-1"), "fullName": "X"}}, "INVALID_ID", "id"),
    "update-id-not-utf8": (OP, UPDATE, {"i": {"id": b64(b"Worker:\xff1"), "fullName": "X"}}, "INVALID_ID", "id"),
    "propose-cursor-as-id": (
        ADMIN,
        PROPOSE,
        {"input": {"workerId": to_cursor("Worker", 1), "fundingSourceCode": "DBHCHT-2025", "programmes": ["JKK"]}},
        "INVALID_ID",
        "workerId",
    ),
    "terminate-worker-id": (
        ADMIN,
        TERMINATE,
        {"i": {"enrollmentId": WORKER_1, "reason": "OTHER", "effectiveDate": "2025-06-30"}},
        "INVALID_ID",
        "enrollmentId",
    ),
    "allocation-fiscal-year-0": (ADMIN, ALLOCATE, allocation(fiscalYear=0), "", "fiscalYear"),
    "allocation-code-huge": (ADMIN, ALLOCATE, allocation(code="X" * 10_000), "", "code"),
    "allocation-coverage-reversed": (
        ADMIN,
        ALLOCATE,
        allocation(coverageStart="2026-12-31", coverageEnd="2026-01-01"),
        "",
        "coverageEnd",
    ),
    "payment-bill-id-tampered": (ADMIN, PAY, payment(billId=b64(b"ContributionBill:x"), amount="1"), "", "billId"),
}


KNOWN_BUGS: dict[str, pytest.MarkDecorator] = {}


@pytest.mark.parametrize("name", [pytest.param(n, marks=KNOWN_BUGS.get(n, ()), id=n) for n in RULE_ERRORS])
@pytest.mark.usefixtures("unchanged")
def test_value_breaking_a_rule_is_a_user_error_naming_the_field(http: httpx.Client, server: Server, name: str) -> None:
    role, query, variables, code, field_name = RULE_ERRORS[name]
    response = post(http, server, role, body(query, **variables))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert not answer.get("errors"), answer
    payload = next(iter(answer["data"].values()))
    assert payload.get("worker") is None
    assert payload.get("enrollment") is None
    errors = payload["errors"]
    fields = {e["field"] for e in errors}
    assert field_name in fields, errors
    if code:
        assert code in {e["code"] for e in errors if e["field"] == field_name}, errors
    for error in errors:
        assert error["message"].startswith(f"{error['field']}:"), error  # the message names its field first


def test_invalid_verification_items_name_their_field(http: httpx.Client, server: Server) -> None:
    """verifyEnrollments: each item fails on its own, naming the field; nothing changes."""
    before = server.snapshot()
    items = [
        {"enrollmentId": "not-an-id", "approved": True, "membershipNumber": "12345678901"},
        {"enrollmentId": b64(b"Enrollment:99999999999"), "approved": True, "membershipNumber": "12345678901"},
        {"enrollmentId": WORKER_1, "approved": False, "rejectionReason": "OTHER"},
    ]
    response = post(http, server, "bpjstk-verifier", body(VERIFY, i=items))
    assert response.status_code == 200, response.text
    outcomes = response.json()["data"]["verifyEnrollments"]["outcomes"]
    assert [[e["field"] for e in o["errors"]] for o in outcomes] == [["enrollmentId"]] * 3
    assert server.snapshot() == before


# --- cursors: tampered, or of another list -----------------------------------------------------------------------

CURSORS = {
    "not-base64": "%%%",
    "base64-of-junk": b64(b"junk"),
    "not-utf8": b64(b"cursor:Worker:\xff"),
    "no-prefix-global-id": to_global_id("Worker", 5),
    "another-type": to_cursor("Enrollment", 5),
    "pk-overflow": b64(b"cursor:Worker:99999999999"),
    "pk-negative": b64(b"cursor:Worker:-5"),
    "pk-superscript-digit": b64("cursor:Worker:²".encode()),
    "pk-fullwidth-digit": b64("cursor:Worker:５".encode()),
    "trailing-garbage": to_cursor("Worker", 5) + "AAAA",
    "huge": "A" * 100_000,
}


@pytest.mark.parametrize("argument", ["after", "before"])
@pytest.mark.parametrize("cursor", list(CURSORS), ids=list(CURSORS))
@pytest.mark.usefixtures("unchanged")
def test_tampered_cursor_is_refused_naming_the_argument(
    http: httpx.Client, server: Server, cursor: str, argument: str
) -> None:
    variables = {argument: CURSORS[cursor], ("first" if argument == "after" else "last"): 5}
    response = post(http, server, OP, body(WORKERS_PAGE, **variables))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["data"] is None
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert error["message"].startswith(f"{argument}: not a cursor of this Worker list")


@pytest.mark.parametrize(
    ("variables", "argument"),
    [({"first": -1}, "first"), ({"first": 101}, "first"), ({"last": -1}, "last"), ({"first": 1, "last": 1}, "first")],
    ids=["first-negative", "first-above-max", "last-negative", "first-and-last"],
)
def test_page_size_out_of_range_names_the_argument(
    http: httpx.Client, server: Server, variables: dict[str, int], argument: str
) -> None:
    response = post(http, server, OP, body(WORKERS_PAGE, **variables))
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}


def test_a_valid_cursor_still_pages(http: httpx.Client, server: Server) -> None:
    """Control: the strict cursor check does not refuse the server's own cursors."""
    query = "query($after: String) { workers(first: 2, after: $after) { edges { cursor } pageInfo { endCursor } } }"
    first = post(http, server, OP, body(query)).json()["data"]["workers"]
    second = post(http, server, OP, body(query, after=first["pageInfo"]["endCursor"])).json()
    assert "errors" not in second, second
    assert second["data"]["workers"]["edges"]
