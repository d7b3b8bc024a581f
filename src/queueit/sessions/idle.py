"""The idle reaper: a background task that warns idle sessions (`session_ending`), ends them
(`session_ended {reason: idle}`) and prunes old events.

Runs as the login role (system work, not a user's): `app.end_idle_sessions` skips sessions another
instance is handling, so every instance may run it. Then it publishes what it wrote, exactly like a
request does after its commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from queueit.config import Settings
from queueit.db import Database, DatabaseUnavailable
from queueit.realtime import store
from queueit.sessions import repository

log = logging.getLogger("queueit.idle")

REAP_INTERVAL_SECONDS = 30.0
PRUNE_EVERY_ROUNDS = 10  # events are pruned every ~5 minutes

Publish = Callable[[UUID, int], Awaitable[None]]


async def reap_once(db: Database, settings: Settings, publish: Publish) -> list[tuple[UUID, str]]:
    """One round: warn and end idle sessions, publish their events. Returns what was done."""
    async with db.system_conn() as conn:
        done = await repository.end_idle_sessions(
            conn, settings.session_idle_minutes, settings.session_idle_warning_minutes
        )
    for session_id, action, seq in done:
        log.info("idle session %s", action, extra={"session_id": str(session_id), "seq": seq})
        try:
            await publish(session_id, seq)
        except Exception:
            log.exception("publishing session %s seq %s failed", session_id, seq)
    return [(session_id, action) for session_id, action, _ in done]


async def prune_once(db: Database, settings: Settings) -> int:
    async with db.system_conn() as conn:
        return await store.prune_events(conn, settings.events_retained)


async def run_idle_reaper(
    db: Database,
    settings: Settings,
    publish: Publish,
    interval: float = REAP_INTERVAL_SECONDS,
) -> None:
    """Forever (until cancelled): a round every `interval` seconds, pruning every few rounds.
    A database outage is logged and waited out, never fatal."""
    rounds = 0
    while True:
        await asyncio.sleep(interval)
        rounds += 1
        try:
            await reap_once(db, settings, publish)
            if rounds % PRUNE_EVERY_ROUNDS == 0:
                deleted = await prune_once(db, settings)
                if deleted:
                    log.info("pruned old events", extra={"deleted": deleted})
        except DatabaseUnavailable as exc:
            log.warning("idle reaper: database unavailable (%s)", exc)
        except Exception:
            log.exception("idle reaper round failed")
