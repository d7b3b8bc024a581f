"""The moderation edge: settings, members, roles, kick, ban."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request
from queueit_contract.models import MemberRoleUpdate, SessionSettingsUpdate
from starlette.responses import Response

from queueit.auth.deps import CurrentUser
from queueit.http.rendering import respond
from queueit.kit.body import json_body, read_json
from queueit.kit.tx import user_work
from queueit.moderation import service
from queueit.runtime import Runtime

router = APIRouter(tags=["moderation"])

SessionId = Annotated[UUID, Path()]
UserId = Annotated[UUID, Path()]


# One route for both methods, so a 405 on this path lists both in `Allow` (Starlette reports
# only the first route that matched the path).
@router.api_route("/api/v1/sessions/{session_id}/settings", methods=["GET", "PATCH"])
async def session_settings(request: Request, user: CurrentUser, session_id: SessionId) -> Response:
    """GET: the settings (members). PATCH: change them (host and co-hosts)."""
    runtime = Runtime.of(request)
    if request.method == "GET":
        async with user_work(runtime, user) as tx:
            current = await service.get_settings(tx, session_id)
        return respond(current)
    await runtime.limits.writes.hit(str(user.id))
    body = await read_json(request, SessionSettingsUpdate)
    async with user_work(runtime, user) as tx:
        changed = await service.update_settings(tx, session_id, body)
    return respond(changed)


@router.get("/api/v1/sessions/{session_id}/members")
async def list_members(request: Request, user: CurrentUser, session_id: SessionId) -> Response:
    async with user_work(Runtime.of(request), user) as tx:
        result = await service.list_members(tx, session_id)
    return respond(result)


@router.put("/api/v1/sessions/{session_id}/members/{user_id}/role")
async def set_member_role(
    request: Request,
    user: CurrentUser,
    session_id: SessionId,
    user_id: UserId,
    body: Annotated[MemberRoleUpdate, json_body(MemberRoleUpdate)],
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        result = await service.set_role(tx, session_id, user_id, body.role)
    return respond(result)


@router.post("/api/v1/sessions/{session_id}/members/{user_id}/kick")
async def kick_member(
    request: Request, user: CurrentUser, session_id: SessionId, user_id: UserId
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        await service.remove_member(tx, session_id, user_id, ban=False)
    return Response(status_code=204)


@router.post("/api/v1/sessions/{session_id}/members/{user_id}/ban")
async def ban_member(
    request: Request, user: CurrentUser, session_id: SessionId, user_id: UserId
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        await service.remove_member(tx, session_id, user_id, ban=True)
    return Response(status_code=204)
