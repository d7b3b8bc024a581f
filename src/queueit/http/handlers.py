"""Exception handlers: every error from every layer leaves as problem+json.

Order of concerns: our own `ProblemError`s; FastAPI request validation (400 for unparsable JSON,
422 with field errors otherwise); Starlette HTTP errors (404 unknown route, 405 with `Allow`);
auth and database errors from the layers below; anything else is a logged 500 whose body never
carries a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from queueit.errors import LOWER_LAYER_ERRORS, to_problem
from queueit.http.problems import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    ProblemError,
    ServiceUnavailable,
    ValidationFailed,
    field_error,
)
from queueit.http.rendering import encode
from queueit.http.request_id import current_request_id

log = logging.getLogger("queueit.http")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "service_unavailable",
}


def render_problem(err: ProblemError, instance: str | None = None) -> Response:
    problem = err.to_problem(current_request_id(), instance)
    headers = dict(err.headers)
    return Response(
        encode(problem, exclude_none=True),
        status_code=err.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _loc_to_field(loc: Sequence[Any]) -> tuple[str, str]:
    parts = [str(p) for p in loc]
    location = parts[0] if parts and parts[0] in ("body", "query", "path", "header") else "body"
    rest = parts[1:] if parts and parts[0] in ("body", "query", "path", "header") else parts
    return location, ".".join(rest)


def validation_problem(errors: Sequence[Any]) -> ProblemError:
    for e in errors:
        if e.get("type") == "json_invalid":
            ctx = e.get("ctx") or {}
            reason = ctx.get("error", "invalid JSON")
            return BadRequest("malformed_json", f"The body is not valid JSON: {reason}.")
    fields = []
    for e in errors:
        location, field = _loc_to_field(e.get("loc", ()))
        fields.append(field_error(location, field, str(e.get("msg", "invalid"))))
    n = len(fields)
    return ValidationFailed(
        detail=f"The request has {n} invalid field{'s' if n != 1 else ''}.", errors=fields
    )


async def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    if exc.status >= 500:
        log.warning("problem %s: %s", exc.code.value, exc.detail)
    return render_problem(exc, request.url.path)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return render_problem(validation_problem(exc.errors()), request.url.path)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's).

    Asks the router itself, one method at a time, so routes nested in included routers (and
    their prefixes) count the same as top-level ones.
    """
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]
    return ", ".join(allowed)


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _STATUS_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    headers = dict(exc.headers or {})
    if status == 404:
        detail = f"No route {request.url.path}."
    elif status == 405:
        allowed = _allowed_methods(request) or headers.get("Allow", "")
        headers["Allow"] = allowed
        detail = f"{request.method} is not allowed here; allowed: {allowed}."
    else:
        detail = str(exc.detail) if exc.detail else ""
    err = ProblemError(code, detail or None, status=status, headers=headers)
    return render_problem(err, request.url.path)


async def _unhandled_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    err = ProblemError(
        "internal_error",
        "An unexpected error occurred; it has been logged with this request id.",
        status=500,
    )
    return render_problem(err, request.url.path)


async def _lower_layer_handler(request: Request, exc: Exception) -> Response:
    problem = to_problem(exc)
    if problem is None:
        return await _unhandled_handler(request, exc)
    if isinstance(problem, ServiceUnavailable):
        log.warning("unavailable: %s", problem.detail)
    return render_problem(problem, request.url.path)


class CatchAllMiddleware:
    """Innermost user middleware: an exception no handler took becomes a problem+json 500.

    Starlette sends unhandled errors to ServerErrorMiddleware, which sits outside the request-id
    middleware; catching here keeps `X-Request-ID` and the problem format on 500s too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # The client went away (or the HTTP protocol answered it itself) before the app
            # had the whole request: nobody is left to answer, and nothing failed here.
            log.info("the client went away before its request was read")
        except Exception as exc:
            if started:
                log.exception("error after the response started")
                return
            request = Request(scope)
            if isinstance(exc, ProblemError):
                response = render_problem(exc, request.url.path)
            else:
                response = await _lower_layer_handler(request, exc)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    for cls in LOWER_LAYER_ERRORS:
        app.add_exception_handler(cls, _lower_layer_handler)
