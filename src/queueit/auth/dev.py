"""Development auth: a local ES256 signing key and tokens for named users.

Only with `settings.dev_auth` (no Supabase configured) in the development profile. The key is
created on first use in `DATA_DIR/dev-auth-signing-key.pem` (mode 0600) and published as a JWKS
by `LocalJwksSource`, so development tokens go through the very same JWKS verification path as
Supabase tokens. Use it from the command line as `queueit token NAME` (see `mint_dev_token`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from queueit.auth.jwks import JwksFetchError
from queueit.config import Profile, Settings

logger = logging.getLogger("queueit.auth")

DEV_ISSUER = "queueit-dev-local"
"""`iss` of development tokens. Never equal to a Supabase issuer (those are URLs)."""

DEV_KEY_FILENAME = "dev-auth-signing-key.pem"
DEV_EMAIL_DOMAIN = "queueit.local"
DEV_TOKEN_LIFETIME = timedelta(hours=24)
# Namespace for development user ids: uuid5(DEV_USER_NAMESPACE, NAME) is stable per name.
DEV_USER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://queueit.local/dev-users")
_DEV_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


class DevAuthDisabled(RuntimeError):
    """Development tokens were asked for where they are not accepted (Supabase configured,
    or a staging/production profile)."""


def dev_auth_enabled(settings: Settings) -> bool:
    """True only in the development profile with no Supabase keys configured."""
    return settings.dev_auth and settings.profile is Profile.development


def dev_key_path(settings: Settings) -> Path:
    return settings.data_dir / DEV_KEY_FILENAME


def dev_user_id(username: str) -> uuid.UUID:
    """The stable user id of development user NAME."""
    return uuid.uuid5(DEV_USER_NAMESPACE, username)


def mint_dev_token(
    username: str,
    settings: Settings,
    *,
    lifetime: timedelta = DEV_TOKEN_LIFETIME,
    now: float | None = None,
    anonymous: bool = False,
) -> str:
    """A development access token for user NAME (what `queueit token NAME` prints).

    Claims mirror a Supabase access token: `sub` = uuid5 of the name, `aud` = the configured
    audience, `iss` = `DEV_ISSUER`, `role` = "authenticated", `email` = NAME@queueit.local,
    `user_metadata.username` = NAME, `exp` = now + `lifetime` (24 h by default);
    `is_anonymous` = `anonymous` (an anonymous sign-in: no email).

    Raises `DevAuthDisabled` outside development auth, `ValueError` for a bad NAME
    (1-32 of letters, digits, `_`, `.`, `-`, starting with a letter or digit).
    """
    _require_dev_auth(settings)
    if not _DEV_USERNAME.fullmatch(username):
        raise ValueError(
            "username must be 1-32 letters, digits, '_', '.' or '-',"
            " starting with a letter or digit"
        )
    private_key = load_or_create_dev_key(dev_key_path(settings))
    issued_at = int(time.time() if now is None else now)
    user_id = dev_user_id(username)
    email = f"{username}@{DEV_EMAIL_DOMAIN}"
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "sub": str(user_id),
        "aud": settings.jwt_audience,
        "iat": issued_at,
        "exp": issued_at + int(lifetime.total_seconds()),
        "role": "authenticated",
        "aal": "aal1",
        "email": "" if anonymous else email,
        "phone": "",
        "is_anonymous": anonymous,
        "session_id": str(uuid.uuid4()),
        "app_metadata": {"provider": "queueit-dev", "providers": ["queueit-dev"]},
        "user_metadata": {"username": username}
        if anonymous
        else {"username": username, "email": email},
    }
    headers = {"kid": jwk_thumbprint(public_jwk(private_key.public_key())), "typ": "JWT"}
    return jwt.encode(claims, private_key, algorithm="ES256", headers=headers)


def dev_jwks(settings: Settings) -> dict[str, Any]:
    """The development JWKS (public key only), e.g. for the app to publish in development."""
    _require_dev_auth(settings)
    return _jwks_document(load_or_create_dev_key(dev_key_path(settings)))


class LocalJwksSource:
    """The development key published as a JWKS; read from disk on every (cached) fetch."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path

    @property
    def description(self) -> str:
        return f"local development key {self.key_path}"

    async def fetch(self) -> Mapping[str, Any]:
        try:
            key = await asyncio.to_thread(load_or_create_dev_key, self.key_path)
        except (OSError, ValueError) as exc:
            raise JwksFetchError(f"development key unusable: {exc}") from exc
        return _jwks_document(key)

    async def aclose(self) -> None:
        return None


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of an EC JWK: a kid that changes exactly when the key does."""
    canonical = json.dumps(
        {name: jwk[name] for name in ("crv", "kty", "x", "y")},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def load_or_create_dev_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Read the development key, creating it (0600, atomically) on first use."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Write a private temp file, then link it into place: readers never see a partial key, and
    # of two processes racing (server and `queueit token`) exactly one key wins.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".dev-auth-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(pem)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
            logger.info("created development signing key %s", path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp_name)
    return _read_key(path)


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("development signing key %s was mode %o; setting 0600", path, mode)
        path.chmod(0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path} is not an EC P-256 private key; delete it to create a new one")
    return key


def _jwks_document(private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = public_jwk(private_key.public_key())
    jwk.update(kid=jwk_thumbprint(jwk), alg="ES256", use="sig", key_ops=["verify"])
    return {"keys": [jwk]}


def _require_dev_auth(settings: Settings) -> None:
    if not dev_auth_enabled(settings):
        raise DevAuthDisabled(
            "development tokens exist only in the development profile with no Supabase"
            " keys configured (SUPABASE_URL, SUPABASE_JWKS_URL, SUPABASE_JWT_SECRET unset)"
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
