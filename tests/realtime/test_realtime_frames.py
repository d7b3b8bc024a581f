"""Client frames (errors, limits) and heartbeats (pings both ways, idle timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import rt_data as data
from rt_client import RtClient
from rt_data import RtUser
from rt_server import RtServer

from queueit.db import Database

UserFactory = Callable[[str], Awaitable[RtUser]]


async def _member_client(
    db: Database, server: RtServer, user: UserFactory
) -> tuple[RtClient, RtUser, object]:
    host = await user("host")
    sid = await data.create_session(db, host)
    client = await RtClient.open(server.url, sid, token=host.token)
    assert (await client.next())["type"] == "snapshot"
    return client, host, sid


async def test_bad_frames_get_errors_and_the_socket_stays_open(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    client, host, sid = await _member_client(db, server, user)
    cases: list[tuple[str | bytes, str]] = [
        ("this is not json", "malformed_message"),
        (b"\x00\x01binary", "malformed_message"),
        ('["a", "list"]', "invalid_message"),
        ('{"no": "type"}', "invalid_message"),
        ('{"type": "subscribe"}', "unknown_message_type"),
        ('{"type": "snapshot"}', "unknown_message_type"),
        ('{"type": "auth"}', "invalid_message"),
        ('{"type": "auth", "token": "x", "extra": 1}', "invalid_message"),
        ('{"type": "ping", "at": "2025-11-22 10:30:00"}', "invalid_message"),
    ]
    for frame, code in cases:
        await client.send_raw(frame)
        reply = await client.next()
        assert (reply["type"], reply["code"]) == ("error", code), frame
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"
    await client.send({"type": "pong"})
    await client.send({"type": "ping", "at": "2025-11-22T10:30:00Z"})
    assert (await client.recv())["type"] == "pong"
    seq = await data.append(db, host, sid, "votes_updated", data.votes_data(2))
    server.hub.publish(sid, seq)
    assert (await client.next())["seq"] == seq
    await client.close()


async def test_ten_bad_frames_in_a_minute_close_4000_and_others_keep_going(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    bad = await RtClient.open(server.url, sid, token=guest.token)
    good = await RtClient.open(server.url, sid, token=host.token)
    await bad.next()
    await good.next()
    for _ in range(10):
        await bad.send_raw("nope")
    code, before = await bad.closed_with()
    assert code == 4000
    assert [m["code"] for m in before] == ["malformed_message"] * 10
    seq = await data.append(db, host, sid, "votes_updated", data.votes_data(1))
    server.hub.publish(sid, seq)
    assert (await good.next())["seq"] == seq
    await good.close()


async def test_frame_over_16_kib_closes_1009(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    client, host, sid = await _member_client(db, server, user)
    other = await RtClient.open(server.url, sid, token=host.token)
    await other.next()
    await client.send_raw('{"type": "ping", "pad": "' + "x" * (16 * 1024) + '"}')
    code, _ = await client.closed_with()
    assert code == 1009
    # exactly at the limit is fine
    frame = '{"type": "ping", "pad": "'
    frame += "x" * (16 * 1024 - len(frame) - 2) + '"}'
    assert len(frame.encode()) == 16 * 1024
    await other.send_raw(frame)
    assert (await other.recv())["type"] == "pong"
    await other.close()


async def test_a_burst_over_the_frame_rate_is_dropped_not_closed(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    client, _, _ = await _member_client(db, server, user)
    for _ in range(30):  # 20 in the burst, then about 10 over the rate
        await client.send({"type": "ping"})
    answers = [await client.recv() for _ in range(21)]
    kinds = [m["type"] if m["type"] != "error" else m["code"] for m in answers]
    assert kinds.count("rate_limited") == 1, kinds  # once per run, not per frame
    assert kinds.count("pong") == 20, kinds
    await asyncio.sleep(0.3)  # the rate refills: the socket is still open and answers
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"
    await client.close()


async def test_a_client_that_keeps_flooding_is_closed_4030(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    client, _, _ = await _member_client(db, server, user)
    for _ in range(60):
        await client.send({"type": "pong"})
    code, before = await client.closed_with()
    assert code == 4030
    assert [m["code"] for m in before] == ["rate_limited", "rate_limited"]


async def test_server_pings_and_idle_sockets_close_4008(
    db: Database, start_server: Callable[..., Awaitable[RtServer]], user: UserFactory
) -> None:
    server = await start_server(ws_heartbeat_seconds=0.3)
    host = await user("host")
    sid = await data.create_session(db, host)
    quiet = await RtClient.open(server.url, sid, token=host.token)
    lively = await RtClient.open(server.url, sid, token=host.token)
    await quiet.next()
    await lively.next()

    async def answer_pings(client: RtClient, seconds: float) -> int:
        pings = 0
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            try:
                message = await client.recv(within=max(0.01, end - loop.time()))
            except TimeoutError:
                break
            if message["type"] == "ping":
                pings += 1
                assert "at" in message
                await client.send({"type": "pong"})
        return pings

    answering = asyncio.create_task(answer_pings(lively, 2.5))
    code, before = await quiet.closed_with()  # sends nothing: 3 heartbeats later it is closed
    assert code == 4008
    assert {m["type"] for m in before} == {"ping"}
    assert await answering >= 3
    await lively.send({"type": "ping"})
    while (await lively.recv())["type"] != "pong":
        pass
    await lively.close()
