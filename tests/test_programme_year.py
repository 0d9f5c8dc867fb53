"""A whole programme year over GraphQL, each step by the agency that does it, on the server's programme calendar.

register -> propose -> verify (some rejected) -> bill four months -> pay three -> lapse check -> more months
unpaid -> lapse -> pay the arrears -> reactivation -> terminate -> realisation that matches the bills to the
rupiah, and a projection that the next bill then confirms. The server's date is set through its clock file
(``Server.calendar``), so the year runs the same whatever today's date is.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from tests.conftest import Api, Server, register_worker
from tests.test_lifecycle import ALLOCATE, ENROLLMENT_FIELDS, ISSUE, PROPOSE, TERMINATE, VERIFY

YEAR = 2031
PAY = """
mutation Pay($input: BillPaymentInput!) {
  recordBillPayment(input: $input) { bill { id status paidAt } errors { code field message } }
}"""
LAPSE = f"""
mutation Lapse($asOf: Date!) {{
  lapseOverdueMembers(asOf: $asOf) {{ lapsedCount enrollments {{ {ENROLLMENT_FIELDS} }} errors {{ code message }} }}
}}"""
REALISATION_FIELDS = """
  allocated billed paid remaining projectedSpend projectedRemaining
  months { period membersActive membersBilled billed paid projected isProjection }
"""
SOURCE = f"""
query Source($year: Int!) {{
  fundingSources(fiscalYear: $year) {{
    code allocated billed paid remaining membersAtRisk realisation {{ {REALISATION_FIELDS} }}
  }}
}}"""
SUMMARY = (
    f"query Summary($year: Int) {{ programmeSummary(fiscalYear: $year) {{ realisation {{ {REALISATION_FIELDS} }} }} }}"
)
BILLS = """
query Bills($year: Int!) {
  contributionBills(fiscalYear: $year, first: 100) {
    edges { node { id period participants amount status dueDate overdue fundingSource { code } } }
  }
}"""
STATUSES = """
query Statuses($code: String!) {
  enrollments(filter: {fundingSourceCode: $code}, first: 100) {
    edges { node { id status monthlyContribution terminationReason } }
  }
}"""


def _ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["errors"] == [], payload["errors"]
    return payload


def _kpj() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(11))


def _bills(api: Api, code: str) -> dict[str, dict[str, Any]]:
    edges = api.data(BILLS, year=YEAR)["contributionBills"]["edges"]
    return {e["node"]["period"]: e["node"] for e in edges if e["node"]["fundingSource"]["code"] == code}


def _source(api: Api, code: str) -> dict[str, Any]:
    (source,) = [s for s in api.data(SOURCE, year=YEAR)["fundingSources"] if s["code"] == code]
    return source


def _statuses(api: Api, code: str) -> dict[str, str]:
    edges = api.data(STATUSES, code=code)["enrollments"]["edges"]
    return {e["node"]["id"]: e["node"]["status"] for e in edges}


def test_a_programme_year(server: Server, admin: Api, operator: Api, verifier: Api) -> None:
    code = f"PY{YEAR}-{secrets.token_hex(2).upper()}"
    with server.calendar() as set_day:
        # January: Pemkot allocates the year's DBHCHT; the kelurahan registers and proposes six residents.
        set_day(date(YEAR, 1, 10))
        allocation = {
            "code": code,
            "name": f"DBHCHT {YEAR} (programme year test)",
            "fiscalYear": YEAR,
            "allocated": "20000000",
            "legalBasis": f"SK Wali Kota Pasuruan {YEAR}/TEST",
            "coverageStart": f"{YEAR}-02-01",
            "coverageEnd": f"{YEAR}-12-31",
        }
        _ok(admin.data(ALLOCATE, input=allocation)["recordFundingAllocation"])
        incomes = ["900000", "1200000", "2500000", "4000000", "1200000", "1500000"]
        workers = [_ok(register_worker(operator, monthlyIncome=income))["worker"] for income in incomes]
        proposals = [
            _ok(
                operator.data(
                    PROPOSE, input={"workerId": w["id"], "fundingSourceCode": code, "programmes": ["JKK", "JKM"]}
                )["proposeEnrollment"]
            )["enrollment"]
            for w in workers
        ]
        assert {p["status"] for p in proposals} == {"PROPOSED"}

        # BPJSTK verifies in one batch: four accepted, two rejected with the failed check recorded.
        accepted, rejected = proposals[:4], proposals[4:]
        passed = [{"kind": k, "passed": True} for k in ("NIK_MATCH", "EXISTING_MEMBERSHIP", "AGE", "DECEASED")]
        batch = [
            {"enrollmentId": p["id"], "approved": True, "membershipNumber": _kpj(), "checks": passed} for p in accepted
        ] + [
            {
                "enrollmentId": rejected[0]["id"],
                "approved": False,
                "rejectionReason": "NIK_NOT_FOUND",
                "checks": [{"kind": "NIK_MATCH", "passed": False, "note": "Dukcapil: no match"}],
            },
            {
                "enrollmentId": rejected[1]["id"],
                "approved": False,
                "rejectionReason": "ALREADY_ENROLLED",
                "checks": [{"kind": "EXISTING_MEMBERSHIP", "passed": False, "note": "active KPJ elsewhere"}],
            },
        ]
        outcomes = verifier.data(VERIFY, input=batch)["verifyEnrollments"]["outcomes"]
        assert [o["errors"] for o in outcomes] == [[]] * 6
        assert [o["enrollment"]["status"] for o in outcomes] == ["ACTIVE"] * 4 + ["REJECTED"] * 2
        assert {(o["enrollment"]["coverageStart"], o["enrollment"]["coverageEnd"]) for o in outcomes[:4]} == {
            (f"{YEAR}-02-01", f"{YEAR}-12-31")
        }
        assert outcomes[4]["enrollment"]["checks"] == [
            {"kind": "NIK_MATCH", "passed": False, "note": "Dukcapil: no match"}
        ]
        before = server.sql("SELECT id, status, verified_at, membership_number FROM enrollments ORDER BY id")
        again = verifier.data(VERIFY, input=batch)["verifyEnrollments"]["outcomes"]
        assert [o["errors"] for o in again] == [[]] * 6
        assert server.sql("SELECT id, status, verified_at, membership_number FROM enrollments ORDER BY id") == before
        contributions = {o["enrollment"]["id"]: int(o["enrollment"]["monthlyContribution"]) for o in outcomes[:4]}
        monthly = sum(contributions.values())

        # June: BPJSTK bills February to May; Pemkot pays three of them. One unpaid month lapses nobody.
        set_day(date(YEAR, 6, 20))
        for month in range(2, 6):
            bill = _ok(
                verifier.data(ISSUE, input={"fundingSourceCode": code, "period": f"{YEAR}-{month:02d}"})[
                    "issueContributionBill"
                ]
            )["bill"]
            assert (bill["participants"], int(bill["amount"])) == (4, monthly)
            due = date.fromisoformat(bill["dueDate"])
            assert due.day >= 15
            assert due.weekday() < 5
        twice = verifier.data(ISSUE, input={"fundingSourceCode": code, "period": f"{YEAR}-02"})
        assert [e["code"] for e in twice["issueContributionBill"]["errors"]] == ["ALREADY_BILLED"]
        bills = _bills(admin, code)
        for period in (f"{YEAR}-02", f"{YEAR}-03", f"{YEAR}-04"):
            paid = {"billId": bills[period]["id"], "paidAt": f"{YEAR}-06-19T10:00:00+07:00", "amount": str(monthly)}
            assert _ok(admin.data(PAY, input=paid)["recordBillPayment"])["bill"]["status"] == "PAID"
        assert _bills(admin, code)[f"{YEAR}-05"]["overdue"] is True
        assert verifier.data(LAPSE, asOf=f"{YEAR}-06-20")["lapseOverdueMembers"]["lapsedCount"] == 0
        assert _source(admin, code)["membersAtRisk"] == 0

        # July: June billed, May and June unpaid: Pemkot sees all four members at risk before anything happens.
        set_day(date(YEAR, 7, 20))
        _ok(verifier.data(ISSUE, input={"fundingSourceCode": code, "period": f"{YEAR}-06"})["issueContributionBill"])
        assert _source(admin, code)["membersAtRisk"] == 4

        # August: July billed, three months unpaid: the lapse run lapses the four; running it again does nothing.
        set_day(date(YEAR, 8, 20))
        _ok(verifier.data(ISSUE, input={"fundingSourceCode": code, "period": f"{YEAR}-07"})["issueContributionBill"])
        lapsed = verifier.data(LAPSE, asOf=f"{YEAR}-08-20")["lapseOverdueMembers"]
        mine = {e["id"] for e in lapsed["enrollments"]} & set(contributions)
        assert mine == set(contributions)
        assert {e["status"] for e in lapsed["enrollments"]} == {"LAPSED"}
        assert verifier.data(LAPSE, asOf=f"{YEAR}-08-20")["lapseOverdueMembers"]["lapsedCount"] == 0
        assert {_statuses(admin, code)[i] for i in contributions} == {"LAPSED"}

        # Paying the May arrears leaves two unpaid: the members are reactivated, and it is on record.
        bills = _bills(admin, code)
        may = {"billId": bills[f"{YEAR}-05"]["id"], "paidAt": f"{YEAR}-08-20T09:00:00+07:00", "amount": str(monthly)}
        _ok(admin.data(PAY, input=may)["recordBillPayment"])
        assert {_statuses(admin, code)[i] for i in contributions} == {"ACTIVE"}
        reactivated = server.sql("SELECT target_id FROM audit_events WHERE action = 'enrollment:reactivate'")
        assert set(contributions) <= {target for (target,) in reactivated}

        # One member died on 15 August: BPJSTK ends the coverage, once it has happened (as a move is recorded).
        gone = accepted[0]["id"]
        ahead = {"enrollmentId": gone, "reason": "DECEASED", "effectiveDate": f"{YEAR}-08-31"}
        refused = verifier.data(TERMINATE, input=ahead)["terminateEnrollment"]["errors"]
        assert [(e["code"], e["field"]) for e in refused] == [("FUTURE_DATE", "effectiveDate")]
        ended = verifier.data(
            TERMINATE, input={"enrollmentId": gone, "reason": "DECEASED", "effectiveDate": f"{YEAR}-08-15"}
        )
        ended_enrollment = _ok(ended["terminateEnrollment"])["enrollment"]
        assert (ended_enrollment["status"], ended_enrollment["coverageEnd"]) == ("TERMINATED", f"{YEAR}-08-15")

        # Realisation: every billed month is its bill, totals are the sums, the rest of the year is projected.
        source = _source(admin, code)
        real = source["realisation"]
        bills = _bills(admin, code)
        months = {m["period"]: m for m in real["months"]}
        assert list(months) == [f"{YEAR}-{m:02d}" for m in range(2, 13)]
        for period, bill in bills.items():
            m = months[period]
            assert (m["billed"], m["membersBilled"], m["isProjection"]) == (bill["amount"], bill["participants"], False)
            assert int(m["paid"]) == (int(bill["amount"]) if bill["status"] == "PAID" else 0)
            assert m["projected"] == bill["amount"]
        assert int(real["billed"]) == sum(int(b["amount"]) for b in bills.values()) == 6 * monthly
        assert int(real["paid"]) == 4 * monthly
        assert (real["allocated"], real["billed"], real["paid"], real["remaining"]) == (
            source["allocated"],
            source["billed"],
            source["paid"],
            source["remaining"],
        )
        assert int(real["remaining"]) == 20_000_000 - 6 * monthly
        # August still counts the member who died on the 15th; September to December the three others.
        survivors = monthly - contributions[gone]
        assert months[f"{YEAR}-08"]["isProjection"] is True
        assert (months[f"{YEAR}-08"]["membersActive"], int(months[f"{YEAR}-08"]["projected"])) == (4, monthly)
        for month in range(9, 13):
            m = months[f"{YEAR}-{month:02d}"]
            assert (m["membersActive"], int(m["projected"]), int(m["billed"])) == (3, survivors, 0)
        assert int(real["projectedSpend"]) == 7 * monthly + 4 * survivors
        assert int(real["projectedRemaining"]) == 20_000_000 - int(real["projectedSpend"])
        summary = admin.data(SUMMARY, year=YEAR)["programmeSummary"]["realisation"]
        assert summary == real  # the year has this one source

        # The projection is what the bill then says: August billed now equals August projected before.
        set_day(date(YEAR, 9, 5))
        august = verifier.data(ISSUE, input={"fundingSourceCode": code, "period": f"{YEAR}-08"})
        bill = _ok(august["issueContributionBill"])["bill"]
        assert (bill["participants"], bill["amount"]) == (4, months[f"{YEAR}-08"]["projected"])

        # Those without funding:read see no money.
        assert operator.data(SUMMARY, year=YEAR)["programmeSummary"]["realisation"] is None


def test_a_due_date_moves_past_the_weekend_and_a_public_holiday(admin: Api, verifier: Api) -> None:
    """15 August 2026 is a Saturday and Monday the 17th is Independence Day (db/reference/public_holidays.csv):
    the contribution for August 2026 is due on Tuesday the 18th."""
    code = f"HOL2026-{secrets.token_hex(2).upper()}"
    allocation = {"code": code, "name": "holiday test", "fiscalYear": 2026, "allocated": "1000000"}
    _ok(admin.data(ALLOCATE, input=allocation)["recordFundingAllocation"])
    bill = _ok(verifier.data(ISSUE, input={"fundingSourceCode": code, "period": "2026-08"})["issueContributionBill"])
    assert bill["bill"]["dueDate"] == "2026-08-18"
