"""SQL of the sessions feature (membership, creation, leaving, ending, playback, skip votes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from queueit.db import Connection
from queueit.http.problems import Conflict


def as_uuid(value: Any) -> UUID:
    """asyncpg's own UUID class as the standard one (the JSON encoder knows only that)."""
    return value if type(value) is UUID else UUID(str(value))


def as_uuid_or_none(value: Any) -> UUID | None:
    return None if value is None else as_uuid(value)


@dataclass(frozen=True, slots=True)
class Membership:
    session_id: UUID
    role: str


@dataclass(frozen=True, slots=True)
class Access:
    """`app.session_access`: the caller and one session."""

    found: bool
    ended: bool
    banned: bool
    role: str | None
    last_seq: int


@dataclass(frozen=True, slots=True)
class PlaybackResult:
    changed: bool
    finished_entry_id: UUID | None
    stale: bool = False  # the call named an entry that is not the one playing: nothing changed


@dataclass(frozen=True, slots=True)
class SkipVoteResult:
    votes: int
    needed: int
    skipped: bool


async def my_membership(conn: Connection) -> Membership | None:
    row = await conn.fetchrow(
        "select m.session_id, m.role from queueit.session_members m where m.user_id = auth.uid()"
    )
    return None if row is None else Membership(as_uuid(row["session_id"]), row["role"])


async def session_access(conn: Connection, session_id: UUID) -> Access:
    row = await conn.fetchrow("select * from app.session_access($1)", session_id)
    assert row is not None
    return Access(
        bool(row["found"]),
        bool(row["ended"]),
        bool(row["banned"]),
        row["role"],
        int(row["last_seq"] or 0),
    )


_SETTING_COLUMNS = (
    "queue_locked",
    "allow_downvotes",
    "max_queued_per_user",
    "max_track_duration_ms",
    "allow_explicit",
    "skip_vote_share",
    "skip_vote_min",
)


async def insert_session(
    conn: Connection, host_id: UUID, join_code: str, settings: dict[str, Any]
) -> UUID | None:
    """The new session's id, or None when a live session already uses `join_code`."""
    columns = [c for c in _SETTING_COLUMNS if c in settings]
    names = ", ".join(["host_id", "join_code", *columns])
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 3))
    sql = (
        f"insert into queueit.sessions ({names}) values ({params})"  # noqa: S608 - fixed names
        " on conflict (join_code) where ended_at is null do nothing returning id"
    )
    value = await conn.fetchval(sql, host_id, join_code, *(settings[c] for c in columns))
    return as_uuid_or_none(value)


async def update_settings(conn: Connection, session_id: UUID, changes: dict[str, Any]) -> bool:
    """Write the changed settings (RLS: moderators only). False when no row was updated."""
    columns = [c for c in _SETTING_COLUMNS if c in changes]
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    sql = (
        f"update queueit.sessions set {assignments}"  # noqa: S608 - fixed column names
        " where id = $1 and ended_at is null returning id"
    )
    return await conn.fetchval(sql, session_id, *(changes[c] for c in columns)) is not None


async def insert_host(conn: Connection, user_id: UUID, session_id: UUID) -> None:
    await conn.execute(
        "insert into queueit.session_members (user_id, session_id, role) values ($1, $2, 'host')",
        user_id,
        session_id,
    )


async def join_by_code(conn: Connection, code: str) -> UUID | None:
    """Join as a guest through `app.join_by_code` (the database checks the code; a guest row
    cannot be inserted directly). None when no live session has this code."""
    session_id = await conn.fetchval("select app.join_by_code($1)", code)
    return None if session_id is None else as_uuid(session_id)


async def find_by_code(conn: Connection, code: str) -> tuple[UUID, bool] | None:
    row = await conn.fetchrow(
        "select session_id, is_banned from app.find_session_by_code($1)", code
    )
    return None if row is None else (as_uuid(row["session_id"]), bool(row["is_banned"]))


async def member_role(conn: Connection, session_id: UUID, user_id: UUID) -> str | None:
    role = await conn.fetchval(
        "select role from queueit.session_members where session_id = $1 and user_id = $2",
        session_id,
        user_id,
    )
    return None if role is None else str(role)


async def successor(
    conn: Connection, session_id: UUID, leaving: UUID, *, anonymous: bool
) -> UUID | None:
    """Who becomes host when `leaving` (the host) goes: the longest-standing co-host, else the
    longest-standing guest; anonymous members only when `anonymous`."""
    value = await conn.fetchval(
        "select m.user_id from queueit.session_members m"
        " join queueit.profiles p on p.id = m.user_id"
        " where m.session_id = $1 and m.user_id <> $2 and ($3 or not p.is_anonymous)"
        " order by case m.role when 'cohost' then 0 else 1 end, m.joined_at, m.user_id limit 1",
        session_id,
        leaving,
        anonymous,
    )
    return as_uuid_or_none(value)


async def is_anonymous(conn: Connection, user_id: UUID) -> bool:
    """Whether the user signed in anonymously (their profile says so; RLS: visible profiles)."""
    return bool(
        await conn.fetchval("select is_anonymous from queueit.profiles where id = $1", user_id)
    )


async def transfer_host(conn: Connection, session_id: UUID, new_host: UUID) -> None:
    await conn.execute("select app.transfer_host($1, $2)", session_id, new_host)


async def delete_member(conn: Connection, session_id: UUID, user_id: UUID) -> bool:
    """Remove a membership (RLS: yourself; moderators guests; the host co-hosts)."""
    value = await conn.fetchval(
        "delete from queueit.session_members where session_id = $1 and user_id = $2"
        " returning user_id",
        session_id,
        user_id,
    )
    return value is not None


async def end_session(conn: Connection, session_id: UUID, reason: str) -> tuple[int, datetime]:
    """`app.end_session`: writes `session_ended {reason}` and removes every membership."""
    row = await conn.fetchrow(
        "select seq, created_at from app.end_session($1, $2)", session_id, reason
    )
    assert row is not None
    return int(row["seq"]), row["created_at"]


async def control_playback(
    conn: Connection, session_id: UUID, action: str, entry_id: UUID | None
) -> PlaybackResult:
    """The playback transition; `entry_id`: only if that entry is the one playing (else
    nothing changes and `stale` is set)."""
    row = await conn.fetchrow(
        "select changed, finished_entry_id, stale from app.control_playback_of($1, $2, $3)",
        session_id,
        action,
        entry_id,
    )
    assert row is not None
    return PlaybackResult(
        bool(row["changed"]), as_uuid_or_none(row["finished_entry_id"]), bool(row["stale"])
    )


async def current_entry(conn: Connection, session_id: UUID) -> UUID | None:
    value = await conn.fetchval(
        "select current_entry_id from queueit.sessions where id = $1", session_id
    )
    return as_uuid_or_none(value)


async def has_skip_vote(conn: Connection, entry_id: UUID, user_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "select exists (select 1 from queueit.skip_votes where entry_id = $1 and user_id = $2)",
            entry_id,
            user_id,
        )
    )


async def vote_skip(conn: Connection, entry_id: UUID) -> SkipVoteResult:
    try:
        row = await conn.fetchrow("select votes, needed, skipped from app.vote_skip($1)", entry_id)
    except asyncpg.ObjectNotInPrerequisiteStateError as exc:  # the entry stopped playing
        raise Conflict("nothing_playing", "That track is no longer playing.") from exc
    assert row is not None
    return SkipVoteResult(int(row["votes"]), int(row["needed"]), bool(row["skipped"]))


# --- system jobs (login role, `Database.system_conn`) --------------------------------------------


async def end_idle_sessions(
    conn: Connection, idle_minutes: int, warning_minutes: int
) -> list[tuple[UUID, str, int]]:
    """`app.end_idle_sessions`: (session, "warned" | "ended", seq of the event written)."""
    rows = await conn.fetch(
        "select session_id, action, seq from app.end_idle_sessions("
        "make_interval(mins => $1), make_interval(mins => $2))",
        idle_minutes,
        warning_minutes,
    )
    return [(as_uuid(row["session_id"]), row["action"], int(row["seq"])) for row in rows]
