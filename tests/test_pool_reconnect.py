"""A pooled connection that died while idle (a database restart, a firewall dropping quiet connections) is
replaced before a request uses it: the request is answered, not failed (db/session.py, _ping_when_idle).

PostgreSQL only: the server's pool connections are ended from the database side with pg_terminate_backend,
found by the application_name every connection carries (``rentan/<pid>``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from db.session import APPLICATION_NAME
from tests.conftest import Server, extra_server

URL = os.environ.get("RENTAN_TEST_DATABASE_URL") or ""
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="PostgreSQL only: set RENTAN_TEST_DATABASE_URL, as .ci/run does"
)
IDLE = 0.3  # seconds: the pinged server's threshold, short so that the test need not wait long
QUERY = "{ workers(first: 5) { edges { node { id fullName kelurahan { name } } } } }"


@pytest.fixture(scope="module")
def pinged(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("rentan-pinged")
    with extra_server(server, workdir, RENTAN_DATABASE_PING_AFTER_IDLE_SECONDS=str(IDLE)) as running:
        yield running


def pool_backends(server: Server) -> list[int]:
    assert server.process is not None
    name = f"{APPLICATION_NAME}/{server.process.pid}"
    return [int(pid) for (pid,) in server.sql("SELECT pid FROM pg_stat_activity WHERE application_name = :n", n=name)]


def terminate(backends: list[int], server: Server) -> None:
    for pid in backends:
        server.sql("SELECT pg_terminate_backend(:pid)", pid=pid)


def test_connections_ended_while_idle_are_replaced_before_use(pinged: Server) -> None:
    api = pinged.api("pemkot-admin")
    before = api.data(QUERY)
    killed = pool_backends(pinged)
    assert killed, "the server's pool holds its connections, named after the process"
    terminate(killed, pinged)
    time.sleep(IDLE * 2)
    # Every pooled connection is dead; each is found so at checkout and replaced: no request fails.
    for _ in range(3):
        assert api.data(QUERY) == before
    now = pool_backends(pinged)
    assert now, "the pool reconnected"
    assert not set(now) & set(killed)
