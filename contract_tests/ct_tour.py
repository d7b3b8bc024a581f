"""A scripted party through every REST operation of the spec, judged like the fuzzer's cases.

Each step is a schemathesis Case of the operation (so every built-in and QueueIT check runs on
its response, and its body is captured for Swift) plus the status the step must get. The steps
walk the documented success of every operation and its typical refusals (401, 403, 404, 409),
then the edge errors no schema case can produce (malformed JSON 400, 405 with Allow, 413, 415),
which are judged by the same QueueIT rules and the Problem schema.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import ct_checks
import ct_schema
import httpx
from ct_capture import CORPUS
from ct_stats import STATS

from queueit.realtime.conformance import validate_schema


@dataclass
class TourResult:
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    session_id: str = ""
    steps: int = 0


class Tour:
    def __init__(self, live: Any) -> None:
        self.live = live
        self.schema = ct_schema.load()
        self.result = TourResult()
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def user(self, role: str) -> None:
        name = self.live.new_name(role)
        self.tokens[role] = self.live.token(name)
        self.ids[role] = self.live.user_id(name)

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def step(
        self,
        role: str | None,
        operation_id: str,
        expect: int | set[int],
        *,
        path: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        operation = self.schema.find_operation_by_id(operation_id)
        kwargs: dict[str, Any] = {"path_parameters": path or {}, "query": query or {}}
        if body is not None:
            kwargs["body"] = body
        case = operation.Case(**kwargs)
        response = ct_schema.send(
            case,
            base_url=self.live.url,
            headers=self.headers(role),
            source="tour",
            role=role or "anonymous",
        )
        self.result.statuses[operation_id][response.status_code] += 1
        self.result.steps += 1
        allowed = expect if isinstance(expect, set) else {expect}
        assert response.status_code in allowed, (
            f"tour: {operation_id} as {role} answered {response.status_code}, expected "
            f"{sorted(allowed)}: {response.content[:600]!r}"
        )
        return response.json() if response.content else None

    def raw(
        self, role: str | None, method: str, path: str, expect: int, **kwargs: Any
    ) -> dict[str, Any]:
        """A request no schema case can make; judged by QueueIT's rules and the Problem schema."""
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        with httpx.Client(base_url=self.live.url, timeout=30) as client:
            response = client.request(method, path, headers=headers, **kwargs)
        STATS.case("tour", f"{method} {path} (raw)", role or "anonymous", response.status_code)
        problems = (
            ct_checks.violations_problem(response.status_code, response.headers, response.content)
            + ct_checks.violations_request_id(response.headers)
            + ct_checks.violations_datetimes(response.headers, response.content)
            + ct_checks.violations_body(response.headers, response.content)
        )
        assert response.status_code == expect, (
            f"tour: {method} {path} answered {response.status_code}, expected {expect}: "
            f"{response.text[:300]}"
        )
        assert not problems, f"tour: {method} {path}: {problems}"
        if expect == 405:
            assert response.headers.get("allow"), "405 without an Allow header"
        body: dict[str, Any] = response.json()
        validate_schema("Problem", body)
        CORPUS.add("Problem", f"raw {response.status_code}", response.text)
        return body


def run_tour(live: Any) -> TourResult:
    t = Tour(live)
    for role in ("host", "guest", "cohost", "outsider", "banned"):
        t.user(role)

    t.step(None, "getLiveness", 200)
    t.step(None, "getHealth", 200)
    found = t.step("guest", "searchTracks", 200, query={"q": "a", "limit": 20})
    tracks = [track for track in found["tracks"] if not track.get("explicit")]
    assert len(tracks) >= 6, f"the offline catalog should find tracks for 'a': {found}"
    t.step(None, "getCurrentSession", 401)
    t.step("outsider", "getCurrentSession", 404)

    code = "T" + secrets.token_hex(4).upper()
    created = t.step("host", "createSession", 200, body={"join_code": code})
    sid = created["session"]["id"]
    t.result.session_id = sid
    assert created["my_role"] == "host" and created["session"]["join_code"] == code
    t.step("outsider", "createSession", 409, body={"join_code": code.lower()})
    t.step("guest", "joinSession", 200, body={"join_code": code.lower()})
    t.step("cohost", "joinSession", 200, body={"join_code": code})
    t.step("banned", "joinSession", 200, body={"join_code": code})
    t.step("outsider", "joinSession", 404, body={"join_code": "NOSUCH" + secrets.token_hex(2)})

    t.step("guest", "getSessionSettings", 200, path={"session_id": sid})
    t.step("outsider", "getSessionSettings", 403, path={"session_id": sid})
    t.step(
        "guest", "updateSessionSettings", 403, path={"session_id": sid}, body={"queue_locked": True}
    )
    t.step(
        "host",
        "updateSessionSettings",
        200,
        path={"session_id": sid},
        body={"skip_vote_share": 0.5, "skip_vote_min": 2, "max_queued_per_user": 20},
    )
    t.step("guest", "listMembers", 200, path={"session_id": sid})
    t.step("outsider", "listMembers", 403, path={"session_id": sid})
    t.step(
        "guest",
        "setMemberRole",
        403,
        path={"session_id": sid, "user_id": t.ids["cohost"]},
        body={"role": "cohost"},
    )
    member = t.step(
        "host",
        "setMemberRole",
        200,
        path={"session_id": sid, "user_id": t.ids["cohost"]},
        body={"role": "cohost"},
    )
    assert member["role"] == "cohost"

    entries = [
        t.step("guest", "addSong", 200, body=tracks[0]),
        t.step("host", "addSong", 200, body=tracks[1]),
        t.step("cohost", "addSong", 200, body=tracks[2]),
        t.step("guest", "addSong", 200, body=tracks[3]),
    ]
    t.step("outsider", "addSong", 404, body=tracks[4])
    again = t.step("host", "addSong", 200, body=tracks[0])  # already queued: an upvote
    assert again["id"] == entries[0]["id"]
    t.step("host", "voteOnSong", 200, path={"id": entries[1]["id"]}, body={"vote_value": 1})
    t.step("guest", "voteOnSong", 200, path={"id": entries[2]["id"]}, body={"vote_value": -1})
    t.step("guest", "voteOnSong", 200, path={"id": entries[2]["id"]}, body={"vote_value": 0})
    t.step(
        "outsider", "voteOnSong", {403, 404}, path={"id": entries[1]["id"]}, body={"vote_value": 1}
    )
    state = t.step("guest", "getCurrentSession", 200)
    votes = [entry["votes"] for entry in state["queue"]]
    assert votes == sorted(votes, reverse=True), f"queue not in play order: {votes}"

    t.step("guest", "voteToSkip", 409, path={"session_id": sid})  # nothing playing yet
    t.step("guest", "controlSession", 403, body={"action": "play"})
    t.step("host", "controlSession", 200, body={"action": "play"})
    t.step("cohost", "controlSession", 200, body={"action": "pause"})
    t.step("host", "controlSession", 200, body={"action": "play"})
    t.step("guest", "voteToSkip", 200, path={"session_id": sid})
    t.step("banned", "voteToSkip", 200, path={"session_id": sid})
    t.step("host", "controlSession", 200, body={"action": "next"})
    t.step("host", "controlSession", 200, body={"action": "skip"})
    t.step("guest", "getHistory", 200, path={"session_id": sid}, query={"limit": 10})
    t.step("outsider", "getHistory", 403, path={"session_id": sid})
    page = t.step(
        "guest", "getSessionEvents", 200, path={"session_id": sid}, query={"since": 0, "limit": 500}
    )
    t.step(
        "guest",
        "getSessionEvents",
        200,
        path={"session_id": sid},
        query={"since": page["latest_seq"]},
    )
    t.step("outsider", "getSessionEvents", 403, path={"session_id": sid})

    removable = t.step("guest", "addSong", 200, body=tracks[5])["id"]
    t.step("outsider", "removeSong", {403, 404}, path={"id": removable})
    t.step("cohost", "removeSong", 204, path={"id": removable})
    t.step("cohost", "removeSong", 409, path={"id": removable})

    t.step("guest", "kickMember", 403, path={"session_id": sid, "user_id": t.ids["cohost"]})
    t.step("host", "kickMember", 204, path={"session_id": sid, "user_id": t.ids["cohost"]})
    t.step("host", "banMember", 204, path={"session_id": sid, "user_id": t.ids["banned"]})
    t.step("banned", "joinSession", 403, body={"join_code": code})
    t.step("guest", "leaveSession", 200)
    t.step("guest", "leaveSession", 404)
    t.step("host", "controlSession", 200, body={"action": "end"})
    t.step("host", "getCurrentSession", 404)
    t.step(None, "deleteAccount", 401)
    t.step("outsider", "deleteAccount", 204)
    t.step("outsider", "deleteAccount", 204)  # a retry finds nothing left

    # Edges no schema case reaches, same rules.
    t.raw(
        "host",
        "POST",
        "/api/v1/sessions/join",
        400,
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    allowed = t.raw("host", "PUT", "/api/v1/sessions/create", 405)
    assert allowed["code"] == "method_not_allowed"
    t.raw(
        "host",
        "POST",
        "/api/v1/sessions/join",
        413,
        content=json.dumps({"join_code": "A" * 70_000}).encode(),
        headers={"Content-Type": "application/json"},
    )
    t.raw(
        "host",
        "POST",
        "/api/v1/sessions/join",
        415,
        content=b"join_code=ABCD",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    t.raw("host", "GET", "/api/v1/no/such/route", 404)
    t.raw(
        None,
        "GET",
        "/api/v1/sessions/current",
        401,
        headers={"Authorization": "Bearer not.a.token"},
    )
    return t.result
