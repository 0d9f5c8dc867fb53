"""Introspection by role in production: only roles with schema:introspect read the schema; __typename is always
allowed."""

from __future__ import annotations

import json

import httpx
import pytest
from graphql import get_introspection_query

from tests.hardening_support import INTROSPECTING_ROLES, ROLES, Production, codes, http, post, production  # noqa: F401 - fixtures


@pytest.mark.parametrize("role", ROLES)
def test_production_introspection_follows_the_policy(http: httpx.Client, production: Production, role: str) -> None:
    """In production only roles with schema:introspect read the schema; the others get FORBIDDEN naming that
    permission, for __schema and __type alike, before anything runs."""
    token = production.token(role)
    for query in (get_introspection_query(), '{ __type(name: "Worker") { fields { name } } }'):
        response = post(http, production.server, token, {"query": query})
        assert response.status_code == 200, response.text
        payload = response.json()
        if role in INTROSPECTING_ROLES:
            assert "errors" not in payload, payload["errors"]
            assert payload["data"]
        else:
            assert payload.get("data") is None
            assert set(codes(response)) == {"FORBIDDEN"}
            assert {e["extensions"]["permission"] for e in payload["errors"]} == {"schema:introspect"}
            assert "Worker" not in json.dumps(payload) or "__type" in query


def test_typename_is_always_allowed(http: httpx.Client, production: Production) -> None:
    """__typename is how clients read interfaces and unions; it is not introspection of the schema."""
    response = post(
        http, production.server, production.token("kelurahan-viewer"), {"query": "{ __typename viewer { __typename } }"}
    )
    assert response.json() == {"data": {"__typename": "Query", "viewer": {"__typename": "Viewer"}}}
