"""Every server process applies the runtime policy (api/services/policy_admin.py) within a second of a change.

- PostgreSQL: one dedicated asyncpg connection per process LISTENs on ``rentan_policy``; a change's transaction
  carries ``NOTIFY rentan_policy``, delivered on commit, and the process re-reads the active overrides at once.
  The overrides are also re-read right after LISTEN starts (nothing committed before it is missed), every
  ``backstop`` seconds (a notification lost with a broken connection is made up for), and after a reconnect.
  The connection is named ``rentan-policy-watch/<pid>`` (``application_name``: find it in pg_stat_activity).
  A connection the server ends is noticed at once; one that silently stops answering (a half-open TCP
  connection) at the next backstop, whose ``SELECT 1`` then times out after ``probe_timeout``. Either way the
  watcher reconnects every ``reconnect_delay`` seconds until it can, and re-reads.
- SQLite (one machine, but ``rentan serve --workers N`` still runs several processes): no channel, so each process
  re-reads the active overrides every ``poll_interval`` (0.5 s): one indexed query on a small table.

The process that made a change does not wait for either: it re-reads as soon as the change commits
(api/services/policy_admin.py), so the administrator's next request, on that process, already sees it.

Re-reading means: load the active rows, and when they differ from what the authorizer applies, rebuild it
(which also clears its memo). The first read happens at start-up, before the process serves. Should it fail
(the database unreachable), the files alone apply until a later read succeeds; such a process answers /readyz
with 503 meanwhile, so a load balancer sends it nothing, and every data request would fail anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from api.policies.authorizer import Authorizer
from api.policies.overrides import CHANNEL, apply_active

log = logging.getLogger("rentan.policy")


LISTEN_APPLICATION = "rentan-policy-watch"


class PolicyWatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        authorizer: Authorizer,
        *,
        poll_interval: float = 0.5,
        backstop: float = 10.0,
        probe_timeout: float = 5.0,
        reconnect_delay: float = 1.0,
    ) -> None:
        self.engine = engine
        self.authorizer = authorizer
        self.poll_interval = poll_interval
        self.backstop = backstop
        self.probe_timeout = probe_timeout
        self.reconnect_delay = reconnect_delay
        self.channel_open = False  # PostgreSQL: LISTENing now, and the overrides re-read since it started
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def application_name() -> str:
        """The LISTEN connection's name in pg_stat_activity: one per server process."""
        return f"{LISTEN_APPLICATION}/{os.getpid()}"

    async def refresh(self) -> bool:
        """Apply the database's active overrides; True when they changed."""
        changed = await apply_active(self.engine, self.authorizer)
        if changed:
            log.info("policy overrides applied", extra={"overrides": len(self.authorizer.overrides)})
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
        failing = False
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.channel_open or not failing:  # once per outage, not every reconnect attempt
                    log.exception("policy channel lost; reconnecting every %ss", self.reconnect_delay)
                failing = True
            else:  # the server closed the connection between two waits
                log.warning("policy channel closed; reconnecting")
                failing = True
            self.channel_open = False
            await asyncio.sleep(self.reconnect_delay)

    async def _listen_once(self) -> None:
        import asyncpg

        # The engine's own connection arguments, on a connection outside its pool (it is held for good).
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith(("prepared_statement", "async_fallback"))}
        kwargs["server_settings"] = {**kwargs.get("server_settings", {}), "application_name": self.application_name()}
        conn = await asyncpg.connect(*args, **kwargs)
        wake = asyncio.Event()

        def on_notify(*_: Any) -> None:
            wake.set()

        try:
            conn.add_termination_listener(lambda _c: wake.set())
            await conn.add_listener(CHANNEL, on_notify)
            await self.refresh()  # whatever was committed while no one listened (a reconnect, the start)
            self.channel_open = True
            log.info("policy channel open: LISTEN %s as %s", CHANNEL, self.application_name())
            while not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self.backstop)
                wake.clear()
                # A dead channel raises here and is reopened; one that no longer answers (half-open TCP, nothing
                # ever sent back) times out instead of blocking the watcher, backstop included, for many minutes.
                await conn.fetchval("SELECT 1", timeout=self.probe_timeout)
                await self.refresh()
        except asyncio.CancelledError:  # stop(): leave politely
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2)
            raise
        finally:
            if not conn.is_closed():
                conn.terminate()  # a broken channel: dropped at once, a graceful close would wait on a dead peer
