"""A minimal app around the realtime router, for tests (in-process and subprocess servers).

It wires the hub exactly as the Runtime is meant to (Database, TokenVerifier, snapshot loader,
`app.state.realtime_hub`), plus one test-only route, `POST /_test/append`, standing in for the
REST service until it exists: it appends an event as the caller and publishes it after commit,
the way every service write will.

Subprocess entry point: `uvicorn --factory rt_app:create_app` with QUEUEIT_TEST_DSN, DATA_DIR and
optional QUEUEIT_TEST_HUB (JSON of RealtimeHub keyword arguments) and QUEUEIT_TEST_SHORTCUT=1
(mount `RealtimeShortcut`) in the environment.

`wire_realtime(create_app(...))` / `rt_app:create_service_app`: the real app with the REST service,
plus what its Runtime does not wire yet (the realtime router; a hub with the service's snapshot
loader on `runtime.hub`). Once the Runtime does both, it changes nothing.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from rt_data import load_snapshot
from starlette.responses import JSONResponse, Response

from queueit.auth.deps import CurrentUser
from queueit.auth.verifier import TokenVerifier
from queueit.config import Settings
from queueit.db import Database
from queueit.http import handlers
from queueit.realtime import RealtimeHub
from queueit.realtime.endpoints import RealtimeShortcut, get_hub, router

test_router = APIRouter()


@test_router.post("/_test/append")
async def append_event(request: Request, user: CurrentUser) -> Response:
    body = await request.json()
    hub = get_hub(request)
    session_id = UUID(body["session_id"])
    seqs: list[int] = []
    async with hub.db.user_tx(user.id, user.claims) as conn:
        for _ in range(int(body.get("count", 1))):
            seq = await conn.fetchval(
                "select seq from app.append_event($1, $2, $3)",
                session_id,
                body["type"],
                body["data"],
            )
            seqs.append(int(seq))
    hub.publish(session_id, seqs[-1])  # after COMMIT, like the service
    return JSONResponse({"seqs": seqs})


def build_app(
    settings: Settings,
    *,
    db: Database | None = None,
    dsn: str | None = None,
    hub_options: dict[str, Any] | None = None,
    shortcut: bool = False,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = db
        own = None
        if database is None:
            assert dsn is not None
            own = database = Database(dsn, min_size=2, max_size=20)
            await database.start()
        verifier = TokenVerifier.from_settings(settings)
        hub = RealtimeHub(
            settings, database, verifier, snapshot_loader=load_snapshot, **(hub_options or {})
        )
        await hub.start()
        app.state.verifier = verifier
        app.state.realtime_hub = hub
        try:
            yield
        finally:
            await hub.stop()
            await verifier.aclose()
            if own is not None:
                await own.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    handlers.install(app)
    app.include_router(router)
    app.include_router(test_router)
    if shortcut:
        app.add_middleware(RealtimeShortcut)
    return app


def wire_realtime(app: FastAPI, hub_options: dict[str, Any] | None = None) -> FastAPI:
    paths = {getattr(route, "path", None) for route in app.routes}
    if "/api/v1/sessions/{session_id}/realtime" not in paths:
        app.include_router(router)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            runtime = a.state.runtime
            own = None
            if getattr(runtime, "hub", None) is None:
                from queueit.sessions.snapshot import load_current_session

                own = RealtimeHub(
                    runtime.settings,
                    runtime.db,
                    runtime.verifier,
                    load_current_session,
                    **(hub_options or {}),
                )
                await own.start()
                runtime.hub = own
                a.state.realtime_hub = own
            try:
                yield state
            finally:
                if own is not None:
                    await own.stop()

    app.router.lifespan_context = lifespan
    return app


def create_service_app() -> FastAPI:
    """The real app (REST service) on QUEUEIT_TEST_DSN, with the realtime hub wired."""
    from queueit.app import create_app as create_queueit_app

    if os.environ.get("QUEUEIT_TEST_GC_THRESHOLD"):
        gc.set_threshold(*(int(v) for v in os.environ["QUEUEIT_TEST_GC_THRESHOLD"].split(",")))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app = create_queueit_app(settings, dsn=os.environ["QUEUEIT_TEST_DSN"])
    if os.environ.get("QUEUEIT_TEST_SHORTCUT") == "1":
        app.add_middleware(RealtimeShortcut)
    return wire_realtime(app, json.loads(os.environ.get("QUEUEIT_TEST_HUB", "{}")))


def uvicorn_config(
    app: FastAPI, settings: Settings, port: int = 0, log_level: str = "warning"
) -> uvicorn.Config:
    """Serve like `queueit run` does (frame limit), on 127.0.0.1."""
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=log_level,
        log_config=None,  # like `queueit run`: uvicorn's loggers propagate to the root
        access_log=False,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=3,
    )


def create_app() -> FastAPI:
    if os.environ.get("QUEUEIT_TEST_GC_THRESHOLD"):  # e.g. "50000,50,100" (benchmarks)
        gc.set_threshold(*(int(v) for v in os.environ["QUEUEIT_TEST_GC_THRESHOLD"].split(",")))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    options = json.loads(os.environ.get("QUEUEIT_TEST_HUB", "{}"))
    return build_app(
        settings,
        dsn=os.environ["QUEUEIT_TEST_DSN"],
        hub_options=options,
        shortcut=os.environ.get("QUEUEIT_TEST_SHORTCUT") == "1",
    )
