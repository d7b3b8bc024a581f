"""The HTTP/1.1 protocol QueueIT serves with: uvicorn's httptools protocol, plus read timeouts
and problem+json for the answers the server gives itself.

uvicorn has no timeout for receiving a request (``timeout_keep_alive`` only covers the idle time
between requests and is reset by every byte), so a client that sends half a header, or a body
one byte a minute, holds its connection forever. Here:

- the request line and headers must arrive within ``header_timeout`` seconds of the connection
  opening or the request's first byte; the body within ``body_timeout`` seconds of the headers.
  Otherwise the client gets 408 ``request_timeout`` (when no response started) and the
  connection is closed.
- a request the parser refuses (invalid UTF-8 in the path, ``Transfer-Encoding`` together with
  ``Content-Length``, a malformed header, ...) is answered 400 ``bad_request`` as problem+json
  with ``X-Request-ID`` (the client's, when well-formed), not uvicorn's plain-text 400.

These answers never reach the app (there is no complete request to give it), so they are built
here with the same Problem model. Use ``protocol_class(settings)`` as uvicorn's ``http=``;
WebSocket upgrades hand over to uvicorn's WebSocket protocol as before (timers cancelled).
Subclassing uvicorn's protocol depends on its internals: uvicorn is pinned exactly.
"""

from __future__ import annotations

import asyncio
import logging

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from queueit.config import Settings
from queueit.http.problems import ProblemError
from queueit.http.rendering import encode
from queueit.http.request_id import new_request_id, valid_request_id

__all__ = ["protocol_class"]

log = logging.getLogger("queueit.http")


class _TimedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    _read_timer: asyncio.TimerHandle | None = None
    _reading_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, body=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            log.warning("unparseable HTTP request: %s", _reason(exc))
            self._answer(400, "bad_request", f"The HTTP request is malformed: {_reason(exc)}.")

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol has its own limits from here on
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:
            self._arm(self.header_timeout, body=False)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm(self.body_timeout, body=True)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, *, body: bool) -> None:
        self._disarm()
        self._reading_body = body
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        part = "body" if self._reading_body else "headers"
        seconds = self.body_timeout if self._reading_body else self.header_timeout
        log.warning("closing a connection: request %s not received within %g s", part, seconds)
        cycle = self.cycle if self._reading_body else None
        if cycle is not None:
            # The app already runs for this request and waits for the body: it sees a
            # disconnect, and whatever it sends is dropped.
            started = cycle.response_started
            cycle.disconnected = True
            cycle.message_event.set()
            if started:
                self.transport.close()
                return
        try:
            self._answer(
                408, "request_timeout", f"The request {part} did not arrive within {seconds:g} s."
            )
        finally:
            self.transport.close()  # whatever happened above, the slow client is gone

    def _answer(self, status: int, code: str, detail: str) -> None:
        """Write a problem+json response and close the connection."""
        self._disarm()
        rid = new_request_id()
        for name, value in self.headers or ():
            if name == b"x-request-id":
                rid = valid_request_id(value.decode("latin-1")) or rid
        body = encode(
            ProblemError(code, detail, status=status).to_problem(rid, None), exclude_none=True
        )
        head = [f"HTTP/1.1 {status} {'Bad Request' if status == 400 else 'Request Timeout'}\r\n"]
        head += [f"{n.decode()}: {v.decode()}\r\n" for n, v in self.server_state.default_headers]
        head += [
            "content-type: application/problem+json\r\n",
            f"content-length: {len(body)}\r\n",
            f"x-request-id: {rid}\r\n",
            "connection: close\r\n\r\n",
        ]
        self.transport.write("".join(head).encode("latin-1") + body)
        self.transport.close()


def _reason(exc: BaseException) -> str:
    """A short, safe description of why the parser refused the request."""
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, UnicodeError):
        return "the request target is not ASCII"
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return "".join(ch for ch in text if ch.isprintable())[:200]


def protocol_class(settings: Settings) -> type[HttpToolsProtocol]:
    """uvicorn's ``http=``: the protocol above with the timeouts from ``settings``."""
    return type(
        "QueueItHttpProtocol",
        (_TimedHttpToolsProtocol,),
        {
            "header_timeout": settings.http_header_timeout_seconds,
            "body_timeout": settings.http_body_timeout_seconds,
        },
    )
