"""Concurrent requests leave exactly one effect each, and no request is poisoned by losing a race."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import BUGUL_LOR, Api, Result, Server, open_source, register_worker

PROPOSE = """
mutation P($input: ProposeEnrollmentInput!) {
  proposeEnrollment(input: $input) { enrollment { id } errors { code message } }
}
"""


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
