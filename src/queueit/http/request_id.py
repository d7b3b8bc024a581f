"""X-Request-ID: taken from the request when well-formed, else generated; on every response.

Pure ASGI middleware (no BaseHTTPMiddleware) so it wraps every response, errors included, and
the id is in a context variable for log lines and problem bodies.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def new_request_id() -> str:
    return secrets.token_hex(8)


def valid_request_id(value: str | None) -> str | None:
    """``value`` when it is a well-formed request id a client may choose, else None."""
    return value if value and _VALID.match(value) else None


def current_request_id() -> str:
    return request_id_var.get()


@contextmanager
def request_id_context(rid: str) -> Iterator[None]:
    """Log lines within are under `rid` (outside a request: the server's own answers)."""
    token = request_id_var.set(rid)
    try:
        yield
    finally:
        request_id_var.reset(token)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        state = scope.setdefault("state", {})
        # set already when the HTTP protocol answered this request itself before the app ran
        rid = state.get("request_id") or valid_request_id(incoming) or new_request_id()
        token = request_id_var.set(rid)
        state["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
