"""Row level security, exercised the way the service runs: login role + `authenticated` + claims.

Every "cannot" test first shows that the same statement works for someone allowed to run it (or
that the data is there), so a policy that denies everything would fail these tests too.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from queueit.db import Database

TRACK = """
insert into queueit.tracks (id, name, artists, album, duration_ms, image_url)
values ($1, 'Song ' || $1, 'Artist', 'Album', 200000, 'https://i.example/x.jpg')
on conflict (id) do nothing
"""


def track_id() -> str:
    return uuid.uuid4().hex[:22]


async def add_entry(db: Database, user: Any, session_id: uuid.UUID) -> uuid.UUID:
    tid = track_id()
    async with user.tx(db) as conn:
        await conn.execute(TRACK, tid)
        entry_id: uuid.UUID = await conn.fetchval(
            "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2, $3)"
            " returning id",
            session_id,
            tid,
            user.id,
        )
    return entry_id


async def vote(db: Database, user: Any, session_id: uuid.UUID, entry_id: uuid.UUID, v: int) -> None:
    async with user.tx(db) as conn:
        await conn.execute(
            "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3,"
            " $4)"
            " on conflict (entry_id, user_id) do update set value = excluded.value",
            entry_id,
            session_id,
            user.id,
            v,
        )


async def denied(db: Database, user: Any, sql: str, *args: Any) -> None:
    """The statement fails with 42501 (RLS WITH CHECK or missing privilege)."""
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with user.tx(db) as conn:
            await conn.execute(sql, *args)


async def status(db: Database, user: Any, sql: str, *args: Any) -> str:
    async with user.tx(db) as conn:
        result: str = await conn.execute(sql, *args)
        return result


async def count(db: Database, user: Any, sql: str, *args: Any) -> int:
    async with user.tx(db) as conn:
        value: int = await conn.fetchval(sql, *args)
        return value


@pytest.fixture
async def party(db: Database, new_user: Any, make_session: Any) -> dict[str, Any]:
    """alice hosts; bob and carol are guests; mallory is in no session. Entries, votes, events."""
    alice, bob = await new_user("alice"), await new_user("bob")
    carol, mallory = await new_user("carol"), await new_user("mallory")
    session = await make_session(alice, guests=[bob, carol])
    alice_entry = await add_entry(db, alice, session.id)
    bob_entry = await add_entry(db, bob, session.id)
    await vote(db, bob, session.id, alice_entry, 1)
    await vote(db, carol, session.id, alice_entry, 1)
    async with bob.tx(db) as conn:
        await conn.execute("select * from app.append_event($1, 'song_added', '{}')", session.id)
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "mallory": mallory,
        "session": session,
        "alice_entry": alice_entry,
        "bob_entry": bob_entry,
    }


SESSION_TABLES = {
    "sessions": "select count(*) from queueit.sessions where id = $1",
    "session_members": "select count(*) from queueit.session_members where session_id = $1",
    "queue_entries": "select count(*) from queueit.queue_entries where session_id = $1",
    "queue_entries_with_votes": (
        "select count(*) from queueit.queue_entries_with_votes where session_id = $1"
    ),
    "votes": "select count(*) from queueit.votes where session_id = $1",
    "session_events": "select count(*) from queueit.session_events where session_id = $1",
}


async def test_member_sees_session_data(db: Database, party: dict[str, Any]) -> None:
    sid = party["session"].id
    for table, sql in SESSION_TABLES.items():
        assert await count(db, party["bob"], sql, sid) > 0, table


async def test_non_member_reads_nothing(db: Database, party: dict[str, Any]) -> None:
    sid = party["session"].id
    for table, sql in SESSION_TABLES.items():
        assert await count(db, party["mallory"], sql, sid) == 0, table
    assert (
        await count(
            db,
            party["mallory"],
            "select count(*) from queueit.profiles where id = $1",
            party["alice"].id,
        )
        == 0
    )
    assert (
        await count(
            db,
            party["bob"],
            "select count(*) from queueit.profiles where id = $1",
            party["alice"].id,
        )
        == 1
    )


async def test_non_member_changes_nothing(db: Database, party: dict[str, Any]) -> None:
    m, sid = party["mallory"], party["session"].id
    assert (
        await status(db, m, "update queueit.sessions set queue_locked = true where id = $1", sid)
        == "UPDATE 0"
    )
    assert (
        await status(
            db, m, "update queueit.queue_entries set status = 'removed' where session_id = $1", sid
        )
        == "UPDATE 0"
    )
    assert (
        await status(db, m, "delete from queueit.session_members where session_id = $1", sid)
        == "DELETE 0"
    )
    assert await status(db, m, "delete from queueit.votes where session_id = $1", sid) == "DELETE 0"
    # caching a track is fine for anyone; queueing it into, voting in, or writing events for a
    # foreign session is not
    tid = track_id()
    async with m.tx(db) as conn:
        await conn.execute(TRACK, tid)
    await denied(
        db,
        m,
        "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2, $3)",
        sid,
        tid,
        m.id,
    )
    await denied(
        db,
        m,
        "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3, 1)",
        party["alice_entry"],
        sid,
        m.id,
    )
    await denied(db, m, "select * from app.append_event($1, 'x', '{}')", sid)
    await denied(db, m, "select * from app.end_session($1)", sid)
    await denied(db, m, "select * from app.control_playback($1, 'play')", sid)
    await denied(db, m, "select * from app.control_playback_of($1, 'play', null)", sid)
    # nothing changed
    alice = party["alice"]
    async with alice.tx(db) as conn:
        row = await conn.fetchrow(
            "select queue_locked, ended_at from queueit.sessions where id = $1", sid
        )
        assert row["queue_locked"] is False and row["ended_at"] is None
        assert (
            await conn.fetchval(
                "select count(*) from queueit.queue_entries where session_id = $1 and status ="
                " 'queued'",
                sid,
            )
            == 2
        )
        assert (
            await conn.fetchval(
                "select count(*) from queueit.session_members where session_id = $1", sid
            )
            == 3
        )
        assert (
            await conn.fetchval("select count(*) from queueit.votes where session_id = $1", sid)
            == 2
        )


async def test_guest_cannot_moderate(db: Database, party: dict[str, Any]) -> None:
    bob, alice, carol, sid = party["bob"], party["alice"], party["carol"], party["session"].id
    for sql in (
        "update queueit.sessions set playback_state = 'paused', paused_at = now() where id = $1",
        "update queueit.sessions set allow_downvotes = false where id = $1",
        "update queueit.sessions set queue_locked = true where id = $1",
    ):
        assert await status(db, bob, sql, sid) == "UPDATE 0", sql
    assert (
        await status(
            db, alice, "update queueit.sessions set allow_downvotes = true where id = $1", sid
        )
        == "UPDATE 1"
    )
    # others' entries and memberships
    assert (
        await status(
            db,
            bob,
            "update queueit.queue_entries set status = 'removed' where id = $1",
            party["alice_entry"],
        )
        == "UPDATE 0"
    )
    assert (
        await status(db, bob, "delete from queueit.session_members where user_id = $1", carol.id)
        == "DELETE 0"
    )
    assert (
        await status(db, bob, "delete from queueit.session_members where user_id = $1", alice.id)
        == "DELETE 0"
    )
    assert (
        await status(
            db, bob, "update queueit.session_members set role = 'cohost' where user_id = $1", bob.id
        )
        == "UPDATE 0"
    )
    await denied(
        db,
        bob,
        "insert into queueit.session_bans (session_id, user_id, banned_by) values ($1, $2, $3)",
        sid,
        carol.id,
        bob.id,
    )
    await denied(db, bob, "select * from app.control_playback($1, 'play')", sid)
    await denied(db, bob, "select * from app.control_playback_of($1, 'play', null)", sid)
    await denied(db, bob, "select * from app.end_session($1)", sid)
    await denied(db, bob, "select app.transfer_host($1, $2)", sid, bob.id)
    # what a guest may do: remove their own queued entry, leave
    assert (
        await status(
            db,
            bob,
            "update queueit.queue_entries set status = 'removed' where id = $1",
            party["bob_entry"],
        )
        == "UPDATE 1"
    )
    assert (
        await status(db, bob, "delete from queueit.session_members where user_id = $1", bob.id)
        == "DELETE 1"
    )


async def test_host_and_cohost_moderate(db: Database, party: dict[str, Any]) -> None:
    alice, bob, carol, sid = party["alice"], party["bob"], party["carol"], party["session"].id
    assert (
        await status(
            db,
            alice,
            "update queueit.session_members set role = 'cohost' where user_id = $1",
            carol.id,
        )
        == "UPDATE 1"
    )
    # a co-host removes others' entries and kicks guests, but never the host
    assert (
        await status(
            db,
            carol,
            "update queueit.queue_entries set status = 'removed' where id = $1",
            party["bob_entry"],
        )
        == "UPDATE 1"
    )
    assert (
        await status(db, carol, "delete from queueit.session_members where user_id = $1", alice.id)
        == "DELETE 0"
    )
    await denied(
        db,
        carol,
        "insert into queueit.session_bans (session_id, user_id, banned_by) values ($1, $2, $3)",
        sid,
        alice.id,
        carol.id,
    )
    # the host cannot be demoted by the policy (only app.transfer_host changes the host row)
    assert (
        await status(
            db,
            alice,
            "update queueit.session_members set role = 'guest' where user_id = $1",
            alice.id,
        )
        == "UPDATE 0"
    )
    assert (
        await status(
            db, carol, "update queueit.sessions set allow_explicit = false where id = $1", sid
        )
        == "UPDATE 1"
    )
    assert (
        await status(db, carol, "delete from queueit.session_members where user_id = $1", bob.id)
        == "DELETE 1"
    )


async def test_cohost_cannot_kick_cohost_but_host_can(
    db: Database, new_user: Any, make_session: Any
) -> None:
    host, c1, c2 = await new_user("h"), await new_user("c1"), await new_user("c2")
    s = await make_session(host, guests=[c1, c2])
    async with host.tx(db) as conn:
        await conn.execute(
            "update queueit.session_members set role = 'cohost' where session_id = $1 and role ="
            " 'guest'",
            s.id,
        )
    assert (
        await status(db, c1, "delete from queueit.session_members where user_id = $1", c2.id)
        == "DELETE 0"
    )
    assert (
        await status(db, host, "delete from queueit.session_members where user_id = $1", c2.id)
        == "DELETE 1"
    )


async def test_banned_user_cannot_rejoin(db: Database, party: dict[str, Any]) -> None:
    alice, bob, session = party["alice"], party["bob"], party["session"]
    async with alice.tx(db) as conn:
        await conn.execute(
            "insert into queueit.session_bans (session_id, user_id, banned_by) values ($1, $2, $3)",
            session.id,
            bob.id,
            alice.id,
        )
        await conn.execute("select * from app.append_event($1, 'member_banned', '{}')", session.id)
        assert (
            await conn.execute("delete from queueit.session_members where user_id = $1", bob.id)
            == "DELETE 1"
        )
    async with bob.tx(db) as conn:
        found = await conn.fetchrow(
            "select * from app.find_session_by_code($1)", f"  {session.join_code.lower()} "
        )
    assert found is not None
    assert found["session_id"] == session.id and found["is_banned"] is True
    await denied(
        db,
        bob,
        "insert into queueit.session_members (user_id, session_id) values ($1, $2)",
        bob.id,
        session.id,
    )
    # the ban row is readable by the banned user and the moderators only
    assert (
        await count(db, bob, "select count(*) from queueit.session_bans where user_id = $1", bob.id)
        == 1
    )
    assert (
        await count(
            db,
            party["carol"],
            "select count(*) from queueit.session_bans where user_id = $1",
            bob.id,
        )
        == 0
    )
    # unbanned, the same path works
    async with alice.tx(db) as conn:
        await conn.execute("delete from queueit.session_bans where user_id = $1", bob.id)
    async with bob.tx(db) as conn:
        row = await conn.fetchrow("select * from app.find_session_by_code($1)", session.join_code)
        assert row["is_banned"] is False
        assert await conn.fetchval("select app.join_by_code($1)", session.join_code) == session.id


async def test_nobody_acts_as_someone_else(db: Database, party: dict[str, Any]) -> None:
    alice, bob, carol, sid = party["alice"], party["bob"], party["carol"], party["session"].id
    tid = track_id()
    async with bob.tx(db) as conn:
        await conn.execute(TRACK, tid)
    await denied(
        db,
        bob,
        "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2, $3)",
        sid,
        tid,
        alice.id,
    )
    await denied(
        db,
        bob,
        "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3, 1)",
        party["bob_entry"],
        sid,
        carol.id,
    )
    # changing someone else's vote, or re-owning your own, is not possible either
    assert (
        await status(db, bob, "update queueit.votes set value = -1 where user_id = $1", carol.id)
        == "UPDATE 0"
    )
    await denied(
        db, bob, "update queueit.votes set user_id = $1 where user_id = $2", carol.id, bob.id
    )
    await denied(
        db, bob, "insert into queueit.profiles (id, username) values ($1, 'fake')", carol.id
    )
    assert (
        await status(db, bob, "update queueit.profiles set username = 'x' where id = $1", carol.id)
        == "UPDATE 0"
    )
    await denied(
        db,
        bob,
        "insert into queueit.session_members (user_id, session_id) values ($1, $2)",
        uuid.uuid4(),
        sid,
    )
    await denied(
        db,
        bob,
        "insert into queueit.session_bans (session_id, user_id, banned_by) values ($1, $2, $3)",
        sid,
        carol.id,
        alice.id,
    )
    # the legitimate versions succeed
    async with bob.tx(db) as conn:
        await conn.execute(
            "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2,"
            " $3)",
            sid,
            tid,
            bob.id,
        )
        await conn.execute(
            "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3,"
            " 1)",
            party["bob_entry"],
            sid,
            bob.id,
        )


async def test_votes_and_entries_only_in_current_session(
    db: Database, party: dict[str, Any], new_user: Any, make_session: Any
) -> None:
    bob = party["bob"]
    other_host = await new_user("dave")
    other = await make_session(other_host)
    other_entry = await add_entry(db, other_host, other.id)
    await denied(
        db,
        bob,
        "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3, 1)",
        other_entry,
        other.id,
        bob.id,
    )
    # a vote must name the entry's own session (composite FK), so it cannot be smuggled in
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with bob.tx(db) as conn:
            await conn.execute(
                "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2,"
                " $3, 1)",
                other_entry,
                party["session"].id,
                bob.id,
            )
    # one live session per user: joining a second one without leaving fails
    with pytest.raises(asyncpg.UniqueViolationError):
        async with bob.tx(db) as conn:
            await conn.execute("select app.join_by_code($1)", other.join_code)


async def test_settings_enforced_by_policies(db: Database, party: dict[str, Any]) -> None:
    alice, bob, sid = party["alice"], party["bob"], party["session"].id
    await status(
        db,
        alice,
        "update queueit.sessions set allow_downvotes = false, queue_locked = true where id = $1",
        sid,
    )
    await denied(
        db,
        bob,
        "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3, -1)",
        party["alice_entry"],
        sid,
        bob.id,
    )
    tid = track_id()
    async with bob.tx(db) as conn:
        await conn.execute(TRACK, tid)
    await denied(
        db,
        bob,
        "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2, $3)",
        sid,
        tid,
        bob.id,
    )
    await add_entry(db, alice, sid)  # a moderator may add to a locked queue


async def test_protected_columns(db: Database, party: dict[str, Any]) -> None:
    alice, sid = party["alice"], party["session"].id
    for sql in (
        "update queueit.sessions set last_seq = 0 where id = $1",
        "update queueit.sessions set ended_at = now(), end_reason = 'x' where id = $1",
        "update queueit.sessions set host_id = host_id where id = $1",
        "update queueit.sessions set join_code = 'HACKED' where id = $1",
    ):
        await denied(db, alice, sql, sid)
    await denied(
        db,
        alice,
        "insert into queueit.session_events (session_id, seq, type) values ($1, 99, 'x')",
        sid,
    )
    await denied(db, alice, "delete from queueit.session_events where session_id = $1", sid)
    await denied(db, alice, "delete from queueit.queue_entries where session_id = $1", sid)


async def test_anon_gets_nothing(migrated_dsn: str, party: dict[str, Any]) -> None:
    conn = await asyncpg.connect(migrated_dsn)
    try:
        for table in (
            "profiles",
            "sessions",
            "session_members",
            "session_bans",
            "tracks",
            "queue_entries",
            "votes",
            "skip_votes",
            "session_events",
            "queue_entries_with_votes",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute("set local role anon")
                    await conn.fetch(f"select * from queueit.{table} limit 1")  # noqa: S608
        for call in (
            "select * from app.find_session_by_code('ABCDEF')",
            "select app.my_session_id()",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute("set local role anon")
                    await conn.fetch(call)
        # authenticated without claims (auth.uid() is null) sees no session data either
        async with conn.transaction():
            await conn.execute("set local role authenticated")
            assert await conn.fetchval("select count(*) from queueit.sessions") == 0
            assert await conn.fetchval("select count(*) from queueit.session_events") == 0
            assert await conn.fetchval("select count(*) from queueit.profiles") == 0
    finally:
        await conn.close()


async def test_service_only_functions(db: Database, party: dict[str, Any]) -> None:
    alice, sid = party["alice"], party["session"].id
    for sql, args in (
        ("select * from app.fetch_events($1, 0, 100)", (sid,)),
        ("select app.prune_events(0)", ()),
        ("select * from app.end_idle_sessions('1 second', '0 seconds')", ()),
        ("select * from app._append_event($1, 'x', '{}', true)", (sid,)),
        ("select * from app._end_session($1, 'x', '{}')", (sid,)),
        ("select * from app._playback_transition($1, 'play')", (sid,)),
    ):
        await denied(db, alice, sql, *args)
    async with db.system_conn() as conn:
        rows = await conn.fetch("select * from app.fetch_events($1, 0, 100)", sid)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 2


async def test_create_session_requires_host_membership(db: Database, new_user: Any) -> None:
    """No orphan sessions: the deferred check fails the commit."""
    erin = await new_user("erin")
    with pytest.raises(asyncpg.CheckViolationError):
        async with erin.tx(db) as conn:
            await conn.execute("insert into queueit.sessions (host_id) values ($1)", erin.id)
    assert (
        await count(db, erin, "select count(*) from queueit.sessions where host_id = $1", erin.id)
        == 0
    )
    # nor can one create a session for somebody else
    await denied(db, erin, "insert into queueit.sessions (host_id) values ($1)", uuid.uuid4())


async def test_profile_visibility_follows_shared_session(
    db: Database, party: dict[str, Any]
) -> None:
    alice, bob, mallory = party["alice"], party["bob"], party["mallory"]
    async with bob.tx(db) as conn:  # bob leaves; his queued entry stays
        await conn.execute(
            "select * from app.append_event($1, 'member_left', '{}')", party["session"].id
        )
        await conn.execute("delete from queueit.session_members where user_id = $1", bob.id)
    # alice still sees bob (he added to her queue), mallory never did
    assert (
        await count(db, alice, "select count(*) from queueit.profiles where id = $1", bob.id) == 1
    )
    assert (
        await count(db, mallory, "select count(*) from queueit.profiles where id = $1", bob.id) == 0
    )
    # bob no longer sees the session, nor alice's profile
    assert (
        await count(
            db, bob, "select count(*) from queueit.sessions where id = $1", party["session"].id
        )
        == 0
    )
    assert (
        await count(db, bob, "select count(*) from queueit.profiles where id = $1", alice.id) == 0
    )


async def test_concurrent_votes_are_exact(db: Database, new_user: Any, make_session: Any) -> None:
    host = await new_user("host")
    voters = [await new_user(f"v{i}") for i in range(30)]
    s = await make_session(host, guests=voters)
    entry = await add_entry(db, host, s.id)

    async def flip(i: int, user: Any) -> None:
        # everyone upvotes; every third voter then changes to a downvote, every fifth withdraws
        await vote(db, user, s.id, entry, 1)
        if i % 3 == 0:
            await vote(db, user, s.id, entry, -1)
        if i % 5 == 0:
            async with user.tx(db) as conn:
                await conn.execute(
                    "delete from queueit.votes where entry_id = $1 and user_id = $2", entry, user.id
                )

    await asyncio.gather(*(flip(i, u) for i, u in enumerate(voters)))
    expected = sum(0 if i % 5 == 0 else (-1 if i % 3 == 0 else 1) for i in range(30))
    async with host.tx(db) as conn:
        total = await conn.fetchval(
            "select total_votes from queueit.queue_entries_with_votes where id = $1", entry
        )
    assert total == expected
