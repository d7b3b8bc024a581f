"""Development auth: local signing key, `mint_dev_token`, verification through the JWKS path."""

from __future__ import annotations

import stat
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from auth_testkit import HS_SECRET, FakeClock, JwksServer, dev_settings, supabase_settings
from pydantic import ValidationError

from queueit.auth import (
    DEV_ISSUER,
    DevAuthDisabled,
    InvalidToken,
    TokenVerifier,
    dev_jwks,
    dev_user_id,
    mint_dev_token,
)
from queueit.auth.dev import DEV_USER_NAMESPACE, dev_key_path, load_or_create_dev_key
from queueit.config import Profile

MakeVerifier = Callable[..., TokenVerifier]


@pytest.fixture
async def dev_verifier(tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    verifier = TokenVerifier.from_settings(dev_settings(tmp_path), clock=clock)
    yield verifier
    await verifier.aclose()


async def test_dev_token_verifies(dev_verifier: TokenVerifier, tmp_path: Path) -> None:
    token = mint_dev_token("alice", dev_settings(tmp_path))
    user = await dev_verifier.verify(token)
    assert user.id == dev_user_id("alice") == uuid.uuid5(DEV_USER_NAMESPACE, "alice")
    assert user.username == "alice"
    assert user.email == "alice@queueit.local"
    assert user.role == "authenticated"
    assert user.claims["iss"] == DEV_ISSUER
    assert user.claims["aud"] == "authenticated"
    assert user.claims["exp"] - user.claims["iat"] == 24 * 3600
    # Through the JWKS path: the key set was "fetched" from the local source exactly once.
    assert dev_verifier.jwks_fetch_attempts == 1
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


async def test_dev_user_id_is_stable_per_name(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    first = jwt.decode(mint_dev_token("bob", settings), options={"verify_signature": False})
    second = jwt.decode(mint_dev_token("bob", settings), options={"verify_signature": False})
    other = jwt.decode(mint_dev_token("carol", settings), options={"verify_signature": False})
    assert first["sub"] == second["sub"] == str(dev_user_id("bob"))
    assert other["sub"] != first["sub"]
    assert uuid.UUID(first["sub"]).version == 5


def test_dev_key_created_private_and_reused(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path / "nested" / "data")
    path = dev_key_path(settings)
    assert not path.exists()
    token1 = mint_dev_token("alice", settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token2 = mint_dev_token("alice", settings)
    assert jwt.get_unverified_header(token1)["kid"] == jwt.get_unverified_header(token2)["kid"]
    assert dev_jwks(settings)["keys"][0]["kid"] == jwt.get_unverified_header(token1)["kid"]
    assert "d" not in dev_jwks(settings)["keys"][0]  # public part only
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert leftovers == []


def test_dev_key_permissions_tightened(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    load_or_create_dev_key(path)
    path.chmod(0o644)
    load_or_create_dev_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_concurrent_key_creation_yields_one_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    results: list[int] = []

    def create() -> None:
        results.append(load_or_create_dev_key(path).private_numbers().private_value)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1


async def test_expired_dev_token_refused(dev_verifier: TokenVerifier, tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    token = mint_dev_token("alice", settings, now=time.time() - 2 * 24 * 3600)
    with pytest.raises(InvalidToken, match="expired"):
        await dev_verifier.verify(token)
    short = mint_dev_token("alice", settings, lifetime=timedelta(minutes=5))
    assert (await dev_verifier.verify(short)).username == "alice"


async def test_new_dev_key_picked_up_via_unknown_kid(
    dev_verifier: TokenVerifier, tmp_path: Path, clock: FakeClock
) -> None:
    settings = dev_settings(tmp_path)
    await dev_verifier.verify(mint_dev_token("alice", settings))
    dev_key_path(settings).unlink()  # developer wipes the data folder; a new key is made
    token = mint_dev_token("alice", settings)
    clock.advance(11)
    assert (await dev_verifier.verify(token)).username == "alice"
    assert dev_verifier.jwks_fetch_attempts == 2


async def test_dev_token_refused_by_supabase_verifier(
    make_verifier: MakeVerifier, server: JwksServer, tmp_path: Path
) -> None:
    token = mint_dev_token("alice", dev_settings(tmp_path / "dev"))
    supabase = make_verifier()
    with pytest.raises(InvalidToken, match="unknown key"):
        await supabase.verify(token)
    assert server.fetches == 1  # the kid was unknown to a JWKS fetched just now: no refetch
    # Even if the dev public key were published by the project, the issuer would not match.
    server.publish(dev_jwks(dev_settings(tmp_path / "dev"))["keys"][0])
    supabase_with_dev_key = make_verifier()
    with pytest.raises(InvalidToken, match="issuer"):
        await supabase_with_dev_key.verify(token)
    # A legacy-secret-only project does not even take the algorithm.
    with pytest.raises(InvalidToken, match="algorithm"):
        await make_verifier(jwks=False).verify(token)


def test_mint_refused_outside_dev_auth(tmp_path: Path) -> None:
    with pytest.raises(DevAuthDisabled):
        mint_dev_token("alice", supabase_settings("https://abcd.supabase.co", tmp_path))
    with pytest.raises(DevAuthDisabled):
        mint_dev_token("alice", supabase_settings(None, tmp_path, secret=HS_SECRET))
    with pytest.raises(DevAuthDisabled):
        mint_dev_token(
            "alice",
            supabase_settings("https://abcd.supabase.co", tmp_path, profile=Profile.production),
        )
    assert not dev_key_path(dev_settings(tmp_path)).exists()


def test_non_development_profiles_cannot_use_dev_auth(tmp_path: Path) -> None:
    for profile in (Profile.staging, Profile.production):
        with pytest.raises(ValidationError, match="development tokens"):
            supabase_settings(None, tmp_path, profile=profile)
        # Even if a Settings object got past validation, the verifier refuses.
        settings = supabase_settings("https://abcd.supabase.co", tmp_path, profile=profile)
        forged = settings.model_copy(update={"supabase_url": None})
        assert forged.dev_auth
        with pytest.raises(ValueError, match="development tokens"):
            TokenVerifier.from_settings(forged)
        with pytest.raises(DevAuthDisabled):
            mint_dev_token("alice", forged)
    assert not dev_key_path(dev_settings(tmp_path)).exists()


@pytest.mark.parametrize("name", ["", "-alice", "a b", "alice@x", "a" * 33, "al\x00ice", "ünï"])
def test_bad_dev_usernames(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="username"):
        mint_dev_token(name, dev_settings(tmp_path))


async def test_dev_health(dev_verifier: TokenVerifier) -> None:
    health = await dev_verifier.health()
    assert health.ok and health.detail == "ok"


async def test_corrupt_dev_key_reported(tmp_path: Path, dev_verifier: TokenVerifier) -> None:
    path = dev_key_path(dev_settings(tmp_path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    health = await dev_verifier.health()
    assert not health.ok and "development key unusable" in health.detail
