"""Pieces of the realtime package without a server: frames, events, retention, NOTIFY payloads,
the subscriber's queue, and the contract validator itself."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import orjson
import pytest

from queueit.config import Settings
from queueit.realtime import RealtimeHub
from queueit.realtime.conformance import (
    ConformanceError,
    validate_client_message,
    validate_server_message,
)
from queueit.realtime.events import WireEvent, event_dict, since_is_kept
from queueit.realtime.protocol import (
    PONG_MESSAGE,
    ClientFrame,
    ErrorCode,
    FrameError,
    error_message,
    parse_client_frame,
    ping_message,
    utf8_length_exceeds,
)
from queueit.realtime.store import notify_payloads, parse_notify_payload
from queueit.realtime.subscriber import State, Subscriber

SID = uuid.UUID("3f6c2a9e-8b1d-4c7a-9e2f-5a4b3c2d1e0f")
ALICE = uuid.UUID("7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
BOB = uuid.UUID("0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b")

FRAMES = [
    '{"type": "ping"}',
    '{"type": "ping", "at": "2025-11-22T10:35:20Z"}',
    '{"type": "pong"}',
    '{"type": "pong", "note": "extra fields are allowed"}',
    '{"type": "auth", "token": "abc.def.ghi"}',
    '{"type": "auth"}',
    '{"type": "auth", "token": ""}',
    '{"type": "auth", "token": 7}',
    '{"type": "auth", "token": "x", "more": true}',
    '{"type": "ping", "at": "2025-11-22T10:35:20+00:00"}',
    '{"type": "ping", "at": 5}',
    '{"type": "hello"}',
    '{"type": 3}',
    "[]",
    "null",
    "not json",
]


@pytest.mark.parametrize("frame", FRAMES)
def test_frame_parser_agrees_with_the_contract(frame: str) -> None:
    parsed = parse_client_frame(frame)
    try:
        validate_client_message(orjson.loads(frame))
        conformant = True
    except (ConformanceError, orjson.JSONDecodeError):
        conformant = False
    assert isinstance(parsed, ClientFrame) == conformant, parsed


def test_frame_errors_use_the_contract_codes() -> None:
    assert parse_client_frame("{") == FrameError(
        ErrorCode.MALFORMED_MESSAGE, "The frame is not valid JSON."
    )
    unknown = parse_client_frame('{"type": "' + "x" * 100 + '"}')
    assert isinstance(unknown, FrameError) and unknown.code is ErrorCode.UNKNOWN_MESSAGE_TYPE
    assert len(unknown.detail) < 120
    for code in ErrorCode:
        validate_server_message(orjson.loads(error_message(code, "why")))
    validate_server_message(orjson.loads(ping_message()))
    validate_server_message(orjson.loads(PONG_MESSAGE))


def test_ping_time_is_utc_whole_seconds() -> None:
    local = datetime(2025, 11, 22, 12, 30, 5, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert orjson.loads(ping_message(local))["at"] == "2025-11-22T10:30:05Z"


def test_utf8_length_limit() -> None:
    assert not utf8_length_exceeds("x" * 16384, 16384)
    assert utf8_length_exceeds("x" * 16385, 16384)
    assert utf8_length_exceeds("é" * 8193, 16384)  # 2 bytes each
    assert not utf8_length_exceeds("é" * 8192, 16384)


@pytest.mark.parametrize(
    ("since", "first", "last", "kept"),
    [
        (10, None, 10, True),  # nothing missed
        (9, 10, 10, True),
        (0, 1, 10, True),
        (0, 2, 10, False),  # event 1 is gone
        (5, 7, 10, False),
        (11, None, 10, False),  # a seq the session never had
        (0, 1, 2000, False),  # beyond the retention window even if rows are still there
        (1000, 1001, 2000, True),
    ],
)
def test_since_is_kept(since: int, first: int | None, last: int, kept: bool) -> None:
    assert since_is_kept(since, first, last, retained=1000) is kept


def test_notify_payloads_fit_and_round_trip() -> None:
    pairs = {uuid.uuid4(): n for n in range(1, 600)}
    payloads = notify_payloads(pairs)
    assert len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)
    parsed = [pair for p in payloads for pair in parse_notify_payload(p)]
    assert dict(parsed) == pairs
    assert parse_notify_payload("junk,{SID}:x,:3," + f"{SID}:7") == [(SID, 7)]


def _row(seq: int, kind: str, payload: dict[str, object]) -> dict[str, object]:
    return {"seq": seq, "type": kind, "payload": payload, "created_at": datetime.now(UTC)}


def test_wire_events_and_whom_they_close() -> None:
    votes = WireEvent.from_row(
        SID, _row(3, "votes_updated", {"queued_song_id": str(BOB), "total_votes": 2})
    )
    validate_server_message(orjson.loads(votes.text))
    assert votes.close_code_for(ALICE) is None

    left = WireEvent.from_row(
        SID, _row(4, "member_left", {"user_id": str(ALICE), "member_count": 1, "new_host_id": None})
    )
    assert (left.close_code_for(ALICE), left.close_code_for(BOB)) == (4012, None)
    kicked = {"user_id": str(ALICE), "banned": False, "by": str(BOB), "member_count": 1}
    assert WireEvent.from_row(SID, _row(5, "member_kicked", kicked)).close_code_for(ALICE) == 4010
    banned = WireEvent.from_row(SID, _row(5, "member_kicked", {**kicked, "banned": True}))
    assert (banned.close_code_for(ALICE), banned.close_code_for(BOB)) == (4011, None)
    ended = WireEvent.from_row(SID, _row(6, "session_ended", {"reason": "idle"}))
    assert ended.close_code_for(ALICE) == ended.close_code_for(BOB) == 4013
    validate_server_message(orjson.loads(ended.text))


def test_the_reapers_idle_warning_goes_out_as_session_ending() -> None:
    event = event_dict(SID, _row(8, "session_idle_warning", {"ends_at": "2025-11-22T14:30:00Z"}))
    assert event["type"] == "session_ending"
    assert event["data"] == {"ends_at": "2025-11-22T14:30:00Z", "reason": "idle"}
    wire = WireEvent.from_row(
        SID, _row(8, "session_idle_warning", {"ends_at": event["data"]["ends_at"]})
    )
    validate_server_message(orjson.loads(wire.text))


def _event(seq: int) -> WireEvent:
    return WireEvent(seq, f'{{"seq": {seq}}}')


async def test_subscriber_orders_dedupes_and_cuts_off_when_full() -> None:
    sub = Subscriber(SID, ALICE, limit=4, close_timeout=1.0, now=0.0)
    sub.deliver(_event(6))  # pending: buffered
    assert sub.pending and sub.state is State.PENDING
    resumed = sub.go_live(5)
    assert [e.seq for e in resumed] == [6]
    sub.deliver(resumed[0])
    for seq in (6, 7, 7, 8):
        sub.deliver(_event(seq))
    assert list(sub.queue) == ['{"seq": 6}', '{"seq": 7}', '{"seq": 8}']
    sub.deliver(_event(9))
    sub.deliver(_event(10))  # fifth frame: over the limit
    assert sub.state is State.CLOSING and sub.close_code == 4009
    assert len(sub.queue) == 1  # only the close is left to send
    sub.deliver(_event(11))
    assert len(sub.queue) == 1


async def test_subscriber_gap_means_start_over_and_pending_overflow_drops() -> None:
    sub = Subscriber(SID, ALICE, limit=3, close_timeout=1.0, now=0.0)
    for seq in range(1, 6):
        sub.deliver(_event(seq))
    assert [e.seq for e in sub.pending] == [4, 5]  # dropped, refetched from the table later
    sub.go_live(5)
    sub.deliver(_event(7))
    assert sub.close_code == 1011


async def test_writer_sends_in_order_then_closes() -> None:
    sent: list[str] = []
    closed: list[int] = []

    async def send(text: str) -> None:
        sent.append(text)

    async def close(code: int) -> None:
        closed.append(code)

    sub = Subscriber(SID, ALICE, limit=10, close_timeout=1.0, now=0.0)
    sub.go_live(0)
    sub.start_writer(send, close)
    for seq in (1, 2):
        sub.deliver(_event(seq))
    left = {"user_id": str(ALICE), "member_count": 1, "new_host_id": None}
    sub.deliver(WireEvent.from_row(SID, _row(3, "member_left", left)))
    assert sub.writer is not None
    await asyncio.wait_for(sub.writer, 5)
    assert [orjson.loads(t)["seq"] for t in sent] == [1, 2, 3]
    assert closed == [4012]
    assert sub.state is State.CLOSED


def test_validator_rejects_off_format_dates_anywhere() -> None:
    event = {
        "type": "member_joined",
        "seq": 2,
        "session_id": str(SID),
        "created_at": "2025-11-22T10:31:12Z",
        "data": {
            "member": {
                "user": {"id": str(ALICE), "username": "leo", "email": None, "avatar_url": None},
                "role": "guest",
                "joined_at": "2025-11-22T10:31:12Z",
            },
            "member_count": 2,
        },
    }
    validate_server_message(event)
    for bad in ("2025-11-22T10:31:12.123Z", "2025-11-22T10:31:12+00:00", "2025-11-22T10:31:12"):
        broken = orjson.loads(orjson.dumps(event))
        broken["data"]["member"]["joined_at"] = bad
        with pytest.raises(ConformanceError, match="data/member/joined_at"):
            validate_server_message(broken)
    extra = orjson.loads(orjson.dumps(event))
    extra["data"]["note"] = "2025-11-22 10:31"  # not a schema field, still a date on the wire
    with pytest.raises(ConformanceError, match="/data/note='2025-11-22 10:31'"):
        validate_server_message(extra)
    with pytest.raises(ConformanceError, match="not a server message"):
        validate_server_message({"type": "auth", "token": "x"})  # a client message


async def test_publish_is_synchronous_and_may_be_awaited(settings: Settings) -> None:
    hub = RealtimeHub(settings, cast(Any, None), cast(Any, None))
    hub.publish(SID, 3)  # no local subscribers, hub not started: nothing to do, no error
    await hub.publish(str(SID), 4)
    assert hub.stats.published == 2


async def test_an_idle_writer_task_retires_and_comes_back_on_demand() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    async def close(code: int) -> None:
        pass

    loop = asyncio.get_running_loop()
    sub = Subscriber(SID, ALICE, limit=10, close_timeout=1.0, now=loop.time())
    sub.go_live(0)
    sub.start_writer(send, close)
    assert sub.writer is None  # nothing to send: no task
    sub.deliver(_event(1))
    first = sub.writer
    assert first is not None
    await asyncio.sleep(0.01)
    sub.retire_idle_writer(loop.time(), linger=10.0)  # not idle long enough
    await asyncio.sleep(0)
    assert not first.done()
    sub.retire_idle_writer(loop.time() + 11.0, linger=10.0)
    await asyncio.wait_for(first, 5)
    assert sub.writer is None and sub.state is State.LIVE
    sub.deliver(_event(2))
    assert sub.writer is not None and sub.writer is not first
    await asyncio.sleep(0.01)
    assert [orjson.loads(t)["seq"] for t in sent] == [1, 2]
    await sub.stop_writer()
    assert sub.state is State.CLOSED and sub.writer is None
