"""Kick, ban, leave and end: the event is delivered, then the socket closes with its code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import rt_data as data
from rt_client import RtClient
from rt_data import RtUser
from rt_server import RtServer

from queueit.db import Database

UserFactory = Callable[[str], Awaitable[RtUser]]


@pytest.mark.parametrize(("banned", "code"), [(False, 4010), (True, 4011)])
async def test_kicked_or_banned_member_gets_the_event_then_the_close(
    db: Database, server: RtServer, user: UserFactory, banned: bool, code: int
) -> None:
    host, guest, other = await user("host"), await user("guest"), await user("other")
    sid = await data.create_session(db, host, [guest, other])
    guest_client = await RtClient.open(server.url, sid, token=guest.token)
    other_client = await RtClient.open(server.url, sid, token=other.token)
    await guest_client.next()
    await other_client.next()

    seq = await data.kick(db, host, sid, guest, banned=banned, count=2)
    server.hub.publish(sid, seq)

    closed, before = await guest_client.closed_with()
    assert closed == code
    assert [m["type"] for m in before] == ["member_kicked"]
    assert before[0]["data"] == {
        "user_id": str(guest.id),
        "banned": banned,
        "by": str(host.id),
        "member_count": 2,
    }
    # everyone else keeps going
    event = await other_client.next()
    assert (event["type"], event["seq"]) == ("member_kicked", seq)
    more = await data.append(db, host, sid, "votes_updated", data.votes_data(1))
    server.hub.publish(sid, more)
    assert (await other_client.next())["seq"] == more
    await other_client.close()


async def test_leaving_closes_every_socket_of_that_user_with_4012(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    phone = await RtClient.open(server.url, sid, token=guest.token)
    tablet = await RtClient.open(server.url, sid, token=guest.token, via="query")
    host_client = await RtClient.open(server.url, sid, token=host.token)
    for client in (phone, tablet, host_client):
        await client.next()

    seq = await data.leave(db, guest, sid, count=1)
    server.hub.publish(sid, seq)
    for client in (phone, tablet):
        code, before = await client.closed_with()
        assert code == 4012
        assert [(m["type"], m["data"]["user_id"]) for m in before] == [
            ("member_left", str(guest.id))
        ]
    assert (await host_client.next())["type"] == "member_left"
    await host_client.close()


async def test_session_end_closes_everyone_with_4013(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    clients = [await RtClient.open(server.url, sid, token=u.token) for u in (host, guest)]
    for client in clients:
        await client.next()
    vote = await data.append(db, guest, sid, "votes_updated", data.votes_data(3))
    seq = await data.end_session(db, host, sid)
    server.hub.publish(sid, seq)
    for client in clients:
        code, before = await client.closed_with()
        assert code == 4013
        assert [(m["type"], m["seq"]) for m in before] == [
            ("votes_updated", vote),
            ("session_ended", seq),
        ]
        assert before[-1]["data"]["reason"] == "host_ended"


async def test_replayed_old_departures_do_not_close_a_member_who_came_back(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    """`since` replays history; only events after the membership check can close the socket."""
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    before_leave = await data.last_seq(db, sid)
    await data.leave(db, guest, sid, count=1)
    await data.join(db, guest, sid, member_count=2)
    client = await RtClient.open(server.url, sid, token=guest.token, since=before_leave)
    replay = await client.events(2)
    assert [m["type"] for m in replay] == ["member_left", "member_joined"]
    seq = await data.append(db, host, sid, "votes_updated", data.votes_data(1))
    server.hub.publish(sid, seq)
    assert (await client.next())["seq"] == seq
    await client.close()


async def test_a_host_deleting_their_account_closes_the_party_with_4013(
    db: Database, server: RtServer, user: UserFactory
) -> None:
    """DELETE /api/v1/me's SQL (`app.forget_me`): the phones still get the final event."""
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    phone = await RtClient.open(server.url, sid, token=guest.token)
    await phone.next()
    async with host.tx(db) as conn:
        rows = await conn.fetch("select session_id, seq from app.forget_me()")
    assert [r["session_id"] for r in rows] == [sid]
    server.hub.publish(sid, rows[0]["seq"])
    code, before = await phone.closed_with()
    assert code == 4013
    assert [(m["type"], m["seq"], m["data"]["reason"]) for m in before] == [
        ("session_ended", rows[0]["seq"], "host_ended")
    ]
