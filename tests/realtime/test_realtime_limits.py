"""Socket caps (per user, per address, unauthenticated) and a socket's life bounded by its
token (asyncapi: 4029, 4002, `auth` on the open socket)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import rt_data as data
from rt_client import TIMEOUT, RtClient
from rt_data import RtUser
from rt_server import RtServer

from queueit.auth.dev import mint_dev_token
from queueit.db import Database

UserFactory = Callable[[str], Awaitable[RtUser]]
Start = Callable[..., Awaitable[RtServer]]


async def opened(server: RtServer, sid: Any, token: str | None, **kw: Any) -> RtClient:
    client = await RtClient.open(server.url, sid, token=token, **kw)
    if token is not None:
        assert (await client.next())["type"] == "snapshot"
    return client


async def admitted(
    server: RtServer, sid: Any, token: str, why: str, *, in_frame: bool = False
) -> RtClient:
    """Open sockets until one is not refused with 4029: a slot comes back once the server has
    seen a close (or an authentication). Admitted means a snapshot came. `in_frame`: the
    socket opens without a token (so it is admitted, or refused, as unauthenticated) and then
    sends it in an `auth` frame; a refused one is closed 4029 before it reads any frame."""
    for _ in range(50):
        client = await RtClient.open(
            server.url, sid, token=token, via="frame" if in_frame else "header"
        )
        answer = await client.recv_or_close(TIMEOUT)
        if answer != 4029:
            assert isinstance(answer, dict) and answer["type"] == "snapshot", answer
            return client
        await asyncio.sleep(0.05)
    raise AssertionError(why)


async def hosted(
    db: Database, start_server: Start, user: UserFactory, **settings: Any
) -> tuple[RtServer, RtUser, Any]:
    """A server with these settings and a session of one host on it."""
    server = await start_server(**settings)
    host = await user("host")
    return server, host, await data.create_session(db, host, [])


async def test_one_user_holds_at_most_the_cap(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    server = await start_server(ws_max_per_user=2)
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    first = await opened(server, sid, guest.token)
    second = await opened(server, sid, guest.token)
    third = await RtClient.open(server.url, sid, token=guest.token)
    code, before = await third.closed_with()
    assert (code, before) == (4029, [])
    host_socket = await opened(server, sid, host.token)  # someone else is not affected
    await first.close()
    again = await admitted(server, sid, guest.token, "the freed slot never came back")
    for client in (second, host_socket, again):
        await client.close()


async def test_one_address_holds_at_most_the_cap(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    server = await start_server(ws_max_per_address=3)
    host = await user("host")
    guests = [await user(f"g{i}") for i in range(3)]
    sid = await data.create_session(db, host, guests)
    clients = [await opened(server, sid, g.token) for g in guests]
    extra = await RtClient.open(server.url, sid, token=host.token)
    assert (await extra.closed_with())[0] == 4029
    for client in clients:
        await client.close()


async def test_behind_a_trusted_proxy_the_caps_count_forwarded_addresses(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    guests_ = [await user(f"p{i}") for i in range(4)]
    host = await user("host")
    sid = await data.create_session(db, host, guests_)

    def via(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    # the proxy (127.0.0.1, trusted) carries four guests from four addresses: all admitted,
    # though the cap per address is 2; two more from one forwarded address: the cap holds
    proxied = await start_server(ws_max_per_address=2, trusted_proxies=["127.0.0.0/8"])
    clients = [
        await opened(proxied, sid, g.token, extra_headers=via(f"203.0.113.{i}"))
        for i, g in enumerate(guests_)
    ]
    same = [
        await opened(proxied, sid, g.token, extra_headers=via("198.51.100.7")) for g in guests_[:2]
    ]
    third = await RtClient.open(
        proxied.url, sid, token=host.token, extra_headers=via("198.51.100.7")
    )
    assert (await third.closed_with())[0] == 4029
    for client in clients + same:
        await client.close()

    # without trusted proxies the header is not believed: everyone is 127.0.0.1
    direct = await start_server(ws_max_per_address=2)
    firsts = [
        await opened(direct, sid, g.token, extra_headers=via(f"203.0.113.{i}"))
        for i, g in enumerate(guests_[:2])
    ]
    refused = await RtClient.open(
        direct.url, sid, token=guests_[2].token, extra_headers=via("203.0.113.9")
    )
    assert (await refused.closed_with())[0] == 4029
    for client in firsts:
        await client.close()


async def test_token_less_sockets_cannot_keep_members_out(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    server, host, sid = await hosted(db, start_server, user, ws_max_unauthenticated_per_address=2)
    squatters = [await RtClient.open(server.url, sid) for _ in range(2)]  # no token, no account
    assert (await (await RtClient.open(server.url, sid)).closed_with())[0] == 4029  # full
    # a member with a token on the upgrade is checked at once: never waits for a slot
    member = await opened(server, sid, host.token)
    by_query = await opened(server, sid, host.token, via="query")
    for client in (*squatters, member, by_query):
        await client.close()


async def test_unauthenticated_sockets_are_capped_per_address(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    server, host, sid = await hosted(db, start_server, user, ws_max_unauthenticated_per_address=2)
    waiting = [await RtClient.open(server.url, sid) for _ in range(2)]  # no token yet
    flood = await RtClient.open(server.url, sid)
    assert (await flood.closed_with())[0] == 4029
    # authenticating frees the slot it held
    await waiting[0].send({"type": "auth", "token": host.token})
    assert (await waiting[0].next())["type"] == "snapshot"
    late = await admitted(
        server,
        sid,
        host.token,
        "an authenticated socket still counted as unauthenticated",
        in_frame=True,
    )
    for client in (*waiting, late):
        await client.close()


async def test_a_socket_closes_when_its_token_expires(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    server = await start_server(ws_token_leeway_seconds=0)
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    short = mint_dev_token(guest.name, server.settings, lifetime=timedelta(seconds=3))
    client = await opened(server, sid, short)
    started = time.monotonic()
    code, _ = await client.closed_with(within=10)
    waited = time.monotonic() - started
    assert code == 4002
    assert 1.5 < waited < 6, waited  # at the token's exp (3 s), give or take the 1 s tick


async def test_a_fresh_token_on_the_open_socket_keeps_it_open(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    server = await start_server(ws_token_leeway_seconds=0)
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    short = mint_dev_token(guest.name, server.settings, lifetime=timedelta(seconds=3))
    client = await opened(server, sid, short)
    await client.send({"type": "auth", "token": guest.token})  # the refreshed session's token
    await asyncio.sleep(5)
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"  # still open past the first token's exp
    # someone else's token on this socket is refused
    await client.send({"type": "auth", "token": host.token})
    assert (await client.closed_with())[0] == 4001


async def test_sockets_without_a_token_are_limited_per_address(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    """Before: 973 token-less handshakes a second, never limited (only those open at once)."""
    server, host, sid = await hosted(
        db, start_server, user, rate_limit_tokenless_sockets_per_address_per_minute=3
    )
    for _ in range(3):  # each is opened and closed: never more than one waits at once
        client = await RtClient.open(server.url, sid, token=None)
        await client.close()
    fourth = await RtClient.open(server.url, sid, token=None)
    assert (await fourth.closed_with())[0] == 4029
    with_token = await opened(server, sid, host.token)  # a token on the upgrade: not limited
    await with_token.close()


async def test_failed_socket_authentications_are_limited_per_address(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    server, host, sid = await hosted(
        db, start_server, user, rate_limit_failed_auth_per_address_per_minute=2
    )
    codes = []
    for _ in range(3):
        client = await RtClient.open(server.url, sid, token="forged.token.value")
        codes.append((await client.closed_with())[0])
    assert codes == [4001, 4001, 4029]
    member = await opened(server, sid, host.token)  # a valid token still gets in
    await member.close()


async def test_a_party_behind_one_address_connects_with_the_default_caps(
    db: Database, start_server: Start, user: UserFactory
) -> None:
    """Before: one address held 200 sockets, so of 250 guests on one venue Wi-Fi 50 were
    closed 4029. Now 300 guests from 127.0.0.1 all connect, and one of them still cannot
    hold more than the per-user cap."""
    server = await start_server()  # the default caps
    host = await user("host")
    guests = [await user(f"guest{n}") for n in range(299)]
    sid = await data.create_session(db, host, guests)
    arriving = asyncio.Semaphore(64)  # phones connect at about the same time, not all at once

    async def arrive(person: RtUser) -> RtClient:
        async with arriving:
            return await opened(server, sid, person.token)

    clients = await asyncio.gather(*(arrive(p) for p in [host, *guests]))
    assert len(clients) == 300
    per_user = server.settings.ws_max_per_user
    more = [await opened(server, sid, guests[0].token) for _ in range(per_user - 1)]
    over = await RtClient.open(server.url, sid, token=guests[0].token)
    assert (await over.closed_with())[0] == 4029
    await asyncio.gather(*(client.close() for client in [*clients, *more]))
