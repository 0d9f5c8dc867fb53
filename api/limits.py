"""HTTP-level limits, applied before any GraphQL runs: the size of a request body and a per-subject request rate
(shared by every server process through the database). The token buckets also serve a limit met inside GraphQL
(lookups by NIK, api/services/nik_lookups.py), which answers 429 through :func:`answer_too_many_requests`.

Both answer in the shape of a GraphQL error (``{"errors": [{"message", "extensions": {"code"}}]}``), so a
client has one error format to read whatever layer refused it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, delete, not_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logging import get_logger
from db.models import RateLimitBucket

log = get_logger()


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


# Buckets other than the request rate's live in the same table under a namespace: their keys are
# "<namespace>:<key>" (the request rate's are bare subjects). Each store sweeps only its own rows, so a bucket that
# refills over an hour is never dropped (i.e. refilled) by the request rate's sweep of rows idle for seconds.
NAMESPACES = frozenset({"nik-miss"})
KEY_LENGTH = 120  # rate_limit_buckets.subject


class BucketStore:
    """The token buckets, one row per key in ``rate_limit_buckets``, shared by every server process.

    :meth:`take` is one statement, an upsert that refills the bucket for the time elapsed, decides the grant and
    subtracts it, atomically on both databases (PostgreSQL locks the row for the ``ON CONFLICT`` update; SQLite
    writes one statement at a time), so two processes never hand out the same token. :meth:`give_back` returns
    tokens taken for something that turned out not to cost any, in one statement too.

    ``namespace`` (one of ``NAMESPACES``) keeps another kind of bucket in the same table: ``per_minute`` may then be
    a fraction (20 an hour is 1/3 a minute).
    """

    def __init__(self, engine: AsyncEngine, per_minute: float, burst: int, *, namespace: str | None = None) -> None:
        if namespace is not None and namespace not in NAMESPACES:
            raise ValueError(f"unknown bucket namespace {namespace!r}: declare it in api/limits.py NAMESPACES")
        self.engine = engine
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(max(burst, 1))
        self.prefix = f"{namespace}:" if namespace is not None else ""
        # A bucket left alone this long is full again, the same as no row: its row may go.
        self.idle_after = self.capacity / self.rate
        self._next_sweep = 0.0

    def row_key(self, key: str) -> str:
        """The row of ``key``: its namespace's prefix, and a digest for a key longer than the column."""
        full = self.prefix + key
        if len(full) <= KEY_LENGTH:
            return full
        return self.prefix + "sha256=" + hashlib.sha256(key.encode()).hexdigest()

    def _own_rows(self, table: Table) -> ColumnElement[bool]:
        if self.prefix:
            return table.c.subject.startswith(self.prefix, autoescape=True)
        return and_(*(not_(table.c.subject.startswith(f"{ns}:", autoescape=True)) for ns in sorted(NAMESPACES)))

    def _available(self, table: Table, now: float) -> Any:
        """The row's tokens refilled up to ``now``, never above the burst."""
        # Clocks of several machines may disagree a little: time never runs backwards for a bucket.
        elapsed = case((table.c.updated_at < now, now - table.c.updated_at), else_=0.0)
        refilled = table.c.tokens + elapsed * self.rate
        return case((refilled > self.capacity, self.capacity), else_=refilled)

    async def take(self, key: str, want: int, now: float) -> tuple[int, float]:
        """Take ``want`` tokens from ``key``'s bucket if it holds them, else one if it holds one, else none.
        Returns (tokens granted, tokens left in the bucket)."""
        table = cast("Table", RateLimitBucket.__table__)
        available = self._available(table, now)
        grant = case((available >= want, float(want)), (available >= 1.0, 1.0), else_=0.0)
        first = float(min(want, int(self.capacity)))
        values = {"subject": self.row_key(key), "tokens": self.capacity - first, "granted": first, "updated_at": now}
        insert = pg_insert(table) if self.engine.dialect.name == "postgresql" else sqlite_insert(table)
        statement = insert.values(**values).on_conflict_do_update(
            index_elements=[table.c.subject],
            set_={"tokens": available - grant, "granted": grant, "updated_at": now},
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(statement.returning(table.c.granted, table.c.tokens))).one()
            if now >= self._next_sweep:
                self._next_sweep = now + self.idle_after
                await conn.execute(
                    delete(table).where(table.c.updated_at < now - self.idle_after, self._own_rows(table))
                )
        return int(row.granted), float(row.tokens)

    async def give_back(self, key: str, tokens: int, now: float) -> None:
        """Return ``tokens`` to ``key``'s bucket (never above the burst). No row: the bucket is full already."""
        table = cast("Table", RateLimitBucket.__table__)
        returned = self._available(table, now) + float(tokens)
        statement = (
            update(table)
            .where(table.c.subject == self.row_key(key))
            .values(tokens=case((returned > self.capacity, self.capacity), else_=returned), updated_at=now)
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)


@dataclass
class _Lease:
    tokens: int
    expires: float


class RateLimiter:
    """A token bucket per key (the token's subject): ``burst`` requests at once, refilled at ``per_minute``, kept
    in the database so that every process (``--workers N``, N machines) enforces one limit per subject.

    A request does not wait for the database each time: a process takes tokens in small leases (a tenth of the
    burst, at least one) and spends them locally for at most ``lease_seconds``; tokens left when a lease expires
    are dropped, not returned. So a subject may exceed the shared bucket by at most one lease per process at
    the moment it runs dry, and gets slightly less than its rate when it spreads requests thinly over many
    processes. With the burst under 20 the lease is one token and the limit is exact. A refusal is remembered
    locally until the refill it waits for, so a flood of refused requests does not become a flood of writes.
    Should the database fail, the request goes ahead (it would fail on the database anyway) and a warning is
    logged: the limiter never turns a database hiccup into 429s.
    """

    def __init__(
        self,
        store: BucketStore,
        *,
        lease_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.rate = store.rate
        self.capacity = store.capacity
        self.lease_size = max(1, int(self.capacity) // 10)
        self.lease_seconds = lease_seconds
        self.clock = clock
        self._leases: dict[str, _Lease] = {}
        self._refused_until: dict[str, float] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _from_lease(self, key: str, now: float) -> bool:
        lease = self._leases.get(key)
        if lease is None or lease.expires <= now or lease.tokens < 1:
            return False
        lease.tokens -= 1
        return True

    async def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0 if the request may go ahead, else the seconds until it could."""
        now = self.clock()
        if self._from_lease(key, now):
            return 0.0
        refused_until = self._refused_until.get(key, 0.0)
        if refused_until > now:
            return refused_until - now
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:  # one trip to the database per key at a time; the others then spend its lease
            now = self.clock()
            if self._from_lease(key, now):
                return 0.0
            try:
                granted, left = await self.store.take(key, self.lease_size, now)
            except Exception:
                log.warning("rate_limit_store_unavailable", exc_info=True)
                return 0.0
            if len(self._leases) > MAX_LOCAL_KEYS:
                self._forget_expired(now)
            if granted >= 1:
                self._leases[key] = _Lease(tokens=granted - 1, expires=now + self.lease_seconds)
                return 0.0
            wait = (1.0 - left) / self.rate
            self._refused_until[key] = now + wait
            return wait

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, lease in self._leases.items() if lease.expires <= now]:
            del self._leases[key]
        for key in [k for k, until in self._refused_until.items() if until <= now]:
            del self._refused_until[key]


# Above this many subjects in the local maps, the expired entries are dropped (an expired one means nothing).
MAX_LOCAL_KEYS = 10_000


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
            wait = await self.limiter.acquire(key)
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


# --- limits met inside GraphQL -----------------------------------------------------------------------------------

# The response a GraphQL request will be answered with: Strawberry's sub-response, whose status and headers it
# applies to the final response. Bound by the view (api/app.py, get_context) in the request's own task; the
# resolvers, running in tasks copied from it, reach the same object.
graphql_response: ContextVar[Response | None] = ContextVar("rentan_graphql_response", default=None)


def answer_too_many_requests(retry_after: int) -> None:
    """A limit met inside GraphQL (lookups by NIK, api/services/nik_lookups.py): the request goes out as 429 with
    ``Retry-After``, like a refusal of the request rate, whatever else its answer holds. The GraphQL error that
    names the limit (``RATE_LIMITED``) is the resolver's to raise."""
    response = graphql_response.get()
    if response is None:
        return
    response.status_code = 429
    earlier = response.headers.get("Retry-After")
    longest = max(retry_after, int(earlier)) if earlier is not None and earlier.isdigit() else retry_after
    response.headers["Retry-After"] = str(longest)
