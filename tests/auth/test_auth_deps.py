"""The FastAPI dependency, WebSocket token extraction, and tokens never reaching the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from auth_testkit import JwksServer, KeyPair, claims_for, dev_settings, sign, sign_hs256
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, QueryParams

from queueit.auth import (
    AuthError,
    AuthUser,
    CurrentUser,
    InvalidToken,
    TokenVerifier,
    extract_ws_token,
    mint_dev_token,
    parse_authorization,
    redact_query_string,
)
from queueit.config import Settings
from queueit.http.rate_limits import Limits

MakeVerifier = Callable[..., TokenVerifier]


def build_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.verifier = verifier
    app.state.limits = Limits.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:
        # Stand-in for the HTTP layer's problem+json mapping.
        return JSONResponse(
            {"status": exc.status_code, "code": exc.code, "title": exc.title, "detail": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
            media_type="application/problem+json",
        )

    @app.get("/me")
    async def me(user: CurrentUser, request: Request) -> dict[str, str]:
        assert request.state.user is user
        return {"id": str(user.id), "username": user.username}

    return app


@pytest.fixture
async def client(make_verifier: MakeVerifier) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(make_verifier())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        yield http


async def test_valid_bearer(client: httpx.AsyncClient, es_key: KeyPair, issuer: str) -> None:
    claims = claims_for(issuer)
    response = await client.get("/me", headers={"Authorization": f"Bearer {sign(claims, es_key)}"})
    assert response.status_code == 200
    assert response.json() == {"id": claims["sub"], "username": "alice"}


async def test_scheme_is_case_insensitive(
    client: httpx.AsyncClient, es_key: KeyPair, issuer: str
) -> None:
    token = sign(claims_for(issuer), es_key)
    response = await client.get("/me", headers={"Authorization": f"bearer  {token}"})
    assert response.status_code == 200


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc"])
async def test_malformed_header_is_401(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/me", headers={"Authorization": value})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_invalid_token_is_401_with_reason(
    client: httpx.AsyncClient, es_key: KeyPair, issuer: str
) -> None:
    token = sign(claims_for(issuer, aud="anon"), es_key)
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "The token's audience is not accepted."
    assert token not in response.text


async def test_jwks_down_is_503(
    client: httpx.AsyncClient, server: JwksServer, es_key: KeyPair, issuer: str
) -> None:
    server.set_mode("error")
    token = sign(claims_for(issuer), es_key)
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json()["code"] == "auth_unavailable"
    assert response.headers["retry-after"].isdigit()


async def test_dev_token_through_dependency(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    verifier = TokenVerifier.from_settings(settings)
    try:
        app = build_app(verifier)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            token = mint_dev_token("dj", settings)
            response = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.json()["username"] == "dj"
    finally:
        await verifier.aclose()


async def test_verifier_missing_from_app_state_is_a_loud_error() -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(user: CurrentUser) -> AuthUser:  # pragma: no cover - never reached
        return user

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(RuntimeError, match=r"app\.state\.verifier"):
            await http.get("/me", headers={"Authorization": "Bearer a.b.c"})


# --- WebSocket token extraction -------------------------------------------------------------


def test_ws_token_from_header() -> None:
    headers = Headers({"authorization": "Bearer tok.en.1"})
    assert extract_ws_token(headers, QueryParams("access_token=other")) == "tok.en.1"


def test_ws_token_from_query() -> None:
    assert extract_ws_token(Headers({}), QueryParams("since=4&access_token=tok.en.2")) == "tok.en.2"


def test_ws_token_absent() -> None:
    assert extract_ws_token(Headers({}), QueryParams("since=4")) is None
    assert extract_ws_token({}, {"access_token": "  "}) is None


def test_ws_token_plain_dicts_case_insensitive() -> None:
    assert extract_ws_token({"Authorization": "Bearer t.o.k"}, {}) == "t.o.k"


def test_ws_malformed_header_refused() -> None:
    with pytest.raises(InvalidToken):
        extract_ws_token({"authorization": "Basic abc"}, {"access_token": "t.o.k"})


def test_parse_authorization() -> None:
    assert parse_authorization(None) is None
    assert parse_authorization("  ") is None
    assert parse_authorization("BEARER x.y.z") == "x.y.z"


def test_redact_query_string() -> None:
    redacted = redact_query_string("since=12&access_token=eyJ.secret.sig")
    assert "eyJ" not in redacted and "since=12" in redacted and "access_token=" in redacted
    assert redact_query_string("since=12") == "since=12"


# --- no token in logs -----------------------------------------------------------------------


async def test_tokens_never_logged(
    make_verifier: MakeVerifier,
    server: JwksServer,
    es_key: KeyPair,
    issuer: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    verifier = make_verifier()
    tokens = [
        sign(claims_for(issuer), es_key),
        sign(claims_for(issuer, aud="x"), es_key),
        sign(claims_for(issuer), es_key, kid="unknown-kid"),
        sign_hs256(claims_for(issuer), "wrong-secret-wrong-secret-wrong-secret"),
    ]
    for token in tokens:
        try:
            await verifier.verify(token)
        except AuthError as exc:
            assert token not in str(exc) and token not in repr(exc)
    server.set_mode("error")
    verifier2 = make_verifier()
    for token in tokens:
        try:
            await verifier2.verify(token)
        except AuthError:
            pass
    assert caplog.records  # the JWKS activity was logged ...
    for record in caplog.records:
        text = record.getMessage()
        for token in tokens:
            for part in token.split("."):
                assert part not in text  # ... without any piece of any token
