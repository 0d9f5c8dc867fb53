"""Query cost: page sizes multiplied down the nesting, refused before execution past the limit; the dashboard's queries
fit well under it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, build_client_schema, get_introspection_query, parse

from api.schema.cost import CostLimits, estimate_cost
from tests.conftest import BUGUL_LOR, Server, worker_input
from tests.hardening_support import (
    http,  # noqa: F401 - fixtures
    post,
)

NESTED_PAGES = """
query Nested($n: Int) {
  workers(first: $n) { edges { node {
    kelurahan { workers(first: $n) { edges { node { enrollments { checks { kind } } } } } }
  } } }
}
"""

NESTED_WITH_FRAGMENTS = """
query { workers(first: 100) { ...Page } }
fragment Page on WorkerConnection { edges { node { kelurahan { workers(first: 100) { ...Inner } } } } }
fragment Inner on WorkerConnection { edges { node { enrollments { ...Checks } } } }
fragment Checks on Enrollment { checks { kind } }
"""

DASHBOARD_WORKERS = """
query DashboardWorkers($kel: String) {
  workers(first: 100, filter: { kelurahanCode: $kel }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id nik fullName occupation kelurahan { code name }
      currentEnrollment { status membershipNumber fundingSource { code } }
      enrollments { id status coverageStart checks { kind passed } fundingSource { code } }
    } }
  }
}
"""

DASHBOARD_SUMMARY = """
query DashboardSummary {
  programmeSummary {
    workers activeEnrollments proposedEnrollments rejectedEnrollments
    byKelurahan { kelurahan { code name } workers activeEnrollments proposedEnrollments }
    byOccupation { occupation workers activeEnrollments }
    funding { code allocated billed paid remaining }
  }
}
"""


def assert_too_costly(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload.get("data") is None, payload  # refused before execution: nothing resolved
    [error] = payload["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["maxCost"] == limit
    assert error["extensions"]["cost"] > limit
    assert str(limit) in error["message"]
    assert str(error["extensions"]["cost"]) in error["message"]


def test_nested_pages_are_refused_before_execution(http: httpx.Client, server: Server) -> None:
    """Pages inside pages multiply: refused with the estimate and the limit, whether the sizes come as
    variables, as the default page size, or hidden in fragments."""
    token = server.token("pemkot-admin")
    limit = server.settings.max_query_cost
    assert_too_costly(post(http, server, token, {"query": NESTED_PAGES, "variables": {"n": 100}}), limit)
    assert_too_costly(post(http, server, token, {"query": NESTED_PAGES}), limit)  # default page size
    assert_too_costly(post(http, server, token, {"query": NESTED_WITH_FRAGMENTS}), limit)


def test_the_same_shape_with_small_pages_is_served(http: httpx.Client, server: Server) -> None:
    """The cost reads the request's variables: the refused query above is fine with pages of 5."""
    response = post(http, server, server.token("pemkot-admin"), {"query": NESTED_PAGES, "variables": {"n": 5}})
    assert response.status_code == 200
    assert "errors" not in response.json(), response.json()


def test_a_costly_batch_mutation_changes_nothing(http: httpx.Client, server: Server) -> None:
    """A batch's results are as many as its items: 1,000 registrations each asking for nested lists are refused
    as a whole, before any of them is written."""
    query = """
    mutation Costly($input: [RegisterWorkerInput!]!) {
      registerWorkers(input: $input) { outcomes { worker { enrollments { checks { kind } } } } }
    }
    """
    items = [worker_input(BUGUL_LOR) for _ in range(1000)]
    before = server.sql("SELECT count(*) FROM workers")
    response = post(http, server, server.token("kelurahan-operator"), {"query": query, "variables": {"input": items}})
    assert_too_costly(response, server.settings.max_query_cost)
    assert server.sql("SELECT count(*) FROM workers") == before


@pytest.fixture(scope="module")
def served_schema(http: httpx.Client, server: Server) -> GraphQLSchema:
    """The schema as the server serves it, read by introspection (the estimate needs only its types)."""
    response = post(http, server, server.token("auditor"), {"query": get_introspection_query()})
    return build_client_schema(response.json()["data"])


def test_dashboard_queries_are_served_well_under_the_budget(
    http: httpx.Client, server: Server, served_schema: GraphQLSchema
) -> None:
    """The dashboard's ordinary queries (a page of 100 workers with their enrollments, the summary by
    kelurahan) are served, and their estimates leave at least half the budget unused."""
    token = server.token("pemkot-admin")
    for query in (DASHBOARD_WORKERS, DASHBOARD_SUMMARY):
        response = post(http, server, token, {"query": query})
        assert response.status_code == 200
        assert "errors" not in response.json(), response.json()["errors"]
    settings = server.settings
    limits = CostLimits(settings.max_query_cost, settings.default_page_size, settings.max_page_size)
    assert estimate_cost(served_schema, parse(DASHBOARD_WORKERS), limits) < settings.max_query_cost / 2
    assert estimate_cost(served_schema, parse(DASHBOARD_SUMMARY), limits) < 1000


def test_cost_estimate_multiplies_page_sizes(served_schema: GraphQLSchema) -> None:
    """The estimate itself: pages multiply down the nesting, an absent size is the default page, a size above
    the maximum counts as the maximum (execution refuses it anyway), a batch counts its items."""
    limits = CostLimits(max_cost=50_000, default_page_size=50, max_page_size=100)

    def cost(query: str, **variables: Any) -> int:
        return estimate_cost(served_schema, parse(query), limits, variables)

    page = "query($n: Int) { workers(first: $n) { totalCount edges { node { id kelurahan { name } } } } }"
    assert cost(page, n=10) == 1 + 10 * (1 + 1 + 1)  # connection, then per edge: edge, node, kelurahan
    assert cost(page) == 1 + 50 * 3
    assert cost(page, n=1000) == cost(page, n=100)
    assert cost("{ workers(last: 7) { edges { node { id } } } }") == 1 + 7 * 2
    nested = (
        "query($n: Int) { workers(first: $n) { edges { node { kelurahan { workers(first: $n) { totalCount } } } } } }"
    )
    assert cost(nested, n=10) == 1 + 10 * (1 + 1 + 1 + 1)
    batch = "mutation($i: [VerificationResultInput!]!) { verifyEnrollments(input: $i) { outcomes { enrollmentId } } }"
    assert cost(batch, i=[{}] * 250) == 1 + 250
    assert cost(get_introspection_query()) == 0


def test_introspection_is_not_refused_by_the_cost_limit(http: httpx.Client, server: Server) -> None:
    """GraphiQL's full introspection query (development: allowed for every role) passes every limit."""
    response = post(http, server, server.token("kelurahan-viewer"), {"query": get_introspection_query()})
    assert response.status_code == 200
    assert "errors" not in response.json(), response.json()["errors"]
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
