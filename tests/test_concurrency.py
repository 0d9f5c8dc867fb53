"""Concurrent requests leave exactly one effect each, and no request is poisoned by losing a race. They run on the
suite's database: SQLite (writers queue on its write lock) and, in CI, PostgreSQL (real row-level races).

The same NIK registered 20 times at once, and one idempotency key retried 10 times at once, are in
tests/test_workers.py (test_concurrent_registrations_of_one_nik_register_once and the next)."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from api.ids import require_id
from tests.conftest import (
    ALLOCATE_SOURCE,
    BUGUL_LOR,
    Api,
    Result,
    Server,
    open_source,
    proposal_year,
    register_worker,
)
from tests.documents import PROPOSE


def outcome(result: Result) -> str:
    if result.errors:
        return "GRAPHQL ERROR: " + str(result.errors[0].get("message"))[:200]
    errors = result.data["proposeEnrollment"]["errors"] if result.data else []
    return errors[0]["code"] if errors else "OK"


def test_simultaneous_proposals_for_one_worker_create_one(server: Server, admin: Api) -> None:
    """Six offices propose the same worker at once, ten times over: one enrollment each, DUPLICATE_PROPOSAL
    for the others (never an internal error), and no connection left inside a transaction."""
    source = open_source(admin, "RACE")
    apis = [server.api("kelurahan-operator", subject=f"office-{i}@race") for i in range(6)]
    outcomes: list[str] = []
    worker_ids = []
    for _ in range(10):
        worker_id = register_worker(admin, BUGUL_LOR)["worker"]["id"]
        worker_ids.append(worker_id)
        request = {"workerId": worker_id, "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
        with ThreadPoolExecutor(len(apis)) as pool:
            outcomes += [outcome(r) for r in pool.map(lambda api, req=request: api.result(PROPOSE, input=req), apis)]
    assert Counter(outcomes) == {"OK": 10, "DUPLICATE_PROPOSAL": 50}
    (rows,) = server.sql(
        "SELECT count(*) FROM enrollments e JOIN funding_sources s ON s.id = e.funding_source_id WHERE s.code = :c",
        c=source,
    )[0]
    assert rows == 10
    if server.database_url.startswith("postgresql"):
        stuck = server.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
        )
        assert stuck == [(0,)]


# --- the same act twice at once: one effect ------------------------------------------------------------------

VERIFY = """
mutation V($input: [VerificationResultInput!]!) {
  verifyEnrollments(input: $input) { outcomes { enrollment { id status membershipNumber } errors { code field } } }
}
"""
ISSUE = """
mutation I($input: IssueContributionBillInput!) {
  issueContributionBill(input: $input) { bill { id period } errors { code field } }
}
"""


def at_once(calls: list[Callable[[], Result]]) -> list[Result]:
    """Each call from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Result]) -> Result:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def unused_kpj(server: Server) -> str:
    while True:
        kpj = f"{secrets.randbelow(10**11):011d}"
        if not server.sql("SELECT 1 FROM enrollments WHERE membership_number = :k", k=kpj):
            return kpj


def test_one_enrollment_verified_twice_at_once_is_verified_once(server: Server, admin: Api, operator: Api) -> None:
    """Two BPJSTK verifiers approve the same proposal at the same moment, five proposals over: each ends ACTIVE
    with one membership number, one set of checks and one enrollment:verify event; the slower request is a
    client error (never an internal error)."""
    source = open_source(admin, "VRACE")
    verifiers = [server.api("bpjstk-verifier", subject=f"verifier-{i}@race") for i in range(2)]
    for _ in range(5):
        worker_id = register_worker(admin, BUGUL_LOR)["worker"]["id"]
        request = {"workerId": worker_id, "fundingSourceCode": source, "programmes": ["JKK", "JKM"]}
        enrollment_id = operator.data(PROPOSE, input=request)["proposeEnrollment"]["enrollment"]["id"]
        items = [
            {
                "enrollmentId": enrollment_id,
                "approved": True,
                "membershipNumber": unused_kpj(server),
                "checks": [{"kind": "NIK_MATCH", "passed": True}],
            }
            for i in range(2)
        ]
        results = at_once(
            [
                lambda api=api, item=item: api.result(VERIFY, input=[item])
                for api, item in zip(verifiers, items, strict=True)
            ]
        )
        assert all(not r.errors for r in results), [r.errors for r in results]
        outcomes = [r.data["verifyEnrollments"]["outcomes"][0] for r in results if r.data]
        winners = [o for o in outcomes if not o["errors"]]
        assert len(winners) == 1, outcomes
        assert [e["code"] for o in outcomes if o["errors"] for e in o["errors"]] == ["INVALID_TRANSITION"]
        pk = require_id(enrollment_id, "Enrollment", "enrollmentId")
        assert server.sql("SELECT status, membership_number FROM enrollments WHERE id = :i", i=pk) == [
            ("ACTIVE", winners[0]["enrollment"]["membershipNumber"])
        ]
        assert server.sql("SELECT count(*) FROM verification_checks WHERE enrollment_id = :i", i=pk) == [(1,)]
        assert server.sql(
            "SELECT count(*) FROM audit_events WHERE action = 'enrollment:verify' AND target_id = :t", t=enrollment_id
        ) == [(1,)]


def test_one_bill_issued_twice_at_once_is_issued_once(server: Server, admin: Api) -> None:
    """Two issuers bill the same source and month at the same moment, four months over: one bill each month, one
    bill:issue event; the other request is ALREADY_BILLED (never an internal error)."""
    source = open_source(admin, "BRACE")
    issuers = [server.api("bpjstk-verifier", subject=f"issuer-{i}@race") for i in range(2)]
    year = proposal_year()
    for month in range(1, 5):
        request = {"fundingSourceCode": source, "period": f"{year}-{month:02d}"}
        with server.calendar() as set_day:
            set_day(date(year, month, 2))  # a month is billed once it has begun
            results = at_once([lambda api=api, r=request: api.result(ISSUE, input=r) for api in issuers])
        assert all(not r.errors for r in results), [r.errors for r in results]
        payloads = [r.data["issueContributionBill"] for r in results if r.data]
        assert sorted(len(p["errors"]) for p in payloads) == [0, 1], payloads
        assert [e["code"] for p in payloads for e in p["errors"]] == ["ALREADY_BILLED"]
        assert server.sql(
            "SELECT count(*) FROM contribution_bills b JOIN funding_sources s ON s.id = b.funding_source_id "
            "WHERE s.code = :c AND b.period = :p",
            c=source,
            p=request["period"],
        ) == [(1,)]
    assert server.sql(
        "SELECT count(*) FROM audit_events WHERE action = 'bill:issue' AND detail LIKE :d", d=f"source={source};%"
    ) == [(4,)]


def test_one_funding_source_created_twice_at_once_is_created_once(server: Server) -> None:
    """Two Pemkot officers record the same new allocation at the same moment: one source, one funding:allocate
    event; the other request is CONFLICT or sees the first (a revision to the same figures), never an error."""
    admins = [server.api("pemkot-admin", subject=f"allocator-{i}@race") for i in range(2)]
    for round_ in range(4):
        code = f"RACE-{secrets.token_hex(3).upper()}"
        allocation = {"code": code, "name": f"race {round_}", "fiscalYear": proposal_year(), "allocated": "5000000"}
        results = at_once([lambda api=api, a=allocation: api.result(ALLOCATE_SOURCE, i=a) for api in admins])
        assert all(not r.errors for r in results), [r.errors for r in results]
        codes = [e["code"] for r in results if r.data for e in r.data["recordFundingAllocation"]["errors"]]
        assert codes in ([], ["CONFLICT"]), codes
        assert server.sql("SELECT count(*) FROM funding_sources WHERE code = :c", c=code) == [(1,)]
