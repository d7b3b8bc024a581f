"""The verified-token cache: a repeated token skips the signature check, never past `exp`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from auth_testkit import KeyPair, claims_for, sign

from queueit.auth import InvalidToken, TokenVerifier
from queueit.auth import verifier as verifier_module

MakeVerifier = Callable[..., TokenVerifier]


async def test_repeated_token_is_verified_once(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    original = TokenVerifier._decode

    def counting(self: TokenVerifier, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(TokenVerifier, "_decode", counting)
    token = sign(claims_for(issuer), es_key)
    first = await verifier.verify(token)
    second = await verifier.verify(token)
    assert first == second
    assert calls == 1
    # a different token is checked on its own
    await verifier.verify(sign(claims_for(issuer), es_key))
    assert calls == 2


async def test_cached_token_is_rechecked_after_its_expiry(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    original = TokenVerifier._verify_uncached

    async def counting(self: TokenVerifier, token: str) -> object:
        nonlocal calls
        calls += 1
        return await original(self, token)

    monkeypatch.setattr(TokenVerifier, "_verify_uncached", counting)
    now = [0.0]
    verifier._wall_clock = lambda: now[0]
    claims = claims_for(issuer)
    token = sign(claims, es_key)
    now[0] = float(claims["iat"])
    await verifier.verify(token)
    await verifier.verify(token)
    assert calls == 1
    # Kept at most VERIFIED_CACHE_SECONDS, and never past the token's own `exp`.
    ((_, valid_until),) = verifier._verified.values()
    assert valid_until <= min(claims["exp"], now[0] + verifier_module.VERIFIED_CACHE_SECONDS)
    now[0] = valid_until
    await verifier.verify(token)
    assert calls == 2


async def test_cache_is_bounded(make_verifier: MakeVerifier, es_key: KeyPair, issuer: str) -> None:
    verifier = make_verifier()
    verifier._verified_size = 3
    for _ in range(5):
        await verifier.verify(sign(claims_for(issuer), es_key))
    assert len(verifier._verified) == 3


async def test_refused_tokens_are_not_cached(
    verifier: TokenVerifier, es_key: KeyPair, issuer: str
) -> None:
    claims = claims_for(issuer)
    claims["aud"] = "someone-else"
    token = sign(claims, es_key)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    assert len(verifier._verified) == 0
    assert verifier_module.VERIFIED_CACHE_SECONDS <= 60
