"""Operations on PostgreSQL, as the README's Operations section tells an operator to do them.

- the image's entry command (the Dockerfile's CMD, run here without Docker) on a fresh database migrates, serves
  and answers /readyz in production mode;
- a `pg_dump -Fc` restored with `pg_restore` into an empty database serves the same answers;
- a database left at an old migration, with data, is refused by `rentan serve`, upgraded by `rentan db upgrade`
  and then served.

Each test creates its own databases on the suite's PostgreSQL server (`RENTAN_TEST_DATABASE_URL`) and drops them.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.auth import issue_dev_token
from api.seed import seed
from api.settings import Settings
from db.migrate import head_revision
from db.session import create_engine
from tests.conftest import HTTP, ROOT, Api, admin_statement, register_worker, serve

SUITE_URL = os.environ.get("RENTAN_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not SUITE_URL.startswith("postgresql"),
    reason="PostgreSQL only (dump, restore, CREATE DATABASE): set RENTAN_TEST_DATABASE_URL, as .ci/run does",
)

BIN = Path(sys.executable).parent  # the virtualenv's scripts: `rentan` as the image installs it


# --- databases on the suite's server ------------------------------------------------------------------------------


@pytest.fixture
def new_database() -> Iterator[Any]:
    """A factory of empty databases on the suite's server: returns each one's URL; all are dropped afterwards."""
    created: list[str] = []

    def make(purpose: str) -> str:
        name = f"rentan_ops_{purpose}_{secrets.token_hex(4)}"
        asyncio.run(admin_statement(SUITE_URL, f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(SUITE_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    for name in created:
        asyncio.run(admin_statement(SUITE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def rentan(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**_clean_env(), "RENTAN_DATABASE_URL": database_url}
    return subprocess.run(
        [str(BIN / "rentan"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _clean_env() -> dict[str, str]:
    """This process's environment without any RENTAN_* setting, so that only what a test names applies."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RENTAN_") and k != "PROMETHEUS_MULTIPROC_DIR"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the PostgreSQL client programs, as the README uses them -----------------------------------------------------


def pg_program(name: str) -> str:
    """pg_dump / pg_restore of the server's major version: PG_BIN (set by .ci/pg.sh), the version's folder, PATH."""
    candidates = [Path(os.environ["PG_BIN"])] if os.environ.get("PG_BIN") else []
    candidates += [Path("/usr/lib/postgresql/15/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
    for folder in candidates:
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found (PostgreSQL client programs): apt-get install postgresql-client-15")
    return found


def pg_connection(database_url: str) -> tuple[list[str], dict[str, str]]:
    """libpq options and environment for the database a SQLAlchemy URL names (host or socket, port, user)."""
    url = make_url(database_url)
    options = ["--dbname", str(url.database)]
    if url.host:
        options += ["--host", url.host]
    if url.port:
        options += ["--port", str(url.port)]
    if url.username:
        options += ["--username", url.username]
    env = _clean_env()
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return options, env


def pg_dump(database_url: str, dump: Path) -> None:
    options, env = pg_connection(database_url)
    # As in the README: pg_dump -Fc --dbname rentan --file rentan.dump
    subprocess.run([pg_program("pg_dump"), "-Fc", *options, "--file", str(dump)], env=env, check=True, timeout=300)


def pg_restore(dump: Path, database_url: str) -> None:
    options, env = pg_connection(database_url)
    # As in the README: pg_restore --exit-on-error --dbname rentan_restored rentan.dump
    subprocess.run([pg_program("pg_restore"), "--exit-on-error", *options, str(dump)], env=env, check=True, timeout=300)


# --- (a) the image's entry command --------------------------------------------------------------------------------


def dockerfile_cmd() -> list[str]:
    """The final stage's CMD (exec form), as the container runs it."""
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    cmds = [line.removeprefix("CMD ") for line in lines if line.startswith("CMD ")]
    assert cmds, "the Dockerfile has no CMD"
    cmd = json.loads(cmds[-1])
    assert isinstance(cmd, list)
    return [str(part) for part in cmd]


def dockerfile_env() -> dict[str, str]:
    """The final stage's ENV (KEY=value pairs, continued lines joined), PATH aside."""
    text_ = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    final = text_.split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            for pair in line.removeprefix("ENV ").split():
                key, _, value = pair.partition("=")
                if key != "PATH":
                    env[key] = value
    return env


def with_option(cmd: list[str], option: str, value: str) -> list[str]:
    assert option in cmd, f"{option} not in {cmd}"
    i = cmd.index(option)
    return [*cmd[: i + 1], value, *cmd[i + 2 :]]


def test_the_image_entry_command_migrates_a_fresh_database_and_serves_ready(new_database: Any, tmp_path: Path) -> None:
    """The Dockerfile's CMD, with the Dockerfile's ENV (RENTAN_ENV=production, two workers summing /metrics
    through PROMETHEUS_MULTIPROC_DIR), on a database just created: it migrates to head, serves, and /readyz
    answers 200. Only the bind address, the port and the metrics folder are this machine's."""
    cmd = dockerfile_cmd()
    assert cmd[:2] == ["rentan", "start"], cmd
    port = _free_port()
    cmd = with_option(with_option(cmd, "--host", "127.0.0.1"), "--port", str(port))
    image_env = dockerfile_env()
    assert image_env["RENTAN_ENV"] == "production"
    assert "PROMETHEUS_MULTIPROC_DIR" in image_env

    database_url = new_database("fresh")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"a previous run's figures")  # `rentan start` must clear these
    env = {
        **_clean_env(),
        **image_env,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "RENTAN_DATABASE_URL": database_url,
        # Production requires a JWKS; /readyz and /healthz need no token, so nothing ever fetches it.
        "RENTAN_JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",
        # Production reads /metrics out only to a scraper holding this bearer token (README, Security).
        "RENTAN_METRICS_TOKEN": "scraper-secret-for-the-test",
    }
    log_path = tmp_path / "start.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(BIN / cmd[0]), *cmd[1:]],
            cwd=tmp_path,  # as in the image (WORKDIR /app): nothing is read from the working directory
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            ready = None
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    ready = HTTP.get(f"{base}/readyz", timeout=2)
                    if ready.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            assert ready is not None, log_path.read_text()
            assert ready.status_code == 200, log_path.read_text()
            assert ready.json() == {"ready": True, "revision": head_revision(database_url)}
            assert HTTP.get(f"{base}/healthz").status_code == 200
            assert not (metrics_dir / "counter_1.db").exists()

            # Production: no GraphiQL for a browser, no GraphQL without a token.
            page = HTTP.get(f"{base}/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 401
            anonymous = HTTP.post(f"{base}/graphql", json={"query": "{ viewer { subject } }"})
            assert anonymous.status_code == 401
            assert HTTP.get(f"{base}/metrics").status_code == 401
            metrics = HTTP.get(f"{base}/metrics", headers={"Authorization": "Bearer scraper-secret-for-the-test"})
            assert metrics.status_code == 200
            assert "rentan_requests_total" in metrics.text
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the uvicorn supervisor and its workers: this test's own group
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    output = log_path.read_text()
    assert "database at head" in output
    # Production logs one JSON object per request, with its request id.
    requests = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    graphql_lines = [r for r in requests if r.get("path") == "/graphql"]
    assert graphql_lines, output
    assert all(r["status"] == 401 and r["request_id"] for r in graphql_lines)


# --- (b) backup and restore ---------------------------------------------------------------------------------------

SUMMARY = """
{ programmeSummary(fiscalYear: 2025) {
    workers activeEnrollments proposedEnrollments rejectedEnrollments
    byKelurahan { kelurahan { code name } workers activeEnrollments proposedEnrollments }
    byOccupation { occupation workers activeEnrollments }
    funding { code allocated billed paid remaining membersAtRisk }
    realisation { months { period membersActive billed paid projected isProjection } }
} }
"""

WORKERS = """
query Page($after: String) {
  workers(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id nik fullName birthDate sex occupation monthlyIncome phone address familyCardNumber
      kelurahan { code }
      currentEnrollment { status membershipNumber coverageStart coverageEnd }
    } }
  }
}
"""

AUDIT = """
{ auditEvents(last: 100) { totalCount edges { node { id at actor agency action targetId detail } } } }
"""

# The programme's "today" on both servers (their clock file): the realisation's projection and the members at
# risk depend on the date, and must not change between the two runs.
PROGRAMME_DAY = date(2025, 10, 15)


def _answers(admin: Api, auditor: Api) -> dict[str, Any]:
    """The answers an operator would check after a restore. The audit trail is read first: reading full NIKs
    (the workers pages) adds audit events of its own."""
    audit = auditor.data(AUDIT)
    first = admin.data(WORKERS)
    second = admin.data(WORKERS, after=first["workers"]["pageInfo"]["endCursor"])
    return {"audit": audit, "summary": admin.data(SUMMARY), "workers": [first, second]}


def test_a_restored_dump_serves_the_same_answers(new_database: Any, tmp_path: Path) -> None:
    """Seed a database, ask it a few questions, `pg_dump -Fc` it, `pg_restore` the dump into an empty database,
    and the restored one answers the same: dashboard figures, pages of workers with full NIKs (and their
    cursors), the audit trail. It then takes writes (its sequences came along) and keeps the audit trail
    append-only (its triggers came along)."""
    source_url = new_database("source")
    target_url = new_database("restored")
    for args in (("db", "upgrade"), ("seed", "--workers", "300")):
        done = rentan(*args, database_url=source_url)
        assert done.returncode == 0, done.stderr

    key_file = tmp_path / "dev-key.pem"
    issue_dev_token(Settings(dev_key_file=key_file), role="auditor", scope="3575", subject="warm-up")

    (tmp_path / "source").mkdir()
    with serve(tmp_path / "source", source_url, key_file) as server, server.calendar() as set_day:
        set_day(PROGRAMME_DAY)
        before = _answers(server.api("pemkot-admin"), server.api("auditor"))
        audit_after_reads = server.api("auditor").data(AUDIT)

    workers = [e["node"] for page in before["workers"] for e in page["workers"]["edges"]]
    assert len(workers) == 200
    assert all("*" not in w["nik"] and len(w["nik"]) == 16 for w in workers)  # pemkot-admin reads full NIKs
    assert before["summary"]["programmeSummary"]["workers"] == 300
    assert before["summary"]["programmeSummary"]["funding"]
    assert audit_after_reads["auditEvents"]["totalCount"] == len(workers)  # each full-NIK read, audited

    dump = tmp_path / "rentan.dump"
    pg_dump(source_url, dump)
    pg_restore(dump, target_url)

    (tmp_path / "restored").mkdir()
    with serve(tmp_path / "restored", target_url, key_file) as server, server.calendar() as set_day:
        set_day(PROGRAMME_DAY)
        assert HTTP.get(server.url.replace("/graphql", "/readyz")).status_code == 200
        admin, auditor = server.api("pemkot-admin"), server.api("auditor")
        assert auditor.data(AUDIT) == audit_after_reads  # the trail as it stood when the dump was taken
        after = _answers(admin, auditor)
        assert after["summary"] == before["summary"]
        assert after["workers"] == before["workers"]
        assert after["audit"] == audit_after_reads
        # Reading full NIKs on the restored database is audited there, after the restored trail.
        assert auditor.data(AUDIT)["auditEvents"]["totalCount"] == 2 * len(workers)

        # The restored database takes writes (its id sequences were restored past the restored rows) ...
        registered = register_worker(server.api("kelurahan-operator"))
        assert registered["errors"] == [], registered
        # ... and its audit trail is still append-only.
        with pytest.raises(Exception, match="append-only"):
            server.sql("UPDATE audit_events SET actor = 'someone else'")


# --- (c) an upgrade with a migration ------------------------------------------------------------------------------


def test_an_old_database_with_data_is_upgraded_and_served(new_database: Any, tmp_path: Path) -> None:
    """A database at migration 0002 holding data: `rentan serve` refuses it, `rentan db upgrade` brings it to
    head, and the server then answers with the data it held, and with what the later migrations added."""
    database_url = new_database("upgrade")
    assert rentan("db", "upgrade", "--revision", "0002", database_url=database_url).returncode == 0
    # `rentan seed` refuses a database behind the code (as serve does): the old data is written by the seed's
    # function itself, whose tables all exist at 0002.
    refused_seed = rentan("seed", "--workers", "120", database_url=database_url)
    assert refused_seed.returncode == 3
    assert "rentan db upgrade" in refused_seed.stderr

    async def seed_old() -> None:
        engine = create_engine(database_url)
        try:
            await seed(engine, workers=120, seed_value=2025)
        finally:
            await engine.dispose()

    asyncio.run(seed_old())

    refused = rentan("serve", "--port", "0", database_url=database_url)
    assert refused.returncode == 3
    assert "rentan db upgrade" in refused.stderr

    upgraded = rentan("db", "upgrade", database_url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr

    key_file = tmp_path / "dev-key.pem"
    issue_dev_token(Settings(dev_key_file=key_file), role="auditor", scope="3575", subject="warm-up")
    with serve(tmp_path, database_url, key_file) as server:
        ready = HTTP.get(server.url.replace("/graphql", "/readyz"))
        assert ready.json() == {"ready": True, "revision": head_revision(database_url)}
        admin = server.api("pemkot-admin")
        page = admin.data("{ workers(first: 5) { totalCount edges { node { id kelurahan { code } } } } }")
        assert page["workers"]["totalCount"] == 120
        # worker_moves came with migration 0003: a worker registered before it can move.
        worker = page["workers"]["edges"][0]["node"]
        to = "3575011001" if worker["kelurahan"]["code"] != "3575011001" else "3575041010"
        moved = admin.result(
            "mutation M($i: MoveWorkerInput!) { moveWorker(input: $i) { move { toKelurahanCode } "
            "errors { code message } } }",
            i={"workerId": worker["id"], "toKelurahanCode": to, "effectiveDate": "2025-10-01"},
        )
        assert not moved.errors, moved.errors
        assert moved.data is not None
        payload = moved.data["moveWorker"]
        assert payload["errors"] == [], payload
        assert payload["move"] == {"toKelurahanCode": to}
        # ... and the audit trail is append-only (migration 0004's triggers).
        with pytest.raises(Exception, match="append-only"):
            server.sql("DELETE FROM audit_events")
