"""The served schema contains the agreed contract unchanged (it may only add)."""

from __future__ import annotations

from pathlib import Path

from gql import gql
from graphql import build_client_schema, build_schema, find_breaking_changes, get_introspection_query

from tests.conftest import Server

CONTRACT = Path(__file__).parent / "contract.graphql"


def test_served_schema_has_no_breaking_change_against_the_contract(server: Server) -> None:
    api = server.api("auditor")
    introspection = api.session.execute(gql(get_introspection_query()))
    served = build_client_schema(introspection)
    contract = build_schema(CONTRACT.read_text())
    breaking = find_breaking_changes(contract, served)
    assert breaking == [], [f"{c.type.name}: {c.description}" for c in breaking]
    # And the check itself has teeth: a schema lacking a contract field is reported.
    trimmed = build_schema(CONTRACT.read_text().replace("  workerByNik(nik: String!): Worker\n", ""))
    assert find_breaking_changes(contract, trimmed)
