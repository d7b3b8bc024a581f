"""Async client for the Spotify Web API, client-credentials flow.

What "holds up" means here:
- Token: fetched with HTTP Basic auth, cached until shortly before ``expires_in``, fetched once
  for many concurrent callers, and refreshed once when the API answers 401.
- Time: every attempt is bounded by ``timeout_seconds`` as a whole (connect, send, a slow-drip
  body included), and one call with its retries by ``total_timeout_seconds``. A slow upstream
  becomes :class:`UpstreamUnavailable`, never a hang.
- Retries: 5xx and transport errors are retried ``max_retries`` times with exponential backoff
  and jitter, within the total bound. 4xx and bad bodies are not retried.
- 429: raises :class:`UpstreamRateLimited` with Spotify's Retry-After, and no further request
  goes to Spotify until that time has passed. A Retry-After of at most
  ``max_rate_limit_wait_seconds`` that fits the time bound is waited out once instead.
- Bodies: capped at ``max_response_bytes``; invalid JSON or an unexpected shape is
  :class:`UpstreamBadResponse`. Track objects that fail validation are dropped.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from queueit.config import Settings
from queueit.spotify.errors import (
    SearchError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from queueit.spotify.query import (
    DEFAULT_LIMIT,
    normalize_query,
    validate_limit,
    validate_market,
    validate_track_id,
)
from queueit.spotify.track import Track, track_from_spotify

log = logging.getLogger("queueit.spotify")

SPOTIFY_ID_RE = re.compile(r"[A-Za-z0-9]{22}")
MAX_RETRY_AFTER_SECONDS = 86_400.0
CREDENTIALS_REFUSED_HOLD_SECONDS = 30.0  # don't hammer the accounts service with bad credentials
HEALTH_FAILURE_WINDOW_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    headers: httpx.Headers
    body: bytes


class _TooLarge(Exception):
    pass


def _retry_after_seconds(value: str | None, now_epoch: float) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date; missing or garbage means 1 s.
    Clamped to [0, 1 day]."""
    seconds = 1.0
    if value is not None:
        value = value.strip()
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
                seconds = when.timestamp() - now_epoch
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    return f"connection failed ({type(exc).__name__})"


def _parse_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UpstreamBadResponse(f"{what}: Spotify answered with invalid JSON") from exc


class SpotifyClient:
    """Spotify Web API search and track lookup. Use one instance per process; close it with
    :meth:`aclose` (or ``async with``)."""

    source = "spotify"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        api_url: str = "https://api.spotify.com/v1",
        accounts_url: str = "https://accounts.spotify.com/api/token",
        timeout_seconds: float = 5.0,
        total_timeout_seconds: float | None = None,
        max_retries: int = 2,
        backoff_base_seconds: float = 0.2,
        backoff_max_seconds: float = 2.0,
        max_rate_limit_wait_seconds: float = 1.0,
        max_response_bytes: int = 4 * 1024 * 1024,
        default_market: str | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``total_timeout_seconds`` bounds one call including retries and the token fetch
        (default: twice ``timeout_seconds``). ``clock`` (monotonic seconds) drives token expiry
        and the rate-limit window; tests may replace it. ``http`` is used but not closed."""
        if not client_id or not client_secret:
            raise ValueError("Spotify client id and secret are required")
        if timeout_seconds <= 0 or max_retries < 0:
            raise ValueError("timeout_seconds must be > 0 and max_retries >= 0")
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_url = api_url.rstrip("/")
        self._accounts_url = accounts_url
        self._timeout = timeout_seconds
        self._total_timeout = total_timeout_seconds or 2 * timeout_seconds
        self._max_retries = max_retries
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        self._max_rate_limit_wait = max_rate_limit_wait_seconds
        self._max_response_bytes = max_response_bytes
        self._default_market = validate_market(default_market)
        self._clock = clock
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            follow_redirects=False,
            headers={"User-Agent": "QueueIT/1.0", "Accept": "application/json"},
        )
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()
        self._credentials_refused_until = 0.0
        self._blocked_until = 0.0
        self._last_ok = -math.inf
        self._last_failure: tuple[float, str] | None = None
        self.tokens_fetched = 0  # observability: how many tokens this client obtained

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SpotifyClient:
        if not settings.spotify_client_id or settings.spotify_client_secret is None:
            raise ValueError("SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET are required")
        options: dict[str, Any] = {
            "api_url": settings.spotify_api_url,
            "accounts_url": settings.spotify_accounts_url,
            "timeout_seconds": settings.spotify_timeout_seconds,
            "default_market": settings.spotify_market,
        }
        options.update(overrides)
        return cls(
            settings.spotify_client_id,
            settings.spotify_client_secret.get_secret_value(),
            **options,
        )

    async def __aenter__(self) -> SpotifyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # --- public operations -------------------------------------------------------------------

    async def search(
        self, q: str, limit: int = DEFAULT_LIMIT, market: str | None = None
    ) -> list[Track]:
        """``GET /search?type=track``: at most ``limit`` valid tracks in Spotify's order."""
        params = {"q": normalize_query(q), "type": "track", "limit": str(validate_limit(limit))}
        market = validate_market(market) or self._default_market
        if market:
            params["market"] = market
        data = await self._api_get("/search", params, what="search")
        tracks = data.get("tracks") if isinstance(data, dict) else None
        items = tracks.get("items") if isinstance(tracks, dict) else None
        if not isinstance(items, list):
            raise UpstreamBadResponse("search: Spotify's answer has no tracks.items list")
        result: list[Track] = []
        seen: set[str] = set()
        dropped = 0
        for item in items:
            if item is None:  # Spotify does put nulls in items now and then
                continue
            track = track_from_spotify(item)
            if track is None:
                dropped += 1
            elif track.id not in seen:
                seen.add(track.id)
                result.append(track)
        if dropped:
            log.warning("spotify search: dropped %d track(s) that failed validation", dropped)
        return result[:limit]

    async def get(self, track_id: str, market: str | None = None) -> Track | None:
        """``GET /tracks/{id}``: the track, or None when Spotify does not know it (or it fails
        validation). With a market, Spotify may answer with a relinked track (another id)."""
        track_id = validate_track_id(track_id)
        if not SPOTIFY_ID_RE.fullmatch(track_id):
            return None  # not a Spotify id; Spotify would answer 400
        params: dict[str, str] = {}
        market = validate_market(market) or self._default_market
        if market:
            params["market"] = market
        data = await self._api_get(
            f"/tracks/{track_id}", params, what="track lookup", absent_statuses=(400, 404)
        )
        if data is None:
            return None
        track = track_from_spotify(data)
        if track is None:
            log.warning("spotify track lookup: track failed validation")
        return track

    async def health(self) -> str:
        """Returns "ok", or why Spotify is not usable right now. Costs no request while a token is
        cached."""
        now = self._clock()
        if now < self._blocked_until:
            return f"Spotify rate limit: retry after {math.ceil(self._blocked_until - now)} s"
        failure = self._last_failure
        if (
            failure is not None
            and failure[0] > self._last_ok
            and now - failure[0] < HEALTH_FAILURE_WINDOW_SECONDS
        ):
            return failure[1]
        try:
            await self._access_token(time.monotonic() + self._timeout)
        except SearchError as exc:
            return str(exc)
        return "ok"

    # --- requests ------------------------------------------------------------------------------

    async def _api_get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        what: str,
        absent_statuses: tuple[int, ...] = (),
    ) -> Any:
        deadline = time.monotonic() + self._total_timeout
        try:
            for _ in range(2):  # the second round only after a 401 with a fresh token
                token = await self._access_token(deadline)
                reply = await self._exchange(
                    "GET",
                    f"{self._api_url}{path}",
                    what=what,
                    deadline=deadline,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
                if reply.status == 401:
                    self._drop_token(token)
                    continue
                if reply.status == 200:
                    data = _parse_json(reply.body, what)
                    self._last_ok = self._clock()
                    return data
                if reply.status in absent_statuses:
                    self._last_ok = self._clock()
                    return None
                raise UpstreamBadResponse(f"{what}: Spotify answered HTTP {reply.status}")
            raise UpstreamUnavailable(f"{what}: Spotify refused a freshly issued access token")
        except (UpstreamUnavailable, UpstreamBadResponse) as exc:
            self._last_failure = (self._clock(), str(exc))
            raise

    async def _access_token(self, deadline: float) -> str:
        token = self._token
        if token is not None and self._clock() < self._token_expires_at:
            return token
        async with self._token_lock:  # one fetch serves every waiting caller
            token = self._token
            if token is not None and self._clock() < self._token_expires_at:
                return token
            if self._clock() < self._credentials_refused_until:
                raise UpstreamUnavailable("Spotify refused the client credentials")
            reply = await self._exchange(
                "POST",
                self._accounts_url,
                what="token request",
                deadline=deadline,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret),
            )
            if reply.status in (400, 401, 403):
                self._credentials_refused_until = self._clock() + CREDENTIALS_REFUSED_HOLD_SECONDS
                log.error("spotify token request refused (HTTP %d)", reply.status)
                raise UpstreamUnavailable("Spotify refused the client credentials")
            if reply.status != 200:
                raise UpstreamBadResponse(f"token request: Spotify answered HTTP {reply.status}")
            data = _parse_json(reply.body, "token request")
            access_token = data.get("access_token") if isinstance(data, dict) else None
            expires_in = data.get("expires_in") if isinstance(data, dict) else None
            token_type = data.get("token_type", "Bearer") if isinstance(data, dict) else None
            if (
                not isinstance(access_token, str)
                or not access_token
                or not access_token.isascii()
                or not access_token.isprintable()
                or not isinstance(expires_in, int | float)
                or isinstance(expires_in, bool)
                or expires_in <= 0
                or not isinstance(token_type, str)
                or token_type.lower() != "bearer"
            ):
                raise UpstreamBadResponse("token request: unexpected answer shape")
            margin = min(60.0, expires_in * 0.1)  # refresh shortly before it expires
            self._token = access_token
            self._token_expires_at = self._clock() + expires_in - margin
            self.tokens_fetched += 1
            return access_token

    def _drop_token(self, token: str) -> None:
        if self._token == token:  # another caller may already have fetched a new one
            self._token = None

    def _raise_if_rate_limited(self) -> None:
        wait = self._blocked_until - self._clock()
        if wait > 0:
            raise UpstreamRateLimited(max(1, math.ceil(wait)))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        cap = min(self._backoff_max, self._backoff_base * 2.0**attempt)
        return cap / 2 + random.uniform(0, cap / 2)

    async def _exchange(
        self, method: str, url: str, *, what: str, deadline: float, **request: Any
    ) -> _Reply:
        """One logical request with bounded retries. Returns any non-5xx, non-429 reply."""
        attempt = 0
        waited_for_rate_limit = False
        while True:
            if not waited_for_rate_limit:
                self._raise_if_rate_limited()
            try:
                reply = await self._send(method, url, deadline=deadline, **request)
            except _TooLarge as exc:
                raise UpstreamBadResponse(f"{what}: Spotify's answer is too large") from exc
            except httpx.DecodingError as exc:
                raise UpstreamBadResponse(f"{what}: Spotify's answer could not be decoded") from exc
            except (httpx.TransportError, TimeoutError) as exc:
                failure = f"{what}: Spotify unreachable, {_describe(exc, self._timeout)}"
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(f"{what}: {type(exc).__name__}") from exc
            else:
                if reply.status == 429:
                    header = reply.headers.get("retry-after")
                    retry_after = _retry_after_seconds(header, time.time())
                    self._blocked_until = max(self._blocked_until, self._clock() + retry_after)
                    if (
                        not waited_for_rate_limit
                        and retry_after <= self._max_rate_limit_wait
                        and time.monotonic() + retry_after < deadline
                    ):
                        waited_for_rate_limit = True
                        await asyncio.sleep(retry_after)
                        continue
                    log.warning("spotify %s: rate limited for %.0f s", what, retry_after)
                    raise UpstreamRateLimited(max(1, math.ceil(retry_after)))
                if reply.status < 500:
                    return reply
                failure = f"{what}: Spotify answered HTTP {reply.status}"
            delay = self._backoff(attempt)
            if attempt >= self._max_retries or time.monotonic() + delay >= deadline:
                raise UpstreamUnavailable(failure)
            attempt += 1
            log.warning("%s; retry %d in %.2f s", failure, attempt, delay)
            await asyncio.sleep(delay)

    async def _send(self, method: str, url: str, *, deadline: float, **request: Any) -> _Reply:
        """One attempt, bounded as a whole (a slow-drip body cannot stretch it)."""
        budget = min(self._timeout, deadline - time.monotonic())
        if budget <= 0:
            raise TimeoutError
        async with asyncio.timeout(budget):
            async with self._http.stream(
                method, url, timeout=httpx.Timeout(budget), **request
            ) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._max_response_bytes:
                    raise _TooLarge
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._max_response_bytes:
                        raise _TooLarge
                return _Reply(response.status_code, response.headers, bytes(body))
