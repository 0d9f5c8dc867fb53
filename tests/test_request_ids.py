"""Every request has an id: kept when a client sends a well-formed one, replaced otherwise, on every response and in
the audit trail."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import REGISTER, Server, worker_input
from tests.hardening_support import (
    HEX_ID,
    VIEWER,
    http,  # noqa: F401 - fixtures
    post,
)


def test_every_response_carries_a_request_id(http: httpx.Client, server: Server) -> None:
    """Served, refused (401), health and unknown paths: each response names its request, a fresh id each."""
    responses = [
        post(http, server, server.token("auditor")),
        post(http, server, None),
        http.get(server.url.replace("/graphql", "/healthz")),
        http.get(server.url.replace("/graphql", "/no-such-path")),
    ]
    assert [r.status_code for r in responses] == [200, 401, 200, 404]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(i is not None and HEX_ID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_well_formed_incoming_request_id_is_kept_and_audited(http: httpx.Client, server: Server) -> None:
    """A caller's (or proxy's) correlation id is returned as is, and is the id the audit trail records for the
    request: one id from the client's log to the response header to the audit event."""
    request_id = f"hardening-{time.time_ns()}.A_b"
    body = {"query": REGISTER, "variables": {"input": worker_input()}}
    response = post(http, server, server.token("kelurahan-operator"), body, **{"X-Request-Id": request_id})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["registerWorker"]["errors"] == []
    assert response.headers["x-request-id"] == request_id
    audited = server.sql("SELECT action FROM audit_events WHERE request_id = :r", r=request_id)
    assert ("worker:create",) in audited, audited


@pytest.mark.parametrize(
    "incoming",
    ["x" * 65, "has space", "semi;colon", 'quote"d', "ünïcode", "", "a/b", "<script>"],
    ids=["too-long", "space", "semicolon", "quote", "non-ascii", "empty", "slash", "markup"],
)
def test_malformed_incoming_request_id_is_replaced(http: httpx.Client, server: Server, incoming: str) -> None:
    """An id that could smuggle text into a log line or a header is not echoed: the server makes its own."""
    response = http.post(
        server.url,
        json=VIEWER,
        headers=[("Authorization", f"Bearer {server.token('auditor')}"), ("X-Request-Id", incoming.encode())],
    )
    assert response.status_code == 200
    assert HEX_ID.fullmatch(response.headers["x-request-id"]), response.headers["x-request-id"]
