"""Limits and logs against hostile or merely careless clients: request ids, masked errors and the server log,
body size, rate, query cost, and who may introspect in production.

Three live servers: the suite's ``server`` (development, default limits but no rate limit); ``limited``, the
same database with a small rate limit; ``production``, ``RENTAN_ENV=production`` with keys from a local JWKS and
a database without tables, so that any query touching the data fails unexpectedly (the masked-error path) while
``viewer``, which needs no database, answers. Requests are raw HTTP (httpx): status codes, headers and bodies as
a client sees them.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from graphql import GraphQLSchema, build_client_schema, get_introspection_query, parse
from jwt.algorithms import ECAlgorithm
from starlette.types import Receive, Scope, Send
from structlog.testing import capture_logs

from api.limits import BucketStore, RateLimiter
from api.logging import RequestLog, redact
from api.schema.cost import CostLimits, estimate_cost
from api.settings import Settings
from db.session import create_engine
from tests.conftest import BUGUL_LOR, REGISTER, TYPICAL_SCOPE, Server, extra_server, new_nik, serve, worker_input

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


# --- request ids -------------------------------------------------------------------------------------------------


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


# --- masked errors and the server log (production) ---------------------------------------------------------------

WORKER_BY_NIK = "query FindWorker($nik: String!) { workerByNik(nik: $nik) { id fullName } }"


def test_unexpected_error_is_masked_and_logged_under_its_request_id(http: httpx.Client, production: Production) -> None:
    """The database fails (no tables): the client gets a fixed message, INTERNAL_SERVER_ERROR and the request
    id, no SQL, no exception text; the log has the same id with the full traceback, and no NIK."""
    nik = new_nik()
    token = production.token("pemkot-admin")
    response = post(http, production.server, token, {"query": WORKER_BY_NIK, "variables": {"nik": nik}})
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert error["message"] == "Unexpected error."
    for leak in ("no such table", "SELECT", "sqlite", "Traceback", ".py", nik):
        assert leak not in response.text, f"response leaks {leak!r}: {response.text}"

    logged = production.wait_for_log(request_id, "unexpected_error")
    assert logged["level"] == "error"
    assert "Traceback" in logged["exception"]
    assert "no such table: workers" in logged["exception"]
    line = production.wait_for_log(request_id, "request")
    assert line["errors"] == ["INTERNAL_SERVER_ERROR"]
    whole_log = production.log_file.read_text(encoding="utf-8")
    assert nik not in whole_log, "a NIK from the variables (or the failed statement's parameters) reached the log"
    assert token not in whole_log


def test_request_line_names_who_and_what_but_not_the_variables(http: httpx.Client, production: Production) -> None:
    """One JSON line per request: method, path, status, duration, subject, role, operation; never the query's
    variables (here a NIK) and never the token."""
    nik = new_nik()
    token = production.token("auditor", subject="auditor-log-test@prod")
    body = {
        "query": "query WhoAmI($nik: String!) { viewer { subject } workerByNik(nik: $nik) @skip(if: true) { id } }"
        " query Other { viewer { agency } }",
        "variables": {"nik": nik},
        "operationName": "WhoAmI",
    }
    response = post(http, production.server, token, body)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    line = production.wait_for_log(response.headers["x-request-id"], "request")
    assert line["level"] == "info"
    assert {k: line[k] for k in ("method", "path", "status", "subject", "role", "operation", "operation_type")} == {
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "subject": "auditor-log-test@prod",
        "role": "auditor",
        "operation": "WhoAmI",
        "operation_type": "query",
    }
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    whole_log = production.log_file.read_text(encoding="utf-8")
    assert nik not in whole_log
    assert token not in whole_log
    assert "variables" not in whole_log


def test_refused_requests_are_logged_too(http: httpx.Client, production: Production) -> None:
    """A 401 has its line (no subject: nobody was authenticated), under the id its response carries."""
    response = post(http, production.server, "not-a-token")
    assert response.status_code == 401
    line = production.wait_for_log(response.headers["x-request-id"], "request")
    assert line["status"] == 401
    assert line["subject"] is None


def test_client_errors_are_not_masked_in_production(http: httpx.Client, production: Production) -> None:
    """Masking is for unexpected errors only: a validation error still says what is wrong (without "did you
    mean" hints: field suggestions are off in production)."""
    response = post(http, production.server, production.token("auditor"), {"query": "{ viewer { subjec } }"})
    [error] = response.json()["errors"]
    assert "subjec" in error["message"]
    assert "Did you mean" not in error["message"]
    assert "requestId" not in (error.get("extensions") or {})


# --- body size ---------------------------------------------------------------------------------------------------


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


# --- rate ----------------------------------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after_per_subject(http: httpx.Client, limited: Server) -> None:
    """A subject gets its burst, then 429 with Retry-After and a JSON error; another subject is not affected."""
    greedy = limited.token("auditor", subject=f"greedy-{time.time_ns()}@test")
    statuses = [post(http, limited, greedy).status_code for _ in range(RATE_BURST)]
    assert statuses == [200] * RATE_BURST
    refused = post(http, limited, greedy)
    assert refused.status_code == 429, refused.text
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60 // RATE_PER_MINUTE + 1
    [error] = refused.json()["errors"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert HEX_ID.fullmatch(refused.headers["x-request-id"])

    other = limited.token("auditor", subject=f"patient-{time.time_ns()}@test")
    assert post(http, limited, other).status_code == 200


def test_rate_limit_refills_after_retry_after(http: httpx.Client, limited: Server) -> None:
    """Waiting as told is enough to be served again."""
    token = limited.token("kelurahan-viewer", subject=f"waiter-{time.time_ns()}@test")
    while (response := post(http, limited, token)).status_code == 200:
        pass
    assert response.status_code == 429
    time.sleep(int(response.headers["retry-after"]))
    assert post(http, limited, token).status_code == 200


@pytest.fixture(scope="module")
def limited_twin(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second process with the same rate limit on the same database, as behind a load balancer."""
    with rate_limited(server, tmp_path_factory.mktemp("limited-twin")) as running:
        yield running


def test_rate_limit_is_one_limit_across_processes(http: httpx.Client, limited: Server, limited_twin: Server) -> None:
    """The buckets live in the database: a subject that spent its burst on one process is refused by the
    other, and the wait one process reports is the wait the other keeps."""
    subject = f"roaming-{time.time_ns()}@test"
    token = limited.token("auditor", subject=subject)
    processes = [limited, limited_twin]
    statuses = [post(http, processes[i % 2], token).status_code for i in range(RATE_BURST)]
    assert statuses == [200] * RATE_BURST
    for process in processes:
        refused = post(http, process, token)
        assert refused.status_code == 429, refused.text
        assert codes(refused) == ["RATE_LIMITED"]
    time.sleep(int(refused.headers["retry-after"]))
    assert post(http, limited_twin, token).status_code == 200
    assert post(http, limited, token).status_code == 429  # one token refilled, spent by the twin


def test_unauthenticated_requests_are_not_counted_against_a_subject(http: httpx.Client, limited: Server) -> None:
    """The limiter sits behind the bearer check: bad tokens are 401 (never 429), and cost no subject a token."""
    responses = [post(http, limited, "forged").status_code for _ in range(RATE_BURST + 2)]
    assert responses == [401] * (RATE_BURST + 2)


T = TypeVar("T")


def on_shared_buckets(
    server: Server,
    per_minute: int,
    burst: int,
    clock: Callable[[], float],
    script: Callable[[RateLimiter], Awaitable[T]],
) -> T:
    """Runs ``script`` with a limiter on the suite's own database: the buckets every server process shares."""

    async def run() -> T:
        engine = create_engine(server.database_url)
        try:
            return await script(RateLimiter(BucketStore(engine, per_minute, burst), clock=clock))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_default_rate_lets_a_dashboard_volley_through(server: Server) -> None:
    """The defaults (600 a minute, bursts of 120): a dashboard opening with a few dozen requests at once is
    served whole; only a client far past that waits, a tenth of a second per request."""
    defaults = Settings.model_fields
    per_minute, burst = defaults["rate_limit_per_minute"].default, defaults["rate_limit_burst"].default
    key = f"dashboard-{time.time_ns()}"

    async def volley(limiter: RateLimiter) -> list[float]:
        return [await limiter.acquire(key) for _ in range(burst + 1)]

    waits = on_shared_buckets(server, per_minute, burst, lambda: 1000.0, volley)
    assert waits[:burst] == [0.0] * burst
    assert waits[burst] == pytest.approx(60 / per_minute)


# --- query cost ----------------------------------------------------------------------------------------------------

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


# --- introspection by role (production) --------------------------------------------------------------------------


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


# --- the pieces, in process ----------------------------------------------------------------------------------------


async def test_an_exception_outside_graphql_is_a_500_naming_the_request() -> None:
    """Whatever escapes every inner layer (a bug in a middleware, a failing get_context) becomes a JSON 500
    with the request id, the same id as the X-Request-Id header, and the traceback goes to the log only."""

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("secret detail 3575041010123456")

    with capture_logs() as logs:
        transport = httpx.ASGITransport(app=RequestLog(broken))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/graphql", json=VIEWER, headers={"X-Request-Id": "trace-me-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-me-1"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "trace-me-1"},
            }
        ]
    }
    assert "secret" not in response.text
    [unhandled] = [x for x in logs if x["event"] == "unhandled_error"]
    assert unhandled["exc_info"] is True  # logged with its traceback
    [line] = [x for x in logs if x["event"] == "request"]
    assert line["status"] == 500


def test_token_bucket_refills_at_the_configured_rate(server: Server) -> None:
    """burst at once, then one every 60/per_minute seconds; the wait it reports is exact."""
    now = [1000.0]
    a, b = f"a-{time.time_ns()}", f"b-{time.time_ns()}"

    async def script(limiter: RateLimiter) -> None:
        assert [await limiter.acquire(a) for _ in range(2)] == [0.0, 0.0]
        assert await limiter.acquire(a) == pytest.approx(0.5)
        assert await limiter.acquire(b) == 0.0  # another subject, another bucket
        now[0] += 0.5
        assert await limiter.acquire(a) == 0.0
        now[0] += 3600  # refills to the burst, never beyond
        assert [await limiter.acquire(a) for _ in range(3)][-1] > 0

    on_shared_buckets(server, 120, 2, lambda: now[0], script)


def test_two_limiters_share_one_bucket(server: Server) -> None:
    """Two processes' limiters on one database: the subject's burst is spent once between them, whichever
    process each request reaches, and a lease's unspent tokens are never handed out twice."""
    key = f"shared-{time.time_ns()}"
    now = [5000.0]

    async def script(first: RateLimiter) -> None:
        second = RateLimiter(first.store, clock=first.clock)  # another process: its own leases, same rows
        served = [await (first if i % 2 else second).acquire(key) == 0.0 for i in range(30)]
        assert served.count(True) == 20  # bursts of 20: leases of 2 tokens, one trip per two requests
        assert served[:20] == [True] * 20
        now[0] += 0.5  # 10 tokens a second: 5 more, taken by whichever asks
        more = [await (first if i % 2 else second).acquire(key) == 0.0 for i in range(10)]
        assert more.count(True) == 5

    on_shared_buckets(server, 600, 20, lambda: now[0], script)


def test_redaction_of_free_text_in_logs() -> None:
    """What an exception message may quote: statement parameters, NIK or KK numbers, phone numbers."""
    text = "IntegrityError\n[parameters: ('Siti Aminah', 'Jl. Melati 3')]\nNIK 3575046512850001 tel 081234567890"
    redacted = redact(text)
    assert "Siti" not in redacted
    assert "Melati" not in redacted
    assert "3575046512850001" not in redacted
    assert "357504******0001" in redacted
    assert "081234567890" not in redacted
    assert redact("kelurahan 3575041010, KPJ 12345678901") == "kelurahan 3575041010, KPJ 12345678901"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # importing the schema: strawberry's scalar warning
async def test_an_error_escaping_mask_errors_is_masked_by_the_view(tmp_path: Path) -> None:
    """MaskErrors only sees errors of the execution it wraps: one raised while the request's transaction ends
    (a failed COMMIT, whose message quotes SQL) reaches the result after it. The view masks it as well."""
    from graphql import GraphQLError
    from starlette.requests import Request
    from strawberry.types import ExecutionResult

    from api.app import RentanGraphQL
    from api.logging import REQUEST_ID_KEY
    from api.policies.authorizer import Authorizer

    settings = Settings(env="production", database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    view = RentanGraphQL(settings=settings, authorizer=Authorizer(), engine=None)
    request = Request({"type": "http", "method": "POST", "headers": [], REQUEST_ID_KEY: "rid-42"})
    escaped = GraphQLError("(IntegrityError) INSERT INTO workers ... 3575046512850001", original_error=ValueError())
    refused = GraphQLError("Your role may not perform worker:create.", extensions={"code": "FORBIDDEN"})
    processed = await view.process_result(request, ExecutionResult(data=None, errors=[escaped, refused]))
    assert processed["errors"] == [
        {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "rid-42"}},
        {"message": "Your role may not perform worker:create.", "extensions": {"code": "FORBIDDEN"}},
    ]
