"""Reading a session for one member: the socket's opening (snapshot or `since` replay) and the
polling fallback's `EventsPage`. Both run in the member's RLS-scoped transaction and use the same
rules, so the socket and `GET /sessions/{id}/events` agree on every event and on when `since` is
too old.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from queueit.auth.user import AuthUser
from queueit.db import Connection, Database
from queueit.http.rendering import encode
from queueit.realtime import store
from queueit.realtime.events import event_dict, since_is_kept
from queueit.realtime.loader import SnapshotLoader, SnapshotUnavailable, snapshot_data
from queueit.realtime.store import Refusal


@dataclass(frozen=True, slots=True)
class Opening:
    """What a socket sends first. `start_seq`: where the client stands after `frames`;
    `live_from`: the last seq read inside the membership check (later events may close it)."""

    frames: list[str]
    start_seq: int
    live_from: int
    snapshot: bool


async def _snapshot(
    loader: SnapshotLoader | None, conn: Connection, user: AuthUser, session_id: UUID
) -> dict[str, Any]:
    if loader is None:
        raise SnapshotUnavailable("hub.snapshot_loader is not set")
    return snapshot_data(await loader(conn, user, session_id))


async def read_opening(
    db: Database,
    loader: SnapshotLoader | None,
    user: AuthUser,
    session_id: UUID,
    since: int | None,
    retained: int,
) -> Opening | Refusal:
    """Membership check, then the snapshot, or the replay of the events after `since`."""
    async with db.user_tx(user.id, user.claims) as conn:
        member = await store.access(conn, session_id)
        if not isinstance(member, Refusal):
            last = member.last_seq
            if since is not None and since == last:
                return Opening([], last, last, snapshot=False)
            if since is not None and since < last and last - since <= retained:
                rows = await store.user_events_after(conn, session_id, since, last - since)
                first = int(rows[0]["seq"]) if rows else None
                if since_is_kept(since, first, last, retained) and len(rows) == last - since:
                    frames = [encode(event_dict(session_id, row, user.id)).decode() for row in rows]
                    return Opening(frames, last, last, snapshot=False)
            snap = await _snapshot(loader, conn, user, session_id)
            seq = int(snap["seq"])
            message = {"type": "snapshot", "seq": seq, "data": snap}
            return Opening([encode(message).decode()], seq, last, snapshot=True)
    return member


async def read_events_page(
    db: Database,
    loader: SnapshotLoader | None,
    user: AuthUser,
    session_id: UUID,
    since: int,
    limit: int,
    retained: int,
) -> dict[str, Any] | Refusal:
    """The contract's EventsPage for `GET /api/v1/sessions/{session_id}/events`."""
    async with db.user_tx(user.id, user.claims) as conn:
        member = await store.access(conn, session_id)
        if not isinstance(member, Refusal):
            rows = await store.user_events_after(conn, session_id, since, limit + 1)
            first = int(rows[0]["seq"]) if rows else None
            last = max(member.last_seq, int(rows[-1]["seq"]) if rows else 0)
            if not since_is_kept(since, first, last, retained):
                snap = await _snapshot(loader, conn, user, session_id)
                return {
                    "session_id": str(session_id),
                    "events": [],
                    "latest_seq": int(snap["seq"]),
                    "has_more": False,
                    "snapshot": snap,  # deprecated name, kept for 1.0 apps
                    "resync_snapshot": snap,
                }
            page = rows[:limit]
            return {
                "session_id": str(session_id),
                "events": [event_dict(session_id, row, user.id) for row in page],
                "latest_seq": int(page[-1]["seq"]) if page else since,
                "has_more": len(rows) > limit,
                "snapshot": None,  # `resync_snapshot` is left out instead (never null)
            }
    return member
