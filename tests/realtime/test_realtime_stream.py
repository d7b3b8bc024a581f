"""The stream: snapshot first, deltas in seq order, resume with `since`, the polling fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import rt_data as data
from rt_client import RtClient
from rt_data import RtUser
from rt_server import RtServer

from queueit.db import Database
from queueit.realtime.conformance import validate_schema

UserFactory = Callable[[str], Awaitable[RtUser]]


async def publish_votes(
    db: Database, server: RtServer, member: RtUser, sid: Any, n: int
) -> list[int]:
    seqs = []
    for i in range(n):
        seq = await data.append(db, member, sid, "votes_updated", data.votes_data(i))
        server.hub.publish(sid, seq)
        seqs.append(seq)
    return seqs


async def test_snapshot_first_then_deltas_in_order(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    client = await RtClient.open(server.url, sid, token=guest.token)

    snapshot = await client.next()
    assert snapshot["type"] == "snapshot"
    assert snapshot["seq"] == snapshot["data"]["seq"] == await data.last_seq(db, sid)
    assert snapshot["data"]["my_role"] == "guest"
    assert snapshot["data"]["session"]["member_count"] == 2

    seqs = await publish_votes(db, server, host, sid, 5)
    song = await data.append(db, guest, sid, "song_added", data.song_added_data(guest))
    server.hub.publish(sid, song)
    events = await client.events(6)
    assert [e["seq"] for e in events] == [*seqs, song]
    assert seqs[0] == snapshot["seq"] + 1
    assert [e["type"] for e in events] == ["votes_updated"] * 5 + ["song_added"]
    assert all(e["session_id"] == str(sid) for e in events)
    await client.close()


async def test_every_member_gets_every_event_once(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host = await user("host")
    guests = [await user(f"g{i}") for i in range(4)]
    sid = await data.create_session(db, host, guests)
    clients = [await RtClient.open(server.url, sid, token=u.token) for u in [host, *guests]]
    starts = [(await c.next())["seq"] for c in clients]
    assert len(set(starts)) == 1

    # concurrent writers, one publish per commit
    async def writer(member: RtUser) -> None:
        for i in range(10):
            seq = await data.append(db, member, sid, "votes_updated", data.votes_data(i))
            server.hub.publish(sid, seq)

    await asyncio.gather(*(writer(m) for m in [host, *guests]))
    for client in clients:
        events = await client.events(50)
        assert [e["seq"] for e in events] == list(range(starts[0] + 1, starts[0] + 51))
    for client in clients:
        await client.close()


async def test_subscribed_before_the_snapshot_is_read(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    """Events committed while the snapshot is being read are neither lost nor duplicated."""
    server = await start_server()
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    loader = server.hub.snapshot_loader
    assert loader is not None
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def slow_loader(conn: Any, auth_user: Any, session_id: Any) -> Any:
        snap = await loader(conn, auth_user, session_id)  # read first, then stall
        entered.set()
        await gate.wait()
        return snap

    server.hub.snapshot_loader = slow_loader
    opening = asyncio.create_task(RtClient.open(server.url, sid, token=guest.token))
    await asyncio.wait_for(entered.wait(), 10)
    seqs = await publish_votes(db, server, host, sid, 3)  # committed after the snapshot's read
    gate.set()
    client = await opening
    snapshot = await client.next()
    assert snapshot["seq"] == seqs[0] - 1
    assert [e["seq"] for e in await client.events(3)] == seqs

    # and the other way round: events committed before the snapshot is read are in it
    server.hub.snapshot_loader = loader
    gate2 = asyncio.Event()
    entered2 = asyncio.Event()

    async def late_loader(conn: Any, auth_user: Any, session_id: Any) -> Any:
        entered2.set()
        await gate2.wait()
        return await loader(conn, auth_user, session_id)

    server.hub.snapshot_loader = late_loader
    opening = asyncio.create_task(RtClient.open(server.url, sid, token=host.token))
    await asyncio.wait_for(entered2.wait(), 10)
    more = await publish_votes(db, server, guest, sid, 3)
    await asyncio.sleep(0.2)  # let the hub buffer them for the pending socket
    gate2.set()
    host_client = await opening
    snap2 = await host_client.next()
    assert snap2["seq"] == more[-1]
    tail = await publish_votes(db, server, guest, sid, 1)
    assert [e["seq"] for e in await host_client.events(1)] == tail
    assert [e["seq"] for e in await client.events(4)] == [*more, *tail]
    await client.close()
    await host_client.close()


async def test_resume_with_since_gets_exactly_the_missed_events(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    client = await RtClient.open(server.url, sid, token=guest.token)
    await client.next()
    first = await publish_votes(db, server, host, sid, 3)
    seen = await client.events(3)
    await client.close()
    last_applied = seen[-1]["seq"]
    assert last_applied == first[-1]

    missed = await publish_votes(db, server, host, sid, 4)
    song = await data.append(db, host, sid, "song_added", data.song_added_data(host))
    server.hub.publish(sid, song)

    client = await RtClient.open(server.url, sid, token=guest.token, since=last_applied)
    replay = await client.events(5)
    assert [e["seq"] for e in replay] == [*missed, song]
    # then live again, no gap
    live = await publish_votes(db, server, host, sid, 1)
    assert [e["seq"] for e in await client.events(1)] == live

    async with server.http() as http:
        response = await http.get(
            f"/api/v1/sessions/{sid}/events",
            params={"since": last_applied},
            headers={"Authorization": f"Bearer {guest.token}"},
        )
    assert response.status_code == 200
    page = response.json()
    validate_schema("EventsPage", page)
    assert page["events"] == [*replay, *client.received[-1:]]
    assert page["latest_seq"] == live[-1]
    assert page["has_more"] is False
    assert page["snapshot"] is None
    assert "resync_snapshot" not in page  # the portable name is left out, never null
    await client.close()


async def test_since_equal_to_latest_sends_nothing_until_the_next_event(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host = await user("host")
    sid = await data.create_session(db, host)
    latest = await data.last_seq(db, sid)
    client = await RtClient.open(server.url, sid, token=host.token, since=latest)
    seqs = await publish_votes(db, server, host, sid, 2)
    assert [e["seq"] for e in await client.events(2)] == seqs
    await client.close()


async def test_since_too_old_or_unknown_gets_a_snapshot(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    server = await start_server(events_retained=5)
    host = await user("host")
    sid = await data.create_session(db, host)
    seqs = await publish_votes(db, server, host, sid, 8)

    for since in (1, seqs[-1] + 10):  # older than what is kept; newer than anything
        client = await RtClient.open(server.url, sid, token=host.token, since=since)
        snapshot = await client.next()
        assert snapshot["type"] == "snapshot"
        assert snapshot["seq"] == seqs[-1]
        await client.close()

    # within the window: a replay
    client = await RtClient.open(server.url, sid, token=host.token, since=seqs[-4])
    assert [e["seq"] for e in await client.events(3)] == seqs[-3:]
    await client.close()

    async with server.http() as http:
        response = await http.get(
            f"/api/v1/sessions/{sid}/events",
            params={"since": 1},
            headers={"Authorization": f"Bearer {host.token}"},
        )
    page = response.json()
    validate_schema("EventsPage", page)
    assert page["events"] == [] and page["has_more"] is False
    assert page["snapshot"]["seq"] == page["latest_seq"] == seqs[-1]
    assert page["resync_snapshot"] == page["snapshot"]  # deprecated name and new name agree

    # pruned rows: the same answer once the table no longer has them
    async with db.system_conn() as conn:
        await conn.execute("select app.prune_events(5)")
    client = await RtClient.open(server.url, sid, token=host.token, since=seqs[1])
    assert (await client.next())["type"] == "snapshot"
    await client.close()


async def test_polling_fallback_pages_and_refusals(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host, outsider = await user("host"), await user("outsider")
    sid = await data.create_session(db, host)
    start = await data.last_seq(db, sid)
    seqs = await publish_votes(db, server, host, sid, 5)
    auth = {"Authorization": f"Bearer {host.token}"}
    async with server.http() as http:
        pages = []
        since = start
        while True:
            response = await http.get(
                f"/api/v1/sessions/{sid}/events", params={"since": since, "limit": 2}, headers=auth
            )
            assert response.status_code == 200
            page = response.json()
            validate_schema("EventsPage", page)
            pages.append(page)
            since = page["latest_seq"]
            if not page["has_more"]:
                break
        assert [e["seq"] for p in pages for e in p["events"]] == seqs
        assert [p["has_more"] for p in pages] == [True, True, False]

        response = await http.get(
            f"/api/v1/sessions/{sid}/events",
            headers={"Authorization": f"Bearer {outsider.token}"},
        )
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
        validate_schema("Problem", response.json())
        assert response.json()["code"] == "not_member"

        response = await http.get(
            "/api/v1/sessions/00000000-0000-4000-8000-000000000000/events", headers=auth
        )
        assert response.status_code == 404
        assert response.json()["code"] == "session_not_found"

        response = await http.get(f"/api/v1/sessions/{sid}/events")
        assert response.status_code == 401

        response = await http.get(
            f"/api/v1/sessions/{sid}/events", params={"limit": 0}, headers=auth
        )
        assert response.status_code == 422
