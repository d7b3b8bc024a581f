"""Bodies the live server sent during the run, kept for the Swift decoding test.

Every JSON body (REST, by operation and status) and every socket message goes in, as the exact
text the server sent, with the name of the component schema it is; the Swift test
(contract_tests/swift/QueueITLiveContract) decodes each with the generated models. Written at
test time to contract_tests/build/captured/bodies.json (not committed). A few distinct bodies
per (type, origin) are enough: identical shapes decode identically.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import ct_spec

PER_KEY = 25  # distinct bodies kept per (type, origin)

# Socket message `type` -> component schema of its payload (asyncapi/queueit.yaml).
MESSAGE_TYPES = {
    "snapshot": "SnapshotMessage",
    "ping": "PingMessage",
    "pong": "PongMessage",
    "error": "ErrorMessage",
    "song_added": "SongAddedEvent",
    "song_removed": "SongRemovedEvent",
    "votes_updated": "VotesUpdatedEvent",
    "playback_changed": "PlaybackChangedEvent",
    "skip_votes_updated": "SkipVotesUpdatedEvent",
    "member_joined": "MemberJoinedEvent",
    "member_left": "MemberLeftEvent",
    "member_kicked": "MemberKickedEvent",
    "member_role_changed": "MemberRoleChangedEvent",
    "settings_changed": "SettingsChangedEvent",
    "session_ending": "SessionEndingEvent",
    "session_ended": "SessionEndedEvent",
}


class Corpus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        self._per_key: Counter[tuple[str, str]] = Counter()
        self.seen: Counter[str] = Counter()  # bodies seen per type (kept or not)

    def add(self, type_name: str, origin: str, raw: str) -> None:
        """Keep `raw` (the JSON text exactly as the server sent it) as a `type_name` body."""
        digest = hashlib.sha256(f"{type_name}\n{raw}".encode()).hexdigest()[:16]
        with self._lock:
            self.seen[type_name] += 1
            key = (type_name, origin)
            if digest in self._items or self._per_key[key] >= PER_KEY:
                return
            self._per_key[key] += 1
            self._items[digest] = {
                "id": f"{origin} #{self._per_key[key]}",
                "type": type_name,
                "raw": raw,
            }

    def add_response(self, operation_id: str, status: int, content: bytes) -> None:
        type_name = ct_spec.response_type(operation_id, status)
        if type_name is None or not content:
            return
        try:
            raw = content.decode("utf-8")
            json.loads(raw)
        except ValueError:
            return  # not JSON: the checks report it
        self.add(type_name, f"{operation_id} {status}", raw)

    def add_message(self, message: Any, raw: str | None = None) -> None:
        """A socket message (or an event of the polling fallback) by its `type`."""
        kind = message.get("type") if isinstance(message, dict) else None
        type_name = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
        if type_name is not None:
            text = raw if raw is not None else json.dumps(message)
            self.add(type_name, f"ws {kind}", text)
            if type_name.endswith("Event"):
                self.add("SessionEvent", f"ws {kind}", text)

    def types(self) -> set[str]:
        with self._lock:
            return {item["type"] for item in self._items.values()}

    def __len__(self) -> int:
        return len(self._items)

    def write(self, path: Path) -> int:
        with self._lock:
            items = sorted(self._items.values(), key=lambda item: (item["type"], item["id"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"bodies": items}, indent=1, sort_keys=True))
        return len(items)


CORPUS = Corpus()
