"""The songs edge: add, vote, remove."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request
from queueit_contract.models import AddSongRequest, VoteRequest
from starlette.responses import Response

from queueit.auth.deps import CurrentUser
from queueit.http.rendering import respond
from queueit.kit.body import json_body
from queueit.kit.tx import user_work
from queueit.runtime import Runtime
from queueit.songs import service

router = APIRouter(tags=["songs"])


@router.post("/api/v1/songs/add")
async def add_song(
    request: Request,
    user: CurrentUser,
    body: Annotated[AddSongRequest, json_body(AddSongRequest)],
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    track, authoritative = await service.resolve_track(runtime.search, body)
    async with user_work(runtime, user) as tx:
        song = await service.add_song(tx, track, authoritative)
    return respond(song)


# `{id:uuid}`: a literal like `/songs/add` is never taken for an entry id (DELETE /songs/add is
# then 405 with `Allow: POST`, as the contract says, not a 422 about an id).
@router.post("/api/v1/songs/{id:uuid}/vote")
async def vote_on_song(
    request: Request,
    user: CurrentUser,
    id: Annotated[UUID, Path()],
    body: Annotated[VoteRequest, json_body(VoteRequest)],
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        result = await service.vote(tx, id, body.vote_value)
    return respond(result)


@router.delete("/api/v1/songs/{id:uuid}")
async def remove_song(request: Request, user: CurrentUser, id: Annotated[UUID, Path()]) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.writes.hit(str(user.id))
    async with user_work(runtime, user) as tx:
        await service.remove_song(tx, id)
    return Response(status_code=204)
