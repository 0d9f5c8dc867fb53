"""HTTP-level limits, applied before any GraphQL runs: the size of a request body and a per-subject request rate.

Both answer in the shape of a GraphQL error (``{"errors": [{"message", "extensions": {"code"}}]}``), so a
client has one error format to read whatever layer refused it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def refusal(
    status: int, message: str, code: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, **extra}}]}, status_code=status, headers=headers
    )


# --- body size ---------------------------------------------------------------------------------------------------


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit; :class:`BodyLimit` answers 413."""


class BodyLimit:
    """Refuses a body larger than ``max_bytes`` with 413, without ever holding more than the limit in memory.

    A declared ``Content-Length`` above the limit is refused before a byte of the body is read. A chunked body
    (no length) is counted as it streams: the read that passes the limit raises, so the view never receives
    the rest. ``max_bytes <= 0`` switches the limit off.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def too_large(self) -> JSONResponse:
        return refusal(
            413,
            f"Request body too large: the limit is {self.max_bytes} bytes.",
            "PAYLOAD_TOO_LARGE",
            maxBodyBytes=self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.too_large()(scope, receive, send)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:  # cannot happen with our views (they read the whole body first), but never send twice
                raise
            await self.too_large()(scope, receive, send)


# --- rate ----------------------------------------------------------------------------------------------------------


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key (the token's subject): ``burst`` requests at once, refilled at ``per_minute``.

    In-process: each uvicorn worker (``rentan serve --workers N``) keeps its own buckets, so a subject may get up
    to N times the rate in the worst case. That is acceptable here because the limit protects the service from
    one runaway client or script (a loop, a leaked token), not a quota to be billed exactly; N is small and
    known, so set the per-process figure to the wanted total divided by N if that matters. An exact shared
    limit needs a shared store (a Redis counter, or the reverse proxy's per-key limit, e.g. nginx
    ``limit_req`` keyed on a header), at the price of a network round trip or of parsing the token there.
    """

    # Above this many buckets, full (idle) ones are dropped: a full bucket is the same as no bucket.
    MAX_IDLE_BUCKETS = 10_000

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive (0 means no limiter at all, so do not build one)")
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(max(burst, 1))
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0 if the request may go ahead, else the seconds until it could.

        No awaits inside, so on one event loop no two requests interleave here and no lock is needed."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_IDLE_BUCKETS:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(tokens=self.capacity, updated=now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [key for key, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]


class RateLimit:
    """Answers 429 with ``Retry-After`` when the request's subject has no token left. It sits behind the bearer
    check, so ``key`` reads a verified subject; an unauthenticated flood never gets this far (401) and is the
    reverse proxy's to limit per address."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, key: Callable[[Scope], str | None]) -> None:
        self.app = app
        self.limiter = limiter
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.key(scope) if scope["type"] == "http" else None
        if key is not None:
            wait = self.limiter.acquire(key)
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                per_minute = round(self.limiter.rate * 60)
                response = refusal(
                    429,
                    f"Too many requests: at most {per_minute} a minute (bursts of {int(self.limiter.capacity)}); "
                    f"retry after {retry_after} s.",
                    "RATE_LIMITED",
                    headers={"Retry-After": str(retry_after)},
                    retryAfter=retry_after,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
