"""Session events as they go on the wire, encoded once for every subscriber.

A row of `session_events` (session_id, seq, type, payload, created_at) becomes the contract's
`SessionEvent`: `{"type", "seq", "session_id", "created_at", "data"}` with `data` = payload.
The socket and `GET /sessions/{id}/events` both use `event_dict`, so they send the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from queueit.http.rendering import encode
from queueit.realtime.protocol import CloseCode

# Event types once written under another name than the contract's: before migration
# 20251126100000 the idle reaper wrote `session_idle_warning {ends_at}` (now `session_ending
# {ends_at, reason}`). Rows of that era may still be kept; they go out in the contract's shape.
_RENAMED_TYPES: dict[str, str] = {"session_idle_warning": "session_ending"}


def event_dict(
    session_id: UUID, row: Mapping[str, Any], viewer: UUID | None = None
) -> dict[str, Any]:
    """The contract's SessionEvent for one `session_events` row (dates stay datetimes), as
    `viewer` sees it: the row's `private_data` joins `data` only when `viewer` is `private_to`
    (e.g. `my_vote` for the member who voted)."""
    kind = str(row["type"])
    payload = row["payload"]
    data: dict[str, Any] = dict(payload) if isinstance(payload, Mapping) else {}
    private = row.get("private_data")
    if viewer is not None and _uuid_or_none(row.get("private_to")) == viewer:
        if isinstance(private, Mapping):
            data.update(private)
    if kind in _RENAMED_TYPES:
        kind = _RENAMED_TYPES[kind]
        if kind == "session_ending":
            data.setdefault("reason", "idle")
    return {
        "type": kind,
        "seq": int(row["seq"]),
        "session_id": str(session_id),
        "created_at": row["created_at"],
        "data": data,
    }


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One event, encoded once. `closes` says whose sockets close after it, and with what."""

    seq: int
    text: str
    closes_all: CloseCode | None = None
    closes_user: UUID | None = None
    user_close: CloseCode | None = None
    # The copy for one member (`private_data` merged in), encoded once too.
    private_to: UUID | None = None
    private_text: str | None = None

    def text_for(self, user_id: UUID) -> str:
        """What a socket of `user_id` is sent."""
        if self.private_text is not None and self.private_to == user_id:
            return self.private_text
        return self.text

    def close_code_for(self, user_id: UUID) -> CloseCode | None:
        """The close code this event means for a socket of `user_id`, if any (asyncapi table)."""
        if self.closes_all is not None:
            return self.closes_all
        if self.closes_user is not None and self.closes_user == user_id:
            return self.user_close
        return None

    @classmethod
    def from_row(cls, session_id: UUID, row: Mapping[str, Any]) -> WireEvent:
        event = event_dict(session_id, row)
        seq, kind, data = event["seq"], event["type"], event["data"]
        private_to = _uuid_or_none(row.get("private_to"))
        own: dict[str, Any] = {}
        if private_to is not None and isinstance(row.get("private_data"), Mapping):
            copy = event_dict(session_id, row, private_to)  # the one way to merge it in
            own = {"private_to": private_to, "private_text": encode(copy).decode()}
        text = encode(event).decode()
        if kind == "session_ended":
            return cls(seq, text, closes_all=CloseCode.SESSION_ENDED, **own)
        if kind in ("member_left", "member_kicked"):
            target = _uuid_or_none(data.get("user_id"))
            if target is not None:
                if kind == "member_left":
                    code = CloseCode.LEFT
                else:
                    code = CloseCode.BANNED if data.get("banned") is True else CloseCode.KICKED
                return cls(seq, text, closes_user=target, user_close=code, **own)
        return cls(seq, text, **own)


def _uuid_or_none(value: object) -> UUID | None:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


def since_is_kept(since: int, first_seq_after: int | None, last_seq: int, retained: int) -> bool:
    """Whether every event after `since` is still kept, so a replay can replace a snapshot.

    `first_seq_after` is the lowest stored seq > since (None when there is none), `last_seq` the
    session's latest seq, `retained` settings.events_retained. Kept means: nothing is missing
    (the oldest retained seq is not past since+1) and the gap is within the retention window —
    the second rule makes the answer independent of when pruning last ran. A `since` beyond
    `last_seq` is a state the server never had: not kept, so the client starts over.
    """
    if since > last_seq:
        return False
    if since == last_seq:
        return True
    if last_seq - since > retained:
        return False
    return first_seq_after == since + 1
