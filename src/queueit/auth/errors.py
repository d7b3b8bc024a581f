"""Exceptions raised by the auth package.

    AuthError                 base: the request is not authenticated (HTTP 401, code "unauthorized")
    ├── MissingToken          no bearer token was sent
    ├── InvalidToken          a token was sent and refused; `detail` says why, safe to show
    └── AuthUnavailable       keys could not be obtained, the token was not judged (HTTP 503)

Every exception carries what the HTTP layer needs for an RFC 9457 problem: `status_code`, `code`,
`title`, `detail` and `headers` (`WWW-Authenticate` on 401s, `Retry-After` on 503s). No message
ever contains the token itself.
"""

from __future__ import annotations


class AuthError(Exception):
    """The request could not be authenticated."""

    status_code: int = 401
    code: str = "unauthorized"
    title: str = "Unauthorized"
    default_detail: str = "Authentication is required."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    @property
    def headers(self) -> dict[str, str]:
        """Response headers for this error (RFC 6750 §3 for bearer-token failures)."""
        return {"WWW-Authenticate": 'Bearer realm="queueit"'}


class MissingToken(AuthError):
    """No `Authorization: Bearer ...` header (or WebSocket token) was sent."""

    default_detail = "A bearer token is required."


class InvalidToken(AuthError):
    """The token was refused: bad signature, expired, wrong audience or issuer, malformed, ...

    `detail` is a short human reason, safe to return to the client.
    """

    default_detail = "The bearer token is invalid."

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="queueit", error="invalid_token"'}


class AuthUnavailable(AuthError):
    """The signing keys (JWKS) could not be fetched and none are cached: not the client's fault."""

    status_code = 503
    code = "auth_unavailable"
    title = "Service Unavailable"
    default_detail = "Token verification is temporarily unavailable."

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
