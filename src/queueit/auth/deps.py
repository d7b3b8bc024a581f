"""FastAPI glue: the `current_user` dependency and WebSocket token extraction.

The app factory creates the verifier and stores it as `app.state.verifier`
(`TokenVerifier.from_settings(settings)`), and awaits `verifier.aclose()` on shutdown. Tokens are
never logged: use `redact_query_string` for any log line that includes a query string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends
from starlette.requests import HTTPConnection

from queueit.auth.errors import InvalidToken, MissingToken
from queueit.auth.user import AuthUser
from queueit.auth.verifier import TokenVerifier

if TYPE_CHECKING:
    from queueit.http.rate_limits import Limits

TOKEN_QUERY_PARAM = "access_token"  # noqa: S105 - a parameter name, not a secret
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+) *")


def parse_authorization(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None when the header is absent.

    Raises `InvalidToken` for a present header that is not a bearer credential.
    """
    if value is None or not value.strip():
        return None
    match = _BEARER.fullmatch(value.strip())
    if match is None:
        raise InvalidToken("The Authorization header must be 'Bearer <token>'.")
    return match.group(1)


def get_verifier(connection: HTTPConnection) -> TokenVerifier:
    verifier = getattr(connection.app.state, "verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.verifier is not set: the app factory must create it")
    return verifier


def get_limits(connection: HTTPConnection) -> Limits:
    limits = getattr(connection.app.state, "limits", None)
    if limits is None:
        raise RuntimeError("app.state.limits is not set: the app factory must create it")
    return limits  # type: ignore[no-any-return]


def client_address(connection: HTTPConnection) -> str:
    """The caller's address (a trusted proxy's forwarded one, see TRUSTED_PROXIES)."""
    return connection.client.host if connection.client is not None else "-"


async def take_reads(request: HTTPConnection, user: AuthUser, cost: int = 1) -> None:
    """Charge `cost` reads to the user and to their address, or raise 429."""
    if cost <= 0:
        return
    limits = get_limits(request)
    await limits.reads.hit(str(user.id), cost)
    await limits.reads_per_address.hit(client_address(request), cost)


async def current_user(request: HTTPConnection) -> AuthUser:
    """FastAPI dependency: the caller of this request, from `Authorization: Bearer <token>`.

    Raises `MissingToken` / `InvalidToken` (401) or `AuthUnavailable` (503); over its address's
    budget of failed authentications, 429 instead of 401. A GET is charged one read. The user is
    also left on `request.state.user` for logging and the database layer.
    """
    try:
        token = parse_authorization(request.headers.get("authorization"))
        if token is None:
            raise MissingToken()
        user = await get_verifier(request).verify(token)
    except (MissingToken, InvalidToken):
        await get_limits(request).failed_auth.hit(client_address(request))
        raise
    request.state.user = user
    if request.scope.get("method") == "GET":
        await take_reads(request, user)
    return user


CurrentUser = Annotated[AuthUser, Depends(current_user)]
"""Use as a parameter type: `async def endpoint(user: CurrentUser) -> ...`."""


def extract_ws_token(headers: Mapping[str, str], query_params: Mapping[str, str]) -> str | None:
    """The token of a WebSocket upgrade: `Authorization: Bearer` header, else the `access_token`
    query parameter. None when neither is sent (the client may then authenticate with its first
    message). Raises `InvalidToken` for a malformed Authorization header.
    """
    token = parse_authorization(_header(headers, "authorization"))
    if token is not None:
        return token
    query_token = query_params.get(TOKEN_QUERY_PARAM)
    if query_token is None or not query_token.strip():
        return None
    return query_token.strip()


def redact_query_string(query: str) -> str:
    """The query string with any `access_token` value replaced, safe for logs."""
    if TOKEN_QUERY_PARAM not in query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(name, "[redacted]" if name == TOKEN_QUERY_PARAM else value) for name, value in pairs],
        safe="[]",
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    # Plain dicts are case-sensitive; Starlette's Headers are not.
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None
