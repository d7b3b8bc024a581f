"""Keeps the embedded PostgreSQL running: restarts it when it dies, gives up after too many.

``EmbeddedSupervisor.run()`` (a background task of the Runtime) checks every
``EMBEDDED_DB_CHECK_SECONDS`` that the postmaster lives. When it is gone it is started again
(PostgreSQL replays its WAL, so every committed transaction, i.e. every write the service
acknowledged, is there after the restart); the pool reconnects by itself on the next request
and the realtime hub re-LISTENs. Failed starts are retried with backoff.

More than ``EMBEDDED_DB_MAX_RESTARTS`` restart attempts within
``EMBEDDED_DB_RESTART_WINDOW_SECONDS`` means something outside the process is wrong (disk full,
data damaged, someone keeps killing it): the supervisor gives up and ``failure`` says why;
``/livez`` then answers 503 so the process supervisor (systemd, Kubernetes, a human) restarts
the whole service instead of it answering 503 forever while looking alive.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

from queueit.db.embedded import EmbeddedPostgres

__all__ = ["EmbeddedSupervisor"]

log = logging.getLogger(__name__)

_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


class EmbeddedSupervisor:
    def __init__(
        self,
        server: EmbeddedPostgres,
        *,
        check_seconds: float = 0.5,
        max_restarts: int = 5,
        window_seconds: float = 300.0,
    ) -> None:
        self._server = server
        self._check_seconds = check_seconds
        self._max_restarts = max_restarts
        self._window_seconds = window_seconds
        self._attempts: collections.deque[float] = collections.deque()
        self.restarts = 0  # successful restarts since start
        self.failure: str | None = None  # set when the supervisor gave up

    async def run(self) -> None:
        while self.failure is None:
            await asyncio.sleep(self._check_seconds)
            if not await asyncio.to_thread(self._server.postmaster_alive):
                await self._recover()

    async def _recover(self) -> None:
        died = time.monotonic()
        log.error("embedded PostgreSQL is not running; restarting it")
        for attempt in range(10_000):
            now = time.monotonic()
            while self._attempts and now - self._attempts[0] > self._window_seconds:
                self._attempts.popleft()
            if len(self._attempts) >= self._max_restarts:
                self.failure = (
                    f"embedded PostgreSQL: gave up after {len(self._attempts)} restart attempts"
                    f" within {self._window_seconds:g} s"
                )
                log.critical("%s; /livez now fails, restart the service", self.failure)
                return
            self._attempts.append(now)
            try:
                await asyncio.to_thread(self._server.restart)
            except Exception as exc:
                log.warning("embedded PostgreSQL: restart attempt %d failed: %s", attempt + 1, exc)
                await asyncio.sleep(_BACKOFF_SECONDS[min(attempt, len(_BACKOFF_SECONDS) - 1)])
                continue
            self.restarts += 1
            log.warning(
                "embedded PostgreSQL restarted",
                extra={"seconds": round(time.monotonic() - died, 3), "restarts": self.restarts},
            )
            return
