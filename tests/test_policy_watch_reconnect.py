"""The policy watcher's PostgreSQL channel (api/policies/watch.py) when its connection is lost: every way a change
can go unheard is made up for.

- Killed from the database side (``pg_terminate_backend``): the server process reconnects within about a second,
  and hears the next change (a) as well as the one committed while no one listened, re-read on reconnect (b).
- A change whose NOTIFY never arrives is applied by the ``backstop`` re-read (c).
- A connection that silently stops answering (half-open TCP: a vanished host, a dropped NAT entry) is given up
  at the next backstop and replaced (d).

(a) and (b) run against a server process of their own (killing its channel leaves the suite's server alone);
(c) and (d) against a PolicyWatcher in this process with a short backstop, which the server does not let one set.
PostgreSQL only: SQLite has no channel (its processes poll, tests/test_live_policy.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.policies.authorizer import Authorizer
from api.policies.overrides import CHANNEL
from api.policies.watch import LISTEN_APPLICATION, PolicyWatcher
from db.session import create_engine
from tests.conftest import BUGUL_LOR, Server, extra_server, timings_reported
from tests.test_live_policy import REINSTATE, SUSPEND, forbidden_to_register, refused_whole, within

URL = os.environ.get("RENTAN_TEST_DATABASE_URL") or ""
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="PostgreSQL only: set RENTAN_TEST_DATABASE_URL, as .ci/run does"
)

OPERATOR = "kelurahan-operator"
DEADLINE = 1.0  # a change heard on the channel: applied within a second
RECONNECTED = 3.0  # the watcher waits a second before reconnecting, then LISTENs and re-reads
# Figures for the report: seconds, as measured here.
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def watched(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server process of its own on the suite's database, whose channel the tests kill."""
    with extra_server(server, tmp_path_factory.mktemp("rentan-watched")) as running:
        yield running


@pytest.fixture(scope="module", autouse=True)
def report_timings() -> Iterator[None]:
    with timings_reported("policy channel, seconds", TIMINGS):
        yield


def channel_of(server: Server) -> list[tuple[int, str]]:
    """(backend pid, last query) of the server process's LISTEN connection, found by its application_name."""
    assert server.process is not None
    name = f"{LISTEN_APPLICATION}/{server.process.pid}"
    rows = server.sql("SELECT pid, query FROM pg_stat_activity WHERE application_name = :name", name=name)
    return [(int(pid), str(query)) for pid, query in rows]


def listening(server: Server) -> int | None:
    """The backend pid of the server's channel once it LISTENs (its last statement: the LISTEN, or the probe of a
    backstop since), else None."""
    found = channel_of(server)
    if len(found) == 1 and found[0][1].startswith(("LISTEN", "SELECT 1")):
        return found[0][0]
    return None


def kill_channel(server: Server) -> int:
    """Terminate the server's LISTEN connection from the database side; returns when that backend has exited."""
    backend = listening(server)
    assert backend is not None, channel_of(server)
    # With a timeout, pg_terminate_backend waits for the backend to be gone (PostgreSQL 14+).
    assert server.sql("SELECT pg_terminate_backend(:pid, 5000)", pid=backend) == [(True,)]
    return backend


@contextlib.contextmanager
def suspended(admin: Any, subject: str, reason: str) -> Iterator[None]:
    """Suspend ``subject`` through the API (GraphQL suspendSubject: audited, NOTIFY on commit), reinstated after."""
    payload = admin.data(SUSPEND, i={"subject": subject, "reason": reason})["suspendSubject"]
    assert payload["errors"] == [], payload
    try:
        yield
    finally:
        lifted = admin.data(REINSTATE, i={"subject": subject, "reason": "test cleanup"})["reinstateSubject"]
        assert lifted["errors"] == [], lifted


def test_a_killed_channel_is_reopened_and_hears_the_next_change(server: Server, watched: Server) -> None:
    """(a) The server's LISTEN connection is terminated by the database: within a couple of seconds the process
    LISTENs again on a new connection, and a suspension made afterwards through another process reaches it within
    a second (the NOTIFY, heard on the new connection: the backstop is 10 s away) — the operator is refused."""
    subject = f"siti-{secrets.token_hex(3)}@bugul-lor"
    siti = watched.api(OPERATOR, subject=subject)
    assert not forbidden_to_register(siti)

    old = kill_channel(watched)
    TIMINGS["reconnect after kill"] = within(RECONNECTED, lambda: listening(watched) not in (None, old))
    assert not forbidden_to_register(siti)  # the reconnect re-read found nothing to change

    admin = server.api("pemkot-admin")  # the other process: the watched one learns only through its watcher
    with suspended(admin, subject, "laptop stolen"):
        TIMINGS["heard after reconnect"] = within(DEADLINE, lambda: forbidden_to_register(siti))
        assert refused_whole(siti)
    within(DEADLINE, lambda: not forbidden_to_register(siti))


def test_a_change_committed_while_the_channel_is_down_is_applied_on_reconnect(server: Server, watched: Server) -> None:
    """(b) The channel is killed and, before the process reconnects, a suspension commits through another process:
    its NOTIFY reaches no listener of the watched process. The re-read that follows the reconnect applies it, a
    second or two later; the colleague of the same role is not affected."""
    subject = f"siti-{secrets.token_hex(3)}@bugul-lor"
    siti = watched.api(OPERATOR, subject=subject)
    colleague = watched.api(OPERATOR, subject=f"budi-{secrets.token_hex(3)}@bugul-lor")
    assert not forbidden_to_register(siti)
    admin = server.api("pemkot-admin")
    # Warmed up, the suspension below answers in about 0.1 s: well within the second the watcher waits before
    # it reconnects.
    admin.data("{ viewer { subject } }")

    kill_channel(watched)
    with suspended(admin, subject, "laptop stolen"):
        committed = time.monotonic()
        # Committed (the mutation has answered) while the process had no connection to LISTEN on: the new one,
        # when it comes, LISTENs after this commit and so never hears its NOTIFY.
        assert channel_of(watched) == [], "the watcher reconnected before the change committed"
        within(RECONNECTED, lambda: forbidden_to_register(siti))
        TIMINGS["committed while down -> applied"] = time.monotonic() - committed
        assert listening(watched) is not None
        assert refused_whole(siti)
        assert not forbidden_to_register(colleague)  # a subject is suspended, not the role
    within(DEADLINE, lambda: not forbidden_to_register(siti))


# --- a PolicyWatcher in this process, with a short backstop ------------------------------------------------------

BACKSTOP = 1.0


async def _until(deadline: float, condition: Callable[[], Awaitable[bool]]) -> float:
    start = time.monotonic()
    while not await condition():
        if time.monotonic() - start > deadline:
            raise AssertionError(f"not within {deadline} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def _listen_backends(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name ORDER BY backend_start"),
            {"name": PolicyWatcher.application_name()},
        )
        return [int(pid) for (pid,) in rows]


@contextlib.asynccontextmanager
async def _suspended_silently(engine: AsyncEngine, subject: str, *, notify: bool = False) -> AsyncIterator[None]:
    """A suspension written straight into policy_overrides for the block's length: no audit, and no NOTIFY unless
    asked. Deleted afterwards, again without a NOTIFY."""
    async with engine.begin() as conn:
        row_id = (
            await conn.execute(
                text(
                    "INSERT INTO policy_overrides (kind, subject, reason, created_by, created_at) "
                    "VALUES ('suspend', :subject, 'test', 'test', now()) RETURNING id"
                ),
                {"subject": subject},
            )
        ).scalar_one()
        if notify:
            await conn.execute(text(f"NOTIFY {CHANNEL}"))
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM policy_overrides WHERE id = :id"), {"id": row_id})


async def _until_suspended(authorizer: Authorizer, subject: str, deadline: float) -> float:
    """Seconds until the watched authorizer refuses ``subject`` as suspended (fails after ``deadline``)."""

    async def applied() -> bool:
        return _is_suspended(authorizer, subject)

    return await _until(deadline, applied)


def _is_suspended(authorizer: Authorizer, subject: str) -> bool:
    """What a request of this kelurahan operator of Bugul Lor would meet: 403 (suspended), nothing allowed."""
    scope = (BUGUL_LOR,)
    if not authorizer.is_suspended(subject, scope):
        assert authorizer.allows(OPERATOR, "worker", "create", subject, scope)
        return False
    assert not authorizer.allows(OPERATOR, "worker", "create", subject, scope)
    return True


@contextlib.asynccontextmanager
async def _watching(url: str, **options: float) -> AsyncIterator[tuple[PolicyWatcher, Authorizer]]:
    engine = create_engine(url)
    authorizer = Authorizer()
    watcher = PolicyWatcher(engine, authorizer, **options)
    await watcher.start()
    try:

        async def open_() -> bool:
            return watcher.channel_open

        await _until(5, open_)
        yield watcher, authorizer
    finally:
        await watcher.stop()
        await engine.dispose()


def test_a_change_never_notified_is_applied_by_the_backstop(server: Server) -> None:
    """(c) A suspension committed with no NOTIFY at all (written straight into the table) is applied within one
    backstop interval, on the same connection: the backstop re-read did it, not a reconnect."""
    subject = f"silent-{secrets.token_hex(3)}@bugul-lor"

    async def scenario() -> float:
        admin_engine = create_engine(server.database_url)
        try:
            async with _watching(server.database_url, backstop=BACKSTOP) as (watcher, authorizer):
                (backend,) = await _listen_backends(admin_engine)
                assert not _is_suspended(authorizer, subject)
                async with _suspended_silently(admin_engine, subject):
                    took = await _until_suspended(authorizer, subject, BACKSTOP + 1.0)  # the next backstop, and room
                    assert authorizer.permissions_of(OPERATOR, subject) == []
                    assert await _listen_backends(admin_engine) == [backend]  # still the first connection
                    assert watcher.channel_open
                return took
        finally:
            await admin_engine.dispose()

    TIMINGS["backstop, no NOTIFY"] = asyncio.run(scenario())


class Relay:
    """A TCP relay to PostgreSQL that can silence the policy watcher's connection (recognised by the
    application_name in its start-up packet): from then on nothing passes in either direction, yet both sockets
    stay open, as when the host behind a connection vanishes."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.flows: list[dict[str, bool]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.listen_port = 0

    async def __aenter__(self) -> Relay:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.listen_port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def silence_watcher(self) -> int:
        """Silence every watcher connection open now; returns how many."""
        flows = [f for f in self.flows if f["watcher"] and not f["closed"]]
        for flow in flows:
            flow["silent"] = True
        return len(flows)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.port)
        self.writers += [writer, upstream_writer]
        flow = {"watcher": False, "silent": False, "closed": False}
        self.flows.append(flow)
        mark = LISTEN_APPLICATION.encode()

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, from_client: bool) -> None:
            try:
                while data := await source.read(65536):
                    if from_client and mark in data:
                        flow["watcher"] = True
                    if not flow["silent"]:
                        sink.write(data)
                        await sink.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                if not flow["silent"]:  # a silenced flow is never closed by the relay: the peer hears nothing
                    flow["closed"] = True
                    sink.close()

        for args in ((reader, upstream_writer, True), (upstream_reader, writer, False)):
            task = asyncio.create_task(pipe(*args))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def test_a_channel_that_stops_answering_is_replaced(server: Server) -> None:
    """(d) The watcher's connection goes silent (half-open: no FIN, no RST, no answer), and a change's NOTIFY is
    lost on it. At the next backstop its probe times out, the watcher connects anew, re-reads and applies the
    change: seconds, not the many minutes TCP takes to give up on a dead peer (the probe used to wait that long,
    and the backstop with it)."""
    subject = f"halfopen-{secrets.token_hex(3)}@bugul-lor"
    database = server.database_url
    assert "@127.0.0.1:" in database, database
    host_port = database.split("@", 1)[1].split("/", 1)[0]
    port = int(host_port.rsplit(":", 1)[1])

    async def scenario() -> float:
        admin_engine = create_engine(database)
        try:
            async with Relay("127.0.0.1", port) as relay:
                relayed = database.replace(host_port, f"127.0.0.1:{relay.listen_port}")
                options = {"backstop": BACKSTOP, "probe_timeout": 0.5, "reconnect_delay": 0.2}
                async with _watching(relayed, **options) as (watcher, authorizer):
                    (first,) = await _listen_backends(admin_engine)
                    assert relay.silence_watcher() == 1
                    started = time.monotonic()
                    async with _suspended_silently(admin_engine, subject, notify=True):  # its NOTIFY: lost
                        # The backstop (1 s) + the probe's timeout (0.5 s) + the reconnect (0.2 s) and its re-read.
                        await _until_suspended(authorizer, subject, BACKSTOP + 0.5 + 0.2 + 1.5)
                        took = time.monotonic() - started
                        backends = await _listen_backends(admin_engine)
                        # The silenced connection is still open on the server's side (it heard nothing either):
                        # the watcher now listens on a second one.
                        assert backends[0] == first
                        assert len(backends) == 2, backends
                        assert watcher.channel_open
                    return took
        finally:
            await admin_engine.dispose()

    TIMINGS["half-open -> applied"] = asyncio.run(scenario())
