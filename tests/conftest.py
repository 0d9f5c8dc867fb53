"""The test harness: a migrated, seeded database and a real `uvicorn` serving the app, spoken to with gql.

The database is SQLite in a temporary folder by default; `RENTAN_TEST_DATABASE_URL` points the whole suite
at another one (`.ci/run` uses a PostgreSQL it starts itself). Its schema is created by the alembic chain.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.client import SyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from api.auth import issue_dev_token
from api.seed import seed
from api.settings import Settings
from db.migrate import upgrade
from db.session import create_engine

ROOT = Path(__file__).resolve().parent.parent
SEED_WORKERS = 400
JAKARTA = ZoneInfo("Asia/Jakarta")
# The programme's moment for the whole suite: every server's clock file holds it, and every date a test computes
# comes from it (programme_now, programme_today), so the suite passes at any real moment, in any zone.
# RENTAN_TEST_MOMENT moves it: .ci/run runs the date-sensitive modules again at 31 December 23:30 WIB.
SUITE_MOMENT = datetime.fromisoformat(os.environ.get("RENTAN_TEST_MOMENT") or "2026-11-16T10:00:00+07:00")


# Building an httpx client costs ~25 ms of CPU (its TLS context, even for plain http): the suite's plain
# requests share one client, and every Api one TLS context.
TLS = ssl.create_default_context()
HTTP = httpx.Client(timeout=60, verify=TLS)


def programme_now() -> datetime:
    """The suite's programme moment, in WIB (what the servers' rules take as now)."""
    return SUITE_MOMENT.astimezone(JAKARTA)


def programme_today() -> date:
    return programme_now().date()


# Two kelurahan of different kecamatan, used throughout the scoping tests.
BUGUL_LOR = "3575041010"  # Panggungrejo
KARANGKETUG = "3575011001"  # Gadingrejo
CITY = "3575"

TYPICAL_SCOPE = {
    "pemkot-admin": CITY,
    "pemkot-analyst": CITY,
    "bpjstk-verifier": "35",
    "kelurahan-operator": BUGUL_LOR,
    "kelurahan-viewer": BUGUL_LOR,
    "auditor": CITY,
}


def pin_clock(path: Path) -> None:
    """A server's programme clock at the suite's moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(programme_now().isoformat(), encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _reset(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _seed(url: str) -> None:
    engine = create_engine(url)
    await seed(engine, workers=SEED_WORKERS, seed_value=7)
    await engine.dispose()


@dataclass
class Result:
    """What the server answered: data, errors and extensions, as gql delivered them."""

    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def error_codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


class Api:
    """A gql client holding one principal's bearer token, on one kept-alive HTTP connection: gql's
    ``Client.execute`` would open (and close) an httpx client per request, and building one costs ~25 ms of CPU
    (its TLS context), which was most of the suite's time."""

    def __init__(self, url: str, token: str) -> None:
        self.token = token
        self.client = Client(
            transport=HTTPXTransport(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60, verify=TLS)
        )
        self._session: SyncClientSession | None = None
        self._connecting = threading.Lock()

    @property
    def session(self) -> SyncClientSession:
        """The connected gql session (opened on first use; threads may share an Api)."""
        with self._connecting:
            if self._session is None:
                self._session = self.client.connect_sync()
            return self._session

    def result(self, query: str, **variables: Any) -> Result:
        try:
            request = GraphQLRequest(query, variable_values=variables or None)
            r = self.session.execute(request, get_execution_result=True)
        except TransportQueryError as exc:
            return Result(data=exc.data, errors=list(exc.errors or []), extensions=exc.extensions or {})
        return Result(data=r.data, errors=[], extensions=r.extensions or {})

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        """The data of a query that must succeed without errors."""
        r = self.result(query, **variables)
        assert not r.errors, r.errors
        assert r.data is not None
        return r.data


@dataclass
class Server:
    url: str
    database_url: str
    settings: Settings
    clock_file: Path
    process: subprocess.Popen[bytes] | None = None  # the uvicorn process (tests/test_crash.py kills it)
    _reader: tuple[asyncio.AbstractEventLoop, AsyncEngine] | None = None
    _reading: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def calendar(self) -> Iterator[Callable[[date], None]]:
        """Set the server's programme date (its clock file) within the block; the suite's moment again afterwards."""

        def set_day(day: date) -> None:
            self.clock_file.write_text(day.isoformat(), encoding="utf-8")

        try:
            yield set_day
        finally:
            pin_clock(self.clock_file)

    def token(self, role: str, scope: str | None = None, subject: str | None = None) -> str:
        return issue_dev_token(
            self.settings,
            role=role,
            scope=scope or TYPICAL_SCOPE[role],
            subject=subject or f"{role}-{scope or TYPICAL_SCOPE[role]}@test",
        )

    def api(self, role: str, scope: str | None = None, subject: str | None = None) -> Api:
        return Api(self.url, self.token(role, scope, subject))

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Read the database directly (outside the API), for checks the API must not be trusted with."""
        [rows] = self._read([(statement, params)])
        return rows

    def _read(self, statements: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[Any, ...]]]:
        """Several statements on one connection, each answered in full. The engine and its event loop are made
        once per Server (a new engine per read was a visible share of the suite's time); the connection is not
        pooled, so nothing of the test's stays open between reads (tests that end or count connections)."""
        with self._reading:
            if self._reader is None:
                self._reader = (asyncio.new_event_loop(), create_async_engine(self.database_url, poolclass=NullPool))
            loop, engine = self._reader

            async def run() -> list[list[tuple[Any, ...]]]:
                async with engine.connect() as conn:
                    return [[tuple(r) for r in (await conn.execute(text(s), p)).all()] for s, p in statements]

            return loop.run_until_complete(run())

    def close(self) -> None:
        if self._reader is not None:
            loop, engine = self._reader
            loop.run_until_complete(engine.dispose())
            loop.close()
            self._reader = None

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every application table: compare two snapshots to prove nothing changed."""
        tables = [
            "workers",
            "worker_moves",
            "enrollments",
            "verification_checks",
            "funding_sources",
            "contribution_bills",
            "audit_events",
            "idempotency_keys",
            "kelurahan",
            "policy_overrides",
        ]
        statements = [(f"SELECT * FROM {t} ORDER BY id", {}) for t in tables]  # noqa: S608 - fixed names
        return dict(zip(tables, self._read(statements), strict=True))


@contextmanager
def serve(workdir: Path, database_url: str, key_file: Path, **overrides: str | None) -> Iterator[Server]:
    """uvicorn serving the app on a free port, its output in ``workdir/server.log``, until the block ends.
    ``overrides``: ``RENTAN_*`` variables over the test defaults (None: unset), e.g. a second server with a low
    rate limit; the Server's ``settings`` carry them too."""
    chosen = {
        "RENTAN_DATABASE_URL": database_url,
        "RENTAN_DEV_KEY_FILE": str(key_file),
        "RENTAN_ENV": "development",
        "RENTAN_CLOCK_FILE": str(workdir / "clock"),
        **overrides,
    }
    pin_clock(workdir / "clock")
    fields: dict[str, Any] = {
        name.removeprefix("RENTAN_").lower(): value for name, value in chosen.items() if value is not None
    }
    settings = Settings(**fields)
    env = {name: value for name, value in {**os.environ, **chosen}.items() if value is not None}
    port = _free_port()
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if HTTP.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            raise RuntimeError("server did not start:\n" + (workdir / "server.log").read_text())
        time.sleep(0.1)
    running = Server(
        url=f"{base}/graphql",
        database_url=database_url,
        settings=settings,
        clock_file=workdir / "clock",
        process=proc,
    )
    try:
        yield running
    finally:
        running.close()
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def extra_server(server: Server, workdir: Path, **overrides: str | None) -> AbstractContextManager[Server]:
    """Another server process on the suite's database and signing key, configured as the suite's own (rate limits
    off) but for ``overrides`` (``RENTAN_*`` variables, as for serve)."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, str | None] = {
        "RENTAN_RATE_LIMIT_PER_MINUTE": "0",
        "RENTAN_NIK_LOOKUP_MISSES_PER_HOUR": "0",
        **overrides,
    }
    return serve(workdir, server.database_url, server.settings.dev_key_file, **settings)


async def admin_statement(url: str, statement: str) -> None:
    """A statement outside any transaction on ``url``'s server (CREATE/DROP DATABASE)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")  # CREATE/DROP DATABASE: no transaction
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def own_server(server: Server, workdir: Path) -> Iterator[Server]:
    """A server process on a database of its own, migrated (the region reference data, no seed), configured as
    the suite's: for a story whose changes would reach every other test's rows on the suite's database (the
    end-of-coverage job ends every coverage whose last day is past). On PostgreSQL a database created beside the
    suite's, dropped afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    suite = server.database_url
    name = None
    if suite.startswith("postgresql"):
        name = f"rentan_own_{secrets.token_hex(4)}"
        asyncio.run(admin_statement(suite, f'CREATE DATABASE "{name}"'))
        url = make_url(suite).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'own.sqlite3'}"
    try:
        upgrade(url)
        settings: dict[str, str | None] = {
            "RENTAN_RATE_LIMIT_PER_MINUTE": "0",
            "RENTAN_NIK_LOOKUP_MISSES_PER_HOUR": "0",
        }
        with serve(workdir, url, server.settings.dev_key_file, **settings) as running:
            yield running
    finally:
        if name is not None:
            asyncio.run(admin_statement(suite, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def production_server(
    server: Server, workdir: Path, jwks_url: str, **overrides: str | None
) -> AbstractContextManager[Server]:
    """A server process in production mode (RENTAN_ENV=production: keys only from ``jwks_url``, no clock file) on
    the suite's database, rate limits off as for the suite's own, ``overrides`` over that."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, str | None] = {
        "RENTAN_ENV": "production",
        "RENTAN_CLOCK_FILE": None,  # refused in production
        "RENTAN_JWKS_URL": jwks_url,
        "RENTAN_RATE_LIMIT_PER_MINUTE": "0",
        "RENTAN_NIK_LOOKUP_MISSES_PER_HOUR": "0",
        **overrides,
    }
    return serve(workdir, server.database_url, workdir / "unused-dev-key.pem", **settings)


@dataclass
class LocalHTTP:
    """A throwaway HTTP service of a test's on 127.0.0.1 (a JWKS, an identity provider), served from a thread."""

    httpd: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@contextmanager
def timings_reported(title: str, timings: dict[str, float]) -> Iterator[None]:
    """Prints the figures a module measured (seconds), for the notes, once its tests are done."""
    yield
    if timings:
        print(f"\n{title}:", {k: round(v, 3) for k, v in timings.items()})


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("rentan")
    database_url = os.environ.get("RENTAN_TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir / 'test.sqlite3'}"
    asyncio.run(_reset(database_url))
    upgrade(database_url)
    asyncio.run(_seed(database_url))
    key_file = workdir / "dev-key.pem"
    settings = Settings(database_url=database_url, dev_key_file=key_file)
    issue_dev_token(settings, role="auditor", scope=CITY, subject="warm-up")  # creates the key before the server
    # The suite fires requests as fast as it can under a handful of subjects: the rate limit and the limit on NIK
    # lookups that miss (both on by default) are tested on servers of their own (tests/test_hardening.py,
    # tests/test_nik_guessing.py); here they would only make tests flaky.
    with serve(
        workdir, database_url, key_file, RENTAN_RATE_LIMIT_PER_MINUTE="0", RENTAN_NIK_LOOKUP_MISSES_PER_HOUR="0"
    ) as running:
        yield running


@pytest.fixture(scope="session")
def admin(server: Server) -> Api:
    return server.api("pemkot-admin")


@pytest.fixture(scope="session")
def operator(server: Server) -> Api:
    """The kelurahan operator of Bugul Lor."""
    return server.api("kelurahan-operator")


@pytest.fixture(scope="session")
def verifier(server: Server) -> Api:
    return server.api("bpjstk-verifier")


@pytest.fixture(scope="session")
def auditor(server: Server) -> Api:
    return server.api("auditor")


_nik_serial = itertools.count(1)


def new_nik(birth: date = date(1985, 6, 15), *, female: bool = False, region: str = "357806") -> str:
    """A valid synthetic NIK no seeded worker has (the seed never issues from 357806), unique in this run."""
    day = birth.day + (40 if female else 0)
    serial = next(_nik_serial)
    if serial > 9999:
        raise RuntimeError("new_nik: at most 9,999 NIKs per test session (four serial digits)")
    return f"{region}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


REGISTER = """
mutation Register($input: RegisterWorkerInput!) {
  registerWorker(input: $input) {
    worker { id nik fullName kelurahan { code } }
    errors { code field message }
    warnings { code field message }
  }
}
"""


def worker_input(kelurahan_code: str = BUGUL_LOR, **overrides: Any) -> dict[str, Any]:
    """A valid RegisterWorkerInput (variables form); override any field."""
    birth = date(1985, 6, 15)
    values: dict[str, Any] = {
        "nik": new_nik(birth),
        "fullName": "Slamet Uji Coba",
        "birthDate": birth.isoformat(),
        "sex": "MALE",
        "occupation": "STREET_VENDOR",
        "monthlyIncome": "1200000",
        "kelurahanCode": kelurahan_code,
        "phone": "081234567890",
        "address": "Jl. Contoh No. 1, RT 001/RW 002",
        "familyCardNumber": "3575040101010001",
    }
    values.update(overrides)
    return values


def register_worker(api: Api, kelurahan_code: str = BUGUL_LOR, **overrides: Any) -> dict[str, Any]:
    """Register a worker through the API and return the registerWorker payload."""
    payload: dict[str, Any] = api.data(REGISTER, input=worker_input(kelurahan_code, **overrides))["registerWorker"]
    return payload


ALLOCATE_SOURCE = """
mutation A($i: FundingAllocationInput!) { recordFundingAllocation(input: $i) { errors { code field message } } }
"""


def proposal_year() -> int:
    """The year a proposal made on the suite's day starts coverage in (the 1st of next month)."""
    return (programme_today().replace(day=28) + timedelta(days=4)).year


def open_source(admin: Api, prefix: str, allocated: str = "100000000") -> str:
    """Allocate a fresh funding source covering the whole proposal year, so proposals made today are accepted;
    returns its code. The seeded DBHCHT-2025 is closed to proposals after 2025."""
    year = proposal_year()
    code = f"{prefix}-{secrets.token_hex(3).upper()}"
    allocation = {
        "code": code,
        "name": f"{prefix.lower()} test",
        "fiscalYear": year,
        "allocated": allocated,
        "coverageStart": f"{year}-01-01",
        "coverageEnd": f"{year}-12-31",
    }
    assert admin.data(ALLOCATE_SOURCE, i=allocation)["recordFundingAllocation"]["errors"] == []
    return code


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def chromium() -> Iterator[object]:
    """Debian's headless Chromium under Selenium, every host name but 127.0.0.1 unresolvable (nothing may load from
    the internet); skipped without it on a developer's machine, required in CI."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        missing = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI must run the browser test, never skip it
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        # Offline: every host name but the test server's fails to resolve, so a CDN load could not succeed.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--no-proxy-server",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
