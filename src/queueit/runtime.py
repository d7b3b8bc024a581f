"""Everything a running service holds: settings, database pool, token verifier, search, rate
limits, the realtime hub and background jobs. One `Runtime` per process, on `app.state.runtime`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from queueit.account.auth_admin import AuthAdmin
from queueit.auth.verifier import TokenVerifier
from queueit.config import Settings
from queueit.db import SERVICE_ROLE, Database, apply, as_login_role, resolve_dsn
from queueit.db.embedded import EmbeddedPostgres
from queueit.db.supervisor import EmbeddedSupervisor
from queueit.http.rate_limits import Limits
from queueit.realtime import RealtimeHub
from queueit.spotify.service import SearchService

log = logging.getLogger("queueit.runtime")


async def migrate_database(settings: Settings, dsn: str | None = None) -> list[str]:
    """`queueit migrate`: as MIGRATION_DATABASE_URL (the owner), else DATABASE_URL / embedded."""
    owner = settings.migration_database_url
    if dsn is None and owner is not None and owner.get_secret_value():
        dsn = owner.get_secret_value()
    if dsn is None:
        dsn = await asyncio.to_thread(resolve_dsn, settings)
    return await apply(dsn)


@dataclass
class Runtime:
    settings: Settings
    dsn: str
    db: Database
    verifier: TokenVerifier
    search: SearchService
    limits: Limits
    auth_admin: AuthAdmin | None = None  # deletes Auth users (DELETE /me); None: not configured
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    hub: RealtimeHub | None = None
    embedded: EmbeddedPostgres | None = None  # the embedded server this process started
    supervisor: EmbeddedSupervisor | None = None

    @property
    def failure(self) -> str | None:
        """Why this process cannot recover by itself (``/livez`` fails), or None."""
        return self.supervisor.failure if self.supervisor is not None else None

    async def publish(self, session_id: UUID, seq: int) -> None:
        """Tell the realtime hub that events up to `seq` of a session are committed.

        Call after the transaction that wrote them commits, never inside it.
        """
        if self.hub is not None:
            await self.hub.publish(session_id, seq)

    @classmethod
    async def start(
        cls, settings: Settings, *, dsn: str | None = None, migrate: bool | None = None
    ) -> Runtime:
        """Connect everything. Migrations run at start with the embedded database (or when
        asked); against DATABASE_URL they are an explicit `queueit migrate`.

        ``dsn`` / DATABASE_URL is the service's own login role (``queueit_service``). With the
        embedded database the migrations run as its superuser and the service then logs in as
        ``queueit_service``, as it does on Supabase."""
        use_embedded = dsn is None and settings.database_url is None
        embedded = None
        if use_embedded:
            embedded = await asyncio.to_thread(EmbeddedPostgres.open, settings.data_dir)
            dsn = embedded.dsn
        elif dsn is None:
            dsn = await asyncio.to_thread(resolve_dsn, settings)
        try:
            if migrate if migrate is not None else use_embedded:
                applied = await apply(dsn)
                if applied:
                    log.info("migrations applied", extra={"versions": applied})
        except BaseException:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            raise
        if use_embedded:
            dsn = as_login_role(dsn, SERVICE_ROLE)
        db = Database.from_settings(settings, dsn)
        await db.start()
        runtime = cls(
            settings=settings,
            dsn=dsn,
            db=db,
            verifier=TokenVerifier.from_settings(settings),
            search=SearchService.from_settings(settings),
            limits=Limits.from_settings(settings),
            auth_admin=AuthAdmin.from_settings(settings),
            embedded=embedded,
        )
        if embedded is not None:
            runtime.supervisor = EmbeddedSupervisor(
                embedded,
                check_seconds=settings.embedded_db_check_seconds,
                max_restarts=settings.embedded_db_max_restarts,
                window_seconds=settings.embedded_db_restart_window_seconds,
            )
            runtime.tasks.append(
                asyncio.create_task(runtime.supervisor.run(), name="embedded-db-supervisor")
            )
        from queueit.sessions.snapshot import load_current_session  # the feature imports us

        runtime.hub = RealtimeHub(
            settings, db, runtime.verifier, load_current_session, limits=runtime.limits
        )
        await runtime.hub.start()
        runtime.start_background_jobs()
        gc.freeze()  # start-up objects live forever: keep them out of every later collection
        return runtime

    def start_background_jobs(self) -> None:
        """The idle reaper (warns and ends idle sessions, prunes old events)."""
        from queueit.sessions.idle import run_idle_reaper  # the feature imports the runtime

        task = asyncio.create_task(
            run_idle_reaper(self.db, self.settings, self.publish), name="idle-reaper"
        )
        self.tasks.append(task)

    def attach(self, app: FastAPI) -> None:
        app.state.runtime = self
        app.state.verifier = self.verifier
        app.state.limits = self.limits
        app.state.realtime_hub = self.hub

    @staticmethod
    def of(connection: HTTPConnection) -> Runtime:
        runtime = connection.app.state.runtime
        assert isinstance(runtime, Runtime)
        return runtime

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110 - shutting down
                pass
        if self.hub is not None:
            await self.hub.stop()  # closes every socket with 1001: clients resume with `since`
        await self.search.aclose()
        await self.verifier.aclose()
        await self.limits.budgets.close()
        if self.auth_admin is not None:
            await self.auth_admin.aclose()
        await self.db.close()
        if self.embedded is not None:
            # After the pool: PostgreSQL's fast shutdown would otherwise cut live connections.
            await asyncio.to_thread(self.embedded.stop)
