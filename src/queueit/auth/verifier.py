"""Verification of Supabase Auth access tokens (bearer JWTs).

Rules, in the order they are applied (design §4):

1. The token is a compact JWS of at most 8 KiB with a non-empty signature.
2. Its header `alg` is allow-listed: ES256/RS256 when a JWKS is configured, HS256 only when the
   legacy project secret is configured. Never `none`. The algorithm picks the key *family*: HS256
   is checked only with the secret, ES256/RS256 only with a JWKS key of the matching type found by
   `kid` — so a token can never get an RSA/EC public key used as an HMAC secret (key confusion).
3. Signature, then claims: `exp` required (30 s leeway), `aud` = `settings.jwt_audience`,
   `iss` = the project issuer (`{SUPABASE_URL}/auth/v1` unless SUPABASE_JWT_ISSUER overrides),
   `sub` a UUID, `role` = "authenticated" (anon and service-role keys are not user tokens).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import jwt
from jwt import exceptions as jwt_errors

from queueit.auth.dev import DEV_ISSUER, LocalJwksSource, dev_auth_enabled, dev_key_path
from queueit.auth.errors import AuthUnavailable, InvalidToken
from queueit.auth.jwks import (
    ASYMMETRIC_ALGORITHMS,
    MAX_KID_CHARS,
    HttpJwksSource,
    JwksCache,
    JwksFetchError,
    JwksSource,
)
from queueit.auth.user import AuthUser
from queueit.config import Profile, Settings

logger = logging.getLogger("queueit.auth")

MAX_TOKEN_CHARS = 8 * 1024
DEFAULT_LEEWAY_SECONDS = 30.0
DEFAULT_MIN_REFETCH_SECONDS = 10.0
DEFAULT_JWKS_TIMEOUT_SECONDS = 5.0
JWKS_PATH = "/auth/v1/.well-known/jwks.json"
ISSUER_PATH = "/auth/v1"

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


@dataclass(frozen=True, slots=True)
class AuthHealth:
    """For /healthz: `ok` is whether tokens can be verified; `detail` is "ok" or the reason."""

    ok: bool
    detail: str


VERIFIED_CACHE_SECONDS = 60.0
VERIFIED_CACHE_SIZE = 10_000


class TokenVerifier:
    """Verifies bearer tokens and returns the `AuthUser`. One per app; close with `aclose()`.

    Build it with `TokenVerifier.from_settings(settings)`. `verify()` raises `InvalidToken`
    (401) or `AuthUnavailable` (503); both are `AuthError`s.
    """

    def __init__(
        self,
        *,
        audience: str,
        issuer: str | None,
        jwks_source: JwksSource | None = None,
        hs256_secret: str | None = None,
        cache_seconds: float = 600.0,
        min_refetch_seconds: float = DEFAULT_MIN_REFETCH_SECONDS,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
        accepted_roles: Iterable[str] = ("authenticated",),
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        verified_cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        if jwks_source is None and not hs256_secret:
            raise ValueError("a JWKS source or an HS256 secret is required")
        if not audience:
            raise ValueError("an audience is required")
        self.audience = audience
        self.issuer = issuer
        self._hs256_key = hs256_secret.encode() if hs256_secret else None
        self._jwks = (
            JwksCache(
                jwks_source,
                cache_seconds=cache_seconds,
                min_refetch_seconds=min_refetch_seconds,
                clock=clock,
            )
            if jwks_source is not None
            else None
        )
        self._leeway = leeway_seconds
        self._retry_after = max(1, math.ceil(min_refetch_seconds))
        self._accepted_roles = frozenset(accepted_roles)
        algorithms = set(ASYMMETRIC_ALGORITHMS) if self._jwks is not None else set()
        if self._hs256_key is not None:
            algorithms.add("HS256")
        self.algorithms = frozenset(algorithms)
        self._required_claims = ["exp", "sub", "aud", "iss"]
        # Verified tokens, by SHA-256 of the token: (user, valid until by the wall clock). A phone
        # sends the same token with every request; checking its signature once a minute instead
        # of on every vote is most of the auth cost. Never past the token's own `exp`.
        self._verified: OrderedDict[bytes, tuple[AuthUser, float]] = OrderedDict()
        self._verified_size = verified_cache_size
        self._wall_clock = wall_clock
        if issuer is None:
            logger.warning("no JWT issuer configured: 'iss' is required but its value not checked")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http_client: httpx.AsyncClient | None = None,
        min_refetch_seconds: float = DEFAULT_MIN_REFETCH_SECONDS,
        jwks_timeout_seconds: float = DEFAULT_JWKS_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> TokenVerifier:
        """The verifier the settings describe.

        Development with no Supabase configured: the local development key (see `dev.py`).
        Otherwise the Supabase JWKS and/or the legacy HS256 secret; the development key is never
        loaded. Outside development the JWKS URL must be https. Raises `ValueError` on a
        configuration that cannot verify anything.
        """
        common: dict[str, Any] = {
            "audience": settings.jwt_audience,
            "cache_seconds": settings.jwks_cache_seconds,
            "min_refetch_seconds": min_refetch_seconds,
            "clock": clock,
        }
        if settings.dev_auth:
            if not dev_auth_enabled(settings):  # config refuses this too; never trust one check
                raise ValueError(f"profile {settings.profile} does not accept development tokens")
            logger.info("development auth: tokens signed by %s", dev_key_path(settings))
            return cls(
                issuer=DEV_ISSUER, jwks_source=LocalJwksSource(dev_key_path(settings)), **common
            )

        base_url = (settings.supabase_url or "").strip().rstrip("/") or None
        jwks_url = (settings.supabase_jwks_url or "").strip() or (
            base_url + JWKS_PATH if base_url else None
        )
        issuer = (settings.supabase_jwt_issuer or "").strip() or (
            base_url + ISSUER_PATH if base_url else None
        )
        secret = (
            settings.supabase_jwt_secret.get_secret_value()
            if (settings.supabase_jwt_secret is not None)
            else None
        )
        source: JwksSource | None = None
        if jwks_url is not None:
            scheme = urlsplit(jwks_url).scheme
            if scheme not in ("http", "https"):
                raise ValueError(f"JWKS URL must be http(s), not {scheme!r}")
            if scheme != "https" and settings.profile is not Profile.development:
                raise ValueError(f"profile {settings.profile} needs an https JWKS URL")
            source = HttpJwksSource(
                jwks_url, client=http_client, timeout_seconds=jwks_timeout_seconds
            )
        if source is None and not secret:
            raise ValueError("no usable auth keys: set SUPABASE_URL or SUPABASE_JWT_SECRET")
        return cls(issuer=issuer, jwks_source=source, hs256_secret=secret or None, **common)

    async def verify(self, token: str) -> AuthUser:
        """The user a valid token belongs to. Raises `InvalidToken` or `AuthUnavailable`."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("The token is malformed.")
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        now = self._wall_clock()
        if cached is not None:
            if now < cached[1]:
                self._verified.move_to_end(digest)
                return cached[0]
            del self._verified[digest]
        user = await self._verify_uncached(token)
        exp = user.claims.get("exp")
        if isinstance(exp, int | float) and self._verified_size > 0:
            self._verified[digest] = (user, min(float(exp), now + VERIFIED_CACHE_SECONDS))
            if len(self._verified) > self._verified_size:
                self._verified.popitem(last=False)
        return user

    async def _verify_uncached(self, token: str) -> AuthUser:
        if not _COMPACT_JWS.fullmatch(token):
            raise InvalidToken("The token is malformed.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError:
            raise InvalidToken("The token is malformed.") from None

        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise InvalidToken("The token's signing algorithm is not accepted.")
        key: Any
        if algorithm == "HS256":
            key = self._hs256_key
        else:
            key = await self._public_key(header.get("kid"), algorithm)

        claims = self._decode(token, key, algorithm)
        return self._user(claims)

    async def health(self) -> AuthHealth:
        """Whether tokens can be verified now (fetches the JWKS if none is cached)."""
        if self._jwks is None:
            return AuthHealth(True, "ok")
        state = await self._jwks.state()
        if not state.usable:
            return AuthHealth(False, state.detail)
        if state.key_count == 0 and self._hs256_key is None:
            return AuthHealth(False, "the JWKS has no usable ES256/RS256 keys")
        return AuthHealth(True, state.detail)

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()

    @property
    def jwks_fetch_attempts(self) -> int:
        """How many JWKS fetches were started (for metrics and tests)."""
        return self._jwks.fetch_attempts if self._jwks is not None else 0

    async def _public_key(self, kid: object, algorithm: str) -> Any:
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
            raise InvalidToken("The token has no usable key id (kid).")
        assert self._jwks is not None  # only asymmetric algorithms are allowed with a JWKS
        try:
            found = await self._jwks.get(kid, algorithm)
        except JwksFetchError as exc:
            raise AuthUnavailable(retry_after=self._retry_after) from exc
        if found is None:
            raise InvalidToken("The token was signed with an unknown key.")
        return found.key

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": self._required_claims, "strict_aud": False},
            )
        except jwt_errors.ExpiredSignatureError:
            raise InvalidToken("The token has expired.") from None
        except jwt_errors.ImmatureSignatureError:
            raise InvalidToken("The token is not valid yet.") from None
        except jwt_errors.InvalidAudienceError:
            raise InvalidToken("The token's audience is not accepted.") from None
        except jwt_errors.InvalidIssuerError:
            raise InvalidToken("The token's issuer is not accepted.") from None
        except jwt_errors.MissingRequiredClaimError as exc:
            raise InvalidToken(f"The token has no '{exc.claim}' claim.") from None
        except jwt_errors.InvalidSignatureError:
            raise InvalidToken("The token's signature is invalid.") from None
        except jwt_errors.PyJWTError:
            raise InvalidToken("The token is invalid.") from None

    def _user(self, claims: dict[str, Any]) -> AuthUser:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _CANONICAL_UUID.fullmatch(subject):
            raise InvalidToken("The token's subject is not a user id.")
        role = claims.get("role")
        if role not in self._accepted_roles:
            raise InvalidToken("The token's role is not accepted.")
        return AuthUser.from_claims(UUID(subject), claims)
