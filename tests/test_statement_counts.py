"""No N+1: a page costs a fixed, small number of SQL statements whatever its size.

The server reports the statements each request ran in `extensions.sqlStatements` (development mode only).
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import Api

WORKER_PAGE = """
query Page($n: Int!) {
  workers(first: $n) {
    totalCount
    edges { node {
      id nik fullName phone
      kelurahan { name kecamatan { name city { name } } }
      currentEnrollment { status membershipNumber fundingSource { code name } }
      enrollments { status monthlyContribution }
    } }
  }
}
"""


def statements(api: Api, query: str, **variables: object) -> int:
    result = api.result(query, **variables)
    assert not result.errors, result.errors
    return int(result.extensions["sqlStatements"])


@pytest.mark.parametrize("role", ["pemkot-admin", "pemkot-analyst"])
def test_a_page_of_workers_with_its_relations_costs_at_most_eight_statements(server, role: str) -> None:  # type: ignore[no-untyped-def]
    """Page, count, kelurahan, kecamatan, city, enrollments, funding source, and the NIK-read audit insert."""
    api = server.api(role)
    big = statements(api, WORKER_PAGE, n=100)
    small = statements(api, WORKER_PAGE, n=5)
    assert big <= 8
    assert big == small, "the statement count must not grow with the page size"


def test_enrollment_pages_and_the_dashboard_are_fixed_cost(admin: Api) -> None:
    """Enrollments with their workers and sources, and programmeSummary, are batched or aggregated in SQL."""
    query = """query($n: Int!) { enrollments(first: $n) { edges { node { status checks { kind passed }
      worker { fullName kelurahan { name } } fundingSource { code } } } } }"""
    assert statements(admin, query, n=100) == statements(admin, query, n=3) <= 6
    summary = """{ programmeSummary { workers activeEnrollments byKelurahan { kelurahan { name } workers }
      byOccupation { occupation workers } funding { code allocated billed paid remaining } } }"""
    assert statements(admin, summary) <= 6
    # The realisation series: the bills and one aggregate with a column pair per month, however many months.
    with_realisation = summary.replace(
        "funding {", "realisation { projectedSpend months { period membersActive billed paid projected } } funding {"
    )
    assert statements(admin, with_realisation) <= statements(admin, summary) + 3


def test_the_dashboard_computes_only_the_breakdowns_asked_for(admin: Api) -> None:
    """programmeSummary groups by kelurahan and by occupation only when the query selects them, and the figures
    do not depend on what else was asked: each breakdown alone equals itself asked together, and the totals
    equal the sum of either breakdown."""
    fields = {
        "totals": "workers activeEnrollments proposedEnrollments rejectedEnrollments",
        "byKelurahan": "byKelurahan { kelurahan { code } workers activeEnrollments proposedEnrollments }",
        "byOccupation": "byOccupation { occupation workers activeEnrollments }",
    }
    everything = admin.data("{ programmeSummary { " + " ".join(fields.values()) + " } }")["programmeSummary"]
    for name, selection in fields.items():
        alone = admin.data("{ programmeSummary { " + selection + " } }")["programmeSummary"]
        assert alone == {k: everything[k] for k in alone}, name
    for breakdown in ("byKelurahan", "byOccupation"):
        assert sum(row["workers"] for row in everything[breakdown]) == everything["workers"]
        assert sum(row["activeEnrollments"] for row in everything[breakdown]) == everything["activeEnrollments"]
    assert everything["workers"] > 0
    assert everything["activeEnrollments"] > 0
    # Per kelurahan only, as the dashboard asks it: workers, enrollments by status, the kelurahan names. Nothing
    # for occupations or funding sources. On PostgreSQL the read compiler answers both in one statement built of
    # the same aggregates (api/schema/compiled/); on SQLite the resolvers run them one by one.
    compiled = "postgresql" in os.environ.get("RENTAN_TEST_DATABASE_URL", "")
    assert statements(admin, "{ programmeSummary { " + fields["byKelurahan"] + " } }") == (1 if compiled else 3)
    assert statements(admin, "{ programmeSummary { " + fields["totals"] + " } }") == (1 if compiled else 2)
