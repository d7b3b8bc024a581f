"""A fake Spotify for tests: the accounts token endpoint, /v1/search and /v1/tracks/{id}, as a
Starlette app (conftest.py serves it with uvicorn on a real 127.0.0.1 socket). Search answers
come from the offline catalog, shaped like Spotify's track objects. Tests script failures with
``fake.script`` / ``fake.token_script``."""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from queueit.spotify import OfflineCatalog, SpotifyClient, Track

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"


def spotify_track_json(track: Track) -> dict[str, Any]:
    """A Track as Spotify's full track object (the fields we read, plus some we don't)."""
    images = []
    if track.image_url:
        base = track.image_url.rsplit("/", 1)[0]
        images = [
            {"url": f"{base}/640.jpg", "height": 640, "width": 640},
            {"url": f"{base}/300.jpg", "height": 300, "width": 300},
            {"url": f"{base}/64.jpg", "height": 64, "width": 64},
        ]
    return {
        "id": track.id,
        "type": "track",
        "uri": f"spotify:track:{track.id}",
        "name": track.name,
        "artists": [{"id": "x", "name": n, "type": "artist"} for n in track.artists.split(", ")],
        "album": {"id": "y", "name": track.album, "images": images, "album_type": "album"},
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "external_ids": {"isrc": track.isrc} if track.isrc else {},
        "is_local": False,
        "popularity": 50,
    }


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Scripted:
    """One scripted answer for the next API (or token) request."""

    status: int = 200
    body: Any = None  # JSON-able, or bytes sent raw
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # if set: send the body one byte per `drip` seconds


class FakeSpotify:
    def __init__(self) -> None:
        self.catalog = OfflineCatalog.load()
        self.reset()

    def reset(self) -> None:
        self.expires_in: float = 3600
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.token_requests = 0
        self.api_requests = 0
        self.search_requests = 0
        self.track_requests = 0
        self.latency = 0.0
        self.script: collections.deque[Scripted] = collections.deque()
        self.token_script: collections.deque[Scripted] = collections.deque()
        self.search_queries: list[dict[str, str]] = []
        self.bad_auth: list[str] = []

    def revoke_all(self) -> None:
        self.tokens.clear()

    # --- endpoints -----------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        if self.token_script:
            return await self._scripted(self.token_script.popleft(), request)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            self.bad_auth.append(request.headers.get("authorization", ""))
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        form = parse_qs((await request.body()).decode())
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = f"tok-{self.token_requests}"
        self.tokens[token] = time.monotonic() + self.expires_in
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        return auth.startswith("Bearer ") and self.tokens.get(token, 0) > time.monotonic()

    async def _api_prelude(self, request: Request) -> Response | None:
        self.api_requests += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.script:
            return await self._scripted(self.script.popleft(), request)
        if not self._authorized(request):
            return JSONResponse(
                {"error": {"status": 401, "message": "The access token expired"}}, status_code=401
            )
        return None

    async def search(self, request: Request) -> Response:
        self.search_requests += 1
        params = dict(request.query_params)
        self.search_queries.append(params)
        early = await self._api_prelude(request)
        if early is not None:
            return early
        limit = int(params.get("limit", "20"))
        if params.get("type") != "track" or not params.get("q") or not 1 <= limit <= 50:
            return JSONResponse({"error": {"status": 400, "message": "Bad"}}, status_code=400)
        tracks = self.catalog.search_now(params["q"], limit)
        return JSONResponse(
            {
                "tracks": {
                    "href": "https://api.spotify.invalid/v1/search",
                    "items": [spotify_track_json(t) for t in tracks],
                    "limit": limit,
                    "next": None,
                    "offset": 0,
                    "previous": None,
                    "total": len(tracks),
                }
            }
        )

    async def track(self, request: Request) -> Response:
        self.track_requests += 1
        early = await self._api_prelude(request)
        if early is not None:
            return early
        track = self.catalog._by_id.get(request.path_params["track_id"])
        if track is None:
            return JSONResponse(
                {"error": {"status": 404, "message": "Resource not found"}}, status_code=404
            )
        return JSONResponse(spotify_track_json(track))

    async def _scripted(self, s: Scripted, request: Request) -> Response:
        until = time.monotonic() + s.delay
        while time.monotonic() < until:  # a slow server; stop early once the client has gone
            await asyncio.sleep(0.05)
            if await request.is_disconnected():
                break
        raw = s.body if isinstance(s.body, bytes) else json.dumps(s.body).encode()
        if s.drip:

            async def drip() -> AsyncIterator[bytes]:
                for i in range(len(raw)):
                    await asyncio.sleep(s.drip)
                    yield raw[i : i + 1]

            return StreamingResponse(
                drip(), status_code=s.status, headers=s.headers, media_type="application/json"
            )
        return Response(raw, status_code=s.status, headers=s.headers, media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/token", self.token, methods=["POST"]),
                Route("/v1/search", self.search),
                Route("/v1/tracks/{track_id}", self.track),
            ]
        )


@dataclass
class Running:
    fake: FakeSpotify
    base: str

    @property
    def api_url(self) -> str:
        return f"{self.base}/v1"

    @property
    def accounts_url(self) -> str:
        return f"{self.base}/api/token"

    def client(self, **options: Any) -> SpotifyClient:
        settings: dict[str, Any] = {
            "api_url": self.api_url,
            "accounts_url": self.accounts_url,
            "timeout_seconds": 2.0,
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.05,
        }
        settings.update(options)
        return SpotifyClient(CLIENT_ID, CLIENT_SECRET, **settings)
