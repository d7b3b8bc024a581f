"""The FastAPI application: middleware order, error handlers, routers, and the lifespan that
starts and stops the database pool, token verifier, search service and realtime hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from queueit import __version__, docs_routes, routes
from queueit.config import Settings, get_settings
from queueit.http import handlers
from queueit.http.access_log import AccessLogMiddleware
from queueit.http.body_limit import BodyLimitMiddleware
from queueit.http.request_id import RequestIdMiddleware
from queueit.http.strict_utf8 import StrictUtf8Middleware
from queueit.realtime.endpoints import RealtimeShortcut
from queueit.runtime import Runtime


def create_app(settings: Settings | None = None, *, dsn: str | None = None) -> FastAPI:
    """Build the app. `dsn` overrides where the database is (tests, `queueit run`)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings, dsn=dsn)
        runtime.attach(app)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="QueueIT API",
        version=__version__,
        lifespan=lifespan,
        # The served contract is the hand-written spec (docs_routes), never a derived one.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    handlers.install(app)
    docs_routes.install(app)
    routes.install(app)

    # Added innermost first:
    # CatchAll < BodyLimit < StrictUtf8 < CORS < AccessLog < RequestId < Realtime.
    app.add_middleware(handlers.CatchAllMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(StrictUtf8Middleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    # Outermost: realtime upgrades skip the HTTP middlewares, ~7 KiB less per idle socket.
    app.add_middleware(RealtimeShortcut)
    return app
