"""Refuse a request whose path or query string is not UTF-8 once percent-decoded: 400
`invalid_utf8`. Starlette decodes both with errors="replace", so `q=%FF` would otherwise reach
search as U+FFFD and a path id as garbage instead of being refused."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from queueit.http.handlers import render_problem
from queueit.http.problems import ProblemError


def _is_utf8(percent_encoded: bytes) -> bool:
    try:
        unquote_to_bytes(percent_encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def invalid_part(scope: Scope) -> str | None:
    """ "path" or "query string" when that part is not UTF-8, else None."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    if not _is_utf8(raw_path):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if query and not _is_utf8(query):
        return "query string"
    return None


class StrictUtf8Middleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            part = invalid_part(scope)
            if part is not None:
                problem = ProblemError("invalid_utf8", f"The {part} is not valid UTF-8.")
                raw = scope.get("raw_path") or b""
                response = render_problem(problem, raw.decode("ascii", "backslashreplace"))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
