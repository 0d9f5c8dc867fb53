"""The programme's whole lifecycle over GraphQL, each step by the role that does it in real life.

Pemkot allocates a funding source; the kelurahan registers residents and proposes them; BPJSTK verifies them in
one batch (partial success per item), ends one membership and bills the source month by month; Pemkot pays.

Time: a proposal starts coverage on the first of next month (WIB) and is refused once the source's coverage has
ended, so the source is made for the year in which a proposal made *today* starts (``YEAR``): TEST-LIFE-2025
with 2025 dates when run during 2025, as the scenario was written, and the same months of a later year after.
The bill is for the first month from June on whose 15th is a Sunday (June in 2025), so that its due date moves
to Monday the 16th.

The steps that later steps build on are module fixtures, so that any test also runs alone; refusals are tests,
each proving with a whole-database snapshot that it wrote nothing.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import CITY, Api, Server, new_nik, programme_now, programme_today, register_worker
from tests.documents import PROPOSE

JAKARTA = ZoneInfo("Asia/Jakarta")
CONTRIBUTION = 16_800  # JKK Rp10,000 (1% of the Rp1,000,000 bracket) + JKM Rp6,800
ALLOCATED = 500_000_000


def _next_month_start(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


YEAR = _next_month_start(programme_today()).year
CODE = f"TEST-LIFE-{YEAR}"
COVERAGE_START, COVERAGE_END = date(YEAR, 4, 1), date(YEAR, 12, 31)
MEMBER_START = date(YEAR, 5, 1)  # coverageStart BPJSTK sets on approval
TERMINATED_ON = date(YEAR, 8, 31)
# A month whose 15th is a Sunday: one always exists from May to December (the 15ths fall on all seven weekdays).
BILL_MONTH = next(m for m in (6, 5, 7, 8, 9, 10, 11, 12) if date(YEAR, m, 15).weekday() == 6)
SECOND_BILL_MONTH = BILL_MONTH + 1 if BILL_MONTH < 12 else BILL_MONTH - 1

# The programme's dates the module's events happen on (the server's clock, set around each call): BPJSTK verifies in
# April (coverage from 1 May: never backdated), and bills once every month of the year has begun.
VERIFY_DAY = date(YEAR, 4, 20)
BILLING_DAY = date(YEAR, 12, 2)

OPERATOR = ("kelurahan-operator-3575041010@test", "KELURAHAN")
ADMIN = ("pemkot-admin-3575@test", "PEMKOT")
VERIFIER = ("bpjstk-verifier-35@test", "BPJSTK")

ENROLLMENT_FIELDS = """
  id status programmes membershipNumber coverageStart coverageEnd monthlyContribution
  rejectionReason terminationReason verifiedAt fundingSource { code }
  checks { kind passed note }
"""
SOURCE_FIELDS = "id code name fiscalYear legalBasis coverageStart coverageEnd allocated billed paid remaining"
BILL_FIELDS = "id period participants amount status dueDate overdue paidAt fundingSource { code }"

ALLOCATE = f"""
mutation Allocate($input: FundingAllocationInput!) {{
  recordFundingAllocation(input: $input) {{ fundingSource {{ {SOURCE_FIELDS} }} errors {{ code field message }} }}
}}"""
VERIFY = f"""
mutation Verify($input: [VerificationResultInput!]!) {{
  verifyEnrollments(input: $input) {{
    outcomes {{ enrollmentId enrollment {{ {ENROLLMENT_FIELDS} }} errors {{ code field message }} }}
  }}
}}"""
TERMINATE = f"""
mutation Terminate($input: TerminateEnrollmentInput!) {{
  terminateEnrollment(input: $input) {{ enrollment {{ {ENROLLMENT_FIELDS} }} errors {{ code field message }} }}
}}"""
ISSUE = f"""
mutation Issue($input: IssueContributionBillInput!) {{
  issueContributionBill(input: $input) {{ bill {{ {BILL_FIELDS} }} errors {{ code field message }} }}
}}"""
PAY = f"""
mutation Pay($input: BillPaymentInput!) {{
  recordBillPayment(input: $input) {{ bill {{ {BILL_FIELDS} }} errors {{ code field message }} }}
}}"""
ENROLLMENT = f"query One($id: ID!) {{ node(id: $id) {{ ... on Enrollment {{ {ENROLLMENT_FIELDS} }} }} }}"
SOURCES = f"query Sources($year: Int) {{ fundingSources(fiscalYear: $year) {{ {SOURCE_FIELDS} }} }}"

ALL_CHECKS = [
    {"kind": "NIK_MATCH", "passed": True, "note": "Dukcapil: cocok"},
    {"kind": "EXISTING_MEMBERSHIP", "passed": True, "note": "Belum terdaftar sebagai peserta"},
    {"kind": "AGE", "passed": True, "note": None},
    {"kind": "DECEASED", "passed": True, "note": "Tidak tercatat meninggal"},
]
NIK_NOT_FOUND_CHECKS = [{"kind": "NIK_MATCH", "passed": False, "note": "Dukcapil: NIK tidak ditemukan"}]


@dataclass
class Life:
    """What the steps made, and the audit events each successful mutation owes (action, target, actor)."""

    server: Server
    source_id: str = ""
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    enrollments: dict[str, dict[str, Any]] = field(default_factory=dict)
    kpj: dict[str, str] = field(default_factory=dict)
    bills: dict[str, dict[str, Any]] = field(default_factory=dict)
    paid_at: str = ""
    owed: list[tuple[str, str, tuple[str, str]]] = field(default_factory=list)

    def owe(self, action: str, target_id: str, actor: tuple[str, str]) -> None:
        self.owed.append((action, target_id, actor))


def payload(api: Api, query: str, mutation: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data(query, **variables)[mutation]
    return result


def problems(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in result["errors"]]


def decode_pk(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().rsplit(":", 1)[1])


def fresh_kpj(server: Server) -> str:
    """An 11-digit membership number no enrollment holds yet."""
    rng = random.Random()
    while True:
        kpj = str(rng.randrange(10**10, 10**11))
        if not server.sql("SELECT 1 FROM enrollments WHERE membership_number = :k", k=kpj):
            return kpj


@contextmanager
def on_day(server: Server, day: date) -> Iterator[None]:
    """The server's programme date is ``day`` within the block (the suite's moment again afterwards)."""
    with server.calendar() as set_day:
        set_day(day)
        yield


def members_in(month: int) -> int:
    """Members billed for a month of YEAR: #3 (active from May), and #1 (from May, terminated after August)."""
    return (1 if month >= MEMBER_START.month else 0) + (1 if MEMBER_START.month <= month <= 8 else 0)


def source_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": CODE,
        "name": f"DBHCHT uji siklus {YEAR}",
        "fiscalYear": YEAR,
        "allocated": str(ALLOCATED),
        "legalBasis": f"SK Wali Kota Pasuruan No. 900/UJI/{YEAR}",
        "coverageStart": COVERAGE_START.isoformat(),
        "coverageEnd": COVERAGE_END.isoformat(),
    }
    values.update(overrides)
    return values


# --- the steps


@pytest.fixture(scope="module")
def life(server: Server) -> Life:
    return Life(server)


@pytest.fixture(scope="module")
def source(life: Life, admin: Api) -> dict[str, Any]:
    """Pemkot allocates TEST-LIFE-<year>."""
    result = payload(admin, ALLOCATE, "recordFundingAllocation", input=source_input())
    assert result["errors"] == []
    created: dict[str, Any] = result["fundingSource"]
    life.source_id = created["id"]
    life.owe("funding:allocate", created["id"], ADMIN)
    return created


@pytest.fixture(scope="module")
def proposals(life: Life, source: dict[str, Any], operator: Api) -> dict[str, dict[str, Any]]:
    """Bugul Lor registers workers #1-#4 and proposes each for JKK+JKM against the source; it also registers
    (without proposing) a worker aged 70 at coverage start and one kept for the programme checks."""
    for name in ("one", "two", "three", "four", "spare"):
        worker = register_worker(operator, fullName=f"Pekerja Siklus {name.title()}")["worker"]
        life.workers[name] = worker
        life.owe("worker:create", worker["id"], OPERATOR)
    old_birth = date(YEAR - 70, 1, 1)
    old = register_worker(operator, nik=new_nik(old_birth), birthDate=old_birth.isoformat())["worker"]
    life.workers["aged-70"] = old
    life.owe("worker:create", old["id"], OPERATOR)
    for name in ("one", "two", "three", "four"):
        result = payload(
            operator,
            PROPOSE,
            "proposeEnrollment",
            input={"workerId": life.workers[name]["id"], "fundingSourceCode": CODE, "programmes": ["JKK", "JKM"]},
        )
        assert result["errors"] == []
        life.enrollments[name] = result["enrollment"]
        life.owe("enrollment:propose", result["enrollment"]["id"], OPERATOR)
    return life.enrollments


def first_batch_input(life: Life) -> list[dict[str, Any]]:
    e = life.enrollments
    return [
        {
            "enrollmentId": e["one"]["id"],
            "approved": True,
            "membershipNumber": life.kpj["one"],
            "coverageStart": MEMBER_START.isoformat(),
            "checks": ALL_CHECKS,
        },
        {
            "enrollmentId": e["two"]["id"],
            "approved": False,
            "rejectionReason": "NIK_NOT_FOUND",
            "checks": NIK_NOT_FOUND_CHECKS,
        },
        {
            "enrollmentId": e["three"]["id"],
            "approved": True,
            "membershipNumber": "12AB",
            "coverageStart": MEMBER_START.isoformat(),
            "checks": ALL_CHECKS,
        },
    ]


@pytest.fixture(scope="module")
def first_batch(
    life: Life, proposals: dict[str, dict[str, Any]], server: Server, verifier: Api
) -> list[dict[str, Any]]:
    """BPJSTK verifies #1 (approve), #2 (reject) and #3 (approve with a malformed KPJ) in one request."""
    life.kpj["one"] = fresh_kpj(server)
    with on_day(server, VERIFY_DAY):
        result = verifier.result(VERIFY, input=first_batch_input(life))
    assert not result.errors, f"verifyEnrollments failed as a whole instead of per item: {result.errors}"
    assert result.data is not None
    outcomes: list[dict[str, Any]] = result.data["verifyEnrollments"]["outcomes"]
    for outcome in outcomes:
        if outcome["enrollment"] is not None:
            life.owe("enrollment:verify", outcome["enrollment"]["id"], VERIFIER)
    return outcomes


@pytest.fixture(scope="module")
def third_approved(life: Life, first_batch: list[dict[str, Any]], server: Server, verifier: Api) -> dict[str, Any]:
    """BPJSTK corrects the KPJ of #3 and approves it on its own."""
    life.kpj["three"] = fresh_kpj(server)
    with on_day(server, VERIFY_DAY):
        [outcome] = payload(
            verifier,
            VERIFY,
            "verifyEnrollments",
            input=[
                {
                    "enrollmentId": life.enrollments["three"]["id"],
                    "approved": True,
                    "membershipNumber": life.kpj["three"],
                    "coverageStart": MEMBER_START.isoformat(),
                    "checks": ALL_CHECKS,
                }
            ],
        )["outcomes"]
    assert outcome["errors"] == []
    life.owe("enrollment:verify", outcome["enrollment"]["id"], VERIFIER)
    enrollment: dict[str, Any] = outcome["enrollment"]
    return enrollment


@pytest.fixture(scope="module")
def terminated(life: Life, first_batch: list[dict[str, Any]], server: Server, verifier: Api) -> dict[str, Any]:
    """BPJSTK ends #1's membership: moved out at the end of August (recorded once it has happened)."""
    with on_day(server, BILLING_DAY):
        result = payload(
            verifier,
            TERMINATE,
            "terminateEnrollment",
            input={
                "enrollmentId": life.enrollments["one"]["id"],
                "reason": "MOVED_OUT",
                "effectiveDate": TERMINATED_ON.isoformat(),
            },
        )
    assert result["errors"] == []
    life.owe("enrollment:terminate", result["enrollment"]["id"], VERIFIER)
    enrollment: dict[str, Any] = result["enrollment"]
    return enrollment


@pytest.fixture(scope="module")
def bills(
    life: Life, terminated: dict[str, Any], third_approved: dict[str, Any], server: Server, verifier: Api
) -> dict[str, dict[str, Any]]:
    """BPJSTK bills two months of the source (``BILL_MONTH`` and ``SECOND_BILL_MONTH``), once both have begun."""
    for month in (BILL_MONTH, SECOND_BILL_MONTH):
        period = f"{YEAR}-{month:02d}"
        with on_day(server, BILLING_DAY):
            result = payload(
                verifier, ISSUE, "issueContributionBill", input={"fundingSourceCode": CODE, "period": period}
            )
        assert result["errors"] == []
        life.bills[period] = result["bill"]
        life.owe("bill:issue", result["bill"]["id"], VERIFIER)
    return life.bills


@pytest.fixture(scope="module")
def paid(life: Life, bills: dict[str, dict[str, Any]], admin: Api) -> dict[str, Any]:
    """Pemkot pays the first bill, for exactly its amount."""
    bill = bills[f"{YEAR}-{BILL_MONTH:02d}"]
    life.paid_at = (programme_now() - timedelta(hours=1)).replace(microsecond=0).isoformat()
    result = payload(
        admin, PAY, "recordBillPayment", input={"billId": bill["id"], "paidAt": life.paid_at, "amount": bill["amount"]}
    )
    assert result["errors"] == []
    life.owe("bill:pay", bill["id"], ADMIN)
    paid_bill: dict[str, Any] = result["bill"]
    return paid_bill


# --- funding allocation


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        pytest.param({"coverageStart": f"{YEAR}-04-02"}, {"coverageStart"}, id="start-not-on-the-1st"),
        pytest.param(
            {"coverageStart": f"{YEAR}-06-01", "coverageEnd": f"{YEAR}-05-31"}, {"coverageEnd"}, id="end-before-start"
        ),
        pytest.param({"fiscalYear": 1999, "coverageStart": None, "coverageEnd": None}, {"fiscalYear"}, id="year-1999"),
        pytest.param({"code": "test-life"}, {"code"}, id="lowercase-code"),
        pytest.param({"allocated": "0"}, {"allocated"}, id="allocated-zero"),
        pytest.param({"coverageEnd": None}, {"coverageEnd"}, id="one-end-only"),
        pytest.param({"coverageStart": f"{YEAR - 1}-12-01"}, {"coverageStart"}, id="outside-fiscal-year"),
        pytest.param({"name": "  "}, {"name"}, id="blank-name"),
    ],
)
def test_allocation_refuses_invalid_input(
    server: Server, admin: Api, overrides: dict[str, Any], fields: set[str]
) -> None:
    """Each invalid allocation is refused with UserErrors naming exactly the offending field; nothing written."""
    before = server.snapshot()
    result = payload(
        admin, ALLOCATE, "recordFundingAllocation", input=source_input(**{"code": f"{CODE}-BAD", **overrides})
    )
    assert result["fundingSource"] is None
    assert {f for _, f in problems(result)} == fields, result["errors"]
    assert server.snapshot() == before


def test_allocation_creates_the_source(server: Server, source: dict[str, Any]) -> None:
    """recordFundingAllocation creates the source as given, with nothing billed or paid and all of it remaining."""
    assert source["code"] == CODE
    assert source["fiscalYear"] == YEAR
    assert (source["coverageStart"], source["coverageEnd"]) == (COVERAGE_START.isoformat(), COVERAGE_END.isoformat())
    assert source["legalBasis"] == f"SK Wali Kota Pasuruan No. 900/UJI/{YEAR}"
    assert (source["allocated"], source["billed"], source["paid"], source["remaining"]) == (
        str(ALLOCATED),
        "0",
        "0",
        str(ALLOCATED),
    )
    assert server.sql("SELECT region_code FROM funding_sources WHERE code = :c", c=CODE) == [(CITY,)]


# --- proposals


def test_operator_proposes_each_worker(server: Server, proposals: dict[str, dict[str, Any]]) -> None:
    """Each proposal is PROPOSED for JKK+JKM against the source, at Rp16,800 a month, not yet verified."""
    for enrollment in proposals.values():
        assert enrollment["status"] == "PROPOSED"
        assert enrollment["programmes"] == ["JKK", "JKM"]
        assert enrollment["fundingSource"]["code"] == CODE
        assert enrollment["monthlyContribution"] == str(CONTRIBUTION)
        assert enrollment["membershipNumber"] is None
        assert enrollment["verifiedAt"] is None
        assert enrollment["checks"] == []
    pks = [decode_pk(e["id"]) for e in proposals.values()]
    rows = server.sql(
        "SELECT id, status, monthly_contribution FROM enrollments WHERE id IN (:a, :b, :c, :d)",
        a=pks[0],
        b=pks[1],
        c=pks[2],
        d=pks[3],
    )
    assert sorted(rows) == sorted((pk, "PROPOSED", CONTRIBUTION) for pk in pks)


def test_proposing_twice_is_duplicate_proposal(
    life: Life, proposals: dict[str, dict[str, Any]], server: Server, operator: Api
) -> None:
    """A worker with an open enrollment cannot be proposed again: DUPLICATE_PROPOSAL on workerId."""
    before = server.snapshot()
    result = payload(
        operator,
        PROPOSE,
        "proposeEnrollment",
        input={"workerId": life.workers["four"]["id"], "fundingSourceCode": CODE, "programmes": ["JKK", "JKM"]},
    )
    assert result["enrollment"] is None
    assert problems(result) == [("DUPLICATE_PROPOSAL", "workerId")]
    assert server.snapshot() == before


@pytest.mark.parametrize("programmes", [["JHT"], ["JKK", "JHT"], []], ids=["jht", "jkk+jht", "none"])
def test_programmes_the_city_does_not_fund_are_refused(
    life: Life, proposals: dict[str, dict[str, Any]], server: Server, operator: Api, programmes: list[str]
) -> None:
    """The city funds JKK and JKM only: JHT (alone or with JKK), or no programme at all, is PROGRAMME_NOT_FUNDED."""
    before = server.snapshot()
    result = payload(
        operator,
        PROPOSE,
        "proposeEnrollment",
        input={"workerId": life.workers["spare"]["id"], "fundingSourceCode": CODE, "programmes": programmes},
    )
    assert problems(result) == [("PROGRAMME_NOT_FUNDED", "programmes")]
    assert server.snapshot() == before


def test_worker_aged_70_is_out_of_range(
    life: Life, proposals: dict[str, dict[str, Any]], server: Server, operator: Api
) -> None:
    """A worker aged 70 at coverage start is outside the 15-65 range: AGE_OUT_OF_RANGE on workerId, saying 70."""
    before = server.snapshot()
    result = payload(
        operator,
        PROPOSE,
        "proposeEnrollment",
        input={"workerId": life.workers["aged-70"]["id"], "fundingSourceCode": CODE, "programmes": ["JKK", "JKM"]},
    )
    assert problems(result) == [("AGE_OUT_OF_RANGE", "workerId")]
    assert "70" in result["errors"][0]["message"]
    assert server.snapshot() == before


# --- verification


def test_one_batch_succeeds_and_fails_per_item(life: Life, first_batch: list[dict[str, Any]], server: Server) -> None:
    """In one verifyEnrollments request #1 is approved (KPJ, coverage from May to the source's end, four checks),
    #2 rejected NIK_NOT_FOUND (its one check stored), and #3 alone fails INVALID_MEMBERSHIP_NUMBER: it stays
    PROPOSED with no checks, while #1 and #2 are committed."""
    one, two, three = first_batch
    e = life.enrollments
    assert [o["enrollmentId"] for o in first_batch] == [e["one"]["id"], e["two"]["id"], e["three"]["id"]]

    assert one["errors"] == []
    approved = one["enrollment"]
    assert approved["status"] == "ACTIVE"
    assert approved["membershipNumber"] == life.kpj["one"]
    assert (approved["coverageStart"], approved["coverageEnd"]) == (
        MEMBER_START.isoformat(),
        COVERAGE_END.isoformat(),
    )
    assert approved["verifiedAt"] is not None

    assert two["errors"] == []
    assert two["enrollment"]["status"] == "REJECTED"
    assert two["enrollment"]["rejectionReason"] == "NIK_NOT_FOUND"
    assert two["enrollment"]["membershipNumber"] is None

    assert three["enrollment"] is None
    assert problems(three) == [("INVALID_MEMBERSHIP_NUMBER", "membershipNumber")]

    pk = {name: decode_pk(e[name]["id"]) for name in ("one", "two", "three")}
    assert server.sql("SELECT status, membership_number FROM enrollments WHERE id = :i", i=pk["one"]) == [
        ("ACTIVE", life.kpj["one"])
    ]
    assert server.sql("SELECT status, rejection_reason FROM enrollments WHERE id = :i", i=pk["two"]) == [
        ("REJECTED", "NIK_NOT_FOUND")
    ]
    assert server.sql("SELECT status, verified_at FROM enrollments WHERE id = :i", i=pk["three"]) == [
        ("PROPOSED", None)
    ]
    counts = dict(
        server.sql(
            "SELECT enrollment_id, COUNT(*) FROM verification_checks WHERE enrollment_id IN (:a, :b, :c)"
            " GROUP BY enrollment_id",
            a=pk["one"],
            b=pk["two"],
            c=pk["three"],
        )
    )
    assert counts == {pk["one"]: 4, pk["two"]: 1}


def test_resubmitting_the_batch_changes_nothing(
    life: Life, first_batch: list[dict[str, Any]], server: Server, verifier: Api
) -> None:
    """The same batch sent again writes nothing at all (no checks, no status change, no audit event): #1 and #2
    come back as they are, without errors; #3 still fails."""
    before = server.snapshot()
    with on_day(server, VERIFY_DAY):
        outcomes = payload(verifier, VERIFY, "verifyEnrollments", input=first_batch_input(life))["outcomes"]
    assert server.snapshot() == before
    one, two, three = outcomes
    assert one["errors"] == []
    assert one["enrollment"]["id"] == life.enrollments["one"]["id"]
    assert one["enrollment"]["membershipNumber"] == life.kpj["one"]
    assert two["errors"] == []
    assert two["enrollment"]["status"] == "REJECTED"
    assert three["enrollment"] is None
    assert three["errors"]


def test_a_kpj_held_by_another_enrollment_is_refused(
    life: Life, first_batch: list[dict[str, Any]], server: Server, verifier: Api
) -> None:
    """Approving #4 with #1's KPJ: DUPLICATE_MEMBERSHIP_NUMBER on membershipNumber; #4 stays PROPOSED."""
    before = server.snapshot()
    with on_day(server, VERIFY_DAY):
        [outcome] = payload(
            verifier,
            VERIFY,
            "verifyEnrollments",
            input=[
                {
                    "enrollmentId": life.enrollments["four"]["id"],
                    "approved": True,
                    "membershipNumber": life.kpj["one"],
                    "coverageStart": MEMBER_START.isoformat(),
                    "checks": ALL_CHECKS,
                }
            ],
        )["outcomes"]
    assert outcome["enrollment"] is None
    assert problems(outcome) == [("DUPLICATE_MEMBERSHIP_NUMBER", "membershipNumber")]
    assert server.snapshot() == before


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"approved": True, "membershipNumber": "new"}, id="approve"),
        pytest.param({"approved": False, "rejectionReason": "OTHER"}, id="reject-for-another-reason"),
    ],
)
def test_a_rejected_enrollment_cannot_be_verified_again(
    life: Life, first_batch: list[dict[str, Any]], server: Server, verifier: Api, item: dict[str, Any]
) -> None:
    """REJECTED is final: verifying #2 again (approving, or rejecting for another reason) is INVALID_TRANSITION on
    enrollmentId, and the message names the current state."""
    if item.get("membershipNumber") == "new":
        item = {**item, "membershipNumber": fresh_kpj(server), "coverageStart": MEMBER_START.isoformat()}
    before = server.snapshot()
    [outcome] = payload(
        verifier, VERIFY, "verifyEnrollments", input=[{"enrollmentId": life.enrollments["two"]["id"], **item}]
    )["outcomes"]
    assert problems(outcome) == [("INVALID_TRANSITION", "enrollmentId")]
    assert "REJECTED" in outcome["errors"][0]["message"]
    assert server.snapshot() == before


def test_checks_are_readable(life: Life, first_batch: list[dict[str, Any]], verifier: Api, operator: Api) -> None:
    """enrollment.checks lists BPJSTK's checks (kind, passed, note): all four for #1, the failed Dukcapil match for
    #2, readable by BPJSTK and by the kelurahan that proposed (which must correct the record)."""
    for api in (verifier, operator):
        one = api.data(ENROLLMENT, id=life.enrollments["one"]["id"])["node"]
        two = api.data(ENROLLMENT, id=life.enrollments["two"]["id"])["node"]
        by_kind = {c["kind"]: c for c in one["checks"]}
        assert by_kind == {c["kind"]: c for c in ALL_CHECKS}
        assert two["checks"] == NIK_NOT_FOUND_CHECKS


# --- termination


def test_verifier_terminates_a_member(life: Life, terminated: dict[str, Any], server: Server, verifier: Api) -> None:
    """#1 terminated (MOVED_OUT, end of August) is TERMINATED with the reason and date stored; sending the same
    termination again answers the enrollment and writes nothing."""
    assert terminated["status"] == "TERMINATED"
    assert terminated["terminationReason"] == "MOVED_OUT"
    pk = decode_pk(terminated["id"])
    [(status, reason, on)] = server.sql(
        "SELECT status, termination_reason, terminated_on FROM enrollments WHERE id = :i", i=pk
    )
    assert (status, reason, str(on)) == ("TERMINATED", "MOVED_OUT", TERMINATED_ON.isoformat())
    assert terminated["coverageEnd"] == TERMINATED_ON.isoformat()  # the termination's day is the coverage's last

    before = server.snapshot()
    again = payload(
        verifier,
        TERMINATE,
        "terminateEnrollment",
        input={"enrollmentId": terminated["id"], "reason": "MOVED_OUT", "effectiveDate": TERMINATED_ON.isoformat()},
    )
    assert again["errors"] == []
    assert again["enrollment"]["status"] == "TERMINATED"
    assert server.snapshot() == before


def test_a_proposed_enrollment_cannot_be_terminated(
    life: Life, proposals: dict[str, dict[str, Any]], server: Server, verifier: Api
) -> None:
    """Terminating #4, still PROPOSED, is INVALID_TRANSITION on enrollmentId, naming PROPOSED; nothing written."""
    before = server.snapshot()
    result = payload(
        verifier,
        TERMINATE,
        "terminateEnrollment",
        input={
            "enrollmentId": life.enrollments["four"]["id"],
            "reason": "MOVED_OUT",
            "effectiveDate": TERMINATED_ON.isoformat(),
        },
    )
    assert result["enrollment"] is None
    assert problems(result) == [("INVALID_TRANSITION", "enrollmentId")]
    assert "PROPOSED" in result["errors"][0]["message"]
    assert server.snapshot() == before


# --- bills and payments


def test_bill_counts_the_members_of_the_month(life: Life, bills: dict[str, dict[str, Any]], server: Server) -> None:
    """A bill counts the members covered in its month (#3 from May; #1 from May to its termination in August; not
    the rejected #2 nor the proposed #4), at Rp16,800 each, ISSUED, due on the 15th moved to Monday the 16th."""
    period = f"{YEAR}-{BILL_MONTH:02d}"
    bill = bills[period]
    assert bill["period"] == period
    assert bill["fundingSource"]["code"] == CODE
    assert bill["participants"] == members_in(BILL_MONTH)
    assert bill["amount"] == str(members_in(BILL_MONTH) * CONTRIBUTION)
    assert bill["status"] == "ISSUED"
    assert bill["dueDate"] == date(YEAR, BILL_MONTH, 16).isoformat()
    if YEAR == 2025:
        assert bill["dueDate"] == "2025-06-16"
    assert bill["paidAt"] is None

    second = bills[f"{YEAR}-{SECOND_BILL_MONTH:02d}"]
    assert second["participants"] == members_in(SECOND_BILL_MONTH)
    assert second["amount"] == str(members_in(SECOND_BILL_MONTH) * CONTRIBUTION)
    rows = server.sql(
        "SELECT b.period, b.participants, b.amount FROM contribution_bills b JOIN funding_sources f"
        " ON f.id = b.funding_source_id WHERE f.code = :c ORDER BY b.period",
        c=CODE,
    )
    assert rows == sorted((p, b["participants"], int(b["amount"])) for p, b in bills.items())


def test_billing_a_month_twice_is_refused(bills: dict[str, dict[str, Any]], server: Server, verifier: Api) -> None:
    """Issuing a month already billed is ALREADY_BILLED on period; nothing written."""
    before = server.snapshot()
    result = payload(
        verifier,
        ISSUE,
        "issueContributionBill",
        input={"fundingSourceCode": CODE, "period": f"{YEAR}-{BILL_MONTH:02d}"},
    )
    assert result["bill"] is None
    assert problems(result) == [("ALREADY_BILLED", "period")]
    assert server.snapshot() == before


@pytest.mark.parametrize(
    ("period", "code"),
    [
        (f"{YEAR}-13", "INVALID_PERIOD"),
        (f"{YEAR}-00", "INVALID_PERIOD"),
        (f"{YEAR}-6", "INVALID_PERIOD"),
        ("June 2025", "INVALID_PERIOD"),
        (f"{YEAR}-01", "OUTSIDE_COVERAGE"),
    ],
)
def test_bill_period_must_be_a_covered_month(
    source: dict[str, Any], server: Server, verifier: Api, period: str, code: str
) -> None:
    """A period that is not a YYYY-MM month is INVALID_PERIOD, one before the coverage OUTSIDE_COVERAGE, both on
    field period; nothing written."""
    before = server.snapshot()
    result = payload(verifier, ISSUE, "issueContributionBill", input={"fundingSourceCode": CODE, "period": period})
    assert problems(result) == [(code, "period")]
    assert server.snapshot() == before


def test_payment_of_the_wrong_amount_is_refused(bills: dict[str, dict[str, Any]], server: Server, admin: Api) -> None:
    """Paying a bill any other amount than its own is AMOUNT_MISMATCH on amount; the bill stays ISSUED."""
    bill = bills[f"{YEAR}-{SECOND_BILL_MONTH:02d}"]
    before = server.snapshot()
    paid_at = (programme_now() - timedelta(hours=1)).replace(microsecond=0).isoformat()
    for amount in (int(bill["amount"]) + 1, int(bill["amount"]) - 1 if int(bill["amount"]) else 1):
        result = payload(
            admin, PAY, "recordBillPayment", input={"billId": bill["id"], "paidAt": paid_at, "amount": str(amount)}
        )
        assert result["bill"] is None
        assert problems(result) == [("AMOUNT_MISMATCH", "amount")]
    assert server.snapshot() == before


def test_payment_of_the_bill_amount_marks_it_paid(life: Life, paid: dict[str, Any]) -> None:
    """Paying exactly the bill's amount marks it PAID at the given time, and it is no longer overdue."""
    assert paid["status"] == "PAID"
    assert datetime.fromisoformat(paid["paidAt"]) == datetime.fromisoformat(life.paid_at)
    assert paid["overdue"] is False


def test_funding_figures_follow_the_bills(
    life: Life, paid: dict[str, Any], bills: dict[str, dict[str, Any]], server: Server, admin: Api
) -> None:
    """fundingSources reports billed = the sum of the source's bills, paid = the sum of the paid ones, and
    remaining = allocated - billed (an issued bill is committed money, paid or not)."""
    [found] = [s for s in admin.data(SOURCES, year=YEAR)["fundingSources"] if s["code"] == CODE]
    rows = server.sql(
        "SELECT b.amount, b.status FROM contribution_bills b JOIN funding_sources f ON f.id = b.funding_source_id"
        " WHERE f.code = :c",
        c=CODE,
    )
    billed = sum(int(a) for a, _ in rows)
    paid_total = sum(int(a) for a, s in rows if s == "PAID")
    assert billed == sum(int(b["amount"]) for b in bills.values())
    assert paid_total == int(paid["amount"])
    assert found["allocated"] == str(ALLOCATED)
    assert found["billed"] == str(billed)
    assert found["paid"] == str(paid_total)
    assert found["remaining"] == str(ALLOCATED - billed)


def test_paying_again_changes_nothing(life: Life, paid: dict[str, Any], server: Server, admin: Api) -> None:
    """The same payment (amount and paidAt) recorded again answers the paid bill without error and writes nothing;
    a different payment of a paid bill is ALREADY_PAID."""
    before = server.snapshot()
    again = payload(
        admin, PAY, "recordBillPayment", input={"billId": paid["id"], "paidAt": life.paid_at, "amount": paid["amount"]}
    )
    assert again["errors"] == []
    assert again["bill"]["status"] == "PAID"
    assert server.snapshot() == before

    other_time = (datetime.fromisoformat(life.paid_at) - timedelta(days=1)).isoformat()
    different = payload(
        admin, PAY, "recordBillPayment", input={"billId": paid["id"], "paidAt": other_time, "amount": paid["amount"]}
    )
    assert problems(different) == [("ALREADY_PAID", "billId")]
    assert server.snapshot() == before


# --- the audit trail


def test_every_successful_mutation_left_its_audit_event(
    life: Life, paid: dict[str, Any], third_approved: dict[str, Any], server: Server
) -> None:
    """Each successful mutation of the lifecycle left exactly one audit event with its action, its target's global
    id, the actor and the actor's agency: replays (batch resubmitted, payment recorded twice) added none."""
    actions = {action for action, _, _ in life.owed}
    assert actions == {
        "funding:allocate",
        "worker:create",
        "enrollment:propose",
        "enrollment:verify",
        "enrollment:terminate",
        "bill:issue",
        "bill:pay",
    }
    for action, target, (actor, agency) in life.owed:
        rows = server.sql(
            "SELECT actor, agency FROM audit_events WHERE action = :a AND target_id = :t", a=action, t=target
        )
        assert rows == [(actor, agency)], (action, target, rows)
