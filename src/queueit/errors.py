"""Where the exceptions of the lower layers become problems.

Auth, database and search raise their own documented exceptions and know nothing of HTTP; this
is the one table that says which problem each one is.
"""

from __future__ import annotations

from queueit.auth.errors import AuthError, AuthUnavailable
from queueit.db.errors import DatabaseUnavailable
from queueit.http.problems import (
    ProblemError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
    field_error,
)
from queueit.spotify.errors import (
    InvalidInput,
    InvalidTrack,
    SearchError,
    UpstreamBadResponse,
    UpstreamRateLimited,
)

LOWER_LAYER_ERRORS: tuple[type[Exception], ...] = (
    AuthError,
    DatabaseUnavailable,
    SearchError,
    InvalidInput,
)


def to_problem(exc: Exception, location: str = "query") -> ProblemError | None:
    if isinstance(exc, AuthUnavailable):
        return ServiceUnavailable(detail=exc.detail, headers=exc.headers)
    if isinstance(exc, AuthError):
        return Unauthorized(detail=exc.detail, headers=exc.headers)
    if isinstance(exc, DatabaseUnavailable):
        return ServiceUnavailable(
            detail="The database is unreachable; try again shortly.",
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, UpstreamRateLimited):
        return TooManyRequests(exc.retry_after_seconds, str(exc), code="upstream_rate_limited")
    if isinstance(exc, UpstreamBadResponse):
        return ProblemError("upstream_bad_response", str(exc), status=502)
    if isinstance(exc, SearchError):
        return ServiceUnavailable("upstream_unavailable", str(exc), headers={"Retry-After": "5"})
    if isinstance(exc, InvalidTrack):
        errors = [field_error("body", f, r) for f, r in exc.errors]
        return ValidationFailed(
            detail=f"The track has {len(errors)} invalid field(s).", errors=errors
        )
    if isinstance(exc, InvalidInput):
        return ValidationFailed(
            detail=f"Invalid {exc.field}: {exc.reason}.",
            errors=[field_error(location, exc.field, exc.reason)],
        )
    return None
