"""SQL of the songs feature."""

# Queries are composed from the constant fragments below only; every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from queueit.db import Connection
from queueit.sessions.repository import as_uuid, as_uuid_or_none
from queueit.spotify.track import Track


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    outcome: str
    session_id: UUID | None
    total_votes: int | None
    seq: int | None


@dataclass(frozen=True, slots=True)
class Entry:
    session_id: UUID
    status: str
    added_by: UUID


_TRACK_COLUMNS = "id, isrc, name, artists, album, duration_ms, image_url, explicit"

# What the track source said is the truth: refresh the shared row (only when it differs).
_UPSERT_TRACK = f"""
insert into queueit.tracks as t ({_TRACK_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (id) do update
   set isrc = excluded.isrc, name = excluded.name, artists = excluded.artists,
       album = excluded.album, duration_ms = excluded.duration_ms,
       image_url = excluded.image_url, explicit = excluded.explicit
 where (t.isrc, t.name, t.artists, t.album, t.duration_ms, t.image_url, t.explicit)
       is distinct from (excluded.isrc, excluded.name, excluded.artists, excluded.album,
                         excluded.duration_ms, excluded.image_url, excluded.explicit)
"""

# What only a client claims never overwrites the shared row.
_INSERT_TRACK = f"""
insert into queueit.tracks ({_TRACK_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (id) do nothing
"""


async def save_track(conn: Connection, track: Track, *, authoritative: bool) -> None:
    await conn.execute(
        _UPSERT_TRACK if authoritative else _INSERT_TRACK,
        track.id,
        track.isrc,
        track.name,
        track.artists,
        track.album,
        track.duration_ms,
        track.image_url,
        track.explicit,
    )


async def queued_entry_for_track(conn: Connection, session_id: UUID, track_id: str) -> UUID | None:
    value = await conn.fetchval(
        "select id from queueit.queue_entries"
        " where session_id = $1 and track_id = $2 and status = 'queued'",
        session_id,
        track_id,
    )
    return as_uuid_or_none(value)


async def insert_entry(
    conn: Connection, session_id: UUID, track_id: str, user_id: UUID
) -> UUID | None:
    """The new entry, or None when the track is already queued (a concurrent add won)."""
    value = await conn.fetchval(
        "insert into queueit.queue_entries (session_id, track_id, added_by) values ($1, $2, $3)"
        " on conflict (session_id, track_id) where status = 'queued' do nothing returning id",
        session_id,
        track_id,
        user_id,
    )
    return as_uuid_or_none(value)


async def insert_upvote(conn: Connection, entry_id: UUID, session_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "insert into queueit.votes (entry_id, session_id, user_id, value) values ($1, $2, $3, 1)",
        entry_id,
        session_id,
        user_id,
    )


async def lock_adds_of(conn: Connection, user_id: UUID) -> None:
    """Serialize one user's adds until commit (the per-user cap is counted under it)."""
    await conn.execute("select pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7))", user_id)


async def count_queued_by(conn: Connection, session_id: UUID, user_id: UUID) -> int:
    return int(
        await conn.fetchval(
            "select count(*) from queueit.queue_entries"
            " where session_id = $1 and added_by = $2 and status = 'queued'",
            session_id,
            user_id,
        )
    )


async def cast_vote(conn: Connection, entry_id: UUID, value: int) -> VoteOutcome:
    row = await conn.fetchrow(
        "select outcome, session_id, total_votes, seq from app.cast_vote($1, $2)", entry_id, value
    )
    assert row is not None
    return VoteOutcome(
        row["outcome"],
        as_uuid_or_none(row["session_id"]),
        row["total_votes"],
        None if row["seq"] is None else int(row["seq"]),
    )


async def entry(conn: Connection, entry_id: UUID) -> Entry | None:
    row = await conn.fetchrow(
        "select session_id, status, added_by from queueit.queue_entries where id = $1", entry_id
    )
    if row is None:
        return None
    return Entry(as_uuid(row["session_id"]), row["status"], as_uuid(row["added_by"]))


async def mark_removed(conn: Connection, entry_id: UUID) -> bool:
    value = await conn.fetchval(
        "update queueit.queue_entries set status = 'removed'"
        " where id = $1 and status = 'queued' returning id",
        entry_id,
    )
    return value is not None
