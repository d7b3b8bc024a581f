"""SQL that reads sessions in the contract's shapes (JSON built by PostgreSQL, dates already in
the wire format `YYYY-MM-DDTHH:MM:SSZ`). Everything runs as the caller, so RLS decides what is
visible.

`own_email`: a user object carries an email only when it is the caller's own (and only in answers
to that caller); events go to every member and never carry one.
"""

# Queries are composed from the constant fragments below only; every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from queueit.db import Connection


def _ts(column: str) -> str:
    return f"""to_char({column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _user(p: str, own_email: bool) -> str:
    email = f"case when {p}.id = auth.uid() then {p}.email end" if own_email else "null::text"
    # A name that looks like another member's of the reader's session (same `name_key`: case,
    # width, spaces) is shown with the first 4 hex digits of the id, on both members. From the
    # profiles with that key (index profiles_name_key_idx: usually just this one) to their
    # memberships, so a member list costs O(n log n), not a scan of the session per member.
    username = (
        f"{p}.username || case when exists (select 1 from queueit.profiles q"
        f" join queueit.session_members o on o.user_id = q.id"
        f" where q.name_key = {p}.name_key and q.id <> {p}.id"
        f" and o.session_id = (select app.my_session_id()))"
        f" then ' #' || upper(left({p}.id::text, 4)) else '' end"
    )
    return (
        f"jsonb_build_object('id', {p}.id, 'username', {username}, 'email', {email},"
        f" 'avatar_url', {p}.avatar_url)"
    )


_TRACK = (
    "jsonb_build_object('id', t.id, 'isrc', t.isrc, 'name', t.name, 'artists', t.artists,"
    " 'album', t.album, 'duration_ms', t.duration_ms, 'image_url', t.image_url,"
    " 'explicit', t.explicit)"
)

# e: queue_entries_with_votes, t: tracks, p: the adder's profile
_ENTRIES = (
    "queueit.queue_entries_with_votes e"
    " join queueit.tracks t on t.id = e.track_id"
    " join queueit.profiles p on p.id = e.added_by"
)


def _queued_song(own_email: bool) -> str:
    return (
        f"jsonb_build_object('id', e.id, 'status', e.status, 'added_at', {_ts('e.added_at')},"
        f" 'votes', e.total_votes, 'song', {_TRACK}, 'added_by', {_user('p', own_email)},"
        f" 'finished_at', {_ts('e.finished_at')}, 'added_seq', e.added_seq)"
    )


_SETTINGS = (
    "jsonb_build_object('queue_locked', s.queue_locked, 'allow_downvotes', s.allow_downvotes,"
    " 'max_queued_per_user', s.max_queued_per_user,"
    " 'max_track_duration_ms', s.max_track_duration_ms, 'allow_explicit', s.allow_explicit,"
    " 'skip_vote_share', s.skip_vote_share, 'skip_vote_min', s.skip_vote_min)"
)

# s: sessions, mc.n: its member count
_MEMBER_COUNT = (
    "cross join lateral (select count(*)::int as n from queueit.session_members x"
    " where x.session_id = s.id) mc"
)


def _playback(own_email: bool) -> str:
    return f"""jsonb_build_object(
  'state', s.playback_state,
  'current', (select {_queued_song(own_email)} from {_ENTRIES}
               where e.id = s.current_entry_id and e.session_id = s.id),
  'started_at', {_ts("s.playback_started_at")},
  'skip_votes', (select count(*)::int from queueit.skip_votes v
                   join queueit.session_members m
                     on m.user_id = v.user_id and m.session_id = v.session_id
                  where v.session_id = s.id and v.entry_id = s.current_entry_id),
  'skip_votes_needed', greatest(s.skip_vote_min, ceil(s.skip_vote_share * mc.n)::int))"""


def _member(own_email: bool) -> str:
    return (
        f"jsonb_build_object('user', {_user('p', own_email)}, 'role', m.role,"
        f" 'joined_at', {_ts('m.joined_at')})"
    )


_MEMBER_ORDER = (
    "case m.role when 'host' then 0 when 'cohost' then 1 else 2 end, m.joined_at, m.user_id"
)


def _members_of(session_id: str) -> str:
    """The session's Member list, host first (GET members and the session state)."""
    return f"""(select coalesce(jsonb_agg({_member(True)} order by {_MEMBER_ORDER}), '[]')
  from queueit.session_members m join queueit.profiles p on p.id = m.user_id
 where m.session_id = {session_id})"""


# One statement, so every part (seq included) is read as of one snapshot: an event after `seq`
# is never already in the state, and no event up to `seq` is missing from it.
_SNAPSHOT = f"""
select jsonb_build_object(
  'session', jsonb_build_object(
      'id', s.id, 'join_code', s.join_code, 'created_at', {_ts("s.created_at")},
      'host', (select {_user("p", True)} from queueit.profiles p where p.id = s.host_id),
      'status', case when s.ended_at is null then 'active' else 'ended' end,
      'ended_at', {_ts("s.ended_at")}, 'member_count', mc.n),
  'queue', (select coalesce(jsonb_agg({_queued_song(True)}
                                      order by e.total_votes desc, e.added_seq), '[]')
              from {_ENTRIES} where e.session_id = s.id and e.status = 'queued'),
  'playback', {_playback(True)},
  'settings', {_SETTINGS},
  'my_role', me.role,
  'members', {_members_of("s.id")},
  'my_votes', (select coalesce(jsonb_object_agg(v.entry_id::text, v.value), '{{}}')
                 from queueit.votes v
                 join queueit.queue_entries q on q.id = v.entry_id and q.status = 'queued'
                where v.session_id = s.id and v.user_id = auth.uid()),
  'seq', s.last_seq)
  from queueit.sessions s
  join queueit.session_members me on me.session_id = s.id and me.user_id = auth.uid()
  {_MEMBER_COUNT}
 where s.id = coalesce($1::uuid, app.my_session_id())
"""

_QUEUED_SONG = {
    own: f"select {_queued_song(own)} from {_ENTRIES} where e.id = $1" for own in (True, False)
}

_PLAYBACK = f"select {_playback(False)} from queueit.sessions s {_MEMBER_COUNT} where s.id = $1"

_SETTINGS_OF = f"select {_SETTINGS} from queueit.sessions s where s.id = $1"

_MEMBERS = f"select {_members_of('$1')}"

_MEMBER = {
    own: f"""select {_member(own)}
  from queueit.session_members m join queueit.profiles p on p.id = m.user_id
 where m.session_id = $1 and m.user_id = $2"""
    for own in (True, False)
}

_HISTORY = f"""
select coalesce(jsonb_agg(h.j order by h.finished_at desc, h.id), '[]')
  from (select {_queued_song(True)} as j, e.finished_at, e.id
          from {_ENTRIES}
         where e.session_id = $1 and e.status in ('played', 'skipped')
         order by e.finished_at desc, e.id
         limit $2) h
"""


def _json(value: Any) -> dict[str, Any] | None:
    return cast("dict[str, Any] | None", value)


def _with_current_entry(playback: dict[str, Any] | None) -> dict[str, Any] | None:
    """Playback's `current_entry` is `current` under its portable name: the same entry, left
    out (never null) when nothing plays. `current` stays, deprecated, for 1.0 apps."""
    if playback is not None and playback.get("current") is not None:
        playback["current_entry"] = playback["current"]
    return playback


async def snapshot(conn: Connection, session_id: UUID | None) -> dict[str, Any] | None:
    """The caller's view of `session_id` (their current session when None) as a
    CurrentSessionResponse, or None when the caller is not a member of it."""
    data = _json(await conn.fetchval(_SNAPSHOT, session_id))
    if data is not None:
        _with_current_entry(data["playback"])
    return data


async def queued_song(
    conn: Connection, entry_id: UUID, *, own_email: bool
) -> dict[str, Any] | None:
    return _json(await conn.fetchval(_QUEUED_SONG[own_email], entry_id))


async def playback(conn: Connection, session_id: UUID) -> dict[str, Any] | None:
    """The session's Playback (for events: no emails)."""
    return _with_current_entry(_json(await conn.fetchval(_PLAYBACK, session_id)))


async def settings(conn: Connection, session_id: UUID) -> dict[str, Any] | None:
    return _json(await conn.fetchval(_SETTINGS_OF, session_id))


async def members(conn: Connection, session_id: UUID) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", await conn.fetchval(_MEMBERS, session_id))


async def member(
    conn: Connection, session_id: UUID, user_id: UUID, *, own_email: bool
) -> dict[str, Any] | None:
    return _json(await conn.fetchval(_MEMBER[own_email], session_id, user_id))


async def history(conn: Connection, session_id: UUID, limit: int) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", await conn.fetchval(_HISTORY, session_id, limit))
