"""One member's socket, from the upgrade to the close (asyncapi/queueit.yaml).

1. Accept (custom close codes need an open socket; 4029 over the per-address cap), authenticate:
   `Authorization: Bearer`, the `access_token` query parameter, or an `auth` first frame within
   `hub.auth_timeout` seconds; 4029 over the per-user or per-address cap.
2. Subscribe (PENDING: live events are buffered), then in the member's RLS transaction check the
   membership and read the snapshot, or the replay of `since` when every later event is kept.
   Refused callers are told apart with the login role: 4004 no such session, 4013 ended,
   4011 banned, 4003 not a member.
3. Send the opening frames, go LIVE (buffered events above the opening's seq follow, gap-free),
   start the writer task, and read client frames until the socket closes. The hub closes the
   socket (4002) when its token expires (plus leeway) unless an `auth` frame brought a fresh one.

A `since` that is not a non-negative integer is ignored (the client gets a snapshot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from uuid import UUID

from starlette.websockets import WebSocket, WebSocketDisconnect

from queueit.auth.deps import client_address, extract_ws_token
from queueit.auth.errors import AuthError, AuthUnavailable
from queueit.auth.user import AuthUser
from queueit.db import DatabaseUnavailable
from queueit.http.problems import TooManyRequests
from queueit.realtime.caps import Slot
from queueit.realtime.hub import RealtimeHub
from queueit.realtime.protocol import (
    PONG_MESSAGE,
    ClientFrame,
    CloseCode,
    ErrorCode,
    FrameError,
    error_message,
    parse_client_frame,
    utf8_length_exceeds,
)
from queueit.realtime.reading import read_opening
from queueit.realtime.store import Refusal
from queueit.realtime.subscriber import State, Subscriber

logger = logging.getLogger("queueit.realtime")

BAD_FRAMES_ALLOWED = 10  # per BAD_FRAME_WINDOW seconds, then 4000
BAD_FRAME_WINDOW = 60.0
FRAME_BURST = 20  # client frames in a burst; refilled at FRAME_RATE per second
FRAME_RATE = 5.0
FRAMES_DROPPED_ALLOWED = 20  # over the rate in a row, then 4030
RATE_LIMITED_MESSAGE = error_message(
    ErrorCode.RATE_LIMITED, f"Over {FRAME_RATE:g} frames a second: frames are dropped; slow down."
)

_REFUSAL_CODES = {
    Refusal.NO_SUCH_SESSION: CloseCode.NO_SUCH_SESSION,
    Refusal.SESSION_ENDED: CloseCode.SESSION_ENDED,
    Refusal.BANNED: CloseCode.BANNED,
    Refusal.NOT_MEMBER: CloseCode.NOT_MEMBER,
}

CLOSE_REASONS: dict[int, str] = {
    CloseCode.GOING_AWAY: "server shutting down",
    CloseCode.MESSAGE_TOO_BIG: "frame over the size limit",
    CloseCode.INTERNAL_ERROR: "internal error",
    CloseCode.TOO_MANY_BAD_FRAMES: "too many malformed frames",
    CloseCode.UNAUTHORIZED: "no valid token",
    CloseCode.TOKEN_EXPIRED: "token expired",
    CloseCode.NOT_MEMBER: "not a member of this session",
    CloseCode.NO_SUCH_SESSION: "no such session",
    CloseCode.IDLE: "heartbeat timeout",
    CloseCode.TOO_SLOW: "too slow",
    CloseCode.KICKED: "kicked",
    CloseCode.BANNED: "banned",
    CloseCode.LEFT: "left the session",
    CloseCode.SESSION_ENDED: "session ended",
    CloseCode.TOO_MANY_CONNECTIONS: "too many connections",
}


async def serve(hub: RealtimeHub, ws: WebSocket, raw_session_id: str) -> None:
    """Run one socket to its end. Never raises for anything the client does."""
    await ws.accept()
    address = client_address(ws)
    try:
        token = extract_ws_token(ws.headers, ws.query_params)
    except AuthError:
        await _close(hub, ws, CloseCode.UNAUTHORIZED)
        return
    # Only a socket that waits for an `auth` frame holds an unauthenticated slot: one with a
    # token on the upgrade is checked at once, so token-less sockets (anyone's, no account
    # needed) cannot keep members with a token out.
    waiting = None
    if token is None:
        try:
            await hub.limits.tokenless_sockets.hit(address)
        except TooManyRequests:
            await _close(hub, ws, CloseCode.TOO_MANY_CONNECTIONS)
            return
        waiting = await hub.caps.enter_unauthenticated(address)
        if waiting is None:
            await _close(hub, ws, CloseCode.TOO_MANY_CONNECTIONS)
            return
    sub: Subscriber | None = None
    counted: Slot | None = None  # the user's hold on the caps, once authenticated
    try:
        try:
            user = await _authenticate(hub, ws, token, address)
        finally:
            if waiting is not None:
                await hub.caps.leave(waiting)
        if user is None:
            return
        counted = await hub.caps.enter(address, user.id)
        if counted is None:
            await _close(hub, ws, CloseCode.TOO_MANY_CONNECTIONS)
            return
        expires_at = _expiry(hub, user)
        sub = await _subscribe(hub, ws, raw_session_id, user)
        del user
        if sub is None:
            return
        sub.expires_at = expires_at
        sub.next_ping = asyncio.get_running_loop().time() + hub.heartbeat
        sub.start_writer(ws.send_text, lambda code: ws.close(code, CLOSE_REASONS.get(code)))
        await _read_frames(hub, ws, sub)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if sub is not None and sub.killed and task is not None:
            task.uncancel()  # the watchdog gave up on this socket: a normal end, not an error
            return
        raise
    except WebSocketDisconnect:
        # The client went away while its socket opened (or between frames): its choice, not
        # a failure of ours, and a reconnect storm must not flood the log with tracebacks.
        logger.debug("realtime: a client of session %s went away", raw_session_id)
    except Exception:
        logger.exception("realtime: a socket of session %s failed", raw_session_id)
        with contextlib.suppress(Exception):
            await _close(hub, ws, CloseCode.INTERNAL_ERROR)
    finally:
        if counted is not None:
            await hub.caps.leave(counted)
        if sub is not None:
            hub.unregister(sub)
            await sub.stop_writer()


def _expiry(hub: RealtimeHub, user: AuthUser) -> float:
    """The loop time at which this user's token stops holding the socket open (exp + leeway)."""
    exp = user.claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return float("inf")
    remaining = float(exp) - time.time() + hub.settings.ws_token_leeway_seconds
    return asyncio.get_running_loop().time() + remaining


async def _subscribe(
    hub: RealtimeHub, ws: WebSocket, raw_session_id: str, user: AuthUser
) -> Subscriber | None:
    """Subscribe, send the opening and go live; None after closing the socket.

    A coroutine of its own so that nothing it needed (the snapshot) stays referenced for the
    life of an idle socket.
    """
    try:
        session_id = UUID(raw_session_id)
    except ValueError:
        await _close(hub, ws, CloseCode.NO_SUCH_SESSION)
        return None
    since = _parse_since(ws.query_params.get("since"))

    sub = hub.register(session_id, user.id)
    live = False
    try:
        try:
            opening = await read_opening(
                hub.db, hub.snapshot_loader, user, session_id, since, hub.settings.events_retained
            )
        except DatabaseUnavailable as exc:
            logger.warning("realtime: database unavailable while opening a socket: %s", exc)
            await _close(hub, ws, CloseCode.INTERNAL_ERROR)
            return None
        if isinstance(opening, Refusal):
            await _close(hub, ws, _REFUSAL_CODES[opening])
            return None
        await _send_opening(ws, opening.frames)
        await hub.activate(sub, opening.start_seq, opening.live_from, ws.send_text)
        if sub.state is State.PENDING:  # the channel vanished (hub stopping)
            sub.close_after(CloseCode.GOING_AWAY)
        live = True
        return sub
    finally:
        if not live:
            hub.unregister(sub)


async def _send_opening(ws: WebSocket, frames: list[str]) -> None:
    frames.reverse()
    while frames:
        await ws.send_text(frames.pop())


async def _read_frames(hub: RealtimeHub, ws: WebSocket, sub: Subscriber) -> None:
    loop = asyncio.get_running_loop()
    max_bytes = hub.settings.ws_max_message_bytes
    bad: deque[float] | None = None  # created on the first bad frame: most sockets never have one
    tokens = float(FRAME_BURST)
    refilled = loop.time()
    dropped = 0  # frames in a row over the rate
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        now = loop.time()
        sub.last_recv = now
        if sub.state is not State.LIVE:
            continue  # closing: read on until the close handshake ends
        text = message.get("text")
        raw = message.get("bytes")
        if text is not None:
            too_big = utf8_length_exceeds(text, max_bytes)
        else:
            too_big = len(raw or b"") > max_bytes
        if too_big:
            detail = f"Frames are limited to {max_bytes} bytes."
            sub.close_after(
                CloseCode.MESSAGE_TOO_BIG, error_message(ErrorCode.MESSAGE_TOO_LARGE, detail)
            )
            continue
        tokens = min(float(FRAME_BURST), tokens + (now - refilled) * FRAME_RATE)
        refilled = now
        if tokens < 1.0:
            # Over the rate: dropped, and answered once per run (an answer per frame would let
            # a flood make the server write as much as it reads). Not a malformed frame.
            dropped += 1
            if dropped >= FRAMES_DROPPED_ALLOWED:
                sub.close_after(CloseCode.TOO_MANY_FRAMES, RATE_LIMITED_MESSAGE)
            elif dropped == 1:
                sub.offer(RATE_LIMITED_MESSAGE)
            continue
        dropped = 0
        tokens -= 1.0
        result: ClientFrame | FrameError
        if text is None:
            result = FrameError(ErrorCode.MALFORMED_MESSAGE, "Frames must be text (JSON).")
        else:
            result = parse_client_frame(text)
        if isinstance(result, ClientFrame):
            if result.type == "ping":
                sub.offer(PONG_MESSAGE)
            elif result.type == "auth":
                await _refresh(hub, sub, result.token)
            # `pong` only proves liveness.
            continue
        if bad is None:
            bad = deque(maxlen=BAD_FRAMES_ALLOWED)
        bad.append(now)
        reply = error_message(result.code, result.detail)
        if len(bad) == BAD_FRAMES_ALLOWED and now - bad[0] <= BAD_FRAME_WINDOW:
            sub.close_after(CloseCode.TOO_MANY_BAD_FRAMES, reply)
        else:
            sub.offer(reply)


async def _refresh(hub: RealtimeHub, sub: Subscriber, token: str | None) -> None:
    """A fresh token on the open socket: it now lives until that token's expiry. A token that
    does not verify, or is someone else's, closes the socket (4001)."""
    try:
        user = await hub.verifier.verify(token or "")
    except AuthUnavailable:
        return  # the keys are unreachable: keep the old expiry, the client may try again
    except AuthError:
        sub.close_after(CloseCode.UNAUTHORIZED)
        return
    if user.id != sub.user_id:
        sub.close_after(CloseCode.UNAUTHORIZED)
        return
    sub.expires_at = _expiry(hub, user)


async def _authenticate(
    hub: RealtimeHub, ws: WebSocket, token: str | None, address: str
) -> AuthUser | None:
    """The caller (by the upgrade's token, else an `auth` first frame), or None after closing
    the socket (4001; 4029 over the address's budget of failed authentications; 1009; 1011
    when keys are down)."""
    if token is None:
        token = await _auth_frame(hub, ws)
        if token is None:
            return None
    try:
        return await hub.verifier.verify(token)
    except AuthUnavailable:
        await _close(hub, ws, CloseCode.INTERNAL_ERROR)
    except AuthError:
        try:
            await hub.limits.failed_auth.hit(address)
        except TooManyRequests:
            await _close(hub, ws, CloseCode.TOO_MANY_CONNECTIONS)
        else:
            await _close(hub, ws, CloseCode.UNAUTHORIZED)
    return None


async def _auth_frame(hub: RealtimeHub, ws: WebSocket) -> str | None:
    """The token of an `auth` first frame, or None after closing the socket."""
    try:
        async with asyncio.timeout(hub.auth_timeout):
            message = await ws.receive()
    except TimeoutError:
        await _close(hub, ws, CloseCode.UNAUTHORIZED)
        return None
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    max_bytes = hub.settings.ws_max_message_bytes
    if text is not None and utf8_length_exceeds(text, max_bytes):
        await _send_then_close(
            hub,
            ws,
            error_message(ErrorCode.MESSAGE_TOO_LARGE, f"Frames are limited to {max_bytes} bytes."),
            CloseCode.MESSAGE_TOO_BIG,
        )
        return None
    if text is None:
        result: ClientFrame | FrameError = FrameError(
            ErrorCode.MALFORMED_MESSAGE, "Frames must be text (JSON)."
        )
    else:
        result = parse_client_frame(text)
    if isinstance(result, ClientFrame) and result.type == "auth" and result.token:
        return result.token
    if isinstance(result, ClientFrame):
        result = FrameError(
            ErrorCode.INVALID_MESSAGE,
            'Authenticate first: send {"type": "auth", "token": ...} as the first frame.',
        )
    reply = error_message(result.code, result.detail)
    await _send_then_close(hub, ws, reply, CloseCode.UNAUTHORIZED)
    return None


def _parse_since(raw: str | None) -> int | None:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 16:
        return None
    return int(raw)


async def _send_then_close(hub: RealtimeHub, ws: WebSocket, text: str, code: int) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(hub.close_timeout):
            await ws.send_text(text)
    await _close(hub, ws, code)


async def _close(hub: RealtimeHub, ws: WebSocket, code: int) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(hub.close_timeout):
            await ws.close(code, CLOSE_REASONS.get(code))
