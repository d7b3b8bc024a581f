"""Helpers for the auth tests: a real JWKS HTTP server on 127.0.0.1, keys, token signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr

from queueit.config import Profile, Settings

JWKS_PATH = "/auth/v1/.well-known/jwks.json"
HS_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


class FakeClock:
    """Monotonic clock for the verifier's cache; tests move it forward by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class KeyPair:
    kid: str
    alg: str
    private: Any
    public: Any

    def jwk(self) -> dict[str, Any]:
        if self.alg == "ES256":
            data = json.loads(ECAlgorithm.to_jwk(self.public))
        else:
            data = json.loads(RSAAlgorithm.to_jwk(self.public))
        data.update(kid=self.kid, alg=self.alg, use="sig", key_ops=["verify"])
        return data


def ec_key(kid: str) -> KeyPair:
    private = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(kid, "ES256", private, private.public_key())


def rsa_key(kid: str, bits: int = 2048) -> KeyPair:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return KeyPair(kid, "RS256", private, private.public_key())


@dataclass
class JwksServerState:
    keys: list[dict[str, Any]] = field(default_factory=list)
    # ok | error (HTTP 500) | garbage (not JSON) | drop (close socket) | slow | drip
    mode: str = "ok"
    slow_seconds: float = 2.0
    fetches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 in a thread; counts every fetch."""

    def __init__(self) -> None:
        self.state = JwksServerState()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                with state.lock:
                    state.fetches += 1
                    mode = state.mode
                    body = json.dumps({"keys": state.keys}).encode()
                if mode == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "slow":
                    time.sleep(state.slow_seconds)
                if mode == "drip":  # every read is quick; the whole response never ends
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    deadline = time.monotonic() + state.slow_seconds
                    try:
                        while time.monotonic() < deadline:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:
                        pass
                    return
                if mode == "error":
                    self.send_error(500)
                    return
                if mode == "garbage":
                    body = b"<html>maintenance</html>"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def fetches(self) -> int:
        with self.state.lock:
            return self.state.fetches

    def publish(self, *keys: KeyPair | dict[str, Any]) -> None:
        with self.state.lock:
            self.state.keys = [k.jwk() if isinstance(k, KeyPair) else k for k in keys]

    def set_mode(self, mode: str) -> None:
        with self.state.lock:
            self.state.mode = mode

    def reset(self) -> None:
        with self.state.lock:
            self.state.keys = []
            self.state.mode = "ok"
            self.state.fetches = 0

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def supabase_settings(
    base_url: str | None,
    data_dir: Path,
    *,
    secret: str | None = None,
    profile: Profile = Profile.development,
    **extra: Any,
) -> Settings:
    """Settings for a Supabase project at base_url; all auth fields explicit, env cannot leak."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        profile=profile,
        database_url=SecretStr("postgresql://x@localhost/x") if profile != "development" else None,
        data_dir=data_dir,
        supabase_url=base_url,
        supabase_jwks_url=extra.pop("supabase_jwks_url", None),
        supabase_jwt_issuer=extra.pop("supabase_jwt_issuer", None),
        supabase_jwt_secret=SecretStr(secret) if secret else None,
        **extra,
    )


def dev_settings(data_dir: Path) -> Settings:
    return supabase_settings(None, data_dir)


def claims_for(issuer: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
        "role": "authenticated",
        "email": "dj.alice@example.com",
        "user_metadata": {"username": "alice", "avatar_url": "https://cdn.example.com/a.png"},
    }
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


DROP = object()


def sign(claims: dict[str, Any], key: KeyPair, *, kid: str | None = None) -> str:
    return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": kid or key.kid})


def sign_hs256(claims: dict[str, Any], secret: bytes | str, *, kid: str | None = None) -> str:
    """HS256 by hand: PyJWT refuses PEM-looking secrets, an attacker's script does not."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    key = secret.encode() if isinstance(secret, str) else secret
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned(claims: dict[str, Any], *, signature: str = "") -> str:
    header = {"alg": "none", "typ": "JWT"}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{signature}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
