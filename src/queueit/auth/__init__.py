"""Authentication: Supabase Auth bearer JWTs (JWKS ES256/RS256, legacy HS256) and development
tokens. See DESIGN.md §4.

    verifier = TokenVerifier.from_settings(settings)     # app factory; app.state.verifier
    user = await verifier.verify(token)                  # AuthUser, or AuthError
    async def endpoint(user: CurrentUser): ...            # FastAPI dependency
    mint_dev_token("alice", settings)                    # `queueit token alice`
"""

from queueit.auth.deps import (
    CurrentUser,
    current_user,
    extract_ws_token,
    parse_authorization,
    redact_query_string,
)
from queueit.auth.dev import DEV_ISSUER, DevAuthDisabled, dev_jwks, dev_user_id, mint_dev_token
from queueit.auth.errors import AuthError, AuthUnavailable, InvalidToken, MissingToken
from queueit.auth.user import AuthUser
from queueit.auth.verifier import AuthHealth, TokenVerifier

__all__ = [
    "DEV_ISSUER",
    "AuthError",
    "AuthHealth",
    "AuthUnavailable",
    "AuthUser",
    "CurrentUser",
    "DevAuthDisabled",
    "InvalidToken",
    "MissingToken",
    "TokenVerifier",
    "current_user",
    "dev_jwks",
    "dev_user_id",
    "extract_ws_token",
    "mint_dev_token",
    "parse_authorization",
    "redact_query_string",
]
