"""The socket against the real app (`create_app`) and the REST service: every change made through
the API arrives, in order and conformant, and kick / ban / leave / end close with their codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from rt_client import RtClient
from rt_server import RtServer, serve_in_process

from queueit.app import create_app
from queueit.auth.dev import dev_user_id, mint_dev_token
from queueit.config import Settings
from queueit.db import SERVICE_ROLE, as_login_role
from queueit.realtime.conformance import validate_schema
from tools.generous_limits import generous_limits

GENEROUS = generous_limits()


@pytest_asyncio.fixture
async def service(migrated_dsn: str, data_dir: Path) -> AsyncIterator[RtServer]:
    settings = Settings(_env_file=None, data_dir=data_dir, **GENEROUS)  # type: ignore[call-arg]
    app = create_app(settings, dsn=as_login_role(migrated_dsn, SERVICE_ROLE))
    server, task, port = await serve_in_process(app, settings)
    try:
        hub = app.state.runtime.hub
        yield RtServer(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}", hub, settings)
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 15)


class Member:
    def __init__(self, server: RtServer, name: str) -> None:
        self.name = f"{name}-{secrets.token_hex(4)}"
        self.id = dev_user_id(self.name)
        self.token = mint_dev_token(self.name, server.settings)
        self.http = httpx.AsyncClient(
            base_url=server.http_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.http.request(method, path, json=body)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None


def a_track() -> dict[str, Any]:
    return {
        "id": "T" + secrets.token_hex(10),
        "isrc": None,
        "name": "Neon Harbor",
        "artists": "The Lantern Club",
        "album": "Night Ferries",
        "duration_ms": 214_000,
        "image_url": "https://images.queueit.invalid/covers/night-ferries.jpg",
        "explicit": False,
    }


async def test_a_party_through_the_api(service: RtServer, caplog: pytest.LogCaptureFixture) -> None:
    host, guest, other = (Member(service, n) for n in ("host", "guest", "other"))
    created = await host.call("POST", "/api/v1/sessions/create", {})
    sid, code = created["session"]["id"], created["session"]["join_code"]
    for member in (guest, other):
        await member.call("POST", "/api/v1/sessions/join", {"join_code": code})

    sockets = {
        m: await RtClient.open(service.url, sid, token=m.token) for m in (host, guest, other)
    }
    snapshots = {m: await c.next() for m, c in sockets.items()}
    assert {s["type"] for s in snapshots.values()} == {"snapshot"}
    assert {s["data"]["my_role"] for s in snapshots.values()} == {"host", "guest"}
    start = snapshots[host]["seq"]

    added = await guest.call("POST", "/api/v1/songs/add", a_track())  # a QueuedSong
    entry = added["id"]
    up = await host.call("POST", f"/api/v1/songs/{entry}/vote", {"vote_value": 1})
    down = await other.call("POST", f"/api/v1/songs/{entry}/vote", {"vote_value": -1})
    await host.call("PATCH", "/api/v1/sessions/control_session", {"action": "play"})

    expected = ["song_added", "votes_updated", "votes_updated", "playback_changed"]
    seen = {m: await c.events(len(expected)) for m, c in sockets.items()}
    for events in seen.values():
        assert [e["type"] for e in events] == expected
        assert [e["seq"] for e in events] == list(range(start + 1, start + 1 + len(expected)))

    def public(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**e, "data": {k: v for k, v in e["data"].items() if k != "my_vote"}} for e in events
        ]

    # the same events for everyone, but the voter's (and the adder's) own copy says their vote
    assert public(seen[host]) == public(seen[guest]) == public(seen[other])
    assert seen[host][0]["data"]["queued_song"]["id"] == entry
    my_votes = {m: [e["data"].get("my_vote", "-") for e in seen[m]] for m in seen}
    assert my_votes == {
        guest: [1, "-", "-", "-"],  # adding is the adder's upvote
        host: ["-", 1, "-", "-"],
        other: ["-", "-", -1, "-"],
    }
    up_total, down_total = up["total_votes"], down["total_votes"]

    def votes(member: str) -> list[dict[str, Any]]:
        return [e["data"] for e in seen[member] if e["type"] == "votes_updated"]

    assert votes(host) == [
        {"queued_song_id": entry, "total_votes": up_total, "my_vote": 1},
        {"queued_song_id": entry, "total_votes": down_total},
    ]
    assert votes(other) == [
        {"queued_song_id": entry, "total_votes": up_total},
        {"queued_song_id": entry, "total_votes": down_total, "my_vote": -1},
    ]

    # the polling fallback returns the very same events, each member's own copy
    page = await host.call("GET", f"/api/v1/sessions/{sid}/events?since={start}")
    validate_schema("EventsPage", page)
    assert page["events"] == seen[host]
    page = await guest.call("GET", f"/api/v1/sessions/{sid}/events?since={start}")
    assert page["events"] == seen[guest]

    # kick: the event, then 4010; the others go on
    await host.call("POST", f"/api/v1/sessions/{sid}/members/{guest.id}/kick", status=204)
    code_, before = await sockets[guest].closed_with()
    assert code_ == 4010
    assert [(m["type"], m["data"]["user_id"], m["data"]["banned"]) for m in before] == [
        ("member_kicked", str(guest.id), False)
    ]
    # back in, then banned: 4011
    await guest.call("POST", "/api/v1/sessions/join", {"join_code": code})
    again = await RtClient.open(service.url, sid, token=guest.token)
    assert (await again.next())["type"] == "snapshot"
    await host.call("POST", f"/api/v1/sessions/{sid}/members/{guest.id}/ban", status=204)
    code_, before = await again.closed_with()
    assert code_ == 4011 and before[-1]["type"] == "member_kicked" and before[-1]["data"]["banned"]
    refused = await RtClient.open(service.url, sid, token=guest.token)
    assert (await refused.closed_with())[0] == 4011

    # leave: 4012
    await other.call("POST", "/api/v1/sessions/leave")
    code_, before = await sockets[other].closed_with()
    assert code_ == 4012 and before[-1]["type"] == "member_left"

    # end: session_ended, then 4013 for everyone left
    await host.call("PATCH", "/api/v1/sessions/control_session", {"action": "end"})
    code_, before = await sockets[host].closed_with()
    assert code_ == 4013
    assert before[-1]["type"] == "session_ended" and before[-1]["data"]["reason"] == "host_ended"
    host_events = [*seen[host], *(m for m in before if m["type"] not in ("ping", "pong"))]
    all_host = [m for m in sockets[host].received if "seq" in m and m["type"] != "snapshot"]
    assert [m["seq"] for m in all_host] == list(range(start + 1, start + 1 + len(all_host)))
    assert host_events[-1] == all_host[-1]
    for member in (host, guest, other):
        await member.http.aclose()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_resuming_after_api_changes(service: RtServer) -> None:
    host, guest = Member(service, "host"), Member(service, "guest")
    created = await host.call("POST", "/api/v1/sessions/create", {})
    sid = created["session"]["id"]
    await guest.call(
        "POST", "/api/v1/sessions/join", {"join_code": created["session"]["join_code"]}
    )
    client = await RtClient.open(service.url, sid, token=guest.token, via="frame")
    last = (await client.next())["seq"]
    await client.close()

    entries = []
    for _ in range(3):
        added = await host.call("POST", "/api/v1/songs/add", a_track())
        entries.append(added["id"])
    await guest.call("POST", f"/api/v1/songs/{entries[1]}/vote", {"vote_value": 1})

    client = await RtClient.open(service.url, sid, token=guest.token, since=last)
    missed = await client.events(4)
    assert [e["type"] for e in missed] == ["song_added"] * 3 + ["votes_updated"]
    page = await guest.call("GET", f"/api/v1/sessions/{sid}/events?since={last}")
    assert page["events"] == missed
    # the snapshot the service builds agrees with the stream
    fresh = await RtClient.open(service.url, sid, token=guest.token)
    snap = await fresh.next()
    assert snap["seq"] == missed[-1]["seq"]
    assert {q["id"] for q in snap["data"]["queue"]} == set(entries)
    assert snap["data"]["my_votes"] == {entries[1]: 1}
    for c in (client, fresh):
        await c.close()
    for member in (host, guest):
        await member.http.aclose()
