"""The request's unit of work: one RLS-scoped transaction, then publishing.

    async with user_work(runtime, user) as tx:        # endpoint: opens the transaction
        result = await service.do_something(tx, ...)  # services use tx.conn
    # committed here; events appended in it have been published to the realtime hub

The caller's profile row is upserted inside the same transaction the first time this process
sees the user (or when their token's name, email or avatar changed), so every request can rely on
it without paying a write.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from queueit.auth.user import AuthUser
from queueit.db import Connection
from queueit.kit.db_errors import to_problem
from queueit.profiles import service as profiles
from queueit.runtime import Runtime

log = logging.getLogger("queueit.service")


@dataclass
class Tx:
    """An open user transaction and what it appended (session -> highest seq)."""

    conn: Connection
    user: AuthUser
    allow_anonymous_hosts: bool = False  # the deployment's ALLOW_ANONYMOUS_HOSTS
    appended: dict[UUID, int] = field(default_factory=dict)

    @property
    def may_host(self) -> bool:
        """May the caller open a session or be made co-host? (Anonymous guests may not.)"""
        return self.allow_anonymous_hosts or not self.user.is_anonymous

    def appended_event(self, session_id: UUID, seq: int) -> None:
        if seq > self.appended.get(session_id, 0):
            self.appended[session_id] = seq


@asynccontextmanager
async def user_work(
    runtime: Runtime, user: AuthUser, *, ensure_profile: bool = True
) -> AsyncIterator[Tx]:
    """One transaction as `user` (RLS applies), committed when the block ends normally.
    `ensure_profile=False` skips the profile upsert (account deletion)."""
    seen = profiles.Seen()
    try:
        async with runtime.db.user_tx(user.id, user.claims) as conn:
            tx = Tx(conn, user, runtime.settings.allow_anonymous_hosts)
            if ensure_profile:
                seen = await profiles.ensure_profile(conn, runtime.db, user)
            yield tx
    except asyncpg.PostgresError as exc:
        problem = to_problem(exc)
        if problem is None:
            raise
        log.info("database refused the request: %s %s", exc.sqlstate, exc)
        raise problem from exc
    seen.commit()
    await publish(runtime, tx.appended)


async def publish(runtime: Runtime, appended: dict[UUID, int]) -> None:
    """Wake the realtime hub for committed events. Never fails the request: the change is
    committed, and the hub's poll finds anything a lost wake-up missed."""
    for session_id, seq in appended.items():
        try:
            await runtime.publish(session_id, seq)
        except Exception:
            log.exception("publishing session %s seq %s failed", session_id, seq)
