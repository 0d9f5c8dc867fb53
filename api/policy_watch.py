"""Every server process applies the runtime policy (api/policies/store.py) within a second of a change.

- PostgreSQL: one dedicated asyncpg connection per process LISTENs on ``rentan_policy``; a change's transaction
  carries ``NOTIFY rentan_policy``, delivered on commit, and the process re-reads the active overrides at once.
  The overrides are also re-read right after LISTEN starts (nothing committed before it is missed), every
  ``backstop`` seconds (a notification lost with a broken connection is made up for), and after a reconnect.
- SQLite (one machine, but ``rentan serve --workers N`` still runs several processes): no channel, so each process
  re-reads the active overrides every ``poll_interval`` (0.5 s): one indexed query on a small table.

Re-reading means: load the active rows, and when they differ from what the authorizer applies, rebuild it
(which also clears its memo). The first read happens at start-up, before the process serves. Should it fail
(the database unreachable), the files alone apply until a later read succeeds; such a process answers /readyz
with 503 meanwhile, so a load balancer sends it nothing, and every data request would fail anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from api.policies.authorizer import Authorizer
from api.policies.store import CHANNEL, load_active

log = logging.getLogger("rentan.policy")


class PolicyWatcher:
    def __init__(
        self, engine: AsyncEngine, authorizer: Authorizer, *, poll_interval: float = 0.5, backstop: float = 10.0
    ) -> None:
        self.engine = engine
        self.authorizer = authorizer
        self.poll_interval = poll_interval
        self.backstop = backstop
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> bool:
        """Apply the database's active overrides; True when they changed."""
        async with self.engine.connect() as conn:
            overrides = await load_active(conn)
        changed = self.authorizer.apply(overrides)
        if changed:
            log.info("policy overrides applied", extra={"overrides": len(overrides)})
        return changed

    async def start(self) -> None:
        try:
            await self.refresh()
        except Exception:  # the database not reachable yet: the loop below keeps trying
            log.exception("policy overrides could not be read at start-up; the policy files alone apply for now")
        loop = self._listen if self.engine.dialect.name == "postgresql" else self._poll
        self._task = asyncio.create_task(loop(), name="rentan-policy-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.refresh()
            except Exception:
                if not failing:  # once per outage, not every half second
                    log.exception("policy overrides could not be read; trying again every %ss", self.poll_interval)
                failing = True
            else:
                if failing:
                    log.info("policy overrides read again")
                failing = False

    async def _listen(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("policy channel lost; reconnecting")
            await asyncio.sleep(1)

    async def _listen_once(self) -> None:
        import asyncpg

        # The engine's own connection arguments, on a connection outside its pool (it is held for good).
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith(("prepared_statement", "async_fallback"))}
        conn = await asyncpg.connect(*args, **kwargs)
        wake = asyncio.Event()

        def on_notify(*_: Any) -> None:
            wake.set()

        try:
            conn.add_termination_listener(lambda _c: wake.set())
            await conn.add_listener(CHANNEL, on_notify)
            await self.refresh()
            while not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self.backstop)
                wake.clear()
                await conn.fetchval("SELECT 1")  # a dead channel raises here and is reopened
                await self.refresh()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2)
