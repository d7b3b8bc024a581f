"""One structured log line per HTTP request: method, path (no query), status, duration.

The status is the one the client got: a request the HTTP protocol answered itself while the
app was still reading it (a malformed chunk, a body too slow) has it in the request state under
`SERVER_ANSWER`; a request whose client went away before any answer is logged as 499 (client
closed request, as nginx logs it). Answers the protocol gives with no app running log their line
through `access_line` themselves.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("queueit.access")

SERVER_ANSWER = "queueit.server_answer"  # request-state key: the status the protocol answered
CLIENT_CLOSED = 499


def access_line(
    path: str | None,
    status: int,
    duration_ms: float | None,
    method: str | None = None,
    user_id: str | None = None,
) -> None:
    log.info(
        "request",
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": user_id,
        },
    )


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: int | None = None

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            status = status or 500
            raise
        finally:
            state = scope.get("state", {})
            user = state.get("user")  # set by the auth dependency
            answered = state.get(SERVER_ANSWER)
            access_line(
                scope.get("path"),
                answered or status or CLIENT_CLOSED,
                round((time.perf_counter() - start) * 1000, 2),
                method=scope.get("method"),
                user_id=str(user.id) if user is not None else None,
            )
