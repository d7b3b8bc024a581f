"""RFC 9457 problem+json errors — the one error format of every layer.

Raise a `ProblemError` (or one of its subclasses) anywhere below the endpoints; the handlers in
`queueit.http.handlers` turn it, and every other exception, into `application/problem+json` with
the stable `code` from the spec's `ProblemCode` enum and the request id.

Do: raise `NotFound("song_not_found", "No such queued song.")`.
Don't: return ad-hoc JSON errors or raise FastAPI's `HTTPException` from feature code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from queueit_contract.models import FieldError, FieldLocation, Problem, ProblemCode

PROBLEM_TYPE_BASE = "https://queueit.app/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    413: "Content Too Large",
    422: "Unprocessable Content",
}


def status_title(status: int) -> str:
    if status in _TITLES:
        return _TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """An error the client should see, as problem+json with this status and code."""

    status: int = 400
    default_code: str = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        detail: str | None = None,
        *,
        status: int | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = ProblemCode(code or self.default_code)
        if status is not None:
            self.status = status
        self.detail = detail or status_title(self.status)
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(f"{self.status} {self.code.value}: {self.detail}")

    def to_problem(self, request_id: str, instance: str | None) -> Problem:
        return Problem(
            type=f"{PROBLEM_TYPE_BASE}{self.code.value}",
            title=status_title(self.status),
            status=self.status,
            detail=self.detail,
            instance=instance,
            code=self.code,
            request_id=request_id,
            errors=self.errors,
            **self.extra,
        )


class BadRequest(ProblemError):
    status = 400
    default_code = "bad_request"


class Unauthorized(ProblemError):
    status = 401
    default_code = "unauthorized"


class Forbidden(ProblemError):
    status = 403
    default_code = "forbidden"


class NotFound(ProblemError):
    status = 404
    default_code = "not_found"


class Conflict(ProblemError):
    status = 409
    default_code = "conflict"


class ValidationFailed(ProblemError):
    status = 422
    default_code = "validation_failed"


class TooManyRequests(ProblemError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, retry_after: int, detail: str | None = None, code: str | None = None):
        retry_after = max(1, int(retry_after))
        super().__init__(
            code,
            detail or f"Too many requests; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(ProblemError):
    status = 503
    default_code = "service_unavailable"


def field_error(location: str, field: str, message: str) -> FieldError:
    return FieldError(location=FieldLocation(location), field=field[:500], message=message[:1000])
