"""Appending session events (`app.append_event`, the caller must be a member)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from queueit.kit.tx import Tx

EventType = Literal[
    "song_added",
    "song_removed",
    "votes_updated",
    "playback_changed",
    "skip_votes_updated",
    "member_joined",
    "member_left",
    "member_kicked",
    "member_role_changed",
    "settings_changed",
]

_APPEND = "select seq from app.append_event($1, $2, $3)"
_APPEND_FOR_CALLER = "select seq from app.append_event_for_caller($1, $2, $3, $4)"


async def append(
    tx: Tx,
    session_id: UUID,
    event_type: EventType,
    data: BaseModel,
    *,
    for_caller: dict[str, Any] | None = None,
) -> int:
    """Append one event; its seq is published when the transaction has committed.

    `for_caller`: fields of `data` that only the caller's own copy carries (their sockets and
    their `GET /events`), e.g. `{"my_vote": 1}`. Call it late in the transaction: it locks the
    session row until commit.
    """
    payload = data.model_dump(mode="json", exclude=set(for_caller) if for_caller else None)
    if for_caller is None:
        seq = int(await tx.conn.fetchval(_APPEND, session_id, event_type, payload))
    else:
        args = (session_id, event_type, payload, for_caller)
        seq = int(await tx.conn.fetchval(_APPEND_FOR_CALLER, *args))
    tx.appended_event(session_id, seq)
    return seq


MemberEventType = Literal["member_joined", "member_left", "member_kicked"]

_APPEND_MEMBER = "select seq from app.append_member_event($1, $2, $3, $4)"


async def append_member_event(
    tx: Tx, session_id: UUID, event_type: MemberEventType, data: BaseModel, *, leaving: bool = False
) -> int:
    """Append a membership event whose `member_count` the database sets, exactly, once the session
    row is locked (the value in `data` is replaced). `leaving`: the caller deletes their own
    membership after this in the same transaction (not counted)."""
    payload = data.model_dump(mode="json", exclude={"member_count"})
    seq = int(await tx.conn.fetchval(_APPEND_MEMBER, session_id, event_type, payload, leaving))
    tx.appended_event(session_id, seq)
    return seq
