"""Body size: a request over the limit is refused with 413 (on Content-Length, and counted while a chunked body
streams); a 1,000-item batch at maximum field lengths fits under the default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from api.settings import Settings
from tests.conftest import Server, worker_input
from tests.hardening_support import (
    HEX_ID,
    VIEWER,
    codes,
    http,  # noqa: F401 - fixtures
    post,
)


def assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, (response.status_code, response.text[:200])
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maxBodyBytes": limit}
    assert str(limit) in error["message"]
    assert HEX_ID.fullmatch(response.headers["x-request-id"])


def test_body_over_the_limit_is_refused_with_413(http: httpx.Client, server: Server) -> None:
    """A declared Content-Length above the limit is refused before the body is read, token or not."""
    limit = server.settings.max_body_bytes
    padding = "x" * (limit + 1)
    body = {"query": "{ viewer { subject } }", "variables": {"padding": padding}}
    assert_too_large(post(http, server, server.token("auditor"), body), limit)
    assert_too_large(post(http, server, None, body), limit)


def test_chunked_body_over_the_limit_is_refused_with_413(http: httpx.Client, server: Server) -> None:
    """Without a Content-Length the body is counted as it streams: the app stops reading at the limit and
    answers 413, so a client cannot make it hold an endless upload in memory. (uvicorn then discards the rest
    of the stream with flow control; a proxy's own body limit is what cuts such a connection short.)"""
    limit = server.settings.max_body_bytes
    chunk = b" " * 65536
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ viewer { subject } }", "padding": "'
        while sent < 3 * limit:
            sent += len(chunk)
            yield chunk

    headers = {"Authorization": f"Bearer {server.token('auditor')}", "Content-Type": "application/json"}
    try:
        response = http.post(server.url, content=endless(), headers=headers)
    except httpx.WriteError:
        # The server answered and closed while we were still sending: it did not read the rest.
        assert sent < 3 * limit
        return
    assert "content-length" not in response.request.headers
    assert_too_large(response, limit)


def test_chunked_body_under_the_limit_is_served(http: httpx.Client, server: Server) -> None:
    """Counting chunks does not get in the way of an ordinary chunked request."""
    body = json.dumps(VIEWER).encode()
    headers = {"Authorization": f"Bearer {server.token('auditor')}", "Content-Type": "application/json"}
    response = http.post(server.url, content=iter([body[:10], body[10:]]), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["subject"]


REGISTER_MANY = """
mutation RegisterMany($input: [RegisterWorkerInput!]!) {
  registerWorkers(input: $input) {
    outcomes { worker { id nik fullName kelurahan { code } } errors { code field message } warnings { code } }
  }
}
"""


def thousand_workers_at_maximum_length() -> list[dict[str, Any]]:
    """A kelurahan's largest sheet: 1,000 rows, every text at the longest the rules accept."""
    return [
        worker_input(
            fullName="N" * 120,
            address="A" * 300,
            phone="+62812345678901",
            idempotencyKey=f"{i:04d}" + "k" * 196,
        )
        for i in range(1000)
    ]


def test_thousand_item_batch_fits_under_the_default_body_limit(http: httpx.Client, server: Server) -> None:
    """The default limit is sized for the batch mutations: 1,000 registerWorkers items at maximum length,
    pretty-printed, are accepted (here by a role that may not register, so it ends FORBIDDEN and writes
    nothing), and neither the body limit nor the cost limit refuses them."""
    assert server.settings.max_body_bytes == Settings.model_fields["max_body_bytes"].default
    body = json.dumps({"query": REGISTER_MANY, "variables": {"input": thousand_workers_at_maximum_length()}}, indent=2)
    assert len(body.encode()) < server.settings.max_body_bytes * 0.75, len(body)
    before = server.sql("SELECT count(*) FROM workers")
    response = http.post(
        server.url,
        content=body.encode(),
        headers={"Authorization": f"Bearer {server.token('auditor')}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text[:300]
    assert codes(response) == ["FORBIDDEN"]
    assert server.sql("SELECT count(*) FROM workers") == before
