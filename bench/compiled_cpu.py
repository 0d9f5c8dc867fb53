"""The API's own CPU per request for the benchmark's reads, in-process: the application as production runs it
(``RENTAN_ENV=production``, tokens checked against a JWKS, the JSON log line to a discarded stream), called as an
ASGI app without a socket or an HTTP server in front, against a PostgreSQL database seeded by bench/compare.py
(or ``rentan seed``). What it prints is the process's CPU time (user + system) per request: PostgreSQL's backend
is another process, so its work is not counted, the client's (building the ASGI messages) is.

    RENTAN_DATABASE_URL=postgresql+asyncpg://... .venv/bin/python bench/compiled_cpu.py Q1 Q3 Q5
    BENCH_REQUESTS=1000 BENCH_ROUNDS=5 BENCH_COMPILED=0 ...   # the resolvers' path, for comparison
    BENCH_SCOPES=1000 ... Q1S   # Q1 by the scope alone, each request another of 1,000 kelurahan offices
    ... DASH                     # the Pemkot dashboard's summary document (totals and the table by kelurahan)

Issue 16 asks for reads of about 0.3 ms of server CPU (PostGraphile's ~1 ms of node per request): this says where
the API stands without wrk's and uvicorn's share, and runs under ``py-spy record`` to say where the rest goes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
WARMUP = 200
# Q1S: Q1 by the scope alone, over this many kelurahan offices' scopes (one token each), in turn.
SCOPES = int(os.environ.get("BENCH_SCOPES", "1"))
SCOPE_ONLY = (
    "query Q1S { workers(first: 50) { edges { node { id fullName kelurahan { name }"
    " currentEnrollment { status membershipNumber } } } } }"
)
DASHBOARD_SUMMARY = ROOT / "api" / "static" / "dashboard" / "documents" / "summary.graphql"
DISCARDED = open(os.devnull, "w")  # noqa: SIM115 (the process's whole life)


async def _call(app: Any, body: bytes, token: str) -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
    }
    sent = False
    chunks: list[bytes] = []
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    answer = b"".join(chunks)
    if status != 200 or b'"errors"' in answer:
        raise SystemExit(f"a request failed ({status}): {answer[:300]!r}")
    return answer


async def _measure(app: Any, body: bytes, tokens: list[str]) -> tuple[float, float]:
    """The best of ROUNDS rounds (CPU and wall per request): a shared VM's noise only ever adds. Several tokens:
    each request the next one's (every scope once in the warm-up)."""
    for i in range(max(WARMUP, len(tokens))):
        await _call(app, body, tokens[i % len(tokens)])
    best = (float("inf"), float("inf"))
    for _ in range(ROUNDS):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(REQUESTS):
            await _call(app, body, tokens[i % len(tokens)])
        found = (time.process_time() - cpu) * 1000 / REQUESTS, (time.perf_counter() - wall) * 1000 / REQUESTS
        best = min(best, found)
    return best


def _peak_memory() -> str:
    """VmHWM of this process, as /proc says it (read after the runs, outside the measured loop)."""
    peak = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    return peak.split(":")[1].strip()


async def _main(keys: list[str]) -> None:
    from compare import AUDIENCE, ISSUER, QUERIES, Tokens  # type: ignore[import-not-found]
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    url = os.environ.get("RENTAN_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("RENTAN_DATABASE_URL: a seeded PostgreSQL database (compiled reads are PostgreSQL's)")
    tokens = Tokens(Path(tempfile.mkdtemp(prefix="rentan-cpu-")))
    os.environ.update(
        RENTAN_ENV="production",
        RENTAN_JWKS_URL=tokens.serve_jwks(),
        RENTAN_JWT_ISSUER=ISSUER,
        RENTAN_JWT_AUDIENCE=AUDIENCE,
        RENTAN_RATE_LIMIT_PER_MINUTE="0",
        RENTAN_COMPILED_READS="false" if os.environ.get("BENCH_COMPILED") == "0" else "true",
    )
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        nik = (await conn.execute(text("SELECT nik FROM workers ORDER BY id LIMIT 1"))).scalar_one()
        found = await conn.execute(
            text("SELECT DISTINCT kelurahan_code FROM workers ORDER BY 1 LIMIT :n"), {"n": SCOPES}
        )
        codes = [row[0] for row in found]
    await engine.dispose()

    from api.app import create_app
    from api.logging import configure_logging
    from api.settings import Settings

    settings = Settings()
    app = create_app(settings)
    # The JSON line production writes, to a stream nobody reads: its cost counts, not a terminal's.
    configure_logging(settings, DISCARDED)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        compiled = os.environ["RENTAN_COMPILED_READS"]
        print(f"best of {ROUNDS} rounds of {REQUESTS} requests, after {WARMUP} of warm-up; compiled reads: {compiled}")
        for query in (q for q in QUERIES if q.key in keys):
            variables = {"nik": nik} if "$nik" in query.rentan else {}
            body = orjson.dumps({"query": query.rentan, "variables": variables})
            cpu, wall = await _measure(app, body, [tokens.token(query.role, query.scope)])
            print(f"{query.key}: {cpu:.3f} ms CPU, {wall:.3f} ms wall per request")
        if "Q1S" in keys:
            # Q1 by the scope alone, each request another kelurahan office's: what a scope the process has not
            # met yet costs (db/scoping.scoped_sql renders each scope's codes into the statement's text).
            body = orjson.dumps({"query": SCOPE_ONLY})
            chosen = [tokens.token("kelurahan-operator", code) for code in codes[:SCOPES]]
            cpu, wall = await _measure(app, body, chosen)
            print(f"Q1S over {len(chosen)} kelurahan scopes: {cpu:.3f} ms CPU, {wall:.3f} ms wall per request")
        if "DASH" in keys:
            # The Pemkot dashboard's own summary document: the totals and the table by kelurahan.
            body = orjson.dumps({"query": DASHBOARD_SUMMARY.read_text(encoding="utf-8")})
            cpu, wall = await _measure(app, body, [tokens.token("pemkot-admin", "3575")])
            print(f"DASH (the dashboard's summary, Pemkot): {cpu:.3f} ms CPU, {wall:.3f} ms wall per request")
        print(f"peak memory of this process: {_peak_memory()}")
    finally:
        await lifespan.__aexit__(None, None, None)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1:] or ["Q1", "Q3", "Q5"]))
