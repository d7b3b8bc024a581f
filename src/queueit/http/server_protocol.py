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
- the request line and headers may take ``max_header_bytes`` (httptools itself buffers a header
  of any size): past that, 431 ``headers_too_large``.
- one client address holds at most ``max_connections_per_address`` HTTP connections, and at most
  ``max_pending_per_address`` of them still sending a request's headers (a connection just
  opened counts as such): past either, 429 ``too_many_connections`` at once. Upgraded WebSockets
  leave these counts for the socket caps (realtime/caps.py). A trusted proxy's connections
  (``TRUSTED_PROXIES``) are not counted: they carry many clients.

These answers never reach the app (there is no complete request to give it), so they are built
here with the same Problem model. Use ``protocol_class(settings)`` as uvicorn's ``http=``;
WebSocket upgrades hand over to http/websocket_protocol.py's (uvicorn's, with a close that
cannot hang; timers cancelled).
Subclassing uvicorn's protocol depends on its internals: uvicorn is pinned exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections import Counter
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from queueit.config import IPNetwork, Settings
from queueit.http.access_log import SERVER_ANSWER, access_line
from queueit.http.problems import ProblemError
from queueit.http.rendering import encode
from queueit.http.request_id import new_request_id, request_id_context, valid_request_id
from queueit.http.websocket_protocol import BoundedCloseWebSocketProtocol

__all__ = ["protocol_class"]

log = logging.getLogger("queueit.http")

# After answering by itself, the server drops what the client still sends for this long, or
# this many bytes, before it closes the connection.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


def _in_networks(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a Unix socket, or no peer
    return any(ip in network for network in networks)


class _ConnectionCounts:
    """Open and header-pending HTTP connections per client address, for one server."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()
        self.pending: Counter[str] = Counter()

    @staticmethod
    def drop(counter: Counter[str], address: str) -> None:
        if counter[address] <= 1:
            counter.pop(address, None)  # idle addresses must not accumulate
        else:
            counter[address] -= 1


class _TimedHttpToolsProtocol(HttpToolsProtocol):
    # Set from the settings by protocol_class (one subclass per server): no second copy of the
    # defaults here.
    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    max_connections_per_address: int
    max_pending_per_address: int
    trusted_proxies: tuple[IPNetwork, ...]
    counts: _ConnectionCounts

    _read_timer: asyncio.TimerHandle | None = None
    _reading_body = False
    _address: str | None = None  # set while this connection is counted
    _pending = False  # counted in counts.pending
    _header_bytes = 0  # bytes received for the current request's line and headers
    _lingering: asyncio.TimerHandle | None = None  # set once the server answered by itself
    _linger_bytes = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.ws_protocol_class is not None:
            self.ws_protocol_class = BoundedCloseWebSocketProtocol  # its close cannot hang

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else "-"
        if _in_networks(address, self.trusted_proxies):
            # A trusted proxy carries many clients: the caps count them by their forwarded
            # address (the socket caps), not this connection's.
            self._arm(self.header_timeout, body=False)
            return
        counts = self.counts
        if (
            counts.open[address] >= self.max_connections_per_address
            or counts.pending[address] >= self.max_pending_per_address
        ):
            self._answer(
                429, "too_many_connections", "Too many connections from this address.", retry=1
            )
            return
        self._address = address
        counts.open[address] += 1
        self._set_pending(True)
        self._arm(self.header_timeout, body=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._lingering is not None:
            self._lingering.cancel()
        self._uncount()
        super().connection_lost(exc)

    def _set_pending(self, pending: bool) -> None:
        if self._address is None or pending == self._pending:
            return
        self._pending = pending
        if pending:
            self.counts.pending[self._address] += 1
        else:
            self.counts.drop(self.counts.pending, self._address)

    def _uncount(self) -> None:
        self._set_pending(False)
        if self._address is not None:
            self.counts.drop(self.counts.open, self._address)
            self._address = None

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._linger_bytes += len(data)  # read and dropped: see _answer
            if self._linger_bytes > LINGER_BYTES:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        if not self._reading_body:
            # httptools buffers a header of any size: count what belongs to the request line
            # and headers (up to the blank line that ends them) and refuse past the limit.
            end = data.find(b"\r\n\r\n")
            allowed = self.max_header_bytes - self._header_bytes
            self._header_bytes += len(data) if end < 0 else end + 4
            if self._header_bytes > self.max_header_bytes:
                with contextlib.suppress(httptools.HttpParserError):
                    self.parser.feed_data(data[: max(0, allowed)])  # for its X-Request-ID
                if not self.transport.is_closing():
                    self._answer(
                        431,
                        "headers_too_large",
                        f"The request line and headers exceed {self.max_header_bytes} bytes.",
                    )
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            self._answer(400, "bad_request", f"The HTTP request is malformed: {_reason(exc)}.")

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol has its own limits from here on
        self._uncount()  # ... and its own caps
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._set_pending(True)
        if self._read_timer is None:
            self._arm(self.header_timeout, body=False)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._set_pending(False)
        self._header_bytes = 0
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm(self.body_timeout, body=True)

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_body = False
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
        try:
            self._answer(
                408, "request_timeout", f"The request {part} did not arrive within {seconds:g} s."
            )
        finally:
            self.transport.close()  # whatever happened above, the slow client is gone

    def _answer(self, status: int, code: str, detail: str, *, retry: int | None = None) -> None:
        """Write a problem+json response and close the connection; log it, under the request
        id the client gets.

        When the app already runs for this request (it waits for the body), it sees a
        disconnect and whatever it sends is dropped; the answer carries the id the app logs
        under, and the app's access line the status the client got (http/access_log.py).
        """
        self._disarm()
        rid: str | None = None
        for name, value in self.headers or ():
            if name == b"x-request-id":
                rid = valid_request_id(value.decode("latin-1"))
        cycle = self.cycle
        app_logs = cycle is not None and not cycle.response_complete
        if cycle is not None and app_logs:
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()  # too late to answer: cut it off
                return
            state = cycle.scope.setdefault("state", {})  # the app's request state
            rid = state.setdefault("request_id", rid or new_request_id())
            state[SERVER_ANSWER] = status
        rid = rid or new_request_id()
        with request_id_context(rid):
            log.warning("answered %d %s: %s", status, code, detail)
            if not app_logs:
                access_line(self._request_path(), status, None)
        body = encode(
            ProblemError(code, detail, status=status).to_problem(rid, None), exclude_none=True
        )
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"]
        head += [f"{n.decode()}: {v.decode()}\r\n" for n, v in self.server_state.default_headers]
        head += [
            "content-type: application/problem+json\r\n",
            f"content-length: {len(body)}\r\n",
            f"x-request-id: {rid}\r\n",
            *([f"retry-after: {retry}\r\n"] if retry is not None else []),
            "connection: close\r\n\r\n",
        ]
        self.transport.write("".join(head).encode("latin-1") + body)
        # A lingering close: closing a socket that still has unread bytes sends a TCP reset,
        # and the client's kernel then drops the answer before the client reads it (a client
        # still sending a huge header never saw its 431). Half-close, drop what still comes
        # for a moment, then close.
        if self._lingering is None and self.transport.can_write_eof():
            self.transport.write_eof()
            self._lingering = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _request_path(self) -> str | None:
        url = getattr(self, "url", b"") or b""
        return url.split(b"?", 1)[0].decode("latin-1")[:200] or None


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
            "max_header_bytes": settings.http_max_header_bytes,
            "max_connections_per_address": settings.http_max_connections_per_address,
            "max_pending_per_address": settings.http_max_pending_per_address,
            "trusted_proxies": settings.trusted_proxy_networks,
            "counts": _ConnectionCounts(),
        },
    )
