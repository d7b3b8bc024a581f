"""The realtime contract on the live server: a scripted multi-user party over real WebSockets,
and fuzzed client frames.

Party: a host and five guests join over REST; their sockets authenticate the three documented
ways (header, `auth` first frame, `access_token` query) or replay with `since=0`. Every change of
the party (add, vote, join, settings, role, play, skip vote, remove, kick, leave, ban, end) must
reach every socket still in the session as one event, gap-free, equal to what the polling
fallback (`GET /sessions/{id}/events`) returns for the same seq; kick, leave, ban and end close
the affected sockets with 4010, 4012, 4011 and 4013; outsiders, bad tokens and unknown sessions
are refused with 4003, 4001 and 4004. Every message received on every socket validates against
asyncapi/queueit.yaml (ct_ws.WsClient).

Frames: a victim socket sends seeded random frames (not JSON, binary, non-objects, unknown and
server-only types, wrong shapes, valid pings/pongs/auths, oversized); each must get the
documented answer (an `error` with the right code, a `pong`, or nothing), the 10th bad frame in
a minute closes with 4000, an oversized one with 1009 — while a bystander socket of the same
session keeps receiving events and answering heartbeats.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

import ct_checks
import httpx
from ct_capture import CORPUS
from ct_stats import STATS
from ct_ws import WsClient

from queueit.realtime.conformance import validate_client_message


class Rest:
    """REST calls of the scripted parties (QueueIT's response rules applied)."""

    def __init__(self, live: Any) -> None:
        self.live = live
        self.client = httpx.AsyncClient(base_url=live.url, timeout=30)
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def user(self, role: str) -> str:
        name = self.live.new_name(role)
        self.tokens[role] = self.live.token(name)
        self.ids[role] = self.live.user_id(name)
        return role

    async def call(
        self, role: str, method: str, path: str, expect: int = 200, **kwargs: Any
    ) -> Any:
        response = await self.client.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kwargs
        )
        problems = (
            ct_checks.violations_problem(response.status_code, response.headers, response.content)
            + ct_checks.violations_request_id(response.headers)
            + ct_checks.violations_datetimes(response.headers, response.content)
            + ct_checks.violations_body(response.headers, response.content)
        )
        assert response.status_code == expect, (
            f"{method} {path} as {role}: {response.status_code} (expected {expect}) "
            f"{response.text[:400]}"
        )
        assert not problems, f"{method} {path}: {problems}"
        return response.json() if response.content else None

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class PartyReport:
    session_id: str = ""
    sockets: dict[str, WsClient] = field(default_factory=dict)
    close_codes: dict[str, int | None] = field(default_factory=dict)
    refusals: dict[str, int | None] = field(default_factory=dict)
    canonical: list[dict[str, Any]] = field(default_factory=list)  # what every member sees
    own_copies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by role
    event_types: set[str] = field(default_factory=set)
    messages: int = 0


BYSTANDER_PING_INTERVAL = 0.25  # seconds between the bystander's pings

# The fields an event carries only in the copy for the member who caused it.
PRIVATE_FIELDS = ("my_vote",)


def without_private(event: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in event["data"].items() if k not in PRIVATE_FIELDS}
    return {**event, "data": data}


EXPECTED_CLOSE = {
    "host": 4013,
    "guest": 4013,
    "late": 4013,
    "kicked": 4010,
    "leaver": 4012,
    "banned": 4011,
}


async def _refused(live: Any, session_id: str, **kwargs: Any) -> int | None:
    client = await WsClient.open(live.ws_url, session_id, **kwargs)
    return await client.until_closed()


async def run_party(live: Any) -> PartyReport:
    rest = Rest(live)
    report = PartyReport()
    try:
        await _party(live, rest, report)
    finally:
        for client in report.sockets.values():
            await client.close()
        await rest.aclose()
    return report


async def _party(live: Any, rest: Rest, report: PartyReport) -> None:
    for role in ("host", "guest", "kicked", "leaver", "banned", "late", "outsider"):
        rest.user(role)
    tracks = (await rest.call("host", "GET", "/api/v1/spotify/search", params={"q": "a"}))["tracks"]
    tracks = [t for t in tracks if not t.get("explicit")]
    created = await rest.call("host", "POST", "/api/v1/sessions/create", json={})
    sid = report.session_id = created["session"]["id"]
    code = created["session"]["join_code"]
    for role in ("guest", "kicked", "leaver", "banned"):
        await rest.call(role, "POST", "/api/v1/sessions/join", json={"join_code": code})

    ws = live.ws_url
    opened = {
        "host": await WsClient.open(ws, sid, token=rest.tokens["host"], label="host"),
        "guest": await WsClient.open(
            ws, sid, token=rest.tokens["guest"], via="frame", label="guest (auth frame)"
        ),
        "kicked": await WsClient.open(
            ws, sid, token=rest.tokens["kicked"], via="query", label="kicked (access_token)"
        ),
        "leaver": await WsClient.open(
            ws, sid, token=rest.tokens["leaver"], since=0, label="leaver (since=0)"
        ),
        "banned": await WsClient.open(ws, sid, token=rest.tokens["banned"], label="banned"),
    }
    report.sockets.update(opened)
    for role, client in opened.items():
        if role == "leaver":
            continue  # since=0: a replay from seq 1 follows, not a snapshot
        first = await client.next()
        assert first["type"] == "snapshot", f"{role}: first message {first['type']}"
        assert first["data"]["session"]["id"] == sid

    report.refusals = {
        "outsider": await _refused(live, sid, token=rest.tokens["outsider"], label="outsider"),
        "bad token": await _refused(live, sid, token="not-a-token", label="bad token"),
        "no such session": await _refused(
            live,
            "00000000-0000-4000-8000-000000000000",
            token=rest.tokens["host"],
            label="no such session",
        ),
    }

    add = "/api/v1/songs/add"
    first = await rest.call("guest", "POST", add, json=tracks[0])
    await rest.call("host", "POST", add, json=tracks[1])
    await rest.call("host", "POST", f"/api/v1/songs/{first['id']}/vote", json={"vote_value": 1})
    await rest.call("late", "POST", "/api/v1/sessions/join", json={"join_code": code})
    late = await WsClient.open(ws, sid, token=rest.tokens["late"], label="late joiner")
    report.sockets["late"] = late
    assert (await late.next())["type"] == "snapshot"
    await rest.call("host", "PATCH", f"/api/v1/sessions/{sid}/settings", json={"skip_vote_min": 5})
    await rest.call(
        "host",
        "PUT",
        f"/api/v1/sessions/{sid}/members/{rest.ids['guest']}/role",
        json={"role": "cohost"},
    )
    await rest.call("host", "PATCH", "/api/v1/sessions/control_session", json={"action": "play"})
    await rest.call("guest", "POST", f"/api/v1/sessions/{sid}/skip_vote")
    third = await rest.call("late", "POST", add, json=tracks[2])
    await rest.call("guest", "DELETE", f"/api/v1/songs/{third['id']}", expect=204)
    for client in report.sockets.values():
        await client.send({"type": "ping"})
    await report.sockets["guest"].send_raw("this is not JSON")  # an `error`, the socket stays
    await rest.call(
        "host", "POST", f"/api/v1/sessions/{sid}/members/{rest.ids['kicked']}/kick", expect=204
    )
    await rest.call("leaver", "POST", "/api/v1/sessions/leave")
    await rest.call(
        "host", "POST", f"/api/v1/sessions/{sid}/members/{rest.ids['banned']}/ban", expect=204
    )
    # The polling fallback as each member still in the session reads it: the same events,
    # but each member's own copy (`my_vote` on their own votes and adds).
    for role in ("host", "guest", "late"):
        page = await rest.call(
            role, "GET", f"/api/v1/sessions/{sid}/events", params={"since": 0, "limit": 500}
        )
        assert not page["has_more"], "more than 500 events in a short party"
        report.own_copies[role] = page["events"]
        for event in page["events"]:
            CORPUS.add_message(event)
    report.canonical = [without_private(e) for e in report.own_copies["host"]]
    await rest.call("host", "PATCH", "/api/v1/sessions/control_session", json={"action": "end"})

    for role, client in report.sockets.items():
        report.close_codes[role] = await client.until_closed()
    report.event_types = {e["type"] for c in report.sockets.values() for e in c.events}
    report.messages = sum(len(c.received) for c in report.sockets.values())


# --- fuzzed client frames ----------------------------------------------------------------------

CLIENT_TYPES = ("auth", "ping", "pong")
SERVER_TYPES = ("snapshot", "error", "song_added", "votes_updated", "session_ended")


def _strict_json(text: str) -> tuple[bool, Any]:
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        return True, json.loads(text, parse_constant=refuse)
    except ValueError:
        return False, None


def expected_answer(frame: str | bytes) -> str:
    """What the contract says the server answers on an open socket: an error code, "pong",
    "none", or "close:4001" for an `auth` whose token is not the caller's own valid one (the
    fuzzer's never are)."""
    if isinstance(frame, bytes):
        return "malformed_message"
    ok, data = _strict_json(frame)
    if not ok:
        return "malformed_message"
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return "invalid_message"
    if data["type"] not in CLIENT_TYPES:
        return "unknown_message_type"
    try:
        validate_client_message(data)
    except AssertionError:
        return "invalid_message"
    if data["type"] == "auth":
        return "close:4001"
    return "pong" if data["type"] == "ping" else "none"


class FrameFuzzer:
    """Seeded random client frames, a mix of every way a frame can be wrong (and right)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, max_len: int = 40) -> str:
        alphabet = string.printable + "éü€漢字🎵\u00a0"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, max_len)))

    def value(self, depth: int = 0) -> Any:
        kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
        kind = self.rng.choice(kinds)
        if kind == "int":
            return self.rng.randint(-(2**53), 2**53)
        if kind == "float":
            return self.rng.uniform(-1e6, 1e6)
        if kind == "str":
            return self.text()
        if kind == "bool":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        if kind == "list":
            return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        return {self.text(8): self.value(depth + 1) for _ in range(self.rng.randint(0, 4))}

    def frame(self) -> str | bytes:
        rng = self.rng
        kind = rng.choice(
            [
                "garbage",
                "binary",
                "truncated",
                "non_object",
                "no_type",
                "type_not_string",
                "unknown_type",
                "server_type",
                "bad_auth",
                "bad_ping",
                "extra_auth_field",
                "ping",
                "pong",
                "auth",
            ]
        )
        if kind == "garbage":
            return self.text(60) or "{"
        if kind == "binary":
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        if kind == "truncated":
            whole = json.dumps({"type": "ping", "at": "2025-11-22T10:30:00Z"})
            return whole[: rng.randint(1, len(whole) - 1)]
        if kind == "non_object":
            return json.dumps(rng.choice([[], [1, 2], "ping", 42, None, True, 1.5]))
        if kind == "no_type":
            body = {k: v for k, v in self.value_dict().items() if k != "type"}
            return json.dumps(body)
        if kind == "type_not_string":
            return json.dumps({"type": rng.choice([1, None, ["ping"], {"t": 1}, True])})
        if kind == "unknown_type":
            return json.dumps({"type": self.text(12) + "x", **self.value_dict()})
        if kind == "server_type":
            return json.dumps({"type": rng.choice(SERVER_TYPES), **self.value_dict()})
        if kind == "bad_auth":
            token = rng.choice([None, 12, "", "x" * 8193, ["t"]])
            return json.dumps({"type": "auth", "token": token})
        if kind == "bad_ping":
            at = rng.choice(
                [
                    "2025-11-22 10:30:00",
                    "2025-11-22T10:30:00.123Z",
                    1700000000,
                    "2025-11-22T10:30:00+01:00",
                    "yesterday",
                    None,
                ]
            )
            return json.dumps({"type": "ping", "at": at})
        if kind == "extra_auth_field":
            return json.dumps({"type": "auth", "token": "t", self.text(6) + "k": self.value()})
        if kind == "ping":
            return json.dumps(
                rng.choice([{"type": "ping"}, {"type": "ping", "at": "2025-11-22T10:30:00Z"}])
            )
        if kind == "pong":
            return json.dumps({"type": "pong"})
        return json.dumps({"type": "auth", "token": "eyJ" + self.text(20).replace('"', "")})

    def value_dict(self) -> dict[str, Any]:
        return {self.text(8): self.value(1) for _ in range(self.rng.randint(0, 3))}

    def oversized(self) -> str:
        return json.dumps({"type": "ping", "pad": "x" * (16 * 1024 + self.rng.randint(1, 4096))})


@dataclass
class FuzzReport:
    frames: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    closes: dict[int | None, int] = field(default_factory=dict)
    bystander_events: int = 0


async def fuzz_frames(
    live: Any, seed: int, rounds: int = 20, min_frames: int = 0, max_rounds: int = 80
) -> FuzzReport:
    """At least `rounds` rounds, and more (up to `max_rounds`) until `min_frames` frames were
    sent: how many a round sends depends on the seed (a frame that closes the socket ends it)."""
    rest = Rest(live)
    report = FuzzReport()
    fuzzer = FrameFuzzer(seed)
    bystander: WsClient | None = None
    try:
        for role in ("host", "bystander", "victim"):
            rest.user(role)
        created = await rest.call("host", "POST", "/api/v1/sessions/create", json={})
        sid, code = created["session"]["id"], created["session"]["join_code"]
        for role in ("bystander", "victim"):
            await rest.call(role, "POST", "/api/v1/sessions/join", json={"join_code": code})
        found = await rest.call("host", "GET", "/api/v1/spotify/search", params={"q": "a"})
        entry = await rest.call("host", "POST", "/api/v1/songs/add", json=found["tracks"][0])
        bystander = await WsClient.open(
            live.ws_url, sid, token=rest.tokens["bystander"], label="bystander"
        )
        assert (await bystander.next())["type"] == "snapshot"
        round_no = -1
        pinged = 0.0
        while round_no + 1 < rounds or (report.frames < min_frames and round_no + 1 < max_rounds):
            round_no += 1  # 0, 1, 2, ...
            await _fuzz_round(live, sid, rest.tokens["victim"], fuzzer, report, round_no)
            # Everyone else is still served: an event and a heartbeat on the bystander.
            vote = 0 if round_no % 2 == 0 else 1  # the adder starts at +1: every vote changes
            await rest.call(
                "host", "POST", f"/api/v1/songs/{entry['id']}/vote", json={"vote_value": vote}
            )
            event = await bystander.next()
            assert event["type"] == "votes_updated", event
            # a well-behaved client: under the contract's 5 frames a second (asyncapi: Frame
            # rate), however quickly the rounds go (a fast seed outran it and was throttled)
            await asyncio.sleep(max(0.0, pinged + BYSTANDER_PING_INTERVAL - time.monotonic()))
            pinged = time.monotonic()
            await bystander.send({"type": "ping"})
            answer = await bystander.reply()
            assert answer["type"] == "pong", answer
            report.bystander_events += 1
        await bystander.close()
        bystander = None
    finally:
        if bystander is not None:
            await bystander.close()
        await rest.aclose()
    return report


async def _fuzz_round(
    live: Any, sid: str, token: str, fuzzer: FrameFuzzer, report: FuzzReport, round_no: int
) -> None:
    victim = await WsClient.open(live.ws_url, sid, token=token, label=f"victim round {round_no}")
    try:
        assert (await victim.next())["type"] == "snapshot"
        if round_no % 4 == 3:
            await victim.send_raw(fuzzer.oversized())
            report.frames += 1
            code = await victim.until_closed()
            report.closes[code] = report.closes.get(code, 0) + 1
            assert code == 1009, f"a frame over 16 KiB closed with {code}, not 1009"
            return
        bad = sent = 0
        while bad < 10:
            if sent >= 15:
                await asyncio.sleep(0.25)  # stay under the documented frame rate (burst 20, 5/s)
            sent += 1
            frame = fuzzer.frame()
            expected = expected_answer(frame)
            await victim.send_raw(frame)
            report.frames += 1
            STATS.count("ws client frames fuzzed")
            if expected.startswith("close:"):
                code = await victim.until_closed()
                report.closes[code] = report.closes.get(code, 0) + 1
                assert code == int(expected[6:]), f"frame {frame!r:.200}: closed with {code}"
                return
            if expected == "none":
                sent += 1
                await victim.send({"type": "ping"})  # nothing for the frame: the pong comes next
                expected = "pong"
            if expected != "pong":
                bad += 1
            if bad == 10:
                break
            answer = await victim.reply()
            got = answer.get("code", answer["type"])
            report.answers[got] = report.answers.get(got, 0) + 1
            assert got == expected, f"frame {frame!r:.200}: answered {answer}, expected {expected}"
        # The 10th bad frame in a minute: its error, then 4000.
        code = await victim.until_closed()
        report.closes[code] = report.closes.get(code, 0) + 1
        last = victim.received[-1] if victim.received else {}
        assert last.get("type") == "error", f"no error before the 4000 close: {last}"
        assert code == 4000, f"the 10th bad frame closed with {code}, not 4000"
    finally:
        await victim.close()
