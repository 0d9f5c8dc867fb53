"""Rate: one token bucket per subject, shared by every process through the database; 429 with Retry-After past it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest

from api.limits import BucketStore, RateLimiter
from api.settings import Settings
from db.session import create_engine
from tests.conftest import Server
from tests.hardening_support import HEX_ID, RATE_BURST, RATE_PER_MINUTE, codes, http, limited, post, rate_limited  # noqa: F401 - fixtures


def test_rate_limit_answers_429_with_retry_after_per_subject(http: httpx.Client, limited: Server) -> None:
    """A subject gets its burst, then 429 with Retry-After and a JSON error; another subject is not affected."""
    greedy = limited.token("auditor", subject=f"greedy-{time.time_ns()}@test")
    statuses = [post(http, limited, greedy).status_code for _ in range(RATE_BURST)]
    assert statuses == [200] * RATE_BURST
    refused = post(http, limited, greedy)
    assert refused.status_code == 429, refused.text
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60 // RATE_PER_MINUTE + 1
    [error] = refused.json()["errors"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert HEX_ID.fullmatch(refused.headers["x-request-id"])

    other = limited.token("auditor", subject=f"patient-{time.time_ns()}@test")
    assert post(http, limited, other).status_code == 200


def test_rate_limit_refills_after_retry_after(http: httpx.Client, limited: Server) -> None:
    """Waiting as told is enough to be served again."""
    token = limited.token("kelurahan-viewer", subject=f"waiter-{time.time_ns()}@test")
    while (response := post(http, limited, token)).status_code == 200:
        pass
    assert response.status_code == 429
    time.sleep(int(response.headers["retry-after"]))
    assert post(http, limited, token).status_code == 200


@pytest.fixture(scope="module")
def limited_twin(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second process with the same rate limit on the same database, as behind a load balancer."""
    with rate_limited(server, tmp_path_factory.mktemp("limited-twin")) as running:
        yield running


def test_rate_limit_is_one_limit_across_processes(http: httpx.Client, limited: Server, limited_twin: Server) -> None:
    """The buckets live in the database: a subject that spent its burst on one process is refused by the
    other, and the wait one process reports is the wait the other keeps."""
    subject = f"roaming-{time.time_ns()}@test"
    token = limited.token("auditor", subject=subject)
    processes = [limited, limited_twin]
    statuses = [post(http, processes[i % 2], token).status_code for i in range(RATE_BURST)]
    assert statuses == [200] * RATE_BURST
    for process in processes:
        refused = post(http, process, token)
        assert refused.status_code == 429, refused.text
        assert codes(refused) == ["RATE_LIMITED"]
    time.sleep(int(refused.headers["retry-after"]))
    assert post(http, limited_twin, token).status_code == 200
    assert post(http, limited, token).status_code == 429  # one token refilled, spent by the twin


def test_unauthenticated_requests_are_not_counted_against_a_subject(http: httpx.Client, limited: Server) -> None:
    """The limiter sits behind the bearer check: bad tokens are 401 (never 429), and cost no subject a token."""
    responses = [post(http, limited, "forged").status_code for _ in range(RATE_BURST + 2)]
    assert responses == [401] * (RATE_BURST + 2)


T = TypeVar("T")


def on_shared_buckets(
    server: Server,
    per_minute: int,
    burst: int,
    clock: Callable[[], float],
    script: Callable[[RateLimiter], Awaitable[T]],
) -> T:
    """Runs ``script`` with a limiter on the suite's own database: the buckets every server process shares."""

    async def run() -> T:
        engine = create_engine(server.database_url)
        try:
            return await script(RateLimiter(BucketStore(engine, per_minute, burst), clock=clock))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_default_rate_lets_a_dashboard_volley_through(server: Server) -> None:
    """The defaults (600 a minute, bursts of 120): a dashboard opening with a few dozen requests at once is
    served whole; only a client far past that waits, a tenth of a second per request."""
    defaults = Settings.model_fields
    per_minute, burst = defaults["rate_limit_per_minute"].default, defaults["rate_limit_burst"].default
    key = f"dashboard-{time.time_ns()}"

    async def volley(limiter: RateLimiter) -> list[float]:
        return [await limiter.acquire(key) for _ in range(burst + 1)]

    waits = on_shared_buckets(server, per_minute, burst, lambda: 1000.0, volley)
    assert waits[:burst] == [0.0] * burst
    assert waits[burst] == pytest.approx(60 / per_minute)


def test_token_bucket_refills_at_the_configured_rate(server: Server) -> None:
    """burst at once, then one every 60/per_minute seconds; the wait it reports is exact."""
    now = [1000.0]
    a, b = f"a-{time.time_ns()}", f"b-{time.time_ns()}"

    async def script(limiter: RateLimiter) -> None:
        assert [await limiter.acquire(a) for _ in range(2)] == [0.0, 0.0]
        assert await limiter.acquire(a) == pytest.approx(0.5)
        assert await limiter.acquire(b) == 0.0  # another subject, another bucket
        now[0] += 0.5
        assert await limiter.acquire(a) == 0.0
        now[0] += 3600  # refills to the burst, never beyond
        assert [await limiter.acquire(a) for _ in range(3)][-1] > 0

    on_shared_buckets(server, 120, 2, lambda: now[0], script)


def test_two_limiters_share_one_bucket(server: Server) -> None:
    """Two processes' limiters on one database: the subject's burst is spent once between them, whichever
    process each request reaches, and a lease's unspent tokens are never handed out twice."""
    key = f"shared-{time.time_ns()}"
    now = [5000.0]

    async def script(first: RateLimiter) -> None:
        second = RateLimiter(first.store, clock=first.clock)  # another process: its own leases, same rows
        served = [await (first if i % 2 else second).acquire(key) == 0.0 for i in range(30)]
        assert served.count(True) == 20  # bursts of 20: leases of 2 tokens, one trip per two requests
        assert served[:20] == [True] * 20
        now[0] += 0.5  # 10 tokens a second: 5 more, taken by whichever asks
        more = [await (first if i % 2 else second).acquire(key) == 0.0 for i in range(10)]
        assert more.count(True) == 5

    on_shared_buckets(server, 600, 20, lambda: now[0], script)
