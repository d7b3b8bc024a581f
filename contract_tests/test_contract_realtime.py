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
        own = {event["seq"]: event for event in report.own_copies.get(role, [])}
        for event in client.events:
            if event["type"] == "session_ended":
                assert event["seq"] == last_seq + 1, f"{role}: session_ended is not the last event"
                continue
            # the member's own copy where they can still read one, else what everyone sees
            # (then without the private part: who voted what is checked where it can be)
            expected = own.get(event["seq"]) or canonical.get(event["seq"])
            seen = event if own else ct_realtime.without_private(event)
            assert seen == expected, (
                f"{role}: socket event {event} differs from the polling fallback's {expected}"
            )
        if report.close_codes[role] == 4013:
            assert client.events[-1]["type"] == "session_ended", role
            assert client.last_seq == last_seq + 1, f"{role} missed events"
        assert any(m["type"] == "pong" for m in client.received), f"{role}: no pong for its ping"
    # The voter's and the adder's own copies say their vote; nobody else's copy does
    # (ct_realtime's party: guest, host and late each add a song, the host upvotes the guest's).
    own_votes = {
        role: [(e["type"], e["data"]["my_vote"]) for e in events if "my_vote" in e["data"]]
        for role, events in report.own_copies.items()
    }
    assert own_votes == {
        "host": [("song_added", 1), ("votes_updated", 1)],
        "guest": [("song_added", 1)],
        "late": [("song_added", 1)],
    }, own_votes
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
