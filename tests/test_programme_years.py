"""Two programme years as one story over GraphQL, each step by the agency that does it, on the server's calendar.

2026: allocate, register, propose, verify, bill and pay every month. December: allocate 2027, propose against it
(and be told, with the dates, why 2026 no longer takes proposals), renew three of the four members (a retry acts
once), verify the renewals with the same KPJ. 1 January 2027: the end-of-coverage job ends every 2026 coverage,
the member not renewed is ENDED, the renewed carry on; January is billed for the renewed only; the realisation of
both years reconciles to the rupiah.

It runs on a server and database of its own (tests/conftest.py, own_server): the end-of-coverage job ends every
coverage whose last day is past, which on the suite's shared database would reach the other tests' rows.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Api, Server, own_server, register_worker
from tests.documents import PROPOSE
from tests.test_client_id import read_csv, run_client

ENROLLMENT = """
  id status membershipNumber coverageStart coverageEnd monthlyContribution
  fundingSource { code } worker { id } renews { id status membershipNumber coverageEnd }
"""
ALLOCATE = """
mutation A($i: FundingAllocationInput!) {
  recordFundingAllocation(input: $i) { fundingSource { code } errors { code field message } }
}"""
VERIFY = f"""
mutation V($i: [VerificationResultInput!]!) {{
  verifyEnrollments(input: $i) {{
    outcomes {{ enrollmentId enrollment {{ {ENROLLMENT} }} errors {{ code field message }} }}
  }}
}}"""
RENEW = f"""
mutation R($i: RenewEnrollmentsInput!) {{
  renewEnrollments(input: $i) {{
    outcomes {{ enrollmentId renewal {{ {ENROLLMENT} }} errors {{ code field message }} }}
    errors {{ code field message }}
  }}
}}"""
END = f"""
mutation E($asOf: Date!) {{
  endCoverage(asOf: $asOf) {{ endedCount enrollments {{ {ENROLLMENT} }} errors {{ code field message }} }}
}}"""
ISSUE = """
mutation I($i: IssueContributionBillInput!) {
  issueContributionBill(input: $i) { bill { id period participants amount } errors { code field message } }
}"""
PAY = """
mutation P($i: BillPaymentInput!) {
  recordBillPayment(input: $i) { bill { id status } errors { code field message } }
}"""
WORKERS = f"""
query W($kel: String!) {{
  workers(filter: {{kelurahanCode: $kel}}, first: 50) {{
    edges {{ node {{ id currentEnrollment {{ {ENROLLMENT} }} enrollments {{ id status }} }} }}
  }}
}}"""
IN_SOURCE = """
query InSource($code: String!) {
  enrollments(filter: {fundingSourceCode: $code}, first: 50) {
    edges { node { id status membershipNumber worker { nik } } }
  }
}"""
SUMMARY = """
query S($year: Int) {
  programmeSummary(fiscalYear: $year) {
    activeEnrollments
    realisation { allocated billed paid remaining months { period billed paid membersBilled } }
  }
}"""
PASSED = [{"kind": k, "passed": True} for k in ("NIK_MATCH", "EXISTING_MEMBERSHIP", "AGE", "DECEASED")]
KELURAHAN = "3575041010"  # Bugul Lor, the operator's


def _ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["errors"] == [], payload["errors"]
    return payload


def _kpj() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(11))


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


@pytest.fixture(scope="module")
def own(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with own_server(server, tmp_path_factory.mktemp("programme-years")) as running:
        yield running


def _allocate(admin: Api, year: int, allocated: str) -> str:
    code = f"DBHCHT-{year}"
    allocation = {
        "code": code,
        "name": f"DBHCHT {year} - jaminan sosial pekerja rentan",
        "fiscalYear": year,
        "allocated": allocated,
        "legalBasis": f"Keputusan Wali Kota Pasuruan {year}",
        "coverageStart": f"{year}-01-01",
        "coverageEnd": f"{year}-12-31",
    }
    _ok(admin.data(ALLOCATE, i=allocation)["recordFundingAllocation"])
    return code


def _bill_and_pay(own: Server, admin: Api, verifier: Api, code: str, year: int, month: int) -> dict[str, Any]:
    """BPJSTK bills the month on its 2nd day; Pemkot pays on the 10th, in full."""
    period = f"{year}-{month:02d}"
    with own.calendar() as set_day:
        set_day(date(year, month, 2))
        bill = _ok(verifier.data(ISSUE, i={"fundingSourceCode": code, "period": period})["issueContributionBill"])
        bill = bill["bill"]
        set_day(date(year, month, 10))
        paid_at = f"{year}-{month:02d}-10T09:00:00+07:00"
        payment = {"billId": bill["id"], "paidAt": paid_at, "amount": bill["amount"]}
        assert _ok(admin.data(PAY, i=payment)["recordBillPayment"])["bill"]["status"] == "PAID"
    return dict(bill)


def _current(operator: Api, worker_id: str) -> dict[str, Any] | None:
    edges = operator.data(WORKERS, kel=KELURAHAN)["workers"]["edges"]
    (node,) = [e["node"] for e in edges if e["node"]["id"] == worker_id]
    current: dict[str, Any] | None = node["currentEnrollment"]
    return current


def test_two_programme_years(own: Server, tmp_path: Path) -> None:
    admin, operator, verifier = own.api("pemkot-admin"), own.api("kelurahan-operator"), own.api("bpjstk-verifier")
    bills: dict[str, dict[str, Any]] = {}
    with own.calendar() as set_day:
        # --- 2026: January, the city allocates the year; the kelurahan registers and proposes four residents.
        set_day(date(2026, 1, 5))
        y2026 = _allocate(admin, 2026, "50000000")
        incomes = ["900000", "1200000", "2500000", "1500000"]
        workers = [_ok(register_worker(operator, monthlyIncome=i))["worker"]["id"] for i in incomes]
        proposed = [
            _ok(
                operator.data(PROPOSE, input={"workerId": w, "fundingSourceCode": y2026, "programmes": ["JKK", "JKM"]})[
                    "proposeEnrollment"
                ]
            )["enrollment"]["id"]
            for w in workers
        ]
        # BPJSTK verifies on 20 January: coverage from 1 February. A backdated start is refused, with the dates.
        set_day(date(2026, 1, 20))
        backdated = [
            {"enrollmentId": proposed[0], "approved": True, "membershipNumber": _kpj(), "coverageStart": "2025-12-01"}
        ]
        [refused] = verifier.data(VERIFY, i=backdated)["verifyEnrollments"]["outcomes"]
        assert _codes(refused) == ["INVALID_DATE"]
        assert "2025-12-01" in refused["errors"][0]["message"]
        assert "2026-01-01" in refused["errors"][0]["message"]
        kpj = {e: _kpj() for e in proposed}
        batch = [{"enrollmentId": e, "approved": True, "membershipNumber": kpj[e], "checks": PASSED} for e in proposed]
        outcomes = verifier.data(VERIFY, i=batch)["verifyEnrollments"]["outcomes"]
        assert [o["errors"] for o in outcomes] == [[]] * 4
        assert {(o["enrollment"]["coverageStart"], o["enrollment"]["coverageEnd"]) for o in outcomes} == {
            ("2026-02-01", "2026-12-31")
        }
        monthly = {o["enrollmentId"]: int(o["enrollment"]["monthlyContribution"]) for o in outcomes}

    # --- February to December 2026: each month billed and paid, every member counted.
    for month in range(2, 13):
        bill = _bill_and_pay(own, admin, verifier, y2026, 2026, month)
        assert (bill["participants"], int(bill["amount"])) == (4, sum(monthly.values())), bill
        bills[bill["period"]] = bill

    with own.calendar() as set_day:
        # --- December 2026: the city allocates 2027; proposals against it are taken, coverage from 1 January.
        set_day(date(2026, 12, 1))
        y2027 = _allocate(admin, 2027, "60000000")
        newcomer = _ok(register_worker(operator, monthlyIncome="1000000"))["worker"]["id"]
        late = operator.data(
            PROPOSE, input={"workerId": newcomer, "fundingSourceCode": y2026, "programmes": ["JKK", "JKM"]}
        )
        closed = late["proposeEnrollment"]["errors"]
        assert [e["code"] for e in closed] == ["SOURCE_CLOSED"]
        assert all(d in closed[0]["message"] for d in ("2026-12-01", "2027-01-01", "2026-12-31")), closed
        fresh = _ok(
            operator.data(
                PROPOSE, input={"workerId": newcomer, "fundingSourceCode": y2027, "programmes": ["JKK", "JKM"]}
            )["proposeEnrollment"]
        )["enrollment"]
        assert fresh["status"] == "PROPOSED"

        # Pemkot renews three of the four; the fourth (the last) is not carried over.
        set_day(date(2026, 12, 3))
        renewed, left = proposed[:3], proposed[3]
        request = {"fromFundingSourceCode": y2026, "toFundingSourceCode": y2027, "enrollmentIds": renewed}
        payload = _ok(admin.data(RENEW, i=request)["renewEnrollments"])
        assert [o["errors"] for o in payload["outcomes"]] == [[]] * 3
        renewals = {o["enrollmentId"]: o["renewal"] for o in payload["outcomes"]}
        for old, renewal in renewals.items():
            assert renewal["status"] == "PROPOSED"
            assert renewal["renews"]["id"] == old
            assert renewal["coverageStart"] == "2027-01-01"
            assert renewal["membershipNumber"] == kpj[old]
            assert renewal["fundingSource"]["code"] == y2027
        # A retry acts once: the same renewals answer, no row is added.
        rows = own.sql("SELECT count(*) FROM enrollments")
        again = _ok(admin.data(RENEW, i=request)["renewEnrollments"])
        assert {o["enrollmentId"]: o["renewal"]["id"] for o in again["outcomes"]} == {
            old: r["id"] for old, r in renewals.items()
        }
        assert own.sql("SELECT count(*) FROM enrollments") == rows
        # Refusals name the field and the rule, and change nothing.
        same = admin.data(RENEW, i={**request, "toFundingSourceCode": y2026})["renewEnrollments"]
        assert _codes(same) == ["SAME_SOURCE"]
        assert same["outcomes"] == []
        backwards = {"fromFundingSourceCode": y2027, "toFundingSourceCode": y2026, "enrollmentIds": [left]}
        wrong = admin.data(RENEW, i=backwards)
        assert _codes(wrong["renewEnrollments"]) == ["OUTSIDE_COVERAGE"]
        # In December the member's current enrollment is still this year's; next year's waits behind it.
        assert _current(operator, workers[0])["fundingSource"]["code"] == y2026  # type: ignore[index]

        # BPJSTK verifies the renewals, keeping the KPJ: given again, or left out. Another KPJ is refused.
        set_day(date(2026, 12, 10))
        ids = [renewals[e]["id"] for e in renewed]
        other = verifier.data(VERIFY, i=[{"enrollmentId": ids[0], "approved": True, "membershipNumber": _kpj()}])
        [refused] = other["verifyEnrollments"]["outcomes"]
        assert _codes(refused) == ["INVALID_MEMBERSHIP_NUMBER"]
        assert kpj[renewed[0]] in refused["errors"][0]["message"]
        batch = [
            {"enrollmentId": ids[0], "approved": True, "membershipNumber": kpj[renewed[0]], "checks": PASSED},
            {"enrollmentId": ids[1], "approved": True, "checks": PASSED},
            {"enrollmentId": ids[2], "approved": True},
        ]
        outcomes = verifier.data(VERIFY, i=batch)["verifyEnrollments"]["outcomes"]
        assert [o["errors"] for o in outcomes] == [[]] * 3
        assert [o["enrollment"]["membershipNumber"] for o in outcomes] == [kpj[e] for e in renewed]
        assert {(o["enrollment"]["status"], o["enrollment"]["coverageStart"]) for o in outcomes} == {
            ("ACTIVE", "2027-01-01")
        }
        renewal_monthly = {o["enrollmentId"]: int(o["enrollment"]["monthlyContribution"]) for o in outcomes}

        # A month is billed once it has begun, and coverage is not ended ahead of time.
        ahead = verifier.data(ISSUE, i={"fundingSourceCode": y2027, "period": "2027-01"})["issueContributionBill"]
        assert _codes(ahead) == ["PERIOD_NOT_BEGUN"]
        assert "2027-01-01" in ahead["errors"][0]["message"]
        early = verifier.data(END, asOf="2027-01-01")["endCoverage"]
        assert _codes(early) == ["INVALID_DATE"]
        assert early["endedCount"] == 0

        # --- 1 January 2027: the monthly job ends every 2026 coverage; the renewals carry on.
        set_day(date(2027, 1, 1))
        ended = _ok(verifier.data(END, asOf="2027-01-01")["endCoverage"])
        assert ended["endedCount"] == 4
        assert {e["id"] for e in ended["enrollments"]} == set(proposed)
        assert {e["status"] for e in ended["enrollments"]} == {"ENDED"}
        assert _ok(verifier.data(END, asOf="2027-01-01")["endCoverage"])["endedCount"] == 0  # run again: nothing
        assert _current(operator, workers[3])["status"] == "ENDED"  # type: ignore[index]
        for worker, old in zip(workers[:3], renewed, strict=True):
            current = _current(operator, worker)
            assert current is not None
            assert (current["status"], current["fundingSource"]["code"]) == ("ACTIVE", y2027)
            assert (current["renews"]["id"], current["renews"]["status"]) == (old, "ENDED")
        summary = operator.data(SUMMARY, year=None)["programmeSummary"]
        assert summary["activeEnrollments"] == 3

        # The 2026 source bills no month of 2027.
        set_day(date(2027, 1, 2))
        outside = verifier.data(ISSUE, i={"fundingSourceCode": y2026, "period": "2027-01"})["issueContributionBill"]
        assert _codes(outside) == ["OUTSIDE_COVERAGE"]

    # --- January 2027 is billed for the renewed only (the newcomer's proposal is still with BPJSTK).
    january = _bill_and_pay(own, admin, verifier, y2027, 2027, 1)
    assert (january["participants"], int(january["amount"])) == (3, sum(renewal_monthly.values()))

    # --- The realisation of both years reconciles to the rupiah.
    with own.calendar() as set_day:
        set_day(date(2027, 1, 15))
        for year, code, allocated, year_bills in (
            (2026, y2026, 50_000_000, list(bills.values())),
            (2027, y2027, 60_000_000, [january]),
        ):
            realisation = admin.data(SUMMARY, year=year)["programmeSummary"]["realisation"]
            billed = sum(int(b["amount"]) for b in year_bills)
            assert int(realisation["allocated"]) == allocated, code
            assert int(realisation["billed"]) == billed == int(realisation["paid"])
            assert int(realisation["remaining"]) == allocated - billed
            months = {m["period"]: m for m in realisation["months"] if int(m["billed"])}
            assert {p: int(m["billed"]) for p, m in months.items()} == {
                b["period"]: int(b["amount"]) for b in year_bills
            }
            assert sum(int(m["paid"]) for m in realisation["months"]) == billed


def test_pemkot_renews_from_a_sheet(own: Server, tmp_path: Path) -> None:
    """December 2027: Pemkot carries the story's three renewed members over to 2028 from a clerk's sheet (Indonesian
    headers, `;`): by enrollment id or by NIK; the newcomer's proposal (still PROPOSED) and a repeated row are
    refused row by row; sending the sheet again renews nobody twice."""
    admin = own.api("pemkot-admin")
    with own.calendar() as set_day:
        set_day(date(2027, 12, 5))
        y2028 = _allocate(admin, 2028, "70000000")
        edges = admin.data(IN_SOURCE, code="DBHCHT-2027")["enrollments"]["edges"]
        members = [e["node"] for e in edges if e["node"]["status"] == "ACTIVE"]
        [newcomer] = [e["node"] for e in edges if e["node"]["status"] == "PROPOSED"]
        assert len(members) == 3
        sheet = tmp_path / "perpanjangan-2028.csv"
        lines = [
            "ID Kepesertaan;NIK",
            f"{members[0]['id']};",
            f";{members[1]['worker']['nik']}",
            f"{newcomer['id']};",
            f"{members[0]['id']};",
            f"{members[2]['id']};",
        ]
        sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
        token = own.token("pemkot-admin")
        rows_before = own.sql("SELECT count(*) FROM enrollments")

        done = run_client(own, token, "import-renewals", str(sheet), "--from", "DBHCHT-2027", "--to", y2028)
        assert done.returncode == 1, done.stderr  # two rows are not renewed: the clerk must look at them
        delimiter, report = read_csv(tmp_path / "perpanjangan-2028-report.csv")
        assert delimiter == ";"
        outcomes = [r["Hasil"] for r in report]
        assert outcomes == ["DIPERPANJANG", "DIPERPANJANG", "TIDAK_DITERIMA", "TIDAK_VALID", "DIPERPANJANG"]
        assert report[2]["Kode Kesalahan"] == "NOT_RENEWABLE"
        assert report[3]["Kode Kesalahan"] == "DUPLICATE_IN_SHEET"
        renewed = [r for r in report if r["Hasil"] == "DIPERPANJANG"]
        assert {r["Nomor KPJ"] for r in renewed} == {m["membershipNumber"] for m in members}
        assert {r["Mulai Perlindungan"] for r in renewed} == {"01/01/2028"}
        assert own.sql("SELECT count(*) FROM enrollments") == [(rows_before[0][0] + 3,)]

        again = run_client(own, token, "import-renewals", str(sheet), "--from", "DBHCHT-2027", "--to", y2028)
        assert again.returncode == 1, again.stderr
        _delimiter, second = read_csv(tmp_path / "perpanjangan-2028-report.csv")
        assert [r["ID Perpanjangan"] for r in second] == [r["ID Perpanjangan"] for r in report]
        assert own.sql("SELECT count(*) FROM enrollments") == [(rows_before[0][0] + 3,)]


def test_the_monthly_job_runs_from_the_command_line(own: Server) -> None:
    """`rentan end-coverage` is endCoverage as BPJSTK's batch job: on 1 January 2028 (its default day: the
    programme's today) the 2027 coverage of the story ends (its 2028 renewals wait for BPJSTK); ahead of time it
    refuses, naming the dates."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RENTAN_")},
        "RENTAN_DATABASE_URL": own.database_url,
        "RENTAN_CLOCK_FILE": str(own.clock_file),
    }

    def rentan(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "api.cli", "end-coverage", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)

    with own.calendar() as set_day:
        set_day(date(2027, 12, 31))
        ahead = rentan("--as-of", "2028-01-01")
        assert ahead.returncode == 1, ahead.stderr
        assert ahead.stderr.strip() == (
            "refused: INVALID_DATE: asOf: 2028-01-01 is after today (2027-12-31); coverage is ended once its last day "
            "is past."
        )
        set_day(date(2028, 1, 1))
        done = rentan()
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip() == "ended the coverage of 3 members as of 2028-01-01"
        assert rentan().stderr.strip() == "ended the coverage of 0 members as of 2028-01-01"
    renewals = own.sql(
        "SELECT e.status, count(*) FROM enrollments e WHERE e.renews_id IS NOT NULL GROUP BY e.status ORDER BY e.status"
    )
    assert renewals == [("ENDED", 3), ("PROPOSED", 3)]  # 2027's ended; 2028's wait for BPJSTK


def test_a_member_coming_back_keeps_their_kpj(own: Server) -> None:
    """A member whose coverage ended, not renewed, is proposed afresh a year later: BPJSTK verifies them with the KPJ
    it issued them before (a KPJ is a person's for good), while that KPJ on anyone else is still refused. (Last in
    the module: its end-of-coverage job ends whatever the stories before left running.)"""
    admin, operator, verifier = own.api("pemkot-admin"), own.api("kelurahan-operator"), own.api("bpjstk-verifier")
    with own.calendar() as set_day:
        set_day(date(2031, 1, 5))
        first_year = _allocate(admin, 2031, "50000000")
        member, other = (_ok(register_worker(operator))["worker"]["id"] for _ in range(2))
        propose = {"workerId": member, "fundingSourceCode": first_year, "programmes": ["JKK", "JKM"]}
        enrollment = _ok(operator.data(PROPOSE, input=propose)["proposeEnrollment"])["enrollment"]["id"]
        kpj = _kpj()
        approve = [{"enrollmentId": enrollment, "approved": True, "membershipNumber": kpj, "checks": PASSED}]
        [verified] = verifier.data(VERIFY, i=approve)["verifyEnrollments"]["outcomes"]
        assert _ok(verified)["enrollment"]["status"] == "ACTIVE"

        set_day(date(2032, 1, 1))
        assert _ok(verifier.data(END, asOf="2032-01-01")["endCoverage"])["endedCount"] >= 1
        assert _current(operator, member)["status"] == "ENDED"  # type: ignore[index]

        set_day(date(2032, 2, 3))
        second_year = _allocate(admin, 2032, "50000000")
        again, newcomer = (
            _ok(
                operator.data(
                    PROPOSE, input={"workerId": w, "fundingSourceCode": second_year, "programmes": ["JKK", "JKM"]}
                )["proposeEnrollment"]
            )["enrollment"]["id"]
            for w in (member, other)
        )
        taken = [{"enrollmentId": newcomer, "approved": True, "membershipNumber": kpj, "checks": PASSED}]
        [refused] = verifier.data(VERIFY, i=taken)["verifyEnrollments"]["outcomes"]
        assert _codes(refused) == ["DUPLICATE_MEMBERSHIP_NUMBER"]
        back = [{"enrollmentId": again, "approved": True, "membershipNumber": kpj, "checks": PASSED}]
        [returned] = verifier.data(VERIFY, i=back)["verifyEnrollments"]["outcomes"]
        enrollment_back = _ok(returned)["enrollment"]
        assert (enrollment_back["status"], enrollment_back["membershipNumber"]) == ("ACTIVE", kpj)
        assert enrollment_back["renews"] is None  # proposed afresh, not a renewal
        assert enrollment_back["coverageStart"] == "2032-03-01"
