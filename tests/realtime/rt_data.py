"""Test data for the realtime tests, written through SQL as the right user (RLS applies), plus a
minimal snapshot loader standing in for the session service until it exists.

Users are development-token users (`mint_dev_token`), so a real server authenticates them; every
name gets a random suffix because a user is in at most one session.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from queueit.auth.dev import mint_dev_token
from queueit.auth.user import AuthUser
from queueit.config import Settings
from queueit.db import Connection, Database


def wire_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RtUser:
    __test__ = False

    name: str
    id: uuid.UUID
    token: str
    claims: dict[str, Any] = field(hash=False, repr=False)

    def tx(self, db: Database) -> Any:
        return db.user_tx(self.id, self.claims)

    def wire(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "email": f"{self.name}@queueit.local",
            "avatar_url": None,
        }


async def make_user(db: Database, settings: Settings, name: str) -> RtUser:
    """A dev-token user with a profile row (written by the user, through RLS)."""
    unique = f"{name}-{secrets.token_hex(4)}"
    token = mint_dev_token(unique, settings)
    claims = jwt.decode(token, options={"verify_signature": False})
    user = RtUser(unique, uuid.UUID(claims["sub"]), token, claims)
    async with user.tx(db) as conn:
        await conn.execute(
            "insert into queueit.profiles (id, username, email) values ($1, $2, $3)",
            user.id,
            unique,
            f"{unique}@queueit.local",
        )
    return user


async def append(db: Database, user: RtUser, session_id: uuid.UUID, kind: str, data: Any) -> int:
    """app.append_event as `user` (a member); returns the committed seq."""
    async with user.tx(db) as conn:
        seq = await conn.fetchval(
            "select seq from app.append_event($1, $2, $3)", session_id, kind, data
        )
    return int(seq)


def member_wire(user: RtUser, role: str) -> dict[str, Any]:
    return {"user": user.wire(), "role": role, "joined_at": wire_now()}


async def create_session(
    db: Database, host: RtUser, guests: list[RtUser] | tuple[RtUser, ...] = ()
) -> uuid.UUID:
    """Create and join like the service: every membership writes `member_joined`."""
    async with host.tx(db) as conn:
        sid = await conn.fetchval(
            "insert into queueit.sessions (host_id) values ($1) returning id", host.id
        )
        await conn.execute(
            "insert into queueit.session_members (user_id, session_id, role) values ($1, $2,"
            " 'host')",
            host.id,
            sid,
        )
        await conn.execute(
            "select app.append_event($1, 'member_joined', $2)",
            sid,
            {"member": member_wire(host, "host"), "member_count": 1},
        )
    for count, guest in enumerate(guests, start=2):
        await join(db, guest, sid, count)
    return uuid.UUID(str(sid))


async def _join_code(db: Database, session_id: uuid.UUID) -> str:
    """What the host tells the guests (read past RLS: a guest cannot see it before joining)."""
    async with db.system_conn() as conn:
        code: str = await conn.fetchval(
            "select join_code from queueit.sessions where id = $1", session_id
        )
    return code


async def join(db: Database, user: RtUser, session_id: uuid.UUID, member_count: int) -> int:
    async with user.tx(db) as conn:
        await conn.execute("select app.join_by_code($1)", await _join_code(db, session_id))
        seq = await conn.fetchval(
            "select seq from app.append_event($1, 'member_joined', $2)",
            session_id,
            {"member": member_wire(user, "guest"), "member_count": member_count},
        )
    return int(seq)


def votes_data(total: int, entry: uuid.UUID | None = None) -> dict[str, Any]:
    return {"queued_song_id": str(entry or uuid.uuid4()), "total_votes": total}


_ADDED_SEQ = itertools.count(1)  # stand-in entries' added_seq, increasing like the server's


def song_added_data(adder: RtUser, name: str = "Neon Harbor", votes: int = 1) -> dict[str, Any]:
    return {
        "queued_song": {
            "id": str(uuid.uuid4()),
            "status": "queued",
            "added_at": wire_now(),
            "added_seq": next(_ADDED_SEQ),
            "votes": votes,
            "song": {
                "id": secrets.token_hex(8),
                "isrc": None,
                "name": name,
                "artists": "The Lantern Club",
                "album": "Night Ferries",
                "duration_ms": 214000,
                "image_url": "https://images.queueit.invalid/covers/night-ferries.jpg",
                "explicit": False,
            },
            "added_by": adder.wire(),
        }
    }


async def kick(
    db: Database, host: RtUser, session_id: uuid.UUID, target: RtUser, *, banned: bool, count: int
) -> int:
    """Kick (or ban) as the host: event first, then the membership goes (one transaction)."""
    async with host.tx(db) as conn:
        if banned:
            await conn.execute(
                "insert into queueit.session_bans (session_id, user_id, banned_by) values ($1, $2,"
                " $3)",
                session_id,
                target.id,
                host.id,
            )
        seq = await conn.fetchval(
            "select seq from app.append_event($1, 'member_kicked', $2)",
            session_id,
            {
                "user_id": str(target.id),
                "banned": banned,
                "by": str(host.id),
                "member_count": count,
            },
        )
        await conn.execute("delete from queueit.session_members where user_id = $1", target.id)
    return int(seq)


async def leave(db: Database, user: RtUser, session_id: uuid.UUID, count: int) -> int:
    async with user.tx(db) as conn:
        seq = await conn.fetchval(
            "select seq from app.append_event($1, 'member_left', $2)",
            session_id,
            {"user_id": str(user.id), "member_count": count, "new_host_id": None},
        )
        await conn.execute("delete from queueit.session_members where user_id = $1", user.id)
    return int(seq)


async def end_session(db: Database, host: RtUser, session_id: uuid.UUID) -> int:
    async with host.tx(db) as conn:
        seq = await conn.fetchval("select seq from app.end_session($1)", session_id)
    return int(seq)


async def last_seq(db: Database, session_id: uuid.UUID) -> int:
    async with db.system_conn() as conn:
        return int(
            await conn.fetchval("select last_seq from queueit.sessions where id = $1", session_id)
        )


# One statement, so `seq` and the rest are read as of one point in time.
_SNAPSHOT_SQL = """
select json_build_object(
  'session', json_build_object(
      'id', s.id, 'join_code', s.join_code, 'created_at', app.rfc3339(s.created_at),
      'host', json_build_object('id', h.id, 'username', h.username, 'email', h.email,
                                'avatar_url', h.avatar_url),
      'status', case when s.ended_at is null then 'active' else 'ended' end,
      'ended_at', app.rfc3339(s.ended_at),
      'member_count', (select count(*) from queueit.session_members m where m.session_id = s.id)),
  'queue', coalesce((
      select json_agg(json_build_object(
               'id', q.id, 'status', q.status, 'added_at', app.rfc3339(q.added_at),
               'added_seq', q.added_seq, 'votes', q.total_votes,
               'song', json_build_object('id', t.id, 'isrc', t.isrc, 'name', t.name,
                                         'artists', t.artists, 'album', t.album,
                                         'duration_ms', t.duration_ms, 'image_url', t.image_url,
                                         'explicit', t.explicit),
               'added_by', json_build_object('id', p.id, 'username', p.username,
                                             'email', p.email, 'avatar_url', p.avatar_url))
             order by q.total_votes desc, q.added_seq)
        from queueit.queue_entries_with_votes q
        join queueit.tracks t on t.id = q.track_id
        join queueit.profiles p on p.id = q.added_by
       where q.session_id = s.id and q.status = 'queued'), '[]'::json),
  'playback', json_build_object('state', 'stopped', 'current', null, 'started_at', null,
                                'skip_votes', 0, 'skip_votes_needed', s.skip_vote_min),
  'settings', json_build_object(
      'queue_locked', s.queue_locked, 'allow_downvotes', s.allow_downvotes,
      'max_queued_per_user', s.max_queued_per_user,
      'max_track_duration_ms', s.max_track_duration_ms, 'allow_explicit', s.allow_explicit,
      'skip_vote_share', s.skip_vote_share, 'skip_vote_min', s.skip_vote_min),
  'my_role', (select m.role from queueit.session_members m where m.user_id = $2),
  'members', coalesce((
      select json_agg(json_build_object(
               'user', json_build_object('id', p.id, 'username', p.username,
                                         'email', p.email, 'avatar_url', p.avatar_url),
               'role', m.role, 'joined_at', app.rfc3339(m.joined_at))
             order by m.joined_at, m.user_id)
        from queueit.session_members m join queueit.profiles p on p.id = m.user_id
       where m.session_id = s.id), '[]'::json),
  'my_votes', coalesce((select json_object_agg(v.entry_id, v.value) from queueit.votes v
                         where v.session_id = s.id and v.user_id = $2), '{}'::json),
  'seq', s.last_seq)
  from queueit.sessions s
  join queueit.profiles h on h.id = s.host_id
 where s.id = $1
"""


async def load_snapshot(conn: Connection, user: AuthUser, session_id: uuid.UUID) -> dict[str, Any]:
    """A CurrentSessionResponse from the member's RLS transaction (test stand-in)."""
    snapshot = await conn.fetchval(_SNAPSHOT_SQL, session_id, user.id)
    assert snapshot is not None, "the loader runs only for members"
    return dict(snapshot)
