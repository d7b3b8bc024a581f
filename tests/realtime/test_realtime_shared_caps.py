"""Socket caps counted across instances (LIMITS_STORAGE_URL=redis://): before, each process
counted its own sockets, so with two instances one user held 2 x the per-user cap and one
address 2 x its caps. And the leases that keep a dead instance's sockets from holding their
slots forever."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
import rt_data as data
from rt_client import RtClient
from rt_data import RtUser
from rt_server import RtServer
from test_realtime_limits import admitted, opened

from queueit.db import Database
from queueit.http.rate_limits import Budgets
from queueit.realtime.caps import SocketCaps

UserFactory = Callable[[str], Awaitable[RtUser]]
Start = Callable[..., Awaitable[RtServer]]


async def test_one_user_holds_the_cap_across_two_instances(
    db: Database, start_server: Start, user: UserFactory, redis_url: str
) -> None:
    first = await start_server(limits_storage_url=redis_url, ws_max_per_user=2)
    second = await start_server(limits_storage_url=redis_url, ws_max_per_user=2)
    host, guest = await user("host"), await user("guest")
    sid = await data.create_session(db, host, [guest])
    on_first = await opened(first, sid, guest.token)
    on_second = await opened(second, sid, guest.token)
    for server in (first, second):
        extra = await RtClient.open(server.url, sid, token=guest.token)
        assert (await extra.closed_with())[0] == 4029
    await on_first.close()
    again = await admitted(second, sid, guest.token, "the slot freed on the other instance")
    for client in (on_second, again):
        await client.close()


async def test_token_less_sockets_of_an_address_count_across_instances(
    db: Database, start_server: Start, user: UserFactory, redis_url: str
) -> None:
    caps = {"limits_storage_url": redis_url, "ws_max_unauthenticated_per_address": 2}
    first, second = await start_server(**caps), await start_server(**caps)
    host = await user("host")
    sid = await data.create_session(db, host, [])
    waiting = [await RtClient.open(server.url, sid, token=None) for server in (first, second)]
    await asyncio.sleep(0.2)  # both are waiting for their `auth` frame
    third = await RtClient.open(first.url, sid, token=None)
    assert (await third.closed_with())[0] == 4029
    for client in waiting:
        await client.close()


async def test_a_dead_instances_sockets_stop_counting_when_their_leases_end(
    redis_url: str,
) -> None:
    stores = [Budgets(redis_url) for _ in range(2)]  # two processes' clients
    dead, alive = (SocketCaps(1, 100, 100, b.redis, lease_seconds=0.5) for b in stores)
    user_id = uuid.uuid4()
    assert await dead.enter("198.51.100.1", user_id) is not None  # never renewed, never left
    assert await alive.enter("198.51.100.2", user_id) is None  # the user's one slot is taken
    await asyncio.sleep(0.7)
    slot = await alive.enter("198.51.100.2", user_id)
    assert slot is not None
    # a live instance renews: its socket keeps the slot past the lease
    for _ in range(3):
        await asyncio.sleep(0.25)
        await alive.renew()
    assert await dead.enter("198.51.100.1", user_id) is None
    await alive.leave(slot)
    assert await dead.enter("198.51.100.1", user_id) is not None
    for budgets in stores:
        await budgets.close()


async def test_an_unreachable_store_counts_sockets_in_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budgets = Budgets("redis://127.0.0.1:1/0")  # nothing listens on port 1
    caps = SocketCaps(2, 100, 100, budgets.redis)
    user_id = uuid.uuid4()
    slots = [await caps.enter("198.51.100.3", user_id) for _ in range(3)]
    assert [s is not None for s in slots] == [True, True, False]
    first = slots[0]
    assert first is not None and not first.shared
    await caps.leave(first)
    assert await caps.enter("198.51.100.3", user_id) is not None
    assert [r.message for r in caplog.records].count(
        "socket caps store unreachable; counting in this process"
    ) == 1
    await budgets.close()
