"""The realtime edge: `WS /api/v1/sessions/{session_id}/realtime` and its polling fallback
`GET /api/v1/sessions/{session_id}/events` (operationId getSessionEvents).

Both find the process's `RealtimeHub` on `app.state.realtime_hub` (set by the app's Runtime).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, WebSocket
from starlette.requests import HTTPConnection
from starlette.responses import Response

from queueit.auth.deps import CurrentUser
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
    """The hub of this process: `app.state.realtime_hub` (or `app.state.runtime.hub`)."""
    state = connection.app.state
    hub = getattr(state, "realtime_hub", None)
    if hub is None:
        hub = getattr(getattr(state, "runtime", None), "hub", None)
    if not isinstance(hub, RealtimeHub):
        raise RuntimeError("no RealtimeHub on app.state.realtime_hub: the app must create one")
    return hub


@router.websocket("/api/v1/sessions/{session_id}/realtime")
async def session_realtime(websocket: WebSocket, session_id: str) -> None:
    try:
        hub = get_hub(websocket)
    except RuntimeError:
        await websocket.accept()
        await websocket.close(CloseCode.INTERNAL_ERROR)
        raise
    await serve(hub, websocket, session_id)


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
