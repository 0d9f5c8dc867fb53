"""Lookups by full NIK for callers who see NIKs masked (roles without ``worker.nik:read``).

Such a caller sees a NIK's first 6 and last 4 digits, the worker's sex and year of birth: the 6 hidden digits are
the day and month of birth (+40 on the day for women) and the year's last two digits, so a year holds about 365
candidates, and ``workerByNik`` answering a guess with the worker (or null) would confirm the right one. So each
of its lookups is audited (api/services/workers.py, ``by_nik``: hit, miss, refused, never the NIK) and its
misses are limited per subject: ``nik_lookup_misses_per_hour`` tokens an hour, bursts of as many, in a token
bucket of ``rate_limit_buckets`` (namespace ``nik-miss``) that every server process shares. At the default of 8
an hour, trying the 365 dates of one person's year takes up to two days, not minutes.

A lookup reserves a token before it looks and a hit gives it back: a miss costs one, a hit nothing. Reserving
first is what makes the limit hold for lookups running at the same time (aliases of one request, requests on
several processes): no answer goes out that the bucket has not paid for. An empty bucket refuses every lookup,
hit or miss, before looking, since answering hits while refusing misses would answer the guess all the same.
Should the bucket's database fail, the lookup fails with it (unlike the request rate, this limit fails closed).
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from api.context import Context
from api.limits import BucketStore

NAMESPACE = "nik-miss"
# The audit event of a lookup by such a caller (an action, not a permission: nothing grants it).
LOOKUP = "worker.nik:lookup"


class MissesExhausted(Exception):
    """The subject has no miss left: no lookup by NIK until ``retry_after`` seconds from now."""

    def __init__(self, retry_after: int, per_hour: int) -> None:
        super().__init__(f"no lookup by NIK left for {retry_after} s (at most {per_hour} misses an hour)")
        self.retry_after = retry_after
        self.per_hour = per_hour


class MissLimit:
    """``per_hour`` misses a subject, refilled continuously (one every 3600/``per_hour`` s), in the database."""

    def __init__(self, engine: AsyncEngine, per_hour: int, *, clock: Callable[[], float] = time.time) -> None:
        self.per_hour = per_hour
        self.store = BucketStore(engine, per_hour / 60.0, per_hour, namespace=NAMESPACE)
        self.clock = clock

    async def reserve(self, subject: str) -> None:
        """Take the token a miss would cost, or raise MissesExhausted."""
        granted, left = await self.store.take(subject, 1, self.clock())
        if granted < 1:
            wait = (1.0 - left) / self.store.rate
            raise MissesExhausted(max(1, math.ceil(wait)), self.per_hour)

    async def give_back(self, subject: str) -> None:
        """The lookup found its worker: a hit costs nothing."""
        await self.store.give_back(subject, 1, self.clock())


# One limit per engine and setting for the life of the process (the store remembers when it last swept).
_limits: weakref.WeakKeyDictionary[AsyncEngine, dict[int, MissLimit]] = weakref.WeakKeyDictionary()


def miss_limit(ctx: Context) -> MissLimit | None:
    """The limit on the caller's misses, kept on the primary; None when switched off (the setting at 0)."""
    per_hour = ctx.settings.nik_lookup_misses_per_hour
    if per_hour <= 0:
        return None
    primary = ctx.session.primary
    by_rate = _limits.setdefault(primary, {})
    limit = by_rate.get(per_hour)
    if limit is None:
        limit = by_rate[per_hour] = MissLimit(primary, per_hour)
    return limit
