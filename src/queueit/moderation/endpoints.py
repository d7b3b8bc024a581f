"""The moderation edge: settings, members, roles, kick, ban."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request
from queueit_contract.models import MemberRoleUpdate, SessionSettingsUpdate
from starlette.responses import Response

from queueit.auth.deps import CurrentUser
from queueit.http.rendering import respond
from queueit.kit.body import json_body
from queueit.kit.tx import user_work
from queueit.moderation import service
from queueit.runtime import Runtime

router = APIRouter(tags=["moderation"])

SessionId = Annotated[UUID, Path()]
UserId = Annotated[UUID, Path()]


@router.get("/api/v1/sessions/{session_id}/settings")
async def get_session_settings(
    request: Request, user: CurrentUser, session_id: SessionId
) -> Response:
    async with user_work(Runtime.of(request), user) as tx:
        result = await service.get_settings(tx, session_id)
    return respond(result)


@router.patch("/api/v1/sessions/{session_id}/settings")
async def update_session_settings(
    request: Request,
    user: CurrentUser,
    session_id: SessionId,
    body: Annotated[SessionSettingsUpdate, json_body(SessionSettingsUpdate)],
) -> Response:
    runtime = Runtime.of(request)
    runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        result = await service.update_settings(tx, session_id, body)
    return respond(result)


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
    runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        result = await service.set_role(tx, session_id, user_id, body.role)
    return respond(result)


@router.post("/api/v1/sessions/{session_id}/members/{user_id}/kick")
async def kick_member(
    request: Request, user: CurrentUser, session_id: SessionId, user_id: UserId
) -> Response:
    runtime = Runtime.of(request)
    runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        await service.remove_member(tx, session_id, user_id, ban=False)
    return Response(status_code=204)


@router.post("/api/v1/sessions/{session_id}/members/{user_id}/ban")
async def ban_member(
    request: Request, user: CurrentUser, session_id: SessionId, user_id: UserId
) -> Response:
    runtime = Runtime.of(request)
    runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        await service.remove_member(tx, session_id, user_id, ban=True)
    return Response(status_code=204)
