"""The wire protocol of `WS /api/v1/sessions/{session_id}/realtime` (asyncapi/queueit.yaml).

Close codes, error codes, the client frames the server accepts and the server frames it builds.
Client frames are checked here by hand against the AsyncAPI payload schemas (AuthMessage,
PingMessage, PongMessage): a frame is parsed once per receive, so no schema engine on this path;
`queueit.realtime.conformance` checks the same rules against the spec itself in the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

import orjson

from queueit.http.rendering import encode


class CloseCode(IntEnum):
    """The close codes table of asyncapi/queueit.yaml."""

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down: reconnect with `since`
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011  # reconnect with `since`, with backoff
    TOO_MANY_BAD_FRAMES = 4000
    UNAUTHORIZED = 4001
    TOKEN_EXPIRED = 4002  # refresh the token; next time send `auth` on the open socket first
    NOT_MEMBER = 4003
    NO_SUCH_SESSION = 4004
    IDLE = 4008
    TOO_SLOW = 4009
    KICKED = 4010
    BANNED = 4011
    LEFT = 4012
    SESSION_ENDED = 4013
    TOO_MANY_CONNECTIONS = 4029
    TOO_MANY_FRAMES = 4030  # 20 frames in a row over the frame rate


class ErrorCode(StrEnum):
    """`ErrorMessageCode` of openapi/queueit.yaml."""

    MALFORMED_MESSAGE = "malformed_message"
    UNKNOWN_MESSAGE_TYPE = "unknown_message_type"
    INVALID_MESSAGE = "invalid_message"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"


CLIENT_MESSAGE_TYPES = frozenset({"auth", "ping", "pong"})
AUTH_TOKEN_MAX_CHARS = 8192
WIRE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@dataclass(frozen=True, slots=True)
class ClientFrame:
    """A valid client frame: `type` is one of CLIENT_MESSAGE_TYPES; `token` set for `auth`."""

    type: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class FrameError:
    """Why a client frame was refused; becomes an `error` message."""

    code: ErrorCode
    detail: str


def parse_client_frame(text: str) -> ClientFrame | FrameError:
    """Parse and check one text frame against the client message schemas."""
    try:
        data: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return FrameError(ErrorCode.MALFORMED_MESSAGE, "The frame is not valid JSON.")
    if not isinstance(data, dict):
        return FrameError(ErrorCode.INVALID_MESSAGE, "A message must be a JSON object.")
    kind = data.get("type")
    if not isinstance(kind, str):
        return FrameError(ErrorCode.INVALID_MESSAGE, "A message needs a string `type`.")
    if kind not in CLIENT_MESSAGE_TYPES:
        shown = kind if len(kind) <= 40 else kind[:40] + "..."
        return FrameError(
            ErrorCode.UNKNOWN_MESSAGE_TYPE,
            f"Unknown message type {shown!r}; clients send auth, ping or pong.",
        )
    if kind == "auth":
        # AuthMessage: additionalProperties false, token 1..8192 characters.
        token = data.get("token")
        if set(data) != {"type", "token"} or not isinstance(token, str):
            return FrameError(
                ErrorCode.INVALID_MESSAGE, "`auth` has exactly `type` and a string `token`."
            )
        if not 1 <= len(token) <= AUTH_TOKEN_MAX_CHARS:
            return FrameError(
                ErrorCode.INVALID_MESSAGE,
                f"`token` must be 1 to {AUTH_TOKEN_MAX_CHARS} characters.",
            )
        return ClientFrame("auth", token)
    if kind == "ping" and "at" in data:
        at = data["at"]
        if not isinstance(at, str) or WIRE_TIMESTAMP.match(at) is None:
            return FrameError(
                ErrorCode.INVALID_MESSAGE,
                "`at` must be a UTC date-time like 2025-11-22T10:30:00Z.",
            )
    return ClientFrame(kind)


def error_message(code: ErrorCode, detail: str) -> str:
    return encode({"type": "error", "code": code.value, "detail": detail}).decode()


def ping_message(now: datetime | None = None) -> str:
    return encode({"type": "ping", "at": now or datetime.now(UTC)}).decode()


PONG_MESSAGE = encode({"type": "pong"}).decode()


def utf8_length_exceeds(text: str, limit: int) -> bool:
    """True when `text` is more than `limit` bytes in UTF-8 (without encoding short strings)."""
    if len(text) * 4 <= limit:
        return False
    if len(text) > limit:
        return True
    return len(text.encode("utf-8", "surrogatepass")) > limit
