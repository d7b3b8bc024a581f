"""session_events: gap-free per-session seq, fan-out reads, retention."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from queueit.db import Database


class Rollback(Exception):
    pass


async def test_append_event_is_gap_free_under_concurrency(
    db: Database, new_user: Any, make_session: Any
) -> None:
    """50 concurrent appends from 10 members, every fifth rolled back: committed seqs are 1..N."""
    host = await new_user("host")
    guests = [await new_user(f"g{i}") for i in range(9)]
    members = [host, *guests]
    session = await make_session(host, guests=guests)
    start = await _last_seq(db, session.id)

    async def append(i: int) -> int | None:
        user = members[i % len(members)]
        try:
            async with user.tx(db) as conn:
                # some work before the append, so transactions really overlap
                await conn.fetchval(
                    "select count(*) from queueit.session_members where session_id = $1", session.id
                )
                row = await conn.fetchrow(
                    "select seq, created_at from app.append_event($1, 'vote_updated', $2)",
                    session.id,
                    {"i": i},
                )
                if i % 5 == 0:
                    raise Rollback
                return int(row["seq"])
        except Rollback:
            return None

    results = await asyncio.gather(*(append(i) for i in range(50)))
    committed = sorted(s for s in results if s is not None)
    assert len(committed) == 40
    assert committed == list(range(start + 1, start + 41))
    assert await _last_seq(db, session.id) == start + 40

    async with db.system_conn() as conn:
        rows = await conn.fetch("select * from app.fetch_events($1, $2, 1000)", session.id, start)
    assert [r["seq"] for r in rows] == committed
    assert sorted(r["payload"]["i"] for r in rows) == sorted(i for i in range(50) if i % 5)
    # created_at follows seq (assigned under the session row lock)
    times = [r["created_at"] for r in rows]
    assert times == sorted(times)


async def _last_seq(db: Database, session_id: Any) -> int:
    async with db.system_conn() as conn:
        return int(
            await conn.fetchval("select last_seq from queueit.sessions where id = $1", session_id)
        )


async def test_events_are_per_session(db: Database, new_user: Any, make_session: Any) -> None:
    a, b = await new_user("a"), await new_user("b")
    sa, sb = await make_session(a), await make_session(b)
    for _ in range(3):
        async with a.tx(db) as conn:
            await conn.execute("select * from app.append_event($1, 'x', '{}')", sa.id)
    async with b.tx(db) as conn:
        seq = await conn.fetchval("select seq from app.append_event($1, 'x', '{}')", sb.id)
    # make_session wrote the host's `member_joined` as seq 1
    assert seq == 2
    assert await _last_seq(db, sa.id) == 4


async def test_fetch_events_window(
    db: Database, service_db: Database, new_user: Any, make_session: Any
) -> None:
    host = await new_user("host")
    s = await make_session(host)
    async with host.tx(db) as conn:
        for i in range(10):
            await conn.execute("select * from app.append_event($1, 'tick', $2)", s.id, {"n": i})
    async with service_db.system_conn() as conn:  # the fan-out runs it as the login role
        page = await conn.fetch("select * from app.fetch_events($1, 3, 4)", s.id)
        assert [r["seq"] for r in page] == [4, 5, 6, 7]
        assert page[0]["type"] == "tick" and page[0]["payload"] == {"n": 2}
        assert await conn.fetch("select * from app.fetch_events($1, 11, 4)", s.id) == []


async def test_member_reads_events_under_rls(
    db: Database, new_user: Any, make_session: Any
) -> None:
    host, guest = await new_user("host"), await new_user("guest")
    s = await make_session(host, guests=[guest])
    async with host.tx(db) as conn:
        await conn.execute(
            "select * from app.append_event($1, 'song_added', $2)", s.id, {"entry_id": "e1"}
        )
    async with guest.tx(db) as conn:
        rows = await conn.fetch(
            "select seq, type, payload from queueit.session_events where session_id = $1 and seq >"
            " 1"
            " order by seq",
            s.id,
        )
    assert [(r["seq"], r["type"], r["payload"]) for r in rows] == [
        (2, "song_added", {"entry_id": "e1"})
    ]


async def test_append_after_leaving_or_ending_fails(
    db: Database, new_user: Any, make_session: Any
) -> None:
    host, guest = await new_user("host"), await new_user("guest")
    s = await make_session(host, guests=[guest])
    # leave: event first, then the membership row, one transaction
    async with guest.tx(db) as conn:
        await conn.execute("select * from app.append_event($1, 'member_left', '{}')", s.id)
        await conn.execute("delete from queueit.session_members where user_id = $1", guest.id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with guest.tx(db) as conn:
            await conn.execute("select * from app.append_event($1, 'x', '{}')", s.id)
    async with host.tx(db) as conn:
        ended = await conn.fetchrow("select * from app.end_session($1)", s.id)
    async with db.system_conn() as conn:
        last = await conn.fetchrow(
            "select seq, type, payload from queueit.session_events where session_id = $1"
            " order by seq desc limit 1",
            s.id,
        )
        assert (last["seq"], last["type"], last["payload"]) == (
            ended["seq"],
            "session_ended",
            {"reason": "host_ended"},
        )
        with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError):
            await conn.fetch("select * from app._append_event($1, 'x', '{}', true)", s.id)


async def test_activity_and_system_events(db: Database, new_user: Any, make_session: Any) -> None:
    host = await new_user("host")
    s = await make_session(host)
    async with db.system_conn() as conn:
        await conn.execute(
            "update queueit.sessions set last_activity_at = now() - interval '1 hour',"
            " idle_warning_sent_at = now() where id = $1",
            s.id,
        )
    async with host.tx(db) as conn:
        await conn.execute("select * from app.append_event($1, 'x', '{}')", s.id)
    async with db.system_conn() as conn:
        row = await conn.fetchrow(
            "select last_activity_at > now() - interval '1 minute' as fresh, idle_warning_sent_at"
            " from queueit.sessions where id = $1",
            s.id,
        )
    assert row["fresh"] is True and row["idle_warning_sent_at"] is None


async def test_prune_events_keeps_the_tail(fresh_dsn: str) -> None:
    database = Database(fresh_dsn, min_size=1, max_size=4)
    await database.start()
    try:
        async with database.system_conn() as conn:
            sid = await conn.fetchval(
                "with p as (insert into queueit.profiles (id, username) values (gen_random_uuid(),"
                " 'p')"
                " returning id),"
                " s as (insert into queueit.sessions (host_id) select id from p returning id,"
                " host_id),"
                " m as (insert into queueit.session_members (user_id, session_id, role)"
                "       select host_id, id, 'host' from s)"
                " select id from s"
            )
            for _ in range(12):
                await conn.execute("select * from app._append_event($1, 't', '{}', true)", sid)
            assert await conn.fetchval("select app.prune_events(5)") == 7
            seqs = [
                r["seq"]
                for r in await conn.fetch(
                    "select seq from queueit.session_events where session_id = $1 order by seq", sid
                )
            ]
            assert seqs == [8, 9, 10, 11, 12]
    finally:
        await database.close()
