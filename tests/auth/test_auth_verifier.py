"""TokenVerifier against a real JWKS endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from auth_testkit import (
    DROP,
    HS_SECRET,
    FakeClock,
    JwksServer,
    KeyPair,
    b64,
    claims_for,
    ec_key,
    rsa_key,
    sign,
    sign_hs256,
    supabase_settings,
    unsigned,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from queueit.auth import (
    AuthError,
    AuthUnavailable,
    AuthUser,
    InvalidToken,
    TokenVerifier,
)
from queueit.auth.jwks import JwksFetchError, parse_jwks
from queueit.config import Profile

MakeVerifier = Callable[..., TokenVerifier]


async def reject(verifier: TokenVerifier, token: str, reason: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    assert reason in info.value.detail
    assert info.value.status_code == 401 and info.value.code == "unauthorized"
    return info.value


# --- accepted -------------------------------------------------------------------------------


async def test_es256_token_accepted(verifier: TokenVerifier, es_key: KeyPair, issuer: str) -> None:
    claims = claims_for(issuer)
    user = await verifier.verify(sign(claims, es_key))
    assert isinstance(user, AuthUser)
    assert user.id == uuid.UUID(claims["sub"])
    assert user.email == "dj.alice@example.com"
    assert user.username == "alice"
    assert user.avatar_url == "https://cdn.example.com/a.png"
    assert user.role == "authenticated"
    assert user.claims == claims


async def test_rs256_token_accepted(verifier: TokenVerifier, rs_key: KeyPair, issuer: str) -> None:
    claims = claims_for(issuer)
    assert (await verifier.verify(sign(claims, rs_key))).id == uuid.UUID(claims["sub"])


async def test_hs256_token_accepted_with_project_secret(
    verifier: TokenVerifier, issuer: str, server: JwksServer
) -> None:
    claims = claims_for(issuer)
    assert (await verifier.verify(sign_hs256(claims, HS_SECRET))).id == uuid.UUID(claims["sub"])
    assert server.fetches == 0  # a legacy token needs no JWKS


async def test_hs256_only_project(make_verifier: MakeVerifier, issuer: str) -> None:
    verifier = make_verifier(jwks=False)
    assert verifier.algorithms == {"HS256"}
    claims = claims_for(issuer)
    assert (await verifier.verify(sign_hs256(claims, HS_SECRET))).id == uuid.UUID(claims["sub"])
    assert (await verifier.health()).ok


async def test_audience_list_containing_ours_accepted(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str
) -> None:
    await verifier.verify(sign(claims_for(issuer, aud=["authenticated", "other"]), es_key))


async def test_expiry_within_leeway_accepted(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str
) -> None:
    await verifier.verify(sign(claims_for(issuer, exp=int(time.time()) - 5), es_key))


# --- refused --------------------------------------------------------------------------------


async def test_alg_none_refused(verifier: TokenVerifier, issuer: str) -> None:
    await reject(verifier, unsigned(claims_for(issuer)), "malformed")
    await reject(verifier, unsigned(claims_for(issuer), signature="AAAA"), "algorithm")


@pytest.mark.parametrize("alg", ["HS384", "HS512", "RS512", "ES384", "PS256", "EdDSA", "None"])
async def test_algorithms_outside_allow_list_refused(
    verifier: TokenVerifier, issuer: str, alg: str
) -> None:
    header = b64(f'{{"alg":"{alg}","kid":"es-key-1"}}'.encode())
    token = f"{header}.{b64(b'{}')}.AAAA"
    await reject(verifier, token, "algorithm")


async def test_wrong_audience_refused(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str
) -> None:
    await reject(verifier, sign(claims_for(issuer, aud="anon"), es_key), "audience")
    await reject(verifier, sign(claims_for(issuer, aud=DROP), es_key), "'aud'")


async def test_wrong_issuer_refused(verifier: TokenVerifier, es_key: KeyPair, issuer: str) -> None:
    other = "https://attacker.supabase.co/auth/v1"
    await reject(verifier, sign(claims_for(other), es_key), "issuer")
    await reject(verifier, sign(claims_for(issuer, iss=DROP), es_key), "'iss'")
    await reject(verifier, sign_hs256(claims_for(other), HS_SECRET), "issuer")


async def test_expired_refused(verifier: TokenVerifier, es_key: KeyPair, issuer: str) -> None:
    now = int(time.time())
    await reject(verifier, sign(claims_for(issuer, exp=now - 120), es_key), "expired")
    await reject(verifier, sign_hs256(claims_for(issuer, exp=now - 120), HS_SECRET), "expired")


async def test_missing_exp_refused(verifier: TokenVerifier, es_key: KeyPair, issuer: str) -> None:
    await reject(verifier, sign(claims_for(issuer, exp=DROP), es_key), "'exp'")


async def test_not_yet_valid_refused(verifier: TokenVerifier, es_key: KeyPair, issuer: str) -> None:
    later = int(time.time()) + 3600
    await reject(verifier, sign(claims_for(issuer, nbf=later), es_key), "not valid yet")


async def test_bad_signature_refused(
    verifier: TokenVerifier, es_key: KeyPair, rs_key: KeyPair, issuer: str
) -> None:
    # Payload swapped after signing.
    good = sign(claims_for(issuer), es_key)
    header, _, signature = good.split(".")
    forged_payload = b64(json.dumps(claims_for(issuer, sub=str(uuid.uuid4()))).encode())
    await reject(verifier, f"{header}.{forged_payload}.{signature}", "signature")
    # Signed by another key that claims a published kid.
    await reject(verifier, sign(claims_for(issuer), ec_key("x"), kid=es_key.kid), "signature")
    await reject(verifier, sign(claims_for(issuer), rsa_key("x"), kid=rs_key.kid), "signature")
    await reject(verifier, sign_hs256(claims_for(issuer), HS_SECRET + "x"), "signature")


async def test_missing_or_non_uuid_sub_refused(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str
) -> None:
    await reject(verifier, sign(claims_for(issuer, sub=DROP), es_key), "'sub'")
    for bad in ("alice", "", "12345", "{" + str(uuid.uuid4()) + "}", uuid.uuid4().hex):
        await reject(verifier, sign(claims_for(issuer, sub=bad), es_key), "")


async def test_non_user_roles_refused(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str
) -> None:
    for role in ("anon", "service_role", "supabase_admin", DROP):
        await reject(verifier, sign(claims_for(issuer, role=role), es_key), "role")


async def test_malformed_tokens_refused(verifier: TokenVerifier) -> None:
    for token in ("", "abc", "a.b", "a.b.c.d", "a b.c.d", "x" * 10_000, "e30.e30.e30"):
        await reject(verifier, token, "")


async def test_token_without_kid_refused(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str
) -> None:
    import jwt

    token = jwt.encode(claims_for(issuer), es_key.private, algorithm="ES256")
    await reject(verifier, token, "key id")


# --- key confusion --------------------------------------------------------------------------


def _rsa_public_pem(key: KeyPair) -> bytes:
    return key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def test_hs256_signed_with_rsa_public_key_refused(
    make_verifier: MakeVerifier, rs_key: KeyPair, issuer: str
) -> None:
    claims = claims_for(issuer)
    forged = sign_hs256(claims, _rsa_public_pem(rs_key), kid=rs_key.kid)
    # A JWKS-only project: HS256 is not on the allow-list at all.
    jwks_only = make_verifier(secret=None)
    assert "HS256" not in jwks_only.algorithms
    await reject(jwks_only, forged, "algorithm")
    # A project that also has the legacy secret: HS256 is checked with the secret, never the PEM.
    both = make_verifier()
    await reject(both, forged, "signature")
    # And the forger really did produce a well-formed token: the right secret makes it pass.
    assert (await both.verify(sign_hs256(claims, HS_SECRET, kid=rs_key.kid))).id


async def test_symmetric_key_in_jwks_never_used(
    make_verifier: MakeVerifier, server: JwksServer, es_key: KeyPair, issuer: str
) -> None:
    oct_secret = b"published-symmetric-key-material-0123456789"
    server.publish(es_key, {"kty": "oct", "kid": "oct-1", "k": b64(oct_secret), "alg": "HS256"})
    verifier = make_verifier(secret=None)
    await verifier.verify(sign(claims_for(issuer), es_key))  # JWKS fetched
    await reject(verifier, sign_hs256(claims_for(issuer), oct_secret, kid="oct-1"), "algorithm")


async def test_algorithm_must_match_key_type(
    verifier: TokenVerifier, es_key: KeyPair, rs_key: KeyPair, issuer: str
) -> None:
    # RS256 token naming the EC key's kid (and vice versa): no such (kid, alg) key.
    await reject(verifier, sign(claims_for(issuer), rs_key, kid=es_key.kid), "unknown key")
    await reject(verifier, sign(claims_for(issuer), es_key, kid=rs_key.kid), "unknown key")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_weak_rsa_key_in_jwks_ignored(
    make_verifier: MakeVerifier, server: JwksServer, issuer: str
) -> None:
    weak = rsa_key("weak", bits=1024)
    server.publish(weak)
    verifier = make_verifier(secret=None)
    await reject(verifier, sign(claims_for(issuer), weak), "unknown key")


# --- JWKS cache, refetch, rotation, outages -------------------------------------------------


async def test_jwks_cached(
    verifier: TokenVerifier,
    server: JwksServer,
    es_key: KeyPair,
    rs_key: KeyPair,
    issuer: str,
    clock: FakeClock,
) -> None:
    for _ in range(5):
        await verifier.verify(sign(claims_for(issuer), es_key))
        await verifier.verify(sign(claims_for(issuer), rs_key))
    assert server.fetches == 1
    clock.advance(599)
    await verifier.verify(sign(claims_for(issuer), es_key))
    assert server.fetches == 1
    clock.advance(2)  # past jwks_cache_seconds (600)
    await verifier.verify(sign(claims_for(issuer), es_key))
    assert server.fetches == 2


async def test_concurrent_first_requests_share_one_fetch(
    verifier: TokenVerifier, server: JwksServer, es_key: KeyPair, issuer: str
) -> None:
    tokens = [sign(claims_for(issuer), es_key) for _ in range(20)]
    users = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert len(users) == 20
    assert server.fetches == 1


async def test_unknown_kid_refetches_once_then_refused(
    verifier: TokenVerifier, server: JwksServer, es_key: KeyPair, issuer: str, clock: FakeClock
) -> None:
    await verifier.verify(sign(claims_for(issuer), es_key))
    assert server.fetches == 1
    stranger = ec_key("not-published")
    clock.advance(11)
    await reject(verifier, sign(claims_for(issuer), stranger), "unknown key")
    assert server.fetches == 2  # exactly one refetch
    # Another unknown kid right away: rate-limited, no fetch.
    await reject(verifier, sign(claims_for(issuer), ec_key("also-unknown")), "unknown key")
    assert server.fetches == 2


async def test_flood_of_random_kids_costs_at_most_one_fetch(
    verifier: TokenVerifier, server: JwksServer, es_key: KeyPair, issuer: str, clock: FakeClock
) -> None:
    await verifier.verify(sign(claims_for(issuer), es_key))
    clock.advance(11)
    attacker = ec_key("x")
    tokens = [sign(claims_for(issuer), attacker, kid=f"random-{i}") for i in range(200)]
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)
    assert all(isinstance(r, InvalidToken) for r in results)
    assert server.fetches == 2
    assert verifier.jwks_fetch_attempts == 2


async def test_rotation_new_kid_accepted_after_refetch(
    verifier: TokenVerifier, server: JwksServer, es_key: KeyPair, issuer: str, clock: FakeClock
) -> None:
    await verifier.verify(sign(claims_for(issuer), es_key))
    rotated = ec_key("es-key-2")
    server.publish(es_key, rotated)  # Supabase publishes the standby key, then signs with it
    clock.advance(11)
    user = await verifier.verify(sign(claims_for(issuer), rotated))
    assert user.role == "authenticated"
    assert server.fetches == 2
    # Old key revoked: once the cache is refreshed, its tokens stop working.
    server.publish(rotated)
    clock.advance(601)
    await reject(verifier, sign(claims_for(issuer), es_key), "unknown key")
    await verifier.verify(sign(claims_for(issuer), rotated))


async def test_rotation_rate_limited_until_interval_passes(
    verifier: TokenVerifier, server: JwksServer, es_key: KeyPair, issuer: str, clock: FakeClock
) -> None:
    await verifier.verify(sign(claims_for(issuer), es_key))
    rotated = rsa_key("rs-key-2")
    server.publish(es_key, rotated)
    # Within min_refetch_seconds of the last fetch: not refetched yet.
    clock.advance(3)
    await reject(verifier, sign(claims_for(issuer), rotated), "unknown key")
    assert server.fetches == 1
    clock.advance(8)
    await verifier.verify(sign(claims_for(issuer), rotated))
    assert server.fetches == 2


@pytest.mark.parametrize("mode", ["drop", "error", "garbage"])
async def test_endpoint_down_with_cached_keys_still_verifies(
    verifier: TokenVerifier,
    server: JwksServer,
    es_key: KeyPair,
    issuer: str,
    clock: FakeClock,
    mode: str,
) -> None:
    await verifier.verify(sign(claims_for(issuer), es_key))
    server.set_mode(mode)
    clock.advance(700)  # cache expired; the refresh fails; the old keys keep working
    await verifier.verify(sign(claims_for(issuer), es_key))
    assert server.fetches == 2
    await verifier.verify(sign(claims_for(issuer), es_key))
    assert server.fetches == 2  # failing endpoint is not hammered
    health = await verifier.health()
    assert health.ok and "refresh failing" in health.detail
    server.set_mode("ok")
    clock.advance(11)
    assert await verifier.health() == type(health)(True, "ok")


@pytest.mark.parametrize("mode", ["drop", "error", "garbage"])
async def test_endpoint_down_without_cached_keys_is_unavailable(
    make_verifier: MakeVerifier,
    server: JwksServer,
    es_key: KeyPair,
    issuer: str,
    clock: FakeClock,
    mode: str,
) -> None:
    verifier = make_verifier()
    server.set_mode(mode)
    with pytest.raises(AuthUnavailable) as info:
        await verifier.verify(sign(claims_for(issuer), es_key))
    assert isinstance(info.value, AuthError)
    assert info.value.status_code == 503 and "Retry-After" in info.value.headers
    assert not (await verifier.health()).ok
    # HS256 tokens don't need the JWKS and keep working.
    await verifier.verify(sign_hs256(claims_for(issuer), HS_SECRET))
    # Recovery after the retry interval.
    server.set_mode("ok")
    clock.advance(11)
    await verifier.verify(sign(claims_for(issuer), es_key))
    assert (await verifier.health()).ok


async def test_unreachable_endpoint_without_cache_is_unavailable(
    tmp_path: Path, es_key: KeyPair
) -> None:
    import socket

    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    verifier = TokenVerifier.from_settings(supabase_settings(base, tmp_path))
    try:
        with pytest.raises(AuthUnavailable):
            await verifier.verify(sign(claims_for(f"{base}/auth/v1"), es_key))
        health = await verifier.health()
        assert not health.ok and "unreachable" in health.detail
    finally:
        await verifier.aclose()


@pytest.mark.parametrize("mode", ["slow", "drip"])
async def test_jwks_fetch_times_out(
    make_verifier: MakeVerifier, server: JwksServer, es_key: KeyPair, issuer: str, mode: str
) -> None:
    verifier = make_verifier(jwks_timeout_seconds=0.3)
    server.state.slow_seconds = 3.0
    server.set_mode(mode)
    started = time.monotonic()
    with pytest.raises(AuthUnavailable):
        await verifier.verify(sign(claims_for(issuer), es_key))
    assert time.monotonic() - started < 2.0


async def test_empty_jwks_health(make_verifier: MakeVerifier, server: JwksServer) -> None:
    server.publish()
    assert not (await make_verifier(secret=None).health()).ok
    assert (await make_verifier().health()).ok  # the legacy secret still verifies


# --- which published keys are trusted ------------------------------------------------------


def test_parse_jwks_keeps_only_signature_keys(es_key: KeyPair, rs_key: KeyPair) -> None:
    good_ec, good_rsa = es_key.jwk(), rs_key.jwk()
    private = json.loads(ECAlgorithm.to_jwk(ec_key("p").private))
    p384 = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key()))
    document = {
        "keys": [
            good_ec,
            good_rsa,
            {"kty": "oct", "kid": "oct", "k": b64(b"0123456789abcdef0123456789abcdef")},
            {**private, "kid": "private"},
            {**p384, "kid": "p384"},
            {**good_ec, "kid": "enc", "use": "enc"},
            {**good_ec, "kid": "no-verify", "key_ops": ["encrypt"]},
            {**good_ec, "kid": "alg-lies", "alg": "RS256"},
            {**good_ec, "kid": None},
            {"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AA", "y": "AA"},
            "not a key",
        ]
    }
    keys = parse_jwks(document)
    assert set(keys) == {(es_key.kid, "ES256"), (rs_key.kid, "RS256")}
    with pytest.raises(JwksFetchError):
        parse_jwks({"keys": "nope"})
    assert parse_jwks({"keys": []}) == {}


# --- configuration --------------------------------------------------------------------------


def test_jwks_and_issuer_derive_from_supabase_url(tmp_path: Path) -> None:
    settings = supabase_settings("https://abcd.supabase.co/", tmp_path)
    verifier = TokenVerifier.from_settings(settings)
    assert verifier.issuer == "https://abcd.supabase.co/auth/v1"
    assert verifier.algorithms == {"ES256", "RS256"}


def test_overrides(tmp_path: Path) -> None:
    settings = supabase_settings(
        "https://abcd.supabase.co",
        tmp_path,
        supabase_jwks_url="https://keys.example.com/jwks.json",
        supabase_jwt_issuer="https://auth.example.com",
    )
    verifier = TokenVerifier.from_settings(settings)
    assert verifier.issuer == "https://auth.example.com"


def test_production_requires_https_jwks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="https"):
        TokenVerifier.from_settings(
            supabase_settings("http://abcd.supabase.co", tmp_path, profile=Profile.production)
        )
    TokenVerifier.from_settings(
        supabase_settings("https://abcd.supabase.co", tmp_path, profile=Profile.production)
    )


def test_settings_without_any_key_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no usable auth keys"):
        TokenVerifier.from_settings(supabase_settings("", tmp_path))


async def test_supabase_verifier_never_touches_dev_key(
    make_verifier: MakeVerifier, es_key: KeyPair, issuer: str, tmp_path: Path
) -> None:
    verifier = make_verifier()
    await verifier.verify(sign(claims_for(issuer), es_key))
    await verifier.health()
    assert not (tmp_path / "data").exists()
