"""Helpers of the API tests: the live server handle, dev-token users with checked httpx clients,
contract checks on every response, and direct reads of the event log."""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter
from queueit_contract import models as contract

from queueit.auth.dev import dev_user_id, mint_dev_token
from queueit.config import Settings
from queueit.db import Database
from queueit.runtime import Runtime

WIRE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
LOOKS_LIKE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d")
DATE_KEYS = {
    "created_at",
    "added_at",
    "finished_at",
    "ended_at",
    "started_at",
    "joined_at",
    "ends_at",
    "at",
}


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def runtime(self) -> Runtime:
        runtime = self.app.state.runtime
        assert isinstance(runtime, Runtime)
        return runtime


# --- every response is checked -------------------------------------------------------------------


def check_dates(value: Any, path: str = "$") -> None:
    """Every date-time anywhere in a body is `YYYY-MM-DDTHH:MM:SSZ`."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in DATE_KEYS and item is not None:
                assert isinstance(item, str) and WIRE_DATE.match(item), f"{path}.{key}: {item!r}"
            check_dates(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_dates(item, f"{path}[{i}]")
    elif isinstance(value, str) and LOOKS_LIKE_DATE.match(value):
        assert WIRE_DATE.match(value), f"{path}: {value!r}"


async def check_response(response: httpx.Response) -> None:
    await response.aread()
    request_id = response.headers.get("x-request-id")
    assert request_id, f"no X-Request-ID on {response.request.method} {response.request.url}"
    content_type = response.headers.get("content-type", "")
    if response.status_code >= 400:
        assert content_type.startswith("application/problem+json"), (
            response.status_code,
            content_type,
            response.text,
        )
        body = response.json()
        assert body["status"] == response.status_code, body
        assert body["request_id"] == request_id, body
        contract.Problem.model_validate(body)  # code is one of the spec's ProblemCode values
        assert "Traceback" not in response.text
    if content_type.startswith("application/") and "json" in content_type and response.content:
        check_dates(response.json())


def checked_client(base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=30.0,
        event_hooks={"response": [check_response]},
        **kwargs,
    )


# --- users ----------------------------------------------------------------------------------------


@dataclass
class Actor:
    name: str
    id: uuid.UUID
    token: str
    client: httpx.AsyncClient

    async def create(self, **body: Any) -> httpx.Response:
        return await self.client.post("/api/v1/sessions/create", json=body)

    async def join(self, code: str) -> httpx.Response:
        return await self.client.post("/api/v1/sessions/join", json={"join_code": code})

    async def current(self) -> httpx.Response:
        return await self.client.get("/api/v1/sessions/current")

    async def leave(self) -> httpx.Response:
        return await self.client.post("/api/v1/sessions/leave")

    async def control(self, action: str) -> httpx.Response:
        return await self.client.patch("/api/v1/sessions/control_session", json={"action": action})

    async def add(self, track: Mapping[str, Any]) -> httpx.Response:
        return await self.client.post("/api/v1/songs/add", json=dict(track))

    async def vote(self, entry_id: str | uuid.UUID, value: int) -> httpx.Response:
        return await self.client.post(f"/api/v1/songs/{entry_id}/vote", json={"vote_value": value})

    async def remove(self, entry_id: str | uuid.UUID) -> httpx.Response:
        return await self.client.delete(f"/api/v1/songs/{entry_id}")

    async def skip_vote(self, session_id: str | uuid.UUID) -> httpx.Response:
        return await self.client.post(f"/api/v1/sessions/{session_id}/skip_vote")


def new_actor(server: LiveServer, name: str, *, anonymous: bool = False) -> Actor:
    unique = f"{name}-{secrets.token_hex(4)}"
    token = mint_dev_token(unique, server.settings, anonymous=anonymous)
    client = checked_client(server.url, headers={"Authorization": f"Bearer {token}"})
    return Actor(unique, dev_user_id(unique), token, client)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


# --- tracks ---------------------------------------------------------------------------------------


def track(**overrides: Any) -> dict[str, Any]:
    """A track the offline catalog does not know (so the body's metadata is used)."""
    data: dict[str, Any] = {
        "id": "T" + secrets.token_hex(10),
        "isrc": None,
        "name": "Test Song",
        "artists": "Test Artist",
        "album": "Test Album",
        "duration_ms": 180_000,
        "image_url": "https://images.example.com/cover.jpg",
        "explicit": False,
    }
    data.update(overrides)
    return data


# --- the event log --------------------------------------------------------------------------------

_EVENT = TypeAdapter(contract.SessionEvent)
_DATA_MODELS: dict[str, type[BaseModel]] = {
    "song_added": contract.SongAddedEventData,
    "song_removed": contract.SongRemovedEventData,
    "votes_updated": contract.VotesUpdatedEventData,
    "playback_changed": contract.PlaybackChangedEventData,
    "skip_votes_updated": contract.SkipVotesUpdatedEventData,
    "member_joined": contract.MemberJoinedEventData,
    "member_left": contract.MemberLeftEventData,
    "member_kicked": contract.MemberKickedEventData,
    "member_role_changed": contract.MemberRoleChangedEventData,
    "settings_changed": contract.SettingsChangedEventData,
    "session_ending": contract.SessionEndingEventData,
    "session_ended": contract.SessionEndedEventData,
}


async def events_of(db: Database, session_id: str | uuid.UUID, after: int = 0) -> list[Any]:
    """The session's events after `after` (login role), each checked against the contract:
    `type` is a spec event type and `data` has every required key of its schema, no key it does
    not know, and validates."""
    async with db.system_conn() as conn:
        rows = await conn.fetch(
            "select seq, type, payload, created_at from queueit.session_events"
            " where session_id = $1 and seq > $2 order by seq",
            uuid.UUID(str(session_id)),
            after,
        )
    seqs = [r["seq"] for r in rows]
    assert seqs == list(range(after + 1, after + 1 + len(rows))), f"gap in {seqs}"
    events = []
    for row in rows:
        model = _DATA_MODELS.get(row["type"])
        assert model is not None, f"event type {row['type']!r} is not in the contract"
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        keys = set(row["payload"])
        assert required <= keys <= set(model.model_fields), (row["type"], row["payload"])
        check_dates(row["payload"])
        event = _EVENT.validate_python(
            {
                "type": row["type"],
                "seq": row["seq"],
                "session_id": str(session_id),
                "created_at": row["created_at"],
                "data": row["payload"],
            }
        )
        events.append(event)
    return events


def types(events: list[Any]) -> list[str]:
    return [e.type for e in events]
