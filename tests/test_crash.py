"""A server killed with SIGKILL in the middle of a 1,000-item ``registerWorkers`` batch leaves none of the batch
(the batch is one transaction), and the same batch sent again (same idempotency keys) to a restarted server
completes it: every worker exactly once. Sent again (part of it), it creates nothing more.

The servers are extra uvicorn processes (``serve``) on the suite's database, so the crash happens to the database
the rest of the suite uses (SQLite, or PostgreSQL in CI).
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BUGUL_LOR, HTTP, Server, extra_server, new_nik, worker_input

BATCH = 1000
REGISTER_MANY = """
mutation R($input: [RegisterWorkerInput!]!) {
  registerWorkers(input: $input) { outcomes { worker { id nik } errors { code } } }
}
"""


WARM_UP = 100


def batch(tag: str, size: int = BATCH) -> list[dict[str, Any]]:
    return [worker_input(BUGUL_LOR, idempotencyKey=f"{tag}-{i}", nik=new_nik()) for i in range(size)]


def send(server: Server, token: str, items: list[dict[str, Any]]) -> httpx.Response:
    return HTTP.post(
        server.url,
        json={"query": REGISTER_MANY, "variables": {"input": items}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )


def stored(server: Server, niks: list[str]) -> dict[str, int]:
    """How many worker rows each NIK of ``niks`` has (NIKs without a row left out)."""
    rows = server.sql("SELECT nik, count(*) FROM workers WHERE nik LIKE '357806%' GROUP BY nik")
    wanted = set(niks)
    return {nik: count for nik, count in rows if nik in wanted}


def outcomes(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    result: list[dict[str, Any]] = body["data"]["registerWorkers"]["outcomes"]
    assert [o for o in result if o["errors"]] == []
    return result


def crash_during(server: Server, workdir: Path, token: str, items: list[dict[str, Any]], fraction: float) -> bool:
    """Send ``items`` to a server of its own and SIGKILL it after about ``fraction`` of the time the batch takes
    (estimated from a small batch sent first, which warms the server up too); True if the request was still in
    flight (the client saw the connection drop), False if it had been answered already."""
    with extra_server(server, workdir) as doomed:
        started = time.monotonic()
        assert len(outcomes(send(doomed, token, batch(f"warm-{uuid.uuid4().hex[:8]}", WARM_UP)))) == WARM_UP
        delay = (time.monotonic() - started) * len(items) / WARM_UP * fraction
        answered: list[httpx.Response | Exception] = []

        def post() -> None:
            try:
                answered.append(send(doomed, token, items))
            except httpx.HTTPError as exc:
                answered.append(exc)

        sender = threading.Thread(target=post)
        sender.start()
        time.sleep(delay)
        assert doomed.process is not None
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(timeout=10)
        sender.join(timeout=60)
    assert answered, "the request neither answered nor failed"
    return isinstance(answered[0], Exception)


def test_killed_mid_batch_leaves_nothing_and_a_retry_completes_it(server: Server, tmp_path: Path) -> None:
    subject = f"crash-{uuid.uuid4().hex[:8]}@test"
    token = server.token("kelurahan-operator", subject=subject)
    fraction = 0.5
    for attempt in range(4):
        items = batch(f"crash-{uuid.uuid4().hex[:8]}")
        niks = [item["nik"] for item in items]
        in_flight = crash_during(server, tmp_path / f"crash-{attempt}", token, items, fraction)
        left = stored(server, niks)
        # All or nothing, whenever the kill came: a batch is one transaction.
        assert left in ({}, dict.fromkeys(niks, 1)), f"a killed batch left {len(left)} of {len(niks)} rows"
        if in_flight and not left:
            break
        # Answered before the kill, or killed between its commit and its answer (the client saw the connection
        # drop, the rows are all there): kill sooner, with a fresh batch.
        fraction /= 2
    else:
        pytest.fail("the batch was committed every time before the kill came")

    with extra_server(server, tmp_path / "restarted") as again:
        created = outcomes(send(again, token, items))
        assert len(created) == BATCH
        assert stored(server, niks) == dict.fromkeys(niks, 1)
        # Part of it sent once more (a client that never saw the answer): the same workers, nothing new.
        repeated = outcomes(send(again, token, items[:WARM_UP]))
        assert [o["worker"]["id"] for o in repeated] == [o["worker"]["id"] for o in created[:WARM_UP]]
        assert stored(server, niks) == dict.fromkeys(niks, 1)
    events = Counter(
        target
        for (target,) in server.sql(
            "SELECT target_id FROM audit_events WHERE action = 'worker:create' AND actor = :a", a=subject
        )
    )
    assert {events[o["worker"]["id"]] for o in created} == {1}
