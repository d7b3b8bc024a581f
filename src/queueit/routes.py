"""Every router of the service, in one list."""

from __future__ import annotations

from fastapi import FastAPI

from queueit.account.endpoints import router as account_router
from queueit.health.endpoints import router as health_router
from queueit.moderation.endpoints import router as moderation_router
from queueit.realtime.endpoints import router as realtime_router
from queueit.search.endpoints import router as search_router
from queueit.sessions.endpoints import router as sessions_router
from queueit.songs.endpoints import router as songs_router


def install(app: FastAPI) -> None:
    for router in (
        health_router,
        search_router,
        sessions_router,
        songs_router,
        moderation_router,
        realtime_router,
        account_router,
    ):
        app.include_router(router)
