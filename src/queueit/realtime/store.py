"""The realtime subsystem's SQL, in one place.

Two kinds of connections are used (see `queueit.db.pool`):

- a user's RLS-scoped transaction (`db.user_tx`): membership (`app.session_access`), `since`
  replays and the polling fallback read what that user may read, nothing more;
- the service login role for fan-out plumbing only: `app.fetch_events` (one fetch per session,
  shared by every local subscriber, who each passed RLS when subscribing), the safety-net poll
  of `sessions.last_seq`, and pruning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID

from queueit.db import Connection

# Listen/notify channel of the fan-out. Payload: "<session uuid>:<seq>" pairs joined by ",".
NOTIFY_CHANNEL = "queueit_events"

# app.session_access (SECURITY DEFINER, about the caller only): one round trip that also tells
# "no such session", "ended" and "banned" apart, which RLS alone makes look alike.
_ACCESS = "select found, ended, banned, role, last_seq from app.session_access($1)"

# `private_data` only where the caller is `private_to` (RLS lets a member read every event of
# their session; what an event says to one member is for that member alone).
_USER_EVENTS = """
select e.seq, e.type, e.payload, e.created_at,
       e.private_to, case when e.private_to = auth.uid() then e.private_data end as private_data
  from queueit.session_events e
 where e.session_id = $1 and e.seq > $2
 order by e.seq
 limit $3
"""

_SYSTEM_EVENTS = (
    "select seq, type, payload, created_at, private_to, private_data"
    " from app.fetch_events($1, $2, $3)"
)

_LATEST_SEQS = "select session_id, last_seq from app.latest_seqs($1::uuid[])"


@dataclass(frozen=True, slots=True)
class Membership:
    role: str
    last_seq: int


class Refusal(Enum):
    """Why a user who is not a member was refused (picks the close code / problem)."""

    NO_SUCH_SESSION = "no_such_session"
    SESSION_ENDED = "session_ended"
    BANNED = "banned"
    NOT_MEMBER = "not_member"


async def access(conn: Connection, session_id: UUID) -> Membership | Refusal:
    """The caller's membership (role, the session's last seq), or why they have none."""
    row = await conn.fetchrow(_ACCESS, session_id)
    if row is None or not row["found"]:
        return Refusal.NO_SUCH_SESSION
    if row["role"] is not None:
        return Membership(role=row["role"], last_seq=int(row["last_seq"]))
    if row["ended"]:
        return Refusal.SESSION_ENDED
    if row["banned"]:
        return Refusal.BANNED
    return Refusal.NOT_MEMBER


async def user_events_after(
    conn: Connection, session_id: UUID, after_seq: int, limit: int
) -> list[Any]:
    """Events with seq > after_seq, in order, as the caller may read them (RLS)."""
    rows: list[Any] = await conn.fetch(_USER_EVENTS, session_id, after_seq, limit)
    return rows


async def system_events_after(
    conn: Connection, session_id: UUID, after_seq: int, limit: int
) -> list[Any]:
    """Events with seq > after_seq through `app.fetch_events` (login role, fan-out only)."""
    rows: list[Any] = await conn.fetch(_SYSTEM_EVENTS, session_id, after_seq, limit)
    return rows


async def latest_seqs(conn: Connection, session_ids: list[UUID]) -> dict[UUID, int]:
    """`sessions.last_seq` of each session (`app.latest_seqs`, login role; the safety-net poll)."""
    rows = await conn.fetch(_LATEST_SEQS, session_ids)
    return {row["session_id"]: int(row["last_seq"]) for row in rows}


async def prune_events(conn: Connection, keep: int) -> int:
    """Delete events older than the last `keep` of every session (`app.prune_events`)."""
    deleted = await conn.fetchval("select app.prune_events($1)", keep)
    return int(deleted or 0)


def notify_payloads(pairs: dict[UUID, int], max_bytes: int = 7900) -> list[str]:
    """Pack (session, seq) pairs into as few NOTIFY payloads as fit PostgreSQL's 8000 bytes."""
    payloads: list[str] = []
    current: list[str] = []
    size = 0
    for session_id, seq in pairs.items():
        item = f"{session_id}:{seq}"
        if current and size + len(item) + 1 > max_bytes:
            payloads.append(",".join(current))
            current, size = [], 0
        current.append(item)
        size += len(item) + 1
    if current:
        payloads.append(",".join(current))
    return payloads


def parse_notify_payload(payload: str) -> list[tuple[UUID, int]]:
    """The (session, seq) pairs of a NOTIFY payload; malformed items are skipped."""
    pairs: list[tuple[UUID, int]] = []
    for item in payload.split(","):
        sid, _, seq = item.partition(":")
        try:
            pairs.append((UUID(sid), int(seq)))
        except ValueError:
            continue
    return pairs
