"""Settings from the environment (and an optional `.env`), with deployment profiles.

Every setting is listed in `.env.example`. Names are the upper-case field names with no prefix
(`DATABASE_URL`, `SUPABASE_URL`, ...), matching what Supabase and hosting platforms call them.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Profile(StrEnum):
    development = "development"
    staging = "staging"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    profile: Profile = Profile.development
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    # Database. Empty DATABASE_URL means: start the embedded PostgreSQL in DATA_DIR.
    database_url: SecretStr | None = None  # the service's login role (queueit_service)
    migration_database_url: SecretStr | None = None  # `queueit migrate`: the owner (postgres)
    data_dir: Path = Path(".queueit-data")
    db_pool_min: int = 2
    db_pool_max: int = 20
    db_statement_timeout_ms: int = 5000
    # The embedded database's supervisor (queueit.db.supervisor): how often it checks the
    # server, and how many restarts within the window it tries before /livez fails.
    embedded_db_check_seconds: float = 0.5
    embedded_db_max_restarts: int = 5
    embedded_db_restart_window_seconds: float = 300.0

    # Auth (Supabase). With none set in development, a local signing key in DATA_DIR is used.
    # SUPABASE_URL (https://abcd.supabase.co) alone gives the JWKS URL and the issuer.
    supabase_url: str | None = None
    # override; default {SUPABASE_URL}/auth/v1/.well-known/jwks.json
    supabase_jwks_url: str | None = None
    supabase_jwt_issuer: str | None = None  # override; default {SUPABASE_URL}/auth/v1
    supabase_jwt_secret: SecretStr | None = None  # legacy HS256 project secret
    jwt_audience: str = "authenticated"
    # Server-side only (never logged): deletes Auth users (DELETE /api/v1/me) through the Auth
    # admin API at {SUPABASE_URL}/auth/v1. Without it, account deletion answers 503.
    supabase_service_role_key: SecretStr | None = None
    supabase_auth_url: str | None = None  # override; default {SUPABASE_URL}/auth/v1
    jwks_cache_seconds: int = 600

    # Spotify (client credentials). Empty: the bundled offline catalog serves search.
    spotify_client_id: str | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_api_url: str = "https://api.spotify.com/v1"
    spotify_accounts_url: str = "https://accounts.spotify.com/api/token"
    spotify_timeout_seconds: float = 5.0
    spotify_market: str | None = None
    search_cache_seconds: int = 300
    search_cache_size: int = 2048

    # HTTP edge
    cors_origins: list[str] = Field(default_factory=list)
    # Proxies (addresses or networks, a JSON list like ["10.0.0.0/8"]) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; the client address is then the forwarded one, and the
    # proxy's own connections are not capped per address. Empty: no forwarding header is believed.
    trusted_proxies: list[str] = Field(default_factory=list)
    max_body_bytes: int = 64 * 1024
    # Slow clients (queueit.http.server_protocol): the request line and headers must arrive
    # within this many seconds, the body within this many after them; else 408 and close.
    http_header_timeout_seconds: float = 10.0
    http_body_timeout_seconds: float = 30.0
    http_max_header_bytes: int = 32 * 1024  # request line + headers, then 431
    # HTTP connections per client address per process (a party behind one NAT shares one), and
    # how many of them may be still sending headers; then 429 too_many_connections
    http_max_connections_per_address: int = 2048
    http_max_pending_per_address: int = 256
    # Where rate limits and socket caps count (queueit.http.rate_limits, queueit.realtime.caps):
    # memory:// in each process on its own; redis://host:port/db for every instance together.
    limits_storage_url: str = "memory://"
    rate_limit_writes_per_minute: int = 600
    rate_limit_joins_per_minute: int = 20
    # Wrong join codes per client address (every account behind it together), then 429: one
    # address no longer multiplies its guesses by making accounts. A right code costs nothing.
    rate_limit_wrong_codes_per_address_per_minute: int = 30
    rate_limit_wrong_codes_per_address_per_day: int = 500
    rate_limit_searches_per_minute: int = 120
    # Reads (GET) per user, and per client address for every account behind it together; a
    # page of events costs one read per 100 events asked for.
    rate_limit_reads_per_minute: int = 600
    rate_limit_reads_per_address_per_minute: int = 6000
    # Requests and sockets whose token is missing or refused, per client address, then 429
    # (sockets: 4029); a valid token is never refused by this limit.
    rate_limit_failed_auth_per_address_per_minute: int = 120
    # Sockets opened without a token (they wait for an `auth` frame), per address, then 4029.
    rate_limit_tokenless_sockets_per_address_per_minute: int = 120

    # Product
    allow_anonymous_hosts: bool = False  # anonymous sign-ins may open sessions and be co-hosts
    session_idle_minutes: int = 240
    session_idle_warning_minutes: int = 10

    # Realtime
    ws_heartbeat_seconds: float = 20.0
    ws_send_buffer: int = 256  # queued messages per connection before a slow consumer is cut off
    ws_max_message_bytes: int = 16 * 1024
    ws_max_per_user: int = 10  # sockets per user (per process with memory://), then 4029
    # Authenticated sockets per client address: a party of 1,000 guests behind one venue NAT
    # with a second device each (~30 KiB a socket: 60 MiB at most per address).
    ws_max_per_address: int = 2000
    ws_max_unauthenticated_per_address: int = 50  # sockets still authenticating, per address
    ws_token_leeway_seconds: float = 30.0  # a socket closes (4002) this long after its token's exp
    events_retained: int = 1000  # `since` older than this many events gets a fresh snapshot

    @property
    def auth_url(self) -> str | None:
        """Supabase Auth's base URL (the admin API lives under it), when there is one."""
        if self.supabase_auth_url:
            return self.supabase_auth_url.rstrip("/")
        if self.supabase_url:
            return self.supabase_url.rstrip("/") + "/auth/v1"
        return None

    @property
    def dev_auth(self) -> bool:
        """True when the service signs and accepts its own development tokens."""
        return (
            self.supabase_url is None
            and self.supabase_jwks_url is None
            and (self.supabase_jwt_secret is None)
        )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @model_validator(mode="after")
    def _production_needs_real_keys(self) -> Settings:
        if self.profile is not Profile.development:
            if self.dev_auth:
                raise ValueError(
                    f"profile {self.profile} needs SUPABASE_URL (JWKS) or SUPABASE_JWT_SECRET;"
                    " development tokens are never accepted outside development"
                )
            if self.database_url is None:
                raise ValueError(f"profile {self.profile} needs DATABASE_URL")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
