"""`GET /api/v1/spotify/search`: the contract's edge over `queueit.spotify.SearchService`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from queueit_contract.models import SearchResponse, SearchSource, Track
from starlette.responses import Response

from queueit.auth.deps import CurrentUser
from queueit.http.rendering import respond
from queueit.runtime import Runtime

router = APIRouter(tags=["spotify"])


@router.get("/api/v1/spotify/search")
async def search_tracks(
    request: Request,
    user: CurrentUser,
    q: Annotated[str, Query()],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    market: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
) -> Response:
    runtime = Runtime.of(request)
    await runtime.limits.search.hit(str(user.id))
    tracks = await runtime.search.search(q, limit, market)
    return respond(
        SearchResponse(
            tracks=[Track.model_validate(t.to_wire()) for t in tracks],
            source=SearchSource(runtime.search.source),
        )
    )
