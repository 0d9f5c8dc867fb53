"""The budget ceiling at proposal, lapse after three unpaid bills, reactivation by paying, the at-risk figure.

Time: today is read in WIB; a proposal starts coverage on the 1st of next month, so sources are made for the year
of that month (``YEAR``), like tests/test_lifecycle.py does. Members are verified with coverage from June of
``YEAR`` and billed June-August, whose due dates (the 15th, or the Monday after) have passed by ``AS_OF``: today
when ``YEAR`` is this year, else 1 October of ``YEAR``.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.ids import parse_global_id
from api.rules.contributions import budget_shortfall
from api.rules.months import months_inclusive
from tests.conftest import KARANGKETUG, ROOT, Api, Server, programme_now, programme_today, register_worker
from tests.documents import PROPOSE

JAKARTA = ZoneInfo("Asia/Jakarta")
CONTRIBUTION = 16_800
TODAY = programme_today()


def _next_month_start(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


PROPOSAL_START = _next_month_start(TODAY)
YEAR = PROPOSAL_START.year
AS_OF = TODAY if TODAY.year == YEAR else date(YEAR, 10, 1)
MEMBER_START = date(YEAR, 6, 1)
VERIFY_DAY = date(YEAR, 5, 20)
BILLED_MONTHS = (6, 7, 8)
VERIFIER = ("bpjstk-verifier-35@test", "BPJSTK")
ADMIN = ("pemkot-admin-3575@test", "PEMKOT")

ENROLLMENT_FIELDS = "id status coverageStart monthlyContribution fundingSource { code }"
ALLOCATE = """
mutation Allocate($input: FundingAllocationInput!) {
  recordFundingAllocation(input: $input) { fundingSource { id code } errors { code field message } }
}"""
VERIFY = f"""
mutation Verify($input: [VerificationResultInput!]!) {{
  verifyEnrollments(input: $input) {{
    outcomes {{ enrollmentId enrollment {{ {ENROLLMENT_FIELDS} }} errors {{ code field message }} }}
  }}
}}"""
ISSUE = """
mutation Issue($input: IssueContributionBillInput!) {
  issueContributionBill(input: $input) { bill { id period amount status dueDate } errors { code field message } }
}"""
PAY = """
mutation Pay($input: BillPaymentInput!) {
  recordBillPayment(input: $input) { bill { id status } errors { code field message } }
}"""
LAPSE = f"""
mutation Lapse($asOf: Date!) {{
  lapseOverdueMembers(asOf: $asOf) {{
    lapsedCount enrollments {{ {ENROLLMENT_FIELDS} }} errors {{ code field message }}
  }}
}}"""
ENROLLMENT = "query One($id: ID!) { node(id: $id) { ... on Enrollment { id status } } }"
SOURCES = "query Sources($year: Int) { fundingSources(fiscalYear: $year) { code remaining membersAtRisk } }"


def payload(api: Api, query: str, mutation: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data(query, **variables)[mutation]
    return result


def problems(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in result["errors"]]


def allocate(admin: Api, prefix: str, allocated: int) -> str:
    code = f"{prefix}-{secrets.token_hex(3).upper()}"
    result = payload(
        admin,
        ALLOCATE,
        "recordFundingAllocation",
        input={
            "code": code,
            "name": f"Sumber uji {prefix}",
            "fiscalYear": YEAR,
            "allocated": str(allocated),
            "coverageStart": f"{YEAR}-01-01",
            "coverageEnd": f"{YEAR}-12-31",
        },
    )
    assert result["errors"] == [], result
    return code


def propose(api: Api, worker_id: str, code: str) -> dict[str, Any]:
    return payload(
        api,
        PROPOSE,
        "proposeEnrollment",
        input={"workerId": worker_id, "fundingSourceCode": code, "programmes": ["JKK", "JKM"]},
    )


def fresh_kpj(server: Server) -> str:
    rng = random.Random()
    while True:
        kpj = str(rng.randrange(10**10, 10**11))
        if not server.sql("SELECT 1 FROM enrollments WHERE membership_number = :k", k=kpj):
            return kpj


def enroll_members(server: Server, operator: Api, verifier: Api, code: str, n: int) -> list[str]:
    """Register, propose and verify ``n`` Bugul Lor workers on ``code`` with coverage from June: their ids."""
    ids = []
    for i in range(n):
        worker = register_worker(operator, fullName=f"Pekerja Tunggakan {i}")["worker"]
        proposed = propose(operator, worker["id"], code)
        assert proposed["errors"] == [], proposed
        ids.append(proposed["enrollment"]["id"])
    batch = [
        {
            "enrollmentId": eid,
            "approved": True,
            "membershipNumber": fresh_kpj(server),
            "coverageStart": str(MEMBER_START),
        }
        for eid in ids
    ]
    with server.calendar() as set_day:
        set_day(VERIFY_DAY)  # coverage is never backdated: BPJSTK verifies in May for June
        outcomes = payload(verifier, VERIFY, "verifyEnrollments", input=batch)["outcomes"]
    assert all(o["errors"] == [] and o["enrollment"]["status"] == "ACTIVE" for o in outcomes), outcomes
    return ids


def issue(server: Server, verifier: Api, code: str, month: int) -> dict[str, Any]:
    """BPJSTK bills a month of ``YEAR`` on ``AS_OF`` (every billed month has begun by then)."""
    with server.calendar() as set_day:
        set_day(AS_OF)
        result = payload(
            verifier, ISSUE, "issueContributionBill", input={"fundingSourceCode": code, "period": f"{YEAR}-{month:02d}"}
        )
    assert result["errors"] == [], result
    bill: dict[str, Any] = result["bill"]
    assert date.fromisoformat(bill["dueDate"]) < AS_OF
    return bill


def pay(admin: Api, bill: dict[str, Any]) -> dict[str, Any]:
    paid_at = (programme_now() - timedelta(hours=1)).replace(microsecond=0).isoformat()
    return payload(
        admin, PAY, "recordBillPayment", input={"billId": bill["id"], "paidAt": paid_at, "amount": bill["amount"]}
    )


def statuses(server: Server, ids: list[str]) -> set[str]:
    parsed = [parse_global_id(i) for i in ids]
    pks = [p[1] for p in parsed if p is not None]
    rows = server.sql(f"SELECT status FROM enrollments WHERE id IN ({','.join(map(str, pks))})")  # noqa: S608
    return {s for (s,) in rows}


def audit_rows(server: Server, action: str, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    return {
        i: [
            (str(a), str(g))
            for a, g in server.sql(
                "SELECT actor, agency FROM audit_events WHERE action = :a AND target_id = :t", a=action, t=i
            )
        ]
        for i in ids
    }


def at_risk(api: Api, code: str) -> int:
    [found] = [s for s in api.data(SOURCES, year=YEAR)["fundingSources"] if s["code"] == code]
    return int(found["membersAtRisk"])


# --- the budget ceiling


def test_budget_arithmetic() -> None:
    """The pure rule: committed plus the new member, over the months left, against what remains."""
    assert months_inclusive(date(2026, 12, 1), date(2026, 12, 31)) == 1
    assert months_inclusive(date(2026, 6, 1), date(2026, 12, 31)) == 7
    assert months_inclusive(date(2027, 1, 1), date(2026, 12, 31)) == 0
    assert budget_shortfall(committed_monthly=33_600, new_monthly=16_800, months=2, remaining=100_800) == 0
    assert budget_shortfall(committed_monthly=33_600, new_monthly=16_800, months=2, remaining=100_799) == 1


def test_proposal_over_the_ceiling_is_refused(server: Server, admin: Api, operator: Api) -> None:
    """A source funding exactly two members to the end of its coverage: a member proposed by Pemkot in another
    kelurahan (invisible to the Bugul Lor operator) and one proposed by Bugul Lor fit; the third is refused with
    BUDGET_EXCEEDED on fundingSourceCode naming the figures, and nothing is written."""
    months = months_inclusive(PROPOSAL_START, date(YEAR, 12, 31))
    allocated = 2 * CONTRIBUTION * months
    code = allocate(admin, "TEST-BUDGET", allocated)

    elsewhere = register_worker(admin, KARANGKETUG, fullName="Pekerja Anggaran Lain")["worker"]
    assert propose(admin, elsewhere["id"], code)["errors"] == []
    first = register_worker(operator, fullName="Pekerja Anggaran Satu")["worker"]
    fits = propose(operator, first["id"], code)
    assert fits["errors"] == [], fits
    assert fits["enrollment"]["status"] == "PROPOSED"

    second = register_worker(operator, fullName="Pekerja Anggaran Dua")["worker"]
    before = server.snapshot()
    refused = propose(operator, second["id"], code)
    assert server.snapshot() == before
    assert refused["enrollment"] is None
    assert problems(refused) == [("BUDGET_EXCEEDED", "fundingSourceCode")]
    message = refused["errors"][0]["message"]
    assert f"Rp{allocated}" in message
    assert "2 committed members" in message
    assert f"Rp{3 * CONTRIBUTION * months}" in message
    assert f"{months} months" in message


# --- lapse and reactivation


@dataclass
class Arrears:
    code: str
    members: list[str]
    bills: list[dict[str, Any]] = field(default_factory=list)
    lapsed: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def arrears(server: Server, admin: Api, operator: Api, verifier: Api) -> Arrears:
    """Two members from June; June and July billed and left unpaid."""
    code = allocate(admin, "TEST-LAPSE", 100_000_000)
    found = Arrears(code=code, members=enroll_members(server, operator, verifier, code, 2))
    found.bills = [issue(server, verifier, code, m) for m in BILLED_MONTHS[:2]]
    return found


def test_two_unpaid_bills_put_members_at_risk(arrears: Arrears, admin: Api, verifier: Api) -> None:
    """With exactly two bills unpaid past due, every active member is at risk; no one lapses yet."""
    if AS_OF == TODAY:
        assert at_risk(admin, arrears.code) == 2
    result = payload(verifier, LAPSE, "lapseOverdueMembers", asOf=AS_OF.isoformat())
    assert result["errors"] == []
    assert not {e["id"] for e in result["enrollments"]} & set(arrears.members)


@pytest.fixture(scope="module")
def lapsed(arrears: Arrears, server: Server, verifier: Api) -> Arrears:
    """The third month billed and unpaid; BPJSTK runs the lapse."""
    arrears.bills.append(issue(server, verifier, arrears.code, BILLED_MONTHS[2]))
    arrears.lapsed = payload(verifier, LAPSE, "lapseOverdueMembers", asOf=AS_OF.isoformat())
    return arrears


def test_three_unpaid_bills_lapse_the_members(lapsed: Arrears, server: Server, admin: Api) -> None:
    """Both members are LAPSED, each with one enrollment:lapse audit event by BPJSTK; none at risk any more."""
    assert lapsed.lapsed["errors"] == []
    returned = {e["id"]: e for e in lapsed.lapsed["enrollments"]}
    assert set(lapsed.members) <= set(returned)
    assert lapsed.lapsed["lapsedCount"] == len(returned)
    assert {returned[i]["status"] for i in lapsed.members} == {"LAPSED"}
    assert statuses(server, lapsed.members) == {"LAPSED"}
    assert audit_rows(server, "enrollment:lapse", lapsed.members) == {i: [VERIFIER] for i in lapsed.members}
    assert admin.data(ENROLLMENT, id=lapsed.members[0])["node"]["status"] == "LAPSED"
    assert at_risk(admin, lapsed.code) == 0


def test_lapsing_again_changes_nothing(lapsed: Arrears, server: Server, verifier: Api) -> None:
    before = server.snapshot()
    again = payload(verifier, LAPSE, "lapseOverdueMembers", asOf=AS_OF.isoformat())
    assert again == {"lapsedCount": 0, "enrollments": [], "errors": []}
    assert server.snapshot() == before


@pytest.mark.parametrize("role", ["pemkot-admin", "kelurahan-operator", "auditor"])
def test_only_bpjstk_may_lapse(lapsed: Arrears, server: Server, role: str) -> None:
    """lapseOverdueMembers asks for enrollment:verify (BPJSTK's alone): anyone else gets FORBIDDEN."""
    before = server.snapshot()
    result = server.api(role).result(LAPSE, asOf=AS_OF.isoformat())
    assert "FORBIDDEN" in result.error_codes
    assert server.snapshot() == before


@pytest.fixture(scope="module")
def reactivated(lapsed: Arrears, admin: Api) -> Arrears:
    """Pemkot pays the June bill: two remain unpaid, fewer than three."""
    result = pay(admin, lapsed.bills[0])
    assert result["errors"] == [], result
    return lapsed


def test_paying_arrears_reactivates(reactivated: Arrears, server: Server, admin: Api) -> None:
    """The members are ACTIVE again, each with one enrollment:reactivate event by the payer; with two bills still
    unpaid they are at risk; paying the rest reactivates nothing twice."""
    assert statuses(server, reactivated.members) == {"ACTIVE"}
    assert audit_rows(server, "enrollment:reactivate", reactivated.members) == {i: [ADMIN] for i in reactivated.members}
    if AS_OF == TODAY:
        assert at_risk(admin, reactivated.code) == 2
    for bill in reactivated.bills[1:]:
        assert pay(admin, bill)["errors"] == []
    assert statuses(server, reactivated.members) == {"ACTIVE"}
    assert audit_rows(server, "enrollment:reactivate", reactivated.members) == {i: [ADMIN] for i in reactivated.members}
    assert at_risk(admin, reactivated.code) == 0


# --- the command line


def test_cli_lapse(server: Server, admin: Api, operator: Api, verifier: Api) -> None:
    """`rentan lapse --as-of` lapses like the mutation, as BPJSTK's batch job (actor rentan-cli); a second run
    lapses nothing."""
    code = allocate(admin, "TEST-LAPSE-CLI", 100_000_000)
    members = enroll_members(server, operator, verifier, code, 1)
    for month in BILLED_MONTHS:
        issue(server, verifier, code, month)
    env = {**os.environ, "RENTAN_DATABASE_URL": server.database_url}
    runs = [
        subprocess.run(
            [sys.executable, "-m", "api.cli", "lapse", "--as-of", AS_OF.isoformat()],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for _ in range(2)
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert "lapsed 1 members" in runs[0].stderr
    assert statuses(server, members) == {"LAPSED"}
    assert audit_rows(server, "enrollment:lapse", members) == {members[0]: [("rentan-cli", "BPJSTK")]}
    assert runs[1].returncode == 0, runs[1].stderr
    assert "lapsed 0 members" in runs[1].stderr
    bad = subprocess.run(
        [sys.executable, "-m", "api.cli", "lapse", "--as-of", "24-11-2026"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
