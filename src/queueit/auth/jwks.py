"""JSON Web Key Sets: where they come from, which keys in them we trust, and the cache.

A `JwksSource` produces a JWKS document (the Supabase endpoint over HTTP, or the local development
key). `parse_jwks` keeps only keys that can verify ES256 (EC P-256) or RS256 (RSA >= 2048 bits);
symmetric (`oct`) keys in a JWKS are never used, so an HS256 token can never be checked against a
published key. `JwksCache` holds the parsed keys for `cache_seconds`, refetches on an unknown `kid`
at most once every `min_refetch_seconds` (a flood of random kids costs one fetch), shares one
in-flight fetch between concurrent callers, and keeps serving the last good keys while the
endpoint is down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ec import (
    SECP256R1,
    EllipticCurvePrivateKey,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import PyJWTError

logger = logging.getLogger("queueit.auth")

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})
MAX_JWKS_BYTES = 256 * 1024
MAX_KID_CHARS = 256
MIN_RSA_BITS = 2048

PublicKey = EllipticCurvePublicKey | RSAPublicKey


class JwksFetchError(Exception):
    """A JWKS could not be obtained. Internal: the cache turns it into stale keys or 503."""


class JwksSource(Protocol):
    """Where a JWKS document comes from."""

    @property
    def description(self) -> str:
        """Where the keys come from, for logs and health (no secrets)."""
        ...

    async def fetch(self) -> Mapping[str, Any]:
        """Return the JWKS document; raise `JwksFetchError` when it can't."""
        ...

    async def aclose(self) -> None: ...


class HttpJwksSource:
    """A JWKS served over HTTP(S), e.g. `{SUPABASE_URL}/auth/v1/.well-known/jwks.json`."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self._timeout = timeout_seconds
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds), follow_redirects=False
        )

    @property
    def description(self) -> str:
        return self.url

    async def fetch(self) -> Mapping[str, Any]:
        body = bytearray()
        try:
            # The httpx timeout bounds each network step; this bounds the whole fetch, so a
            # server dribbling bytes cannot hold verification hostage.
            async with asyncio.timeout(self._timeout):
                async with self._client.stream(
                    "GET", self.url, headers={"Accept": "application/json"}
                ) as response:
                    if response.status_code != 200:
                        raise JwksFetchError(f"JWKS endpoint answered HTTP {response.status_code}")
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_JWKS_BYTES:
                            raise JwksFetchError("JWKS document is too large")
        except TimeoutError as exc:
            raise JwksFetchError("JWKS endpoint timed out") from exc
        except httpx.HTTPError as exc:
            raise JwksFetchError(f"JWKS endpoint unreachable ({type(exc).__name__})") from exc
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise JwksFetchError("JWKS document is not JSON") from exc
        if not isinstance(document, dict):
            raise JwksFetchError("JWKS document is not a JSON object")
        return document

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str
    algorithm: str  # "ES256" or "RS256"
    key: PublicKey


def parse_jwks(document: Mapping[str, Any]) -> dict[tuple[str, str], VerificationKey]:
    """The usable verification keys of a JWKS, by (kid, algorithm). Unusable keys are skipped.

    Raises `JwksFetchError` when the document is not a JWKS at all (no `keys` array).
    """
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise JwksFetchError("JWKS document has no 'keys' array")
    keys: dict[tuple[str, str], VerificationKey] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        try:
            key = _parse_jwk(entry)
        except (PyJWTError, ValueError, TypeError, KeyError) as exc:
            logger.warning("JWKS key %r skipped: %s", entry.get("kid"), exc)
            continue
        if key is not None:
            keys.setdefault((key.kid, key.algorithm), key)
    return keys


def _parse_jwk(jwk: dict[str, Any]) -> VerificationKey | None:
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
        logger.warning("JWKS key without a usable 'kid' skipped")
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    if "d" in jwk:
        # Private key material in a public key set: the issuer is compromised or misconfigured.
        logger.error("JWKS key %r contains private key material; ignored", kid)
        return None

    kty = jwk.get("kty")
    declared_alg = jwk.get("alg")
    public_key: PublicKey
    if kty == "EC":
        algorithm = "ES256"
        if jwk.get("crv") != "P-256":
            return None
        ec_key = ECAlgorithm.from_jwk(jwk)
        if isinstance(ec_key, EllipticCurvePrivateKey):  # pragma: no cover - "d" refused above
            return None
        if not isinstance(ec_key, EllipticCurvePublicKey) or not isinstance(
            ec_key.curve, SECP256R1
        ):
            return None
        public_key = ec_key
    elif kty == "RSA":
        algorithm = "RS256"
        rsa_key = RSAAlgorithm.from_jwk(jwk)
        if isinstance(rsa_key, RSAPrivateKey):  # pragma: no cover - "d" refused above
            return None
        if rsa_key.key_size < MIN_RSA_BITS:
            logger.warning("JWKS RSA key %r skipped: %d bits is too short", kid, rsa_key.key_size)
            return None
        public_key = rsa_key
    else:
        # "oct" (symmetric) keys are never taken from a JWKS; other types are not supported.
        return None
    if declared_alg is not None and declared_alg != algorithm:
        return None
    return VerificationKey(kid=kid, algorithm=algorithm, key=public_key)


@dataclass(frozen=True, slots=True)
class JwksState:
    usable: bool  # at least one fetch succeeded, so tokens can be judged
    detail: str
    key_count: int


class JwksCache:
    """Parsed keys from one source, refreshed on expiry and on unknown kids (rate-limited)."""

    def __init__(
        self,
        source: JwksSource,
        *,
        cache_seconds: float,
        min_refetch_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self._cache_seconds = cache_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._clock = clock
        self._keys: dict[tuple[str, str], VerificationKey] | None = None
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_error: str | None = None
        self._inflight: asyncio.Task[None] | None = None
        self.fetch_attempts = 0

    async def get(self, kid: str, algorithm: str) -> VerificationKey | None:
        """The key for (kid, algorithm), or None if the source does not publish it.

        Raises `JwksFetchError` when no keys have ever been obtained.
        """
        if self._keys is None or self._expired():
            await self._refresh()
        key = self._lookup(kid, algorithm)
        if key is None:
            # A kid we don't know may be a freshly rotated key: look once more (rate-limited).
            await self._refresh()
            key = self._lookup(kid, algorithm)
        if key is None and self._keys is None:
            raise JwksFetchError(self._last_error or "JWKS not fetched yet")
        return key

    async def state(self) -> JwksState:
        if self._keys is None or self._expired():
            await self._refresh()
        if self._keys is None:
            return JwksState(False, f"signing keys unavailable: {self._last_error}", 0)
        if self._expired():
            age = int(self._clock() - (self._fetched_at or 0.0))
            return JwksState(
                True, f"ok (refresh failing: {self._last_error}; keys {age}s old)", len(self._keys)
            )
        return JwksState(True, "ok", len(self._keys))

    async def aclose(self) -> None:
        if self._inflight is not None:
            self._inflight.cancel()
        await self.source.aclose()

    def _lookup(self, kid: str, algorithm: str) -> VerificationKey | None:
        return None if self._keys is None else self._keys.get((kid, algorithm))

    def _expired(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._cache_seconds

    async def _refresh(self) -> None:
        """Fetch unless a fetch ran in the last `min_refetch_seconds`; join one in flight."""
        if self._inflight is None:
            now = self._clock()
            if (
                self._attempted_at is not None
                and now - self._attempted_at < self._min_refetch_seconds
            ):
                return
            self._attempted_at = now
            self._inflight = asyncio.create_task(self._fetch())
        # Shielded: a cancelled request must not cancel the fetch other requests wait on.
        await asyncio.shield(self._inflight)

    async def _fetch(self) -> None:
        self.fetch_attempts += 1
        try:
            keys = parse_jwks(await self.source.fetch())
        except JwksFetchError as exc:
            self._last_error = str(exc)
            logger.warning("JWKS fetch from %s failed: %s", self.source.description, exc)
        except Exception as exc:  # a bug here must not take every request down with it
            self._last_error = f"unexpected {type(exc).__name__}"
            logger.exception("JWKS fetch from %s failed", self.source.description)
        else:
            changed = self._keys is None or set(keys) != set(self._keys)
            self._keys = keys
            self._fetched_at = self._clock()
            self._last_error = None
            if changed:
                logger.info(
                    "JWKS from %s: %d usable key(s): %s",
                    self.source.description,
                    len(keys),
                    ", ".join(f"{kid} ({alg})" for kid, alg in sorted(keys)),
                )
        finally:
            self._inflight = None
