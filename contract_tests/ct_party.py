"""A party on the live server for the fuzzer to aim at: a host, a guest and an outsider.

Each schemathesis test (one operation, one role) gets a fresh party: a session the host created
and the guest joined, one song playing and at least one queued; the outsider has a valid token
and is in no session. Before each generated case, `steer(case)` points the path ids the fuzzer
generated at this party's real session, members and queue entries for part of the cases (chosen
by a hash of the generated value, so a seed replays the same choices); the rest keep their
random ids and exercise the not-found paths. After each case, `after(...)` notes what a
successful request changed: a party that lost its session, members or roles is rebuilt before
the next case.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

ROLES = ("host", "guest", "outsider")
JOIN_CODE = re.compile(r"^[A-Za-z0-9]{4,12}$")
# A success of these leaves the party unlike a fresh one (the caller moved, someone left or was
# removed, roles or rules changed, or an account was deleted): rebuild it before the next case.
REBUILD_AFTER = {
    "createSession",
    "leaveSession",
    "kickMember",
    "banMember",
    "setMemberRole",
    "updateSessionSettings",
    "deleteAccount",
}
# A success of these changes the queue: re-read its entries before the next case.
REQUEUE_AFTER = {"addSong", "removeSong", "voteToSkip", "controlSession"}

_tracks: list[dict[str, Any]] = []


class PartyError(AssertionError):
    """The service could not set a party up (the operations it needs are broken or missing)."""


def _bucket(value: str) -> int:
    return hashlib.sha256(value.encode()).digest()[0]


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


class Party:
    def __init__(self, live: Any, http: httpx.Client) -> None:
        self.live = live
        self.http = http
        self.names: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.session_id = ""
        self.join_code = ""
        self.queue_ids: list[str] = []
        self.rebuilds = 0
        self._rebuild = True
        self._requeue = False
        self._track_cycle = itertools.count()

    # --- requests ------------------------------------------------------------------------------

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def request(
        self, role: str, method: str, path: str, *, expect: int = 200, **kwargs: Any
    ) -> Any:
        response = self.http.request(method, path, headers=self.headers(role), **kwargs)
        if response.status_code != expect:
            self.live.assert_running()
            raise PartyError(
                f"setting up the party: {method} {path} as {role} answered "
                f"{response.status_code} (expected {expect}): {response.text[:500]}"
            )
        return response.json() if response.content else None

    def tracks(self) -> list[dict[str, Any]]:
        if not _tracks:
            found = self.request(
                "host", "GET", "/api/v1/spotify/search", params={"q": "a", "limit": 50}
            )
            _tracks.extend(t for t in found["tracks"] if not t.get("explicit"))
            if len(_tracks) < 4:
                raise PartyError(f"search found too few tracks to queue: {found}")
        return _tracks

    def next_track(self) -> dict[str, Any]:
        tracks = self.tracks()
        return tracks[next(self._track_cycle) % len(tracks)]

    # --- lifecycle -----------------------------------------------------------------------------

    def build(self) -> None:
        for role in ROLES:
            name = self.live.new_name(role)
            self.names[role] = name
            self.tokens[role] = self.live.token(name)
            self.ids[role] = self.live.user_id(name)
        created = self.request("host", "POST", "/api/v1/sessions/create", json={})
        self.session_id = created["session"]["id"]
        self.join_code = created["session"]["join_code"]
        self.request("guest", "POST", "/api/v1/sessions/join", json={"join_code": self.join_code})
        self.request("host", "POST", "/api/v1/songs/add", json=self.next_track())
        self.request("guest", "POST", "/api/v1/songs/add", json=self.next_track())
        self.request("guest", "POST", "/api/v1/songs/add", json=self.next_track())
        self.requeue()
        self._rebuild = False
        self.rebuilds += 1

    def requeue(self) -> None:
        current = self.request("host", "GET", "/api/v1/sessions/current")
        if current["session"]["id"] != self.session_id:
            self._rebuild = True
            return
        if len(current["queue"]) < 2:
            self.request("host", "POST", "/api/v1/songs/add", json=self.next_track())
            self.request("host", "POST", "/api/v1/songs/add", json=self.next_track())
            current = self.request("host", "GET", "/api/v1/sessions/current")
        if current["playback"]["state"] != "playing":
            # Something plays, so skip votes, pause and next have something to act on.
            body = {"action": "play"}
            current = self.request("host", "PATCH", "/api/v1/sessions/control_session", json=body)
        ids = [entry["id"] for entry in current["queue"]]
        playing = current["playback"]["current"]
        if playing:
            ids.append(playing["id"])
        self.queue_ids = ids
        self._requeue = False

    def ensure(self) -> None:
        """Make the party usable for the next case."""
        if self._rebuild:
            self.build()
        elif self._requeue:
            self.requeue()
            if self._rebuild:
                self.build()

    # --- steering generated cases --------------------------------------------------------------

    def steer(self, case: Any, operation_id: str) -> None:
        params = case.path_parameters
        if isinstance(params, dict):
            for name, value in list(params.items()):
                if not _is_uuid(value):
                    continue
                pick = _bucket(value)
                if name == "session_id" and pick % 4:
                    params[name] = self.session_id
                elif name == "user_id":
                    choice = ("guest", "outsider", "host", None)[pick % 4]
                    if choice is not None:
                        params[name] = self.ids[choice]
                elif name == "id" and self.queue_ids and pick % 4:
                    params[name] = self.queue_ids[pick % len(self.queue_ids)]
        body = case.body
        if operation_id == "joinSession" and isinstance(body, dict):
            code = body.get("join_code")
            if isinstance(code, str) and JOIN_CODE.match(code) and _bucket(code) % 2:
                body["join_code"] = (
                    self.join_code.lower() if _bucket(code) % 4 == 1 else self.join_code
                )

    def after(self, operation_id: str, role: str, case: Any, status: int, body: Any) -> None:
        if not 200 <= status < 300:
            return
        if operation_id in REBUILD_AFTER:
            self._rebuild = True
        elif operation_id == "joinSession":
            joined = body.get("session", {}).get("id") if isinstance(body, Mapping) else None
            if role == "outsider" or joined != self.session_id:
                self._rebuild = True
        elif operation_id == "controlSession":
            action = case.body.get("action") if isinstance(case.body, Mapping) else None
            if action == "end":
                self._rebuild = True
            else:
                self._requeue = True
        elif operation_id in REQUEUE_AFTER:
            self._requeue = True
