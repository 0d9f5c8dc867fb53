"""registerWorkers registers a batch in a few statements (api/services/workers.py, register_many), yet each item
succeeds or fails alone, outcomes come back in input order, and an item meets the items before it exactly as it
would one request later: a repeated key replays the first worker, a repeated NIK is a DUPLICATE_NIK. The same items
sent one by one through registerWorker (the batch of one) answer alike; a batch sent again writes nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import BUGUL_LOR, KARANGKETUG, Api, Server, new_nik, worker_input

REGISTER_MANY = """
mutation R($input: [RegisterWorkerInput!]!) {
  registerWorkers(input: $input) {
    outcomes { worker { id nik fullName } errors { code field } warnings { code field } }
  }
}
"""

REGISTER_ONE = """
mutation R($input: RegisterWorkerInput!) {
  registerWorker(input: $input) { worker { id nik fullName } errors { code field } warnings { code field } }
}
"""


def mixed_items(tag: str, taken_nik: str) -> list[dict[str, Any]]:
    """Every kind of item in one batch: its position says what it meets."""
    first, second, third = new_nik(), new_nik(), new_nik()
    return [
        worker_input(nik=first, idempotencyKey=f"{tag}-a"),  # 0 registers
        worker_input(nik="3575041", idempotencyKey=f"{tag}-bad"),  # 1 a malformed NIK
        worker_input(nik=taken_nik, idempotencyKey=f"{tag}-taken"),  # 2 a NIK registered before the batch
        worker_input(nik=new_nik(), fullName="Lain Lagi", idempotencyKey=f"{tag}-a"),  # 3 key of 0: replays 0
        worker_input(nik=first, fullName="Kembar", idempotencyKey=f"{tag}-twin"),  # 4 NIK of 0, another key
        worker_input(KARANGKETUG, nik=new_nik()),  # 5 a kelurahan outside the operator's scope
        worker_input(nik=new_nik(), idempotencyKey="k" * 201),  # 6 an over-long key
        worker_input(nik=second, sex="FEMALE"),  # 7 registers, with a sex warning (a male NIK)
        worker_input(nik=third, idempotencyKey=f"{tag}-b", phone="12"),  # 8 a broken phone
        worker_input(nik=third, idempotencyKey=f"{tag}-b"),  # 9 the same key, now valid: registers
    ]


EXPECTED = [
    [],
    [("INVALID_NIK", "nik")],
    [("DUPLICATE_NIK", "nik")],
    [],
    [("DUPLICATE_NIK", "nik")],
    [("OUT_OF_SCOPE", "kelurahanCode")],
    [("TOO_LONG", "idempotencyKey")],
    [],
    [("INVALID_PHONE", "phone")],
    [],
]


def codes(outcome: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["field"]) for e in outcome["errors"]]


def registered_once(server: Server, outcomes: list[dict[str, Any]]) -> None:
    ids = {o["worker"]["id"] for o in outcomes if o["worker"] is not None}
    for worker_id in ids:
        events = server.sql(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'worker:create' AND target_id = :t", t=worker_id
        )
        assert events == [(1,)], worker_id


def taken(operator: Api) -> str:
    nik = new_nik()
    assert operator.data(REGISTER_ONE, input=worker_input(nik=nik))["registerWorker"]["errors"] == []
    return nik


def batch(operator: Api, document: str = REGISTER_MANY) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def send(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        outcomes: list[dict[str, Any]] = operator.data(document, input=items)["registerWorkers"]["outcomes"]
        return outcomes

    return send


def one_by_one(operator: Api) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def send(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [operator.data(REGISTER_ONE, input=item)["registerWorker"] for item in items]

    return send


def test_each_item_meets_the_items_before_it(server: Server, operator: Api) -> None:
    tag = f"batch-{uuid.uuid4().hex[:8]}"
    items = mixed_items(tag, taken(operator))
    outcomes = batch(operator)(items)
    assert [codes(o) for o in outcomes] == EXPECTED
    assert outcomes[3]["worker"] == outcomes[0]["worker"]  # the key's first worker, not the NIK of item 3
    assert [(w["code"], w["field"]) for w in outcomes[7]["warnings"]] == [("NIK_SEX_MISMATCH", "nik")]
    assert outcomes[9]["worker"]["nik"] == items[9]["nik"]
    registered = {items[i]["nik"] for i in (0, 7, 9)}
    for i, item in enumerate(items):
        rows = server.sql("SELECT COUNT(*) FROM workers WHERE nik = :n", n=item["nik"])
        expected = 1 if item["nik"] in registered or i == 2 else 0
        assert rows == [(expected,)], (i, item["nik"])
    registered_once(server, outcomes)
    # A claim made for an item that then failed is not left behind (item 4's key; item 8 shares 9's, which won).
    keys = dict(server.sql("SELECT key, target_id FROM idempotency_keys WHERE key LIKE :t", t=f"{tag}-%"))
    assert set(keys) == {f"{tag}-a", f"{tag}-b"}
    assert all(target is not None for target in keys.values())


def test_one_by_one_answers_as_the_batch(server: Server, operator: Api) -> None:
    """The differential: registerWorker, item after item, gives each item the batch's outcome."""
    for send in (batch(operator), one_by_one(operator)):
        items = mixed_items(f"diff-{uuid.uuid4().hex[:8]}", taken(operator))
        outcomes = send(items)
        assert [codes(o) for o in outcomes] == EXPECTED, send
        assert outcomes[3]["worker"] == outcomes[0]["worker"]
        assert [o["worker"] is not None for o in outcomes] == [not e for e in EXPECTED]


def test_a_batch_sent_again_writes_nothing(server: Server, operator: Api) -> None:
    tag = f"again-{uuid.uuid4().hex[:8]}"
    items = [worker_input(BUGUL_LOR, nik=new_nik(), idempotencyKey=f"{tag}-{i}") for i in range(40)]
    # Without the NIK in the answer: reading a full NIK is itself audited, which would be a write.
    send = batch(operator, REGISTER_MANY.replace(" nik ", " "))
    first = send(items)
    before = server.snapshot()
    second = send(items)
    assert server.snapshot() == before
    assert [o["worker"]["id"] for o in second] == [o["worker"]["id"] for o in first]
    assert all(o["errors"] == [] for o in first + second)
    registered_once(server, first)


def test_concurrent_batches_of_the_same_residents_register_each_once(server: Server) -> None:
    """Four offices' batches of the same 60 residents, each in its own order, sent at once: every resident is
    registered by exactly one batch and is a DUPLICATE_NIK in the others; none waits forever on another (the rows
    are written in NIK order, so two batches take their locks alike)."""
    niks = [new_nik() for _ in range(60)]
    orders = [niks, niks[::-1], niks[30:] + niks[:30], niks[1::2] + niks[::2]]
    clients = [server.api("kelurahan-operator", subject=f"batch-race-{i}@test") for i in range(len(orders))]
    barrier = threading.Barrier(len(orders))

    def send(i: int) -> list[dict[str, Any]]:
        items = [worker_input(BUGUL_LOR, nik=nik) for nik in orders[i]]
        barrier.wait(timeout=30)
        return batch(clients[i])(items)

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        answers = list(pool.map(send, range(len(orders))))
    winners: dict[str, int] = {}
    for i, outcomes in enumerate(answers):
        for nik, outcome in zip(orders[i], outcomes, strict=True):
            if outcome["worker"] is not None:
                assert outcome["errors"] == []
                winners[nik] = winners.get(nik, 0) + 1
            else:
                assert codes(outcome) == [("DUPLICATE_NIK", "nik")]
    assert winners == dict.fromkeys(niks, 1)
    rows = server.sql("SELECT nik, COUNT(*) FROM workers WHERE nik LIKE '357806%' GROUP BY nik")
    assert {nik: n for nik, n in rows if nik in winners} == dict.fromkeys(niks, 1)
