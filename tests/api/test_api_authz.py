"""Authorization with several real users: through the API, and through SQL as `authenticated`
with the same users' claims (what the service does for them), so RLS is shown to hold on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import jwt
import pytest
from apikit import Actor, ok, problem, track

from queueit.db import Connection, Database


@asynccontextmanager
async def as_user(db: Database, who: Actor) -> AsyncIterator[Connection]:
    """A transaction as `who` with the claims of their token (RLS applies), rolled back."""
    claims = jwt.decode(who.token, options={"verify_signature": False})
    async with db.user_tx(who.id, claims) as conn:
        tx = conn.transaction()  # a savepoint, so a refused statement leaves the test usable
        await tx.start()
        try:
            yield conn
        finally:
            await tx.rollback()


async def setup(actor: Any) -> tuple[dict[str, Any], Actor, Actor, Actor, str]:
    host, guest, outsider = await actor("host"), await actor("guest"), await actor("outsider")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    entry = ok(await guest.add(track()))["id"]
    ok(await host.control("play"))
    ok(await guest.add(track()))
    ok(await outsider.create())  # the outsider has a profile and a session of their own
    return s, host, guest, outsider, entry


async def test_current_session_is_only_ever_your_own(actor: Any) -> None:
    """The review's critical test (§5): B's GET /sessions/current never returns A's session."""
    a, b = await actor("a"), await actor("b")
    sa = ok(await a.create(join_code="PARTY" + uuid.uuid4().hex[:4].upper()))["session"]
    problem(await b.current(), 404, "not_in_session")
    sb = ok(await b.create())["session"]
    assert ok(await b.current())["session"]["id"] == sb["id"] != sa["id"]
    assert ok(await a.current())["session"]["id"] == sa["id"]
    ok(await b.leave())
    problem(await b.current(), 404, "not_in_session")


async def test_a_non_member_can_neither_read_nor_change_via_the_api(actor: Any) -> None:
    s, host, guest, outsider, playing = await setup(actor)
    sid = s["id"]
    queued = ok(await host.current())["queue"][0]["id"]
    c = outsider.client
    for response in (
        await c.get(f"/api/v1/sessions/{sid}/settings"),
        await c.patch(f"/api/v1/sessions/{sid}/settings", json={"queue_locked": True}),
        await c.get(f"/api/v1/sessions/{sid}/members"),
        await c.get(f"/api/v1/sessions/{sid}/history"),
        await c.post(f"/api/v1/sessions/{sid}/skip_vote"),
        await c.put(f"/api/v1/sessions/{sid}/members/{guest.id}/role", json={"role": "cohost"}),
        await c.post(f"/api/v1/sessions/{sid}/members/{guest.id}/kick"),
        await c.post(f"/api/v1/sessions/{sid}/members/{guest.id}/ban"),
    ):
        problem(response, 403, "not_member")
    # entries of a session you are not in do not exist for you
    problem(await outsider.vote(queued, 1), 404, "song_not_found")
    problem(await outsider.remove(queued), 404, "song_not_found")
    # control_session acts on your own session only
    assert ok(await outsider.control("pause"))["session"]["id"] != sid
    problem(await c.get(f"/api/v1/sessions/{uuid.uuid4()}/settings"), 404, "session_not_found")

    state = ok(await host.current())  # nothing changed
    assert state["settings"]["queue_locked"] is False
    assert state["playback"]["current"]["id"] == playing and state["playback"]["skip_votes"] == 0
    assert state["session"]["member_count"] == 2 and state["queue"][0]["votes"] == 1


async def test_a_non_member_can_neither_read_nor_change_via_sql(actor: Any, db: Database) -> None:
    s, host, guest, outsider, playing = await setup(actor)
    sid = uuid.UUID(s["id"])
    reads = {
        "sessions": "select count(*) from queueit.sessions where id = $1",
        "members": "select count(*) from queueit.session_members where session_id = $1",
        "entries": "select count(*) from queueit.queue_entries where session_id = $1",
        "view": "select count(*) from queueit.queue_entries_with_votes where session_id = $1",
        "votes": "select count(*) from queueit.votes where session_id = $1",
        "skip votes": "select count(*) from queueit.skip_votes where session_id = $1",
        "events": "select count(*) from queueit.session_events where session_id = $1",
    }
    async with as_user(db, guest) as conn:  # the same reads work for a member
        assert all([await conn.fetchval(q, sid) for q in reads.values()][:4])
        assert await conn.fetchval("select role from app.session_access($1)", sid) == "guest"
    async with as_user(db, outsider) as conn:
        for name, query in reads.items():
            assert await conn.fetchval(query, sid) == 0, name
        assert (
            await conn.fetchval("select count(*) from queueit.profiles where id = $1", host.id) == 0
        )
        status = await conn.execute(
            "update queueit.sessions set queue_locked = true where id = $1", sid
        )
        assert status == "UPDATE 0"
        status = await conn.execute(
            "update queueit.queue_entries set status = 'removed' where session_id = $1", sid
        )
        assert status == "UPDATE 0"
        status = await conn.execute(
            "delete from queueit.session_members where session_id = $1", sid
        )
        assert status == "DELETE 0"
        assert await conn.fetchval("select role from app.session_access($1)", sid) is None
        outcome = await conn.fetchrow("select * from app.cast_vote($1, 1)", uuid.UUID(playing))
        assert outcome["outcome"] == "song_not_found" and outcome["seq"] is None

    refused = [
        (
            "insert into queueit.queue_entries (session_id, track_id, added_by)"
            " select $1, id, $2 from queueit.tracks limit 1",
            (sid, outsider.id),
        ),
        (
            "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3,"
            " 1)",
            (uuid.UUID(playing), sid, outsider.id),
        ),
        ("select * from app.append_event($1, 'song_added', '{}')", (sid,)),
        ("select * from app.control_playback($1, 'skip')", (sid,)),
        ("select * from app.end_session($1)", (sid,)),
        (
            "insert into queueit.session_members (user_id, session_id, role) values ($1, $2,"
            " 'host')",
            (outsider.id, sid),
        ),
        (
            "insert into queueit.session_bans (session_id, user_id, banned_by) values ($1, $2, $3)",
            (sid, guest.id, outsider.id),
        ),
    ]
    for statement, args in refused:
        async with as_user(db, outsider) as conn:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement, *args)
    # vote_skip acts on the caller's own session only: another session's entry is not playing there
    async with as_user(db, outsider) as conn:
        with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError):
            await conn.execute("select * from app.vote_skip($1)", uuid.UUID(playing))
    assert ok(await host.current())["session"]["member_count"] == 2


async def test_a_guest_cannot_moderate(actor: Any, db: Database) -> None:
    s, host, guest, _, playing = await setup(actor)
    hosts_song = ok(await host.add(track()))["id"]
    for action in ("play", "pause", "skip", "next", "end"):
        problem(await guest.control(action), 403, "not_moderator")
    problem(
        await guest.client.patch(
            f"/api/v1/sessions/{s['id']}/settings", json={"queue_locked": True}
        ),
        403,
        "not_moderator",
    )
    problem(await guest.remove(hosts_song), 403, "not_moderator")
    problem(
        await guest.client.post(f"/api/v1/sessions/{s['id']}/members/{host.id}/kick"),
        403,
        "not_moderator",
    )
    async with as_user(db, guest) as conn:  # and the database says the same on its own
        status = await conn.execute(
            "update queueit.sessions set queue_locked = true where id = $1", uuid.UUID(s["id"])
        )
        assert status == "UPDATE 0"
        status = await conn.execute(
            "update queueit.queue_entries set status = 'removed' where id = $1",
            uuid.UUID(hosts_song),
        )
        assert status == "UPDATE 0"
    for statement in (
        "select * from app.control_playback($1, 'pause')",
        "select * from app.end_session($1)",
    ):
        async with as_user(db, guest) as conn:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement, uuid.UUID(s["id"]))
    state = ok(await host.current())
    assert state["playback"]["state"] == "playing" and state["playback"]["current"]["id"] == playing
    assert hosts_song in [e["id"] for e in state["queue"]]
    assert state["settings"]["queue_locked"] is False


async def test_nobody_votes_as_someone_else(actor: Any, db: Database) -> None:
    s, host, guest, _, _ = await setup(actor)
    entry = ok(await host.current())["queue"][0]["id"]
    # the API has no way to name the voter: it is the token's user
    problem(
        await guest.client.post(
            f"/api/v1/songs/{entry}/vote", json={"vote_value": 1, "user_id": str(host.id)}
        ),
        422,
        "validation_failed",
    )
    ok(await host.vote(entry, -1))
    async with as_user(db, guest) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2,"
                " $3, 1)",
                uuid.UUID(entry),
                uuid.UUID(s["id"]),
                host.id,
            )
    async with as_user(db, guest) as conn:
        assert (
            await conn.execute("update queueit.votes set value = 1 where user_id = $1", host.id)
            == "UPDATE 0"
        )
        assert (
            await conn.execute("delete from queueit.votes where user_id = $1", host.id)
            == "DELETE 0"
        )
    assert ok(await host.current())["my_votes"] == {entry: -1}
    assert ok(await guest.current())["queue"][0]["votes"] == 0


async def test_a_banned_user_cannot_rejoin(actor: Any, db: Database) -> None:
    s, host, guest, _, _ = await setup(actor)
    ok(await host.client.post(f"/api/v1/sessions/{s['id']}/members/{guest.id}/ban"), 204)
    problem(await guest.join(s["join_code"]), 403, "banned")
    problem(await guest.join(s["join_code"].lower()), 403, "banned")
    async with as_user(db, guest) as conn:  # not even by writing the membership row directly
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "insert into queueit.session_members (user_id, session_id) values ($1, $2)",
                guest.id,
                uuid.UUID(s["id"]),
            )
    assert ok(await host.current())["session"]["member_count"] == 1
