"""Queries read from a PostgreSQL streaming replica; mutations (their reads included) and the audit of full-NIK
reads go to the primary.

A real replica of the suite's cluster is built with ``pg_basebackup -R -X stream`` and started next to it. Replay
is then paused on the replica, so that anything written afterwards exists on the primary only: a query that does
not find it was answered by the replica; a mutation that reads it was run on the primary.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from db.session import create_engine
from tests.conftest import BUGUL_LOR, HTTP, Server, open_source, serve, worker_input
from tests.documents import PROPOSE

URL = os.environ.get("RENTAN_TEST_DATABASE_URL") or ""
PG_BIN, PG_PORT = os.environ.get("PG_BIN"), os.environ.get("PG_PORT")
pytestmark = [
    pytest.mark.skipif(
        not URL.startswith("postgresql"), reason="PostgreSQL only: set RENTAN_TEST_DATABASE_URL, as .ci/run does"
    ),
    pytest.mark.skipif(
        not (PG_BIN and PG_PORT),
        reason="needs the cluster of .ci/pg.sh (PG_BIN, PG_PORT: `source .ci/pg.sh && pg_start`) to replicate",
    ),
]

REGISTER = """mutation R($input: RegisterWorkerInput!) {
  registerWorker(input: $input) { worker { id nik } errors { code field message } } }"""
BY_NIK = "query W($n: String!) { workerByNik(nik: $n) { id nik } }"
NIKS = "{ workers(first: 5) { edges { node { id nik } } } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres() -> list[str]:
    """initdb and postgres refuse root: as root, the replica's cluster runs as `postgres`, like .ci/pg.sh's."""
    return ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


def sql(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(statement), params)).all()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def wait_for(condition: Any, what: str, timeout: float = 15) -> float:
    """Poll ``condition`` until true; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


class Replica:
    def __init__(self, primary_url: str) -> None:
        assert PG_BIN
        assert PG_PORT
        self.primary_url = primary_url
        self.folder = Path(tempfile.mkdtemp(prefix="rentan-replica-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.url = primary_url.replace(f"@127.0.0.1:{PG_PORT}/", f"@127.0.0.1:{self.port}/")
        assert self.url != primary_url, primary_url
        self.started = False

    def start(self) -> None:
        if os.getuid() == 0:
            shutil.chown(self.folder, "postgres")
        run = _as_postgres()
        source = ["-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres"]
        # -R: standby.signal and primary_conninfo written for us; -X stream: the WAL of the copy comes along.
        subprocess.run(
            [*run, f"{PG_BIN}/pg_basebackup", *source, "-D", str(self.data), "-R", "-X", "stream", "-c", "fast"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        # A hot standby needs max_connections (and a few others) at least the primary's: pg.sh starts the
        # primary with its settings on the command line, so they are not in the copied postgresql.conf.
        (max_connections,) = sql(self.primary_url, "SHOW max_connections")[0]
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
            f" -c max_connections={max_connections}"
        )
        log = str(self.folder / "server.log")
        subprocess.run(
            [*run, f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.started = True

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                [*_as_postgres(), f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
            self.started = False

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def caught_up(self) -> bool:
        """In recovery and replayed at least everything the primary had written when asked."""
        (primary_lsn,) = sql(self.primary_url, "SELECT pg_current_wal_lsn()::text")[0]
        (recovering, behind) = sql(
            self.url,
            "SELECT pg_is_in_recovery(), pg_wal_lsn_diff(CAST(CAST(:lsn AS text) AS pg_lsn), pg_last_wal_replay_lsn())",
            lsn=primary_lsn,
        )[0]
        return bool(recovering) and float(behind) <= 0

    def pause(self) -> None:
        sql(self.url, "SELECT pg_wal_replay_pause()")
        wait_for(lambda: sql(self.url, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused", "replay paused")

    def resume(self) -> None:
        sql(self.url, "SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="module")
def replica(server: Server) -> Iterator[Replica]:
    """A streaming replica of the suite's (migrated, seeded) database, caught up; stopped and removed after."""
    standby = Replica(server.database_url)
    try:
        standby.start()
        wait_for(standby.caught_up, "the replica to catch up")
        yield standby
    finally:
        standby.remove()


@pytest.fixture(scope="module")
def split(server: Server, replica: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server writing to the primary and reading from the replica."""
    with serve(
        tmp_path_factory.mktemp("replica-server"),
        server.database_url,
        server.settings.dev_key_file,
        RENTAN_DATABASE_READ_URL=replica.url,
        RENTAN_RATE_LIMIT_PER_MINUTE="0",
    ) as running:
        yield running


def test_the_replica_is_a_streaming_standby(replica: Replica, split: Server) -> None:
    assert sql(replica.url, "SELECT pg_is_in_recovery()") == [(True,)]
    (senders,) = sql(replica.primary_url, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0]
    assert senders >= 1
    ready = HTTP.get(split.url.removesuffix("/graphql") + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["replica"] is True, ready.text


def _pool_gauges(metrics: str) -> dict[tuple[str, str, str], float]:
    """(metric, database, pid) -> value of the rentan_db_pool_* gauges in a /metrics text."""
    gauges = {}
    for line in metrics.splitlines():
        found = re.fullmatch(r'(rentan_db_pool_\w+)\{database="(\w+)",pid="(\d+)"\} (\S+)', line)
        if found:
            gauges[found[1], found[2], found[3]] = float(found[4])
    return gauges


def test_metrics_show_the_pools_of_the_primary_and_the_replica(replica: Replica, split: Server) -> None:
    """/metrics of a server with a read replica: the pool gauges carry one series per database (primary,
    replica) of the one process, each pool sized as configured and using no more than it may."""
    assert split.process is not None
    pid = str(split.process.pid)
    metrics = HTTP.get(split.url.removesuffix("/graphql") + "/metrics", timeout=10)
    assert metrics.status_code == 200
    gauges = _pool_gauges(metrics.text)
    assert {(m, d) for m, d, _ in gauges} == {
        (metric, database)
        for metric in ("rentan_db_pool_checked_out", "rentan_db_pool_size")
        for database in ("primary", "replica")
    }, metrics.text
    assert {p for _, _, p in gauges} == {pid}  # this process's pools, nothing else
    settings = split.settings
    for database in ("primary", "replica"):
        assert gauges["rentan_db_pool_size", database, pid] == settings.database_pool_size
        in_use = gauges["rentan_db_pool_checked_out", database, pid]
        assert 0 <= in_use <= settings.database_pool_size + settings.database_max_overflow
        assert in_use == int(in_use)


def test_queries_read_the_replica_and_mutations_read_and_write_the_primary(replica: Replica, split: Server) -> None:
    """With replay paused: a funding source allocated, a worker registered and proposed against it (the proposal
    reads both, and the budget, so its reads went to the primary); the query for the worker finds nothing (the
    replica has not replayed it) until replay resumes."""
    admin_split = split.api("pemkot-admin")
    operator = split.api("kelurahan-operator", BUGUL_LOR, subject="replica-operator@test")
    replica.pause()
    try:
        code = open_source(admin_split, "REPLICA")
        registered = operator.data(REGISTER, input=worker_input(BUGUL_LOR))["registerWorker"]
        assert registered["errors"] == [], registered
        worker = registered["worker"]
        proposed = operator.data(
            PROPOSE, input={"workerId": worker["id"], "fundingSourceCode": code, "programmes": ["JKK", "JKM"]}
        )["proposeEnrollment"]
        assert proposed["errors"] == [], proposed
        assert proposed["enrollment"]["status"] == "PROPOSED"
        assert proposed["enrollment"]["worker"]["id"] == worker["id"]
        # On the primary, not (yet) on the replica: the query is answered by the replica.
        assert sql(replica.primary_url, "SELECT count(*) FROM workers WHERE nik = :n", n=worker["nik"]) == [(1,)]
        assert sql(replica.url, "SELECT count(*) FROM workers WHERE nik = :n", n=worker["nik"]) == [(0,)]
        assert operator.data(BY_NIK, n=worker["nik"])["workerByNik"] is None
    finally:
        replica.resume()
    took = wait_for(lambda: operator.data(BY_NIK, n=worker["nik"])["workerByNik"] is not None, "replay", timeout=5)
    assert took < 1, f"the replica showed the write {took:.2f} s after replay resumed"
    assert operator.data(BY_NIK, n=worker["nik"])["workerByNik"] == worker


def test_a_query_on_the_replica_audits_its_full_niks_on_the_primary(replica: Replica, split: Server) -> None:
    """Replay paused: the query's NIKs come from the replica, their worker.nik:read events are on the primary."""
    subject = "replica-nik-reader@test"
    operator = split.api("kelurahan-operator", BUGUL_LOR, subject=subject)
    replica.pause()
    try:
        nodes = [e["node"] for e in operator.data(NIKS)["workers"]["edges"]]
        assert len(nodes) == 5
        assert all("*" not in n["nik"] for n in nodes)
        events = sql(
            replica.primary_url,
            "SELECT target_id FROM audit_events WHERE action = 'worker.nik:read' AND actor = :a",
            a=subject,
        )
        assert sorted(t for (t,) in events) == sorted(n["id"] for n in nodes)
        unreplayed = "SELECT count(*) FROM audit_events WHERE actor = :a"
        assert sql(replica.url, unreplayed, a=subject) == [(0,)]
    finally:
        replica.resume()


def test_no_full_nik_is_shown_when_its_audit_cannot_be_written(
    replica: Replica, server: Server, tmp_path: Path
) -> None:
    """A server whose replica answers but whose primary does not: the query's data is read, its audit cannot be
    written, so the response carries no data at all, only an error."""
    dead = server.database_url.replace(f"@127.0.0.1:{PG_PORT}/", f"@127.0.0.1:{_free_port()}/")
    with serve(
        tmp_path,
        dead,
        server.settings.dev_key_file,
        RENTAN_DATABASE_READ_URL=replica.url,
        RENTAN_RATE_LIMIT_PER_MINUTE="0",
    ) as broken:
        operator = broken.api("kelurahan-operator", BUGUL_LOR)
        masked = broken.api("kelurahan-viewer", BUGUL_LOR).data(NIKS)  # no full NIK, nothing to audit: served
        assert all("*" in e["node"]["nik"] for e in masked["workers"]["edges"])
        refused = operator.result(NIKS)
        assert refused.data is None, refused
        assert refused.errors, refused
        assert HTTP.get(broken.url.removesuffix("/graphql") + "/readyz", timeout=10).status_code == 503
