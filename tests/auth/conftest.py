from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# Until the package is installed in the environment (`make` installs it editable), import it
# from the checkout.
if importlib.util.find_spec("queueit") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from auth_testkit import (
    HS_SECRET,
    FakeClock,
    JwksServer,
    KeyPair,
    ec_key,
    rsa_key,
    supabase_settings,
)

from queueit.auth import TokenVerifier


@pytest.fixture(scope="session")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def es_key() -> KeyPair:
    return ec_key("es-key-1")


@pytest.fixture(scope="session")
def rs_key() -> KeyPair:
    return rsa_key("rs-key-1")


@pytest.fixture
def server(jwks_server: JwksServer, es_key: KeyPair, rs_key: KeyPair) -> JwksServer:
    """The JWKS server, reset, publishing the ES256 and RS256 keys, fetch count at zero."""
    jwks_server.reset()
    jwks_server.publish(es_key, rs_key)
    return jwks_server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer(server: JwksServer) -> str:
    return f"{server.base_url}/auth/v1"


@pytest.fixture
async def make_verifier(
    server: JwksServer, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Callable[..., TokenVerifier]]:
    """Build verifiers for the test Supabase project; all are closed after the test."""
    made: list[TokenVerifier] = []

    def make(*, secret: str | None = HS_SECRET, jwks: bool = True, **kw: Any) -> TokenVerifier:
        settings_kw = {k: kw.pop(k) for k in list(kw) if k not in _VERIFIER_KW}
        if not jwks:
            settings_kw.setdefault("supabase_jwt_issuer", f"{server.base_url}/auth/v1")
        settings = supabase_settings(
            server.base_url if jwks else None, tmp_path / "data", secret=secret, **settings_kw
        )
        verifier = TokenVerifier.from_settings(settings, clock=clock, **kw)
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.aclose()


_VERIFIER_KW = {"min_refetch_seconds", "jwks_timeout_seconds", "http_client"}


@pytest.fixture
async def verifier(make_verifier: Callable[..., TokenVerifier]) -> TokenVerifier:
    """JWKS (ES256 + RS256) and the legacy HS256 secret, like a project mid-migration."""
    return make_verifier()
