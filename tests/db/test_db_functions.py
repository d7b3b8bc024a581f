"""The SQL functions and integrity rules: join codes, ending, idle reaper, playback, skip votes."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
import pytest

from queueit.db import Database, generate_join_code, normalize_join_code

CODE = re.compile(r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$")


async def add_entry(db: Database, user: Any, session_id: uuid.UUID, duration: int = 200_000) -> Any:
    tid = uuid.uuid4().hex[:22]
    async with user.tx(db) as conn:
        await conn.execute(
            "insert into queueit.tracks (id, name, artists, duration_ms) values ($1, 'n', 'a', $2)",
            tid,
            duration,
        )
        return await conn.fetchval(
            "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2, $3)"
            " returning id",
            session_id,
            tid,
            user.id,
        )


async def upvote(db: Database, user: Any, session_id: uuid.UUID, entry_id: Any) -> None:
    async with user.tx(db) as conn:
        await conn.execute(
            "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3,"
            " 1)",
            entry_id,
            session_id,
            user.id,
        )


async def session_row(db: Database, session_id: uuid.UUID) -> Any:
    async with db.system_conn() as conn:
        return await conn.fetchrow("select * from queueit.sessions where id = $1", session_id)


async def entry_status(db: Database, entry_id: Any) -> str:
    async with db.system_conn() as conn:
        return str(
            await conn.fetchval("select status from queueit.queue_entries where id = $1", entry_id)
        )


# --- join codes --------------------------------------------------------------------------------


async def test_generated_and_chosen_join_codes(
    db: Database, new_user: Any, make_session: Any
) -> None:
    async with db.system_conn() as conn:
        codes = [await conn.fetchval("select app.new_join_code()") for _ in range(200)]
    assert all(CODE.match(c) for c in codes)
    assert len(set(codes)) > 190  # random, not constant
    assert all(CODE.match(generate_join_code()) for _ in range(50))
    assert normalize_join_code("  party1 ") == "PARTY1"
    assert normalize_join_code("abc") is None and normalize_join_code("A-B-C-D") is None

    host, other = await new_user("host"), await new_user("other")
    assert CODE.match((await make_session(await new_user("defaulted"))).join_code)  # 8 long
    chosen = "Q" + uuid.uuid4().hex[:8].upper()
    s = await make_session(host, join_code=chosen)
    assert s.join_code == chosen
    # taken among live sessions: ON CONFLICT gives no row (the service answers 409)
    async with other.tx(db) as conn:
        row = await conn.fetchrow(
            "insert into queueit.sessions (host_id, join_code) values ($1, $2)"
            " on conflict (join_code) where ended_at is null do nothing returning id",
            other.id,
            chosen,
        )
        assert row is None
    # invalid codes are rejected by the CHECK
    with pytest.raises(asyncpg.CheckViolationError):
        async with other.tx(db) as conn:
            await conn.execute(
                "insert into queueit.sessions (host_id, join_code) values ($1, 'bad code')",
                other.id,
            )
    # once the session ends, the code is free again
    async with host.tx(db) as conn:
        await conn.execute("select * from app.end_session($1)", s.id)
    reused = await make_session(other, join_code=chosen)
    assert reused.join_code == chosen


async def test_find_session_by_code(db: Database, new_user: Any, make_session: Any) -> None:
    host, joiner = await new_user("host"), await new_user("joiner")
    s = await make_session(host)
    async with joiner.tx(db) as conn:
        row = await conn.fetchrow("select * from app.find_session_by_code($1)", s.join_code.lower())
        assert row["session_id"] == s.id and row["is_banned"] is False
        assert await conn.fetchrow("select * from app.find_session_by_code('NOPE42')") is None
        # the joiner cannot read the session before joining, only find its id
        assert await conn.fetchval("select count(*) from queueit.sessions where id = $1", s.id) == 0
        assert await conn.fetchval("select app.join_by_code($1)", s.join_code.lower()) == s.id
        assert await conn.fetchval("select count(*) from queueit.sessions where id = $1", s.id) == 1
    async with host.tx(db) as conn:
        await conn.execute("select * from app.end_session($1)", s.id)
    async with joiner.tx(db) as conn:
        assert (
            await conn.fetchrow("select * from app.find_session_by_code($1)", s.join_code) is None
        )


# --- ending ------------------------------------------------------------------------------------


async def test_end_session(db: Database, new_user: Any, make_session: Any) -> None:
    host, cohost, guest = await new_user("h"), await new_user("c"), await new_user("g")
    s = await make_session(host, guests=[cohost, guest])
    entry = await add_entry(db, guest, s.id)
    async with host.tx(db) as conn:
        await conn.execute(
            "update queueit.session_members set role = 'cohost' where user_id = $1", cohost.id
        )
        await conn.fetch("select * from app.control_playback($1, 'play')", s.id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with guest.tx(db) as conn:
            await conn.fetch("select * from app.end_session($1)", s.id)
    async with cohost.tx(db) as conn:
        await conn.fetch("select * from app.end_session($1, 'party_over')", s.id)
    row = await session_row(db, s.id)
    assert row["ended_at"] is not None and row["end_reason"] == "party_over"
    assert row["playback_state"] == "stopped" and row["current_entry_id"] is None
    assert await entry_status(db, entry) == "played"
    async with db.system_conn() as conn:
        assert (
            await conn.fetchval(
                "select count(*) from queueit.session_members where session_id = $1", s.id
            )
            == 0
        )
    # everyone is free to join elsewhere, and nobody can touch the ended session any more
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with host.tx(db) as conn:
            await conn.fetch("select * from app.end_session($1)", s.id)


async def test_idle_reaper_warns_then_ends(
    db: Database, service_db: Database, new_user: Any, make_session: Any
) -> None:
    host = await new_user("host")
    s = await make_session(host)
    reap = "select * from app.end_idle_sessions('4 hours', '10 minutes') where session_id = $1"

    async def reap_once() -> list[Any]:  # as the service's login role runs it
        async with service_db.system_conn() as conn:
            return list(await conn.fetch(reap, s.id))

    assert await reap_once() == []  # active
    async with db.system_conn() as conn:
        await conn.execute(
            "update queueit.sessions set last_activity_at = now() - interval '5 hours' where id ="
            " $1",
            s.id,
        )
    warned = await reap_once()
    assert [r["action"] for r in warned] == ["warned"]
    async with db.system_conn() as conn:
        ev = await conn.fetchrow(
            "select type, payload from queueit.session_events where session_id = $1 and seq = $2",
            s.id,
            warned[0]["seq"],
        )
    assert ev["type"] == "session_ending"  # the contract's SessionEndingEvent
    assert ev["payload"]["reason"] == "idle"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ev["payload"]["ends_at"])
    # the warning is fresh: not ended yet, even though idle for 5 hours
    assert await reap_once() == []
    async with db.system_conn() as conn:
        await conn.execute(
            "update queueit.sessions set idle_warning_sent_at = now() - interval '11 minutes'"
            " where id = $1",
            s.id,
        )
    ended = await reap_once()
    assert [r["action"] for r in ended] == ["ended"]
    row = await session_row(db, s.id)
    assert row["end_reason"] == "idle" and row["ended_at"] is not None


async def test_activity_cancels_idle_warning(
    db: Database, new_user: Any, make_session: Any
) -> None:
    host = await new_user("host")
    s = await make_session(host)
    async with db.system_conn() as conn:
        await conn.execute(
            "update queueit.sessions set last_activity_at = now() - interval '5 hours' where id ="
            " $1",
            s.id,
        )
        await conn.fetch("select * from app.end_idle_sessions('4 hours', '10 minutes')")
    async with host.tx(db) as conn:
        await conn.execute("select * from app.append_event($1, 'song_added', '{}')", s.id)
    async with db.system_conn() as conn:
        rows = await conn.fetch(
            "select * from app.end_idle_sessions('4 hours', '10 minutes') where session_id = $1",
            s.id,
        )
    assert rows == []
    row = await session_row(db, s.id)
    assert row["ended_at"] is None and row["idle_warning_sent_at"] is None


# --- playback ----------------------------------------------------------------------------------


async def test_playback_state_machine(db: Database, new_user: Any, make_session: Any) -> None:
    host, g1, g2 = await new_user("h"), await new_user("g1"), await new_user("g2")
    s = await make_session(host, guests=[g1, g2])

    async def control(action: str) -> Any:
        async with host.tx(db) as conn:
            return await conn.fetchrow("select * from app.control_playback($1, $2)", s.id, action)

    empty = await control("play")
    assert empty["changed"] is False and empty["playback_state"] == "stopped"

    first = await add_entry(db, g1, s.id)
    second = await add_entry(db, g2, s.id)
    third = await add_entry(db, g1, s.id)
    await upvote(db, g1, s.id, second)
    await upvote(db, g2, s.id, second)
    await upvote(db, g2, s.id, third)
    # order: second (2 votes), third (1), first (0)
    r = await control("play")
    assert r["changed"] and r["playback_state"] == "playing" and r["current_entry_id"] == second
    assert await entry_status(db, second) == "playing"
    assert (await control("play"))["changed"] is False

    r = await control("pause")
    assert r["playback_state"] == "paused" and r["paused_at"] is not None
    started = r["playback_started_at"]
    r = await control("play")
    assert r["playback_state"] == "playing" and r["paused_at"] is None
    assert r["playback_started_at"] >= started  # shifted by the pause

    r = await control("skip")
    assert r["finished_entry_id"] == second and r["current_entry_id"] == third
    assert await entry_status(db, second) == "skipped"
    r = await control("next")
    assert r["finished_entry_id"] == third and r["current_entry_id"] == first
    assert await entry_status(db, third) == "played"
    r = await control("next")
    assert r["playback_state"] == "stopped" and r["current_entry_id"] is None
    assert await entry_status(db, first) == "played"

    with pytest.raises(asyncpg.InvalidParameterValueError):
        await control("rewind")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with g1.tx(db) as conn:
            await conn.fetch("select * from app.control_playback($1, 'play')", s.id)


async def test_entry_status_only_moves_forward(
    db: Database, new_user: Any, make_session: Any
) -> None:
    host = await new_user("h")
    s = await make_session(host)
    entry = await add_entry(db, host, s.id)
    async with host.tx(db) as conn:
        await conn.execute(
            "update queueit.queue_entries set status = 'removed' where id = $1", entry
        )
        finished = await conn.fetchval(
            "select finished_at from queueit.queue_entries where id = $1", entry
        )
        assert finished is not None
    with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError):
        async with host.tx(db) as conn:
            await conn.execute(
                "update queueit.queue_entries set status = 'queued' where id = $1", entry
            )
    # a removed track may be queued again; a second queued copy may not
    async with host.tx(db) as conn:
        tid = await conn.fetchval("select track_id from queueit.queue_entries where id = $1", entry)
        await conn.execute(
            "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2,"
            " $3)",
            s.id,
            tid,
            host.id,
        )
    with pytest.raises(asyncpg.UniqueViolationError):
        async with host.tx(db) as conn:
            await conn.execute(
                "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1,"
                " $2, $3)",
                s.id,
                tid,
                host.id,
            )


async def test_vote_skip(db: Database, new_user: Any, make_session: Any) -> None:
    host = await new_user("h")
    guests = [await new_user(f"g{i}") for i in range(4)]
    s = await make_session(host, guests=guests)  # 5 members: needed = max(2, ceil(0.5*5)) = 3
    playing = await add_entry(db, host, s.id)
    queued = await add_entry(db, host, s.id)
    async with host.tx(db) as conn:
        await conn.fetch("select * from app.control_playback($1, 'play')", s.id)

    async def skip(user: Any, entry: Any) -> Any:
        async with user.tx(db) as conn:
            return await conn.fetchrow("select * from app.vote_skip($1)", entry)

    with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError):
        await skip(guests[0], queued)  # not the playing entry
    r = await skip(guests[0], playing)
    assert (r["votes"], r["needed"], r["skipped"]) == (1, 3, False)
    r = await skip(guests[0], playing)  # idempotent
    assert (r["votes"], r["skipped"]) == (1, False)
    r = await skip(guests[1], playing)
    assert (r["votes"], r["skipped"]) == (2, False)
    r = await skip(guests[2], playing)  # a guest's vote completes the skip
    assert (r["votes"], r["needed"], r["skipped"]) == (3, 3, True)
    assert await entry_status(db, playing) == "skipped"
    assert (await session_row(db, s.id))["current_entry_id"] == queued

    outsider = await new_user("outsider")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await skip(outsider, queued)


async def test_transfer_host(db: Database, new_user: Any, make_session: Any) -> None:
    host, guest = await new_user("h"), await new_user("g")
    s = await make_session(host, guests=[guest])
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with guest.tx(db) as conn:
            await conn.execute("select app.transfer_host($1, $2)", s.id, guest.id)
    async with host.tx(db) as conn:
        await conn.execute("select app.transfer_host($1, $2)", s.id, guest.id)
    async with db.system_conn() as conn:
        roles = dict(
            (r["user_id"], r["role"])
            for r in await conn.fetch(
                "select user_id, role from queueit.session_members where session_id = $1", s.id
            )
        )
    assert roles == {host.id: "cohost", guest.id: "host"}
    assert (await session_row(db, s.id))["host_id"] == guest.id


# --- data checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("image_url", "http://insecure.example/x.jpg"),
        ("image_url", "javascript:alert(1)"),
        ("name", "bad\nname"),
        ("name", "x" * 501),
        ("id", "has space"),
    ],
)
async def test_track_checks(db: Database, new_user: Any, column: str, value: str) -> None:
    user = await new_user("u")
    row = {"id": uuid.uuid4().hex[:22], "name": "n", "image_url": "https://ok.example/a.jpg"}
    row[column] = value
    with pytest.raises(asyncpg.CheckViolationError):
        async with user.tx(db) as conn:
            await conn.execute(
                "insert into queueit.tracks (id, name, artists, duration_ms, image_url)"
                " values ($1, $2, 'a', 1000, $3)",
                row["id"],
                row["name"],
                row["image_url"],
            )


async def test_profile_avatar_must_be_https(db: Database, new_user: Any) -> None:
    user = await new_user("u")
    with pytest.raises(asyncpg.CheckViolationError):
        async with user.tx(db) as conn:
            await conn.execute(
                "update queueit.profiles set avatar_url = 'http://x.example/a.png' where id = $1",
                user.id,
            )
    async with user.tx(db) as conn:
        await conn.execute(
            "update queueit.profiles set avatar_url = 'https://x.example/a.png' where id = $1",
            user.id,
        )
