"""How long BPJSTK's verification batch takes: N proposals verified in ONE verifyEnrollments request, then the
same batch resubmitted (which must change nothing). Prints figures; asserts only that the answers are right.

    .venv/bin/python bench/verify_batch.py            # 1,000 items on a fresh SQLite database seeded like `make run`
    RENTAN_DATABASE_URL=postgresql+asyncpg://... .venv/bin/python bench/verify_batch.py 1000

It starts its own server (uvicorn, one process) on a free port, with the programme calendar set to January
2031 (RENTAN_CLOCK_FILE) so that a fresh funding source is open whatever today's date is.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.auth import issue_dev_token  # noqa: E402 - after the path is set
from api.seed import seed  # noqa: E402
from api.settings import Settings  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.session import create_engine  # noqa: E402

YEAR = 2031
REGISTER = """mutation($i: [RegisterWorkerInput!]!) {
  registerWorkers(input: $i) { outcomes { worker { id } errors { code message } } } }"""
VERIFY = """mutation($i: [VerificationResultInput!]!) {
  verifyEnrollments(input: $i) { outcomes { enrollment { status } errors { code } } } }"""
ALLOCATE = "mutation($i: FundingAllocationInput!) { recordFundingAllocation(input: $i) { errors { code } } }"
STATEMENTS: list[int | None] = []  # per request, as the development server reports them
KELURAHAN = "3575041010"


def _post(client: httpx.Client, token: str, query: str, **variables: Any) -> dict[str, Any]:
    r = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    STATEMENTS.append((body.get("extensions") or {}).get("sqlStatements"))
    return body["data"]


def _nik(i: int) -> str:
    # Region 357806 is never issued by the seed; born 15-06-1985; a serial per worker.
    return f"357806150685{i:04d}"


def main(n: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="rentan-bench-"))
    database_url = os.environ.get("RENTAN_DATABASE_URL") or f"sqlite+aiosqlite:///{work / 'bench.sqlite3'}"
    upgrade(database_url)

    async def load() -> None:
        engine = create_engine(database_url)
        await seed(engine, workers=9_038, seed_value=2025)
        await engine.dispose()

    asyncio.run(load())
    (work / "clock").write_text(f"{YEAR}-01-10", encoding="utf-8")
    key = work / "dev-key.pem"
    settings = Settings(database_url=database_url, dev_key_file=key)
    admin = issue_dev_token(settings, role="pemkot-admin", scope="3575", subject="bench-admin")
    operator = issue_dev_token(settings, role="kelurahan-operator", scope=KELURAHAN, subject="bench-operator")
    verifier = issue_dev_token(settings, role="bpjstk-verifier", scope="35", subject="bench-verifier")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RENTAN_DATABASE_URL": database_url, "RENTAN_DEV_KEY_FILE": str(key)}
    env["RENTAN_CLOCK_FILE"] = str(work / "clock")
    server = subprocess.Popen(  # noqa: S603 - a fixed argv: this interpreter running uvicorn
        [sys.executable, "-m", "uvicorn", "api.asgi:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            for _ in range(100):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            code = f"BENCH-{secrets.token_hex(2).upper()}"
            allocation = {
                "code": code,
                "name": "verification benchmark",
                "fiscalYear": YEAR,
                "allocated": "100000000000",
                "coverageStart": f"{YEAR}-02-01",
                "coverageEnd": f"{YEAR}-12-31",
            }
            _post(
                client,
                admin,
                "mutation($i: FundingAllocationInput!) { recordFundingAllocation(input: $i) { errors { code } } }",
                i=allocation,
            )
            rows = [
                {
                    "nik": _nik(i),
                    "fullName": f"Pekerja Uji {i}",
                    "birthDate": "1985-06-15",
                    "sex": "MALE",
                    "occupation": "STREET_VENDOR",
                    "monthlyIncome": "1000000",
                    "kelurahanCode": KELURAHAN,
                }
                for i in range(1, n + 1)
            ]
            registered = _post(
                client,
                operator,
                REGISTER,
                i=rows,
            )["registerWorkers"]["outcomes"]
            worker_ids = [o["worker"]["id"] for o in registered]
            enrollment_ids: list[str] = []
            for start in range(0, n, 25):  # 25 aliased proposals per request (the alias limit is 30)
                chunk = worker_ids[start : start + 25]
                fields = " ".join(
                    f'p{j}: proposeEnrollment(input: {{workerId: "{w}", fundingSourceCode: "{code}", '
                    "programmes: [JKK, JKM]}) { enrollment { id } errors { code message } }"
                    for j, w in enumerate(chunk)
                )
                data = _post(client, operator, f"mutation {{ {fields} }}")
                enrollment_ids += [data[f"p{j}"]["enrollment"]["id"] for j in range(len(chunk))]
            batch = [
                {
                    "enrollmentId": e,
                    "approved": True,
                    "membershipNumber": f"{90000000000 + i}",
                    "checks": [
                        {"kind": k, "passed": True} for k in ("NIK_MATCH", "EXISTING_MEMBERSHIP", "AGE", "DECEASED")
                    ],
                }
                for i, e in enumerate(enrollment_ids)
            ]
            verify = VERIFY
            figures = []
            for label in ("first submission", "resubmission (no-op)"):
                t0 = time.perf_counter()
                outcomes = _post(client, verifier, verify, i=batch)["verifyEnrollments"]["outcomes"]
                elapsed = time.perf_counter() - t0
                assert all(o["errors"] == [] and o["enrollment"]["status"] == "ACTIVE" for o in outcomes), outcomes[:3]
                figures.append((label, elapsed, STATEMENTS[-1]))
    finally:
        server.terminate()
        server.wait(timeout=10)
    dialect = database_url.split(":", 1)[0]
    print(f"verifyEnrollments, {n} items in one request, {dialect}, one uvicorn process:")
    for label, elapsed, statements in figures:
        print(f"  {label:22s} {elapsed:6.2f} s  ({n / elapsed:7.0f} items/s)  {statements} SQL statements")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
