"""The realtime edge: `WS /api/v1/sessions/{session_id}/realtime` and its polling fallback
`GET /api/v1/sessions/{session_id}/events` (operationId getSessionEvents).

Both find the process's `RealtimeHub` on `app.state.realtime_hub` (set by the app's Runtime).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, cast
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from queueit.auth.deps import CurrentUser, take_reads
from queueit.http.problems import Conflict, Forbidden, NotFound, ProblemError
from queueit.http.rendering import respond
from queueit.realtime.hub import RealtimeHub
from queueit.realtime.protocol import CloseCode
from queueit.realtime.reading import read_events_page
from queueit.realtime.socket import serve
from queueit.realtime.store import Refusal

router = APIRouter(tags=["realtime"])

MAX_SAFE_INTEGER = 9_007_199_254_740_991


def get_hub(connection: HTTPConnection) -> RealtimeHub:
    """The hub of this process: `app.state.realtime_hub` (set by `Runtime.attach`)."""
    hub = getattr(connection.app.state, "realtime_hub", None)
    if not isinstance(hub, RealtimeHub):
        raise RuntimeError("no RealtimeHub on app.state.realtime_hub: the app must create one")
    return hub


class _SessionRealtime:
    """`WS /api/v1/sessions/{session_id}/realtime` as a plain ASGI endpoint.

    Not a FastAPI websocket route on purpose: its dependency machinery and exit stacks would
    stay on the stack of every idle socket for hours (several KiB each, DESIGN §7 memory).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        try:
            hub = get_hub(websocket)
        except RuntimeError:
            await websocket.accept()
            await websocket.close(CloseCode.INTERNAL_ERROR)
            raise
        await serve(hub, websocket, scope["path_params"]["session_id"])


class RealtimeShortcut:
    """ASGI middleware: serve the realtime socket before the rest of the stack.

    `app.add_middleware(RealtimeShortcut)` as the OUTERMOST middleware (as app.py does) hands
    WebSocket upgrades of the realtime path straight to the endpoint, so the router, exception
    middleware and the app's own middlewares are not on the stack of every idle socket
    (measured: ~6 KiB less per socket, DESIGN §7). The cost: those middlewares do not see
    WebSocket connections.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.endpoint = _SessionRealtime()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            match = REALTIME_PATH.fullmatch(scope["path"])
            if match is not None:
                scope["path_params"] = {"session_id": match["session_id"]}
                await self.endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


REALTIME_PATH = re.compile(r"/api/v1/sessions/(?P<session_id>[^/]+)/realtime")

# Starlette treats an endpoint that is not a function as an ASGI app (typed for functions only).
router.add_websocket_route(
    "/api/v1/sessions/{session_id}/realtime", cast(Any, _SessionRealtime()), name="session_realtime"
)


def _refusal_problem(refusal: Refusal) -> ProblemError:
    if refusal is Refusal.NO_SUCH_SESSION:
        return NotFound("session_not_found", "No such session.")
    if refusal is Refusal.SESSION_ENDED:
        return Conflict("session_ended", "The session has ended.")
    if refusal is Refusal.BANNED:
        return Forbidden("banned", "You are banned from this session.")
    return Forbidden("not_member", "Only members of the session may read its events.")


@router.get("/api/v1/sessions/{session_id}/events")
async def get_session_events(
    request: Request,
    user: CurrentUser,
    session_id: Annotated[UUID, Path()],
    since: Annotated[int, Query(ge=0, le=MAX_SAFE_INTEGER)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Response:
    await take_reads(request, user, limit // 100)  # beyond the one every GET costs
    hub = get_hub(request)
    page = await read_events_page(
        hub.db,
        hub.snapshot_loader,
        user,
        session_id,
        since,
        limit,
        hub.settings.events_retained,
    )
    if isinstance(page, Refusal):
        raise _refusal_problem(page)
    return respond(page)
