"""What the hardening tests share: raw HTTP helpers and the extra servers. ``limited``: the suite's database and
signing key with a small rate limit; ``production``: ``RENTAN_ENV=production`` with keys from a local JWKS and a
database without tables, so that any query touching the data fails unexpectedly (the masked-error path) while
``viewer``, which needs no database, answers. Requests are raw HTTP (httpx): status codes, headers and bodies as
a client sees them."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.conftest import TYPICAL_SCOPE, Server, extra_server, serve

HEX_ID = re.compile(r"[0-9a-f]{32}")
VIEWER = {"query": "{ viewer { subject } }"}
ROLES = list(TYPICAL_SCOPE)
INTROSPECTING_ROLES = {"pemkot-admin", "bpjstk-verifier", "auditor"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def post(http: httpx.Client, server: Server, token: str | None, body: Any = VIEWER, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return http.post(server.url, json=body, headers=headers)


def codes(response: httpx.Response) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in response.json().get("errors") or []]


# --- the extra servers -------------------------------------------------------------------------------------------

RATE_PER_MINUTE, RATE_BURST = 60, 3


def rate_limited(server: Server, workdir: Path) -> AbstractContextManager[Server]:
    """The suite's database and signing key, served again with a rate limit a test can exhaust."""
    return extra_server(
        server,
        workdir,
        RENTAN_RATE_LIMIT_PER_MINUTE=str(RATE_PER_MINUTE),
        RENTAN_RATE_LIMIT_BURST=str(RATE_BURST),
    )


@pytest.fixture(scope="module")
def limited(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with rate_limited(server, tmp_path_factory.mktemp("limited")) as running:
        yield running


@dataclass
class Production:
    server: Server
    log_file: Path
    key: ec.EllipticCurvePrivateKey

    def token(self, role: str, subject: str | None = None) -> str:
        """Signed as the identity provider would: a key the JWKS publishes, named by `kid`."""
        now = int(time.time())
        settings = self.server.settings
        claims = {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": subject or f"{role}@prod-test",
            "role": role,
            "scope": TYPICAL_SCOPE[role],
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "test-key"})

    def log_lines(self) -> list[dict[str, Any]]:
        """The server log's JSON lines (uvicorn's own start-up lines are not JSON and are skipped)."""
        lines = []
        for line in self.log_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def wait_for_log(self, request_id: str, event: str) -> dict[str, Any]:
        """The line of ``event`` for the request (the request line is written just after the response)."""
        deadline = time.monotonic() + 10
        while True:
            found = [x for x in self.log_lines() if x.get("request_id") == request_id and x.get("event") == event]
            if found:
                return found[0]
            assert time.monotonic() < deadline, f"no {event!r} line for {request_id} in {self.log_file}"
            time.sleep(0.05)


def _jwks_server(key: ec.EllipticCurvePrivateKey) -> ThreadingHTTPServer:
    jwk = {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "test-key", "use": "sig", "alg": "ES256"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    workdir = tmp_path_factory.mktemp("production")
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = _jwks_server(key)
    thread = threading.Thread(target=jwks.serve_forever, daemon=True)
    thread.start()
    try:
        with serve(
            workdir,
            f"sqlite+aiosqlite:///{workdir / 'no-tables.sqlite3'}",  # no migrations: every data query fails
            workdir / "unused-dev-key.pem",
            RENTAN_ENV="production",
            RENTAN_JWKS_URL=f"http://127.0.0.1:{jwks.server_address[1]}/jwks.json",
            RENTAN_CLOCK_FILE=None,  # refused in production
        ) as running:
            yield Production(running, workdir / "server.log", key)
    finally:
        jwks.shutdown()
        jwks.server_close()
