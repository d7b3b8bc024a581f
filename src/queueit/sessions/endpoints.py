"""The sessions edge: create, join, current, leave, control, skip vote, history.

Each endpoint: rate limit, one transaction (`user_work`) around the service call, answer.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from queueit_contract.models import (
    ControlSessionRequest,
    CreateSessionRequest,
    JoinSessionRequest,
)
from starlette.responses import Response

from queueit.auth.deps import CurrentUser, client_address
from queueit.http.problems import ProblemError
from queueit.http.rendering import respond
from queueit.kit.body import json_body
from queueit.kit.tx import user_work
from queueit.runtime import Runtime
from queueit.sessions import service

router = APIRouter(tags=["sessions"])


@router.post("/api/v1/sessions/create")
async def create_session(
    request: Request,
    user: CurrentUser,
    body: Annotated[CreateSessionRequest | None, json_body(CreateSessionRequest, required=False)],
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        state = await service.create_session(tx, body)
    return respond(state)


@router.post("/api/v1/sessions/join")
async def join_session(
    request: Request,
    user: CurrentUser,
    body: Annotated[JoinSessionRequest, json_body(JoinSessionRequest)],
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.joins.hit(str(user.id))
    # Every attempt takes from its address's budget of wrong codes; a right one gives it back.
    address = client_address(request)
    await runtime.limits.wrong_codes.hit(address)
    wrong = False
    try:
        async with user_work(runtime, user) as tx:
            state = await service.join_session(tx, body)
    except ProblemError as problem:
        wrong = problem.code.value == "session_not_found"
        raise
    finally:
        if not wrong:
            await runtime.limits.wrong_codes.refund(address)
    return respond(state)


@router.get("/api/v1/sessions/current")
async def get_current_session(request: Request, user: CurrentUser) -> Response:
    async with user_work(Runtime.of(request), user) as tx:
        state = await service.current_session(tx)
    return respond(state)


@router.post("/api/v1/sessions/leave")
async def leave_session(request: Request, user: CurrentUser) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        left = await service.leave_current(tx)
    return respond(left)


@router.patch("/api/v1/sessions/control_session")
async def control_session(
    request: Request,
    user: CurrentUser,
    body: Annotated[ControlSessionRequest, json_body(ControlSessionRequest)],
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        state = await service.control_session(tx, body.action, body.entry_id)
    return respond(state)


@router.post("/api/v1/sessions/{session_id}/skip_vote")
async def vote_to_skip(
    request: Request, user: CurrentUser, session_id: Annotated[UUID, Path()]
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        result = await service.skip_vote(tx, session_id)
    return respond(result)


@router.get("/api/v1/sessions/{session_id}/history")
async def get_history(
    request: Request,
    user: CurrentUser,
    session_id: Annotated[UUID, Path()],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    async with user_work(Runtime.of(request), user) as tx:
        result = await service.history(tx, session_id, limit)
    return respond(result)
