"""A minimal app around the realtime router, for tests (in-process and subprocess servers).

It wires the hub as the Runtime does (Database, TokenVerifier, snapshot loader,
`app.state.realtime_hub`), plus one test-only route, `POST /_test/append`, standing in for the
REST service: it appends an event as the caller and publishes it after commit, the way every
service write does.

Subprocess entry point: `uvicorn --factory rt_app:create_app` with QUEUEIT_TEST_DSN, DATA_DIR and
optional QUEUEIT_TEST_HUB (JSON of RealtimeHub keyword arguments) and QUEUEIT_TEST_SHORTCUT=1
(mount `RealtimeShortcut`) in the environment.

`rt_app:create_service_app`: the real app with the REST service (its Runtime wires the hub and
it mounts `RealtimeShortcut` itself).
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
from queueit.db import SERVICE_ROLE, Database, as_login_role
from queueit.http import handlers
from queueit.http.serving import uvicorn_options
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
            own = database = Database(as_login_role(dsn, SERVICE_ROLE), min_size=2, max_size=20)
            await database.start()
        verifier = TokenVerifier.from_settings(settings)
        hub = RealtimeHub(
            settings, database, verifier, snapshot_loader=load_snapshot, **(hub_options or {})
        )
        await hub.start()
        app.state.verifier = verifier
        app.state.limits = hub.limits
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


def _gc_threshold_from_env() -> None:
    if os.environ.get("QUEUEIT_TEST_GC_THRESHOLD"):  # e.g. "50000,50,100" (benchmarks)
        gc.set_threshold(*(int(v) for v in os.environ["QUEUEIT_TEST_GC_THRESHOLD"].split(",")))


def create_service_app() -> FastAPI:
    """The real app (REST service) on QUEUEIT_TEST_DSN."""
    from queueit.app import create_app as create_queueit_app

    _gc_threshold_from_env()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return create_queueit_app(
        settings, dsn=as_login_role(os.environ["QUEUEIT_TEST_DSN"], SERVICE_ROLE)
    )


def uvicorn_config(
    app: FastAPI, settings: Settings, port: int = 0, log_level: str = "warning"
) -> uvicorn.Config:
    """Serve like `queueit run` does (frame limit, its HTTP and WebSocket protocols), on
    127.0.0.1."""
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=log_level,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=3,
        **uvicorn_options(settings),
    )


def create_app() -> FastAPI:
    _gc_threshold_from_env()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    options = json.loads(os.environ.get("QUEUEIT_TEST_HUB", "{}"))
    return build_app(
        settings,
        dsn=os.environ["QUEUEIT_TEST_DSN"],
        hub_options=options,
        shortcut=os.environ.get("QUEUEIT_TEST_SHORTCUT") == "1",
    )
