"""The realtime contract (asyncapi/queueit.yaml) on the live server: see ct_realtime."""

from __future__ import annotations

from typing import Any

import ct_realtime
import ct_seed
from ct_stats import STATS

EVENT_TYPES_OF_THE_PARTY = {
    "song_added",
    "votes_updated",
    "member_joined",
    "settings_changed",
    "member_role_changed",
    "playback_changed",
    "skip_votes_updated",
    "song_removed",
    "member_kicked",
    "member_left",
    "session_ended",
}


def test_party_over_websockets(ws_party: Any) -> None:
    report = ws_party
    assert report.refusals == {"outsider": 4003, "bad token": 4001, "no such session": 4004}
    assert report.close_codes == ct_realtime.EXPECTED_CLOSE
    assert EVENT_TYPES_OF_THE_PARTY <= report.event_types, report.event_types
    canonical = {event["seq"]: event for event in report.canonical}
    last_seq = max(canonical)
    for role, client in report.sockets.items():
        for event in client.events:
            if event["type"] == "session_ended":
                assert event["seq"] == last_seq + 1, f"{role}: session_ended is not the last event"
                continue
            assert event == canonical.get(event["seq"]), (
                f"{role}: socket event {event} differs from the polling fallback's "
                f"{canonical.get(event['seq'])}"
            )
        if report.close_codes[role] == 4013:
            assert client.events[-1]["type"] == "session_ended", role
            assert client.last_seq == last_seq + 1, f"{role} missed events"
        assert any(m["type"] == "pong" for m in client.received), f"{role}: no pong for its ping"
    errors = [m for m in report.sockets["guest"].received if m["type"] == "error"]
    assert [e["code"] for e in errors] == ["malformed_message"], errors
    leaver = report.sockets["leaver"]
    assert leaver.events and leaver.events[0]["seq"] == 1, "since=0 must replay from seq 1"
    STATS.count("ws party sockets", len(report.sockets))


async def test_fuzzed_client_frames_get_documented_answers(live: Any) -> None:
    # at least 28 rounds, and more until 150 frames went out: a frame that closes the socket
    # (an `auth` with someone else's token: 4001) ends its round early, as the seed has it
    report = await ct_realtime.fuzz_frames(live, ct_seed.seed(), rounds=28, min_frames=150)
    assert report.frames >= 150, report
    assert report.bystander_events >= 28
    assert {"malformed_message", "invalid_message", "unknown_message_type"} <= set(report.answers)
    assert report.closes.get(4000) and report.closes.get(1009), report.closes
    assert report.closes.get(4001), report.closes
    STATS.count("ws fuzz answers checked", sum(report.answers.values()))
