"""DELETE /api/v1/me: the caller's data goes, every live session is told, and on Supabase the
Auth user goes with it — through a local stand-in of the Auth admin endpoint, over real HTTP,
on a database that has Supabase Auth's `auth.users`."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from apikit import Actor, events_of, ok, problem, track, types
from auth_standin import KEY, AuthStandIn
from pgserver.postgres_server import PostgresServer

from queueit.db import Database, apply
from queueit.db.migrate import bootstrap_files

# Supabase Auth's table, as far as these tests need it (its real migrations define more
# columns), with the grant Supabase gives `postgres` on it (played by queueit_owner).
AUTH_USERS = """
create table auth.users (
  id uuid primary key,
  email varchar(255),
  is_anonymous boolean not null default false,
  created_at timestamptz default now()
);
grant all on all tables in schema auth to queueit_owner;
"""


async def admin_fetch(dsn: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def profile_exists(dsn: str, user_id: uuid.UUID) -> bool:
    rows = await admin_fetch(dsn, "select 1 from queueit.profiles where id = $1", user_id)
    return bool(rows)


async def test_a_guest_deletes_their_account(actor: Any, db: Database, migrated_dsn: str) -> None:
    host, guest, other = await actor("host"), await actor("guest"), await actor("other")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    ok(await other.join(s["join_code"]))
    hosts_song = ok(await host.add(track()))["id"]
    guests_song = ok(await guest.add(track()))["id"]
    ok(await guest.vote(hosts_song, 1))
    ok(await other.vote(guests_song, 1))
    seq = (await events_of(db, s["id"]))[-1].seq

    response = await guest.client.delete("/api/v1/me")
    assert response.status_code == 204 and response.content == b""

    events = await events_of(db, s["id"], after=seq)  # each checked against the contract
    assert types(events) == ["votes_updated", "song_removed", "member_left"]
    assert events[0].data.queued_song_id == uuid.UUID(hosts_song)
    assert events[0].data.total_votes == 1
    assert events[1].data.queued_song_id == uuid.UUID(guests_song)
    assert events[2].data.user_id == guest.id and events[2].data.member_count == 2
    state = ok(await host.current())
    assert [e["id"] for e in state["queue"]] == [hosts_song]
    assert state["queue"][0]["votes"] == 1 and state["session"]["member_count"] == 2
    assert not await profile_exists(migrated_dsn, guest.id)
    # a retry (or a second device) finds nothing left and still answers 204
    assert (await guest.client.delete("/api/v1/me")).status_code == 204


async def test_a_host_deleting_their_account_ends_the_party(
    actor: Any, db: Database, migrated_dsn: str
) -> None:
    host, guest = await actor("host"), await actor("guest")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    ok(await guest.add(track()))
    ok(await host.control("play"))  # the guest's song is playing
    ok(await host.client.delete("/api/v1/me"), 204)
    # only the final event is left, for the phones to receive; the rest named the members
    (seq,) = [
        r["seq"]
        for r in await admin_fetch(
            migrated_dsn,
            "select seq from queueit.session_events where session_id = $1",
            uuid.UUID(s["id"]),
        )
    ]
    (last,) = await events_of(db, s["id"], after=seq - 1)  # checked against the contract
    assert last.type == "session_ended" and last.data.reason == "host_ended" and seq > 3
    problem(await guest.current(), 404, "not_in_session")
    (ended,) = await admin_fetch(
        migrated_dsn,
        "select ended_at, host_id from queueit.sessions where id = $1",
        uuid.UUID(s["id"]),
    )
    assert ended["ended_at"] is not None and ended["host_id"] is None
    assert await profile_exists(migrated_dsn, guest.id)  # the guest's account is untouched


async def test_a_playing_song_of_a_deleted_account_stops_playback(actor: Any, db: Database) -> None:
    host, guest = await actor("host"), await actor("guest")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    ok(await guest.add(track()))
    ok(await host.control("play"))
    seq = (await events_of(db, s["id"]))[-1].seq
    ok(await guest.client.delete("/api/v1/me"), 204)
    events = await events_of(db, s["id"], after=seq)
    assert types(events) == ["playback_changed", "member_left"]
    assert events[0].data.playback.state.value == "stopped"
    assert events[0].data.playback.current is None
    playback = ok(await host.current())["playback"]
    assert playback["state"] == "stopped" and playback["current"] is None


# --- with Supabase Auth ------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def auth_dsn(pg_server: PostgresServer, pg_dsn: str) -> AsyncIterator[str]:
    """A database built as on Supabase: `auth.users` exists before the migrations run."""
    name = f"queueit_auth_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    dsn = str(pg_server.get_uri(name))
    conn = await asyncpg.connect(dsn)
    try:
        for path in bootstrap_files():  # Supabase's roles and auth schema first
            await conn.execute(path.read_text(encoding="utf-8"))
        await conn.execute(AUTH_USERS)
    finally:
        await conn.close()
    await apply(dsn)
    yield dsn
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


@pytest.fixture
def stand_in(auth_dsn: str) -> Iterator[AuthStandIn]:
    server = AuthStandIn(auth_dsn)
    yield server
    server.close()


async def signed_up(actor: Any, server: Any, dsn: str, name: str) -> Actor:
    """An actor with an Auth user, as every account on Supabase has."""
    person: Actor = await actor(name, server=server)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("insert into auth.users (id, email) values ($1, $2)", person.id, name)
    finally:
        await conn.close()
    return person


async def test_deleting_through_supabase_auth(
    start_server: Any, actor: Any, auth_dsn: str, stand_in: AuthStandIn
) -> None:
    live = start_server(dsn=auth_dsn, supabase_auth_url=stand_in.url, supabase_service_role_key=KEY)
    host = await signed_up(actor, live, auth_dsn, "host")
    guest = await signed_up(actor, live, auth_dsn, "guest")
    s = ok(await host.create())["session"]
    ok(await guest.join(s["join_code"]))
    # every profile belongs to an Auth user here: one without is refused by the database
    stray = await actor("stray", server=live)
    assert (await stray.current()).status_code >= 400

    # the Auth server fails: nothing is deleted, 503 says retry
    stand_in.mode = "error"
    failed = problem(await host.client.delete("/api/v1/me"), 503, "service_unavailable")
    assert "nothing was deleted" in failed["detail"]
    stand_in.mode = "down"
    problem(await host.client.delete("/api/v1/me"), 503, "service_unavailable")
    assert await profile_exists(auth_dsn, host.id)
    assert ok(await guest.current())["session"]["host"]["id"] == str(host.id)
    assert await admin_fetch(auth_dsn, "select 1 from auth.users where id = $1", host.id)

    # it answers: the Auth user goes, and its trigger takes the data with it, events and all
    stand_in.mode = "ok"
    ok(await host.client.delete("/api/v1/me"), 204)
    sent = stand_in.requests[-1]
    assert sent["path"] == f"/auth/v1/admin/users/{host.id}"
    assert sent["headers"]["apikey"] == KEY
    assert not await admin_fetch(auth_dsn, "select 1 from auth.users where id = $1", host.id)
    assert not await profile_exists(auth_dsn, host.id)
    problem(await guest.current(), 404, "not_in_session")
    rows = await admin_fetch(
        auth_dsn,
        "select type, payload ->> 'reason' as reason from queueit.session_events"
        " where session_id = $1",
        uuid.UUID(s["id"]),
    )
    assert [(r["type"], r["reason"]) for r in rows] == [("session_ended", "host_ended")]


async def test_deleting_an_auth_user_in_the_dashboard_forgets_them(
    auth_dsn: str, pg_server: PostgresServer
) -> None:
    """Deleted outside the service (dashboard, Auth API): the trigger still ends their party and
    tells the other instances (NOTIFY on the realtime channel)."""
    host_id, guest_id = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(auth_dsn)
    listener = await asyncpg.connect(auth_dsn)
    heard: list[str] = []
    await listener.add_listener("queueit_events", lambda *a: heard.append(a[3]))
    try:
        await conn.execute("insert into auth.users (id) values ($1), ($2)", host_id, guest_id)
        await conn.execute(
            "insert into queueit.profiles (id, username) values ($1, 'h'), ($2, 'g')",
            host_id,
            guest_id,
        )
        async with conn.transaction():  # a session is created with its host member
            sid = await conn.fetchval(
                "insert into queueit.sessions (host_id) values ($1) returning id", host_id
            )
            await conn.execute(
                "insert into queueit.session_members (user_id, session_id, role)"
                " values ($1, $3, 'host'), ($2, $3, 'guest')",
                host_id,
                guest_id,
                sid,
            )
        await conn.execute("delete from auth.users where id = $1", guest_id)
        assert (
            await conn.fetchval(
                "select count(*) from queueit.session_members where session_id = $1", sid
            )
            == 1
        )
        await conn.execute("delete from auth.users where id = $1", host_id)
        assert (
            await conn.fetchval(
                "select count(*) from queueit.profiles where id = any($1)", [host_id, guest_id]
            )
            == 0
        )
        for _ in range(50):
            if len(heard) >= 2:
                break
            await listener.fetchval("select 1")
        assert [h.partition(":")[0] for h in heard] == [str(sid), str(sid)]
    finally:
        await listener.close()
        await conn.close()


async def test_deleting_an_auth_user_with_500_votes_and_50_songs_in_a_live_party(
    auth_dsn: str,
) -> None:
    """Before: the trigger sent one (session, seq) pair per event in one NOTIFY, and PostgreSQL
    refuses payloads of 8,000 bytes or more: the delete rolled back."""
    host_id, guest_id = uuid.uuid4(), uuid.uuid4()
    run = secrets.token_hex(4)
    conn = await asyncpg.connect(auth_dsn)
    listener = await asyncpg.connect(auth_dsn)
    heard: list[str] = []
    await listener.add_listener("queueit_events", lambda *a: heard.append(a[3]))
    try:
        await conn.execute("insert into auth.users (id) values ($1), ($2)", host_id, guest_id)
        await conn.execute(
            "insert into queueit.profiles (id, username) values ($1, 'h'), ($2, 'g')",
            host_id,
            guest_id,
        )
        async with conn.transaction():
            sid = await conn.fetchval(
                "insert into queueit.sessions (host_id) values ($1) returning id", host_id
            )
            await conn.execute(
                "insert into queueit.session_members (user_id, session_id, role)"
                " values ($1, $3, 'host'), ($2, $3, 'guest')",
                host_id,
                guest_id,
                sid,
            )
            tracks = [f"t{run}{i:03d}" for i in range(550)]
            await conn.executemany(
                "insert into queueit.tracks (id, name, artists, duration_ms)"
                " values ($1, 'Song', 'Artist', 180000)",
                [(t,) for t in tracks],
            )
            entries = await conn.fetch(
                "insert into queueit.queue_entries (session_id, track_id, added_by)"
                " select $1, t, case when n <= 500 then $2::uuid else $3::uuid end"
                " from unnest($4::text[]) with ordinality as x(t, n) returning id, added_by",
                sid,
                host_id,
                guest_id,
                tracks,
            )
            hosts = [e["id"] for e in entries if e["added_by"] == host_id]
            await conn.executemany(
                "insert into queueit.votes (entry_id, session_id, user_id, value)"
                " values ($1, $2, $3, 1)",
                [(e, sid, guest_id) for e in hosts],
            )
        assert len(hosts) == 500
        before = await conn.fetchval(
            "select coalesce(max(seq), 0) from queueit.session_events where session_id = $1", sid
        )

        await conn.execute("delete from auth.users where id = $1", guest_id)

        assert not await conn.fetchval("select 1 from queueit.profiles where id = $1", guest_id)
        assert (
            await conn.fetchval("select count(*) from queueit.votes where user_id = $1", guest_id)
            == 0
        )
        last = await conn.fetchval(
            "select max(seq) from queueit.session_events where session_id = $1", sid
        )
        assert last - before == 500 + 50 + 1  # votes withdrawn, songs removed, member left
        for _ in range(50):
            if heard:
                break
            await listener.fetchval("select 1")
        pairs = [p for payload in heard for p in payload.split(",")]
        assert pairs == [f"{sid}:{last}"], heard  # the newest seq of each session it touched
        assert all(len(payload.encode()) < 8000 for payload in heard)
    finally:
        await listener.close()
        await conn.close()
