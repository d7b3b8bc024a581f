"""Multi-step changes are atomic: a failure injected in the middle of create-and-join, switching
sessions, voting, skipping and ending leaves no partial state (review §10).

Each test runs its own server on a fresh database and arms a test-only trigger that raises at a
chosen point of the transaction (after some of its writes are done). The request then fails with
a problem+json 500 and everything must look as if it had never been sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from apikit import Actor, LiveServer, ok, problem, track

FAULT_FUNCTION = """
create or replace function public.test_fault() returns trigger language plpgsql as $$
begin
  raise exception 'injected fault on % %', tg_op, tg_table_name;
end $$;
"""


class Faults:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def arm(self, table: str, op: str, when: str) -> None:
        """Raise on `op` (insert/update/delete) of `table` rows matching `when`."""
        await self.conn.execute(f"drop trigger if exists test_fault on queueit.{table}")
        await self.conn.execute(
            f"create trigger test_fault before {op} on queueit.{table}"
            f" for each row when ({when}) execute function public.test_fault()"
        )

    async def disarm(self, table: str) -> None:
        await self.conn.execute(f"drop trigger if exists test_fault on queueit.{table}")

    async def value(self, query: str, *args: Any) -> Any:
        return await self.conn.fetchval(query, *args)

    async def snapshot(self) -> dict[str, Any]:
        """Every row of every table the service writes (the login role sees all)."""
        state = {}
        for table in (
            "sessions",
            "session_members",
            "session_bans",
            "queue_entries",
            "votes",
            "skip_votes",
            "session_events",
        ):
            rows = await self.conn.fetch(f"select * from queueit.{table} order by 1, 2")  # noqa: S608
            state[table] = [dict(r) for r in rows]
        return state


@pytest_asyncio.fixture
async def isolated(
    fresh_dsn: str, start_server: Callable[..., LiveServer], actor: Any
) -> AsyncIterator[tuple[Callable[[str], Awaitable[Actor]], Faults]]:
    server = start_server(dsn=fresh_dsn)
    conn = await asyncpg.connect(fresh_dsn)
    await conn.execute(FAULT_FUNCTION)

    async def person(name: str) -> Actor:
        return await actor(name, server=server)

    try:
        yield person, Faults(conn)
    finally:
        await conn.close()


def failed(response: Any) -> None:
    problem(response, 500, "internal_error")


async def test_create_and_join(isolated: Any) -> None:
    person, faults = isolated
    host = await person("host")
    # fails after the session row and the host's membership were written (at the event)
    await faults.arm("session_events", "insert", "new.type = 'member_joined'")
    before = await faults.snapshot()
    failed(await host.create(join_code="ATOMIC1"))
    failed(await host.create())
    assert await faults.snapshot() == before
    problem(await host.current(), 404, "not_in_session")
    await faults.disarm("session_events")
    assert ok(await host.create(join_code="ATOMIC1"))["session"]["join_code"] == "ATOMIC1"


async def test_switching_sessions(isolated: Any) -> None:
    person, faults = isolated
    h1, h2, guest = await person("h1"), await person("h2"), await person("guest")
    s1 = ok(await h1.create())["session"]
    s2 = ok(await h2.create())["session"]
    ok(await guest.join(s1["join_code"]))
    ok(await guest.add(track()))
    # fails after leaving s1 (member_left written, membership deleted) and joining s2
    await faults.arm(
        "session_events",
        "insert",
        f"new.type = 'member_joined' and new.session_id = '{s2['id']}'",
    )
    before = await faults.snapshot()
    failed(await guest.join(s2["join_code"]))
    assert await faults.snapshot() == before
    state = ok(await guest.current())
    assert state["session"]["id"] == s1["id"] and state["my_role"] == "guest"
    # same for a host whose leaving hands the session over
    await faults.arm(
        "session_events",
        "insert",
        f"new.type = 'member_joined' and new.session_id = '{s2['id']}'",
    )
    failed(await h1.join(s2["join_code"]))
    assert await faults.snapshot() == before
    assert ok(await h1.current())["my_role"] == "host"


async def test_voting(isolated: Any) -> None:
    person, faults = isolated
    host, guest = await person("host"), await person("guest")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    entry = ok(await guest.add(track()))["id"]
    # fails after the vote row was written (at the votes_updated event)
    await faults.arm("session_events", "insert", "new.type = 'votes_updated'")
    before = await faults.snapshot()
    failed(await host.vote(entry, 1))
    failed(await guest.vote(entry, 0))
    failed(await host.add(ok(await host.current())["queue"][0]["song"]))  # re-add = upvote
    assert await faults.snapshot() == before
    assert ok(await host.current())["queue"][0]["votes"] == 1
    await faults.disarm("session_events")
    assert ok(await host.vote(entry, 1))["total_votes"] == 2


async def test_skipping(isolated: Any) -> None:
    person, faults = isolated
    host = await person("host")
    guests = [await person(f"g{i}") for i in range(3)]
    s = ok(await host.create())["session"]
    for g in guests:
        ok(await g.join(s["join_code"]))
    first = ok(await guests[0].add(track()))["id"]
    ok(await guests[0].add(track()))
    ok(await host.control("play"))
    ok(await guests[0].skip_vote(s["id"]))  # 1 of 2 needed
    # the second skip vote skips: fails after the vote, the skip and the skip_votes event
    await faults.arm("session_events", "insert", "new.type = 'playback_changed'")
    before = await faults.snapshot()
    failed(await guests[1].skip_vote(s["id"]))
    failed(await host.control("skip"))
    failed(await host.control("next"))
    assert await faults.snapshot() == before
    state = ok(await host.current())
    assert state["playback"]["current"]["id"] == first and state["playback"]["skip_votes"] == 1
    await faults.disarm("session_events")
    assert ok(await guests[1].skip_vote(s["id"]))["skipped"] is True


async def test_ending(isolated: Any) -> None:
    person, faults = isolated
    host, guest = await person("host"), await person("guest")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    ok(await guest.add(track()))
    ok(await host.control("play"))
    # app.end_session writes the event, finishes the entry, stamps the session, then removes the
    # members: fail at that last step
    await faults.arm("session_members", "delete", "true")
    before = await faults.snapshot()
    failed(await host.control("end"))
    failed(await host.leave())  # leaving is a membership delete too
    assert await faults.snapshot() == before
    state = ok(await guest.current())
    assert state["session"]["status"] == "active" and state["playback"]["state"] == "playing"
    await faults.disarm("session_members")
    assert ok(await host.control("end"))["session"]["status"] == "ended"


@pytest.mark.parametrize("table", ["queue_entries", "votes"])
async def test_adding(isolated: Any, table: str) -> None:
    person, faults = isolated
    host = await person("host")
    ok(await host.create())
    await faults.arm(table, "insert", "true")
    before = await faults.snapshot()
    failed(await host.add(track()))
    assert await faults.snapshot() == before
    tracks = await faults.value("select count(*) from queueit.tracks")
    assert tracks == 0  # the track row went with the rest
