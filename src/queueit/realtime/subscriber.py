"""One connected socket as the hub sees it: a bounded send queue and its own writer task.

The fan-out path only ever calls the synchronous `deliver` / `offer`: it appends an already
encoded frame to this subscriber's queue and wakes its writer. It never awaits a socket, so a
slow consumer delays nobody else. When the queue is full the subscriber is cut off (4009): its
queue is dropped and a close is the only thing left to send.

States: PENDING (registered before its snapshot/replay is read; live events are buffered),
LIVE (in order from `last_seq`), CLOSING (a close is queued; nothing else is accepted),
CLOSED (the writer is done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from uuid import UUID

from queueit.realtime.events import WireEvent
from queueit.realtime.protocol import CloseCode

logger = logging.getLogger("queueit.realtime")

# A writer task ends after about this long with nothing to send (the hub's heartbeat tick retires
# it: no timer per wait), so idle sockets hold no task; the next frame starts a new one.
WRITER_LINGER_SECONDS = 5.0

SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int], Awaitable[None]]


class State(IntEnum):
    PENDING = 0
    LIVE = 1
    CLOSING = 2
    CLOSED = 3


@dataclass(frozen=True, slots=True)
class _CloseMarker:
    code: int


class Subscriber:
    __slots__ = (
        "_close",
        "_close_timeout",
        "_idle_since",
        "_reader",
        "_send",
        "_waiter",
        "_watchdog",
        "_writer",
        "close_code",
        "expires_at",
        "killed",
        "last_recv",
        "last_seq",
        "limit",
        "live_from",
        "next_ping",
        "pending",
        "queue",
        "session_id",
        "state",
        "user_id",
    )

    def __init__(
        self, session_id: UUID, user_id: UUID, limit: int, close_timeout: float, now: float
    ) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.limit = max(1, limit)
        self.state = State.PENDING
        self.last_seq = 0
        # Events up to here came with the snapshot/replay read inside the membership check;
        # only later ones can close this socket (kick/ban/leave/end).
        self.live_from = 0
        self.pending: list[WireEvent] = []
        # A list, not a deque: an empty deque costs ~600 bytes on every idle socket.
        self.queue: list[str | _CloseMarker] = []
        self.close_code: int | None = None
        self.last_recv = now
        self.next_ping = now
        self.expires_at = float("inf")  # loop time after which the token no longer holds (4002)
        self.killed = False
        self._close_timeout = close_timeout
        # The writer's wake-up: a future only while it waits (lighter than an asyncio.Event).
        self._waiter: asyncio.Future[bool] | None = None  # True: work; False: retire if idle
        self._idle_since = now
        self._writer: asyncio.Task[None] | None = None
        self._send: SendText | None = None
        self._close: Close | None = None
        self._reader: asyncio.Task[object] | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    # -- fan-out path (synchronous, never awaits) ---------------------------------------------

    def deliver(self, event: WireEvent) -> None:
        """Offer one event from the session's ordered stream."""
        if self.state is State.PENDING:
            if len(self.pending) >= self.limit:
                # Everything buffered is in the table: drop it, activation fetches the gap.
                self.pending.clear()
            self.pending.append(event)
            return
        if self.state is not State.LIVE or event.seq <= self.last_seq:
            return  # closing, or already had it (snapshot newer than the stream)
        if event.seq != self.last_seq + 1:
            logger.error(
                "realtime: gap for a subscriber of %s (had %d, got %d)",
                self.session_id,
                self.last_seq,
                event.seq,
            )
            self.cut_off(CloseCode.INTERNAL_ERROR)
            return
        self.last_seq = event.seq
        code = event.close_code_for(self.user_id) if event.seq > self.live_from else None
        if code is not None:
            self.close_after(code, event.text_for(self.user_id))
            return
        self.offer(event.text_for(self.user_id))

    def offer(self, text: str) -> bool:
        """Queue one frame; cut the subscriber off (4009) when its buffer is full."""
        if self.state is not State.LIVE:
            return False
        if len(self.queue) >= self.limit:
            self.cut_off(CloseCode.TOO_SLOW)
            return False
        self.queue.append(text)
        self._wake()
        return True

    def close_after(self, code: int, last_text: str | None = None) -> None:
        """Send what is queued (and `last_text`), then close with `code`."""
        if self.state >= State.CLOSING:
            return
        if self.state is State.PENDING:
            self.pending.clear()
        if last_text is not None:
            self.queue.append(last_text)
        self._closing(code)

    def cut_off(self, code: int) -> None:
        """Drop everything queued and close with `code` as soon as the socket allows."""
        if self.state >= State.CLOSING:
            return
        self.queue.clear()
        self.pending.clear()
        self._closing(code)
        if self._writer is not None:
            # A writer blocked on a socket that never drains must not linger forever.
            loop = asyncio.get_running_loop()
            self._watchdog = loop.call_later(self._close_timeout, self.kill)

    def _closing(self, code: int) -> None:
        self.state = State.CLOSING
        self.close_code = code
        self.queue.append(_CloseMarker(code))
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(True)
        elif self._writer is None and self._send is not None and self.state is not State.CLOSED:
            self._writer = asyncio.create_task(self._run_writer())

    def retire_idle_writer(self, now: float, linger: float = WRITER_LINGER_SECONDS) -> None:
        """End the writer task when it has waited `linger` seconds for work (hub heartbeat)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done() and now - self._idle_since >= linger:
            waiter.set_result(False)

    def kill(self) -> None:
        """Give up on the socket: stop the writer and release the reading endpoint."""
        self.killed = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()

    # -- activation and the writer ------------------------------------------------------------

    def take_pending(self, after: int, n: int) -> list[WireEvent]:
        """Remove and return up to `n` buffered events above `after` (older ones are dropped)."""
        start = 0
        while start < len(self.pending) and self.pending[start].seq <= after:
            start += 1
        taken = self.pending[start : start + n]
        del self.pending[: start + n]
        return taken

    def go_live(self, last_seq: int) -> list[WireEvent]:
        """PENDING -> LIVE at `last_seq`; returns the buffered events still to deliver."""
        buffered, self.pending = self.pending, []
        self.last_seq = last_seq
        if self.state is State.PENDING:
            self.state = State.LIVE
        return [e for e in buffered if e.seq > last_seq]

    def start_writer(self, send_text: SendText, close: Close) -> None:
        """From now on a writer task of this socket sends the queue; the caller reads."""
        self._reader = asyncio.current_task()
        self._send, self._close = send_text, close
        if self.queue:
            self._wake()

    async def _run_writer(self) -> None:
        """Drain the queue; linger a while for more, then end (an idle socket holds no task)."""
        assert self._send is not None and self._close is not None
        send_text, close = self._send, self._close
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self.queue:
                    self._idle_since = loop.time()
                    self._waiter = loop.create_future()
                    try:
                        work = await self._waiter
                    finally:
                        self._waiter = None
                    if not work and not self.queue:
                        self._writer = None  # the next frame starts a new writer
                        return
                    continue
                item = self.queue.pop(0)
                if isinstance(item, str):
                    await send_text(item)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(close(item.code), self._close_timeout)
                    self.state = State.CLOSED
                    return
        except asyncio.CancelledError:
            self.state = State.CLOSED
            raise
        except Exception as exc:  # the socket went away under us: nothing left to do
            logger.debug("realtime: writer stopped: %s", type(exc).__name__)
            self.state = State.CLOSED
        finally:
            if self.state is State.CLOSED and self._watchdog is not None:
                self._watchdog.cancel()

    async def stop_writer(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.state = State.CLOSED
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    @property
    def writer(self) -> asyncio.Task[None] | None:
        return self._writer
