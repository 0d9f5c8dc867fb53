"""Concurrent requests leave exactly one effect each, and no request is poisoned by losing a race."""

from __future__ import annotations

import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from tests.conftest import BUGUL_LOR, Api, Result, Server, register_worker

PROPOSE = """
mutation P($input: ProposeEnrollmentInput!) {
  proposeEnrollment(input: $input) { enrollment { id } errors { code message } }
}
"""
ALLOCATE = """
mutation A($i: FundingAllocationInput!) { recordFundingAllocation(input: $i) { errors { code message } } }
"""


def outcome(result: Result) -> str:
    if result.errors:
        return "GRAPHQL ERROR: " + str(result.errors[0].get("message"))[:200]
    errors = result.data["proposeEnrollment"]["errors"] if result.data else []
    return errors[0]["code"] if errors else "OK"


def test_simultaneous_proposals_for_one_worker_create_one(server: Server, admin: Api) -> None:
    """Six offices propose the same worker at once, ten times over: one enrollment each, DUPLICATE_PROPOSAL
    for the others (never an internal error), and no connection left inside a transaction."""
    year = (date.today().replace(day=28) + timedelta(days=4)).year  # the year a proposal made today starts in
    source = "RACE-" + secrets.token_hex(3).upper()
    allocation = {
        "code": source,
        "name": "race test",
        "fiscalYear": year,
        "allocated": "100000000",
        "coverageStart": f"{year}-01-01",
        "coverageEnd": f"{year}-12-31",
    }
    assert admin.data(ALLOCATE, i=allocation)["recordFundingAllocation"]["errors"] == []
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
