"""SearchService: validation, caching and single-flight in front of Spotify or the offline catalog.

- Input: ``q`` normalized (see :func:`normalize_query`), ``limit`` 1..50 (default 20), ``market``
  ISO 3166-1 alpha-2 or None (then ``SPOTIFY_MARKET``). Bad input raises :class:`InvalidQuery`
  before any cache or upstream work.
- Cache: LRU bounded by ``cache_size`` entries with a TTL of ``cache_seconds``, keyed by
  (case-folded normalized q, limit, market), so "  Neon  Harbor" and "neon harbor" share an entry.
  Track lookups have their own cache, also filled by search results, so verifying a track the
  user just picked from a search costs no upstream call.
- Single-flight: concurrent identical requests share one upstream call. A caller that gives up
  (cancellation) does not cancel the call for the others.
- Stale if error: when the upstream fails, an expired entry younger than ``stale_seconds`` is
  served instead of the error. Errors themselves are never cached.
- Concurrency towards the upstream is capped (``max_concurrent_upstream``) so a burst of distinct
  queries does not trip Spotify's rate limit on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from queueit.config import Settings
from queueit.spotify.client import SpotifyClient
from queueit.spotify.errors import SearchError
from queueit.spotify.offline import OfflineCatalog
from queueit.spotify.query import (
    DEFAULT_LIMIT,
    normalize_query,
    validate_limit,
    validate_market,
    validate_track_id,
)
from queueit.spotify.track import Track

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TrackSource(Protocol):
    """What SearchService needs from an upstream (SpotifyClient, OfflineCatalog, a test fake)."""

    @property
    def source(self) -> str: ...

    async def search(self, q: str, limit: int, market: str | None) -> list[Track]: ...

    async def get(self, track_id: str, market: str | None = None) -> Track | None: ...

    async def health(self) -> str: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since start. ``hits``: served fresh from the cache; ``coalesced``: joined an
    upstream call already in flight; ``misses``: started an upstream call; ``stale``: served an
    expired entry because the upstream failed; ``errors``: upstream calls that failed."""

    hits: int
    misses: int
    coalesced: int
    stale: int
    errors: int
    size: int
    capacity: int

    @property
    def lookups(self) -> int:
        return self.hits + self.misses + self.coalesced

    @property
    def hit_rate(self) -> float:
        """Share of lookups that caused no upstream call of their own (hits + coalesced)."""
        return (self.hits + self.coalesced) / self.lookups if self.lookups else 0.0


@dataclass(frozen=True, slots=True)
class SearchStats:
    source: str
    search: CacheStats
    lookup: CacheStats


class _Slot(Generic[V]):
    __slots__ = ("stored_at", "value")

    def __init__(self, value: V, stored_at: float) -> None:
        self.value = value
        self.stored_at = stored_at


class _Cache(Generic[K, V]):
    """TTL + LRU cache with single-flight loading. Not thread-safe; one event loop."""

    def __init__(
        self, *, ttl: float, capacity: int, stale: float, clock: Callable[[], float]
    ) -> None:
        self._ttl = ttl
        self._capacity = max(0, capacity)
        self._stale = stale
        self._clock = clock
        self._slots: OrderedDict[K, _Slot[V]] = OrderedDict()
        self._inflight: dict[K, asyncio.Future[V]] = {}
        self.hits = self.misses = self.coalesced = self.stale_served = self.errors = 0

    def stats(self) -> CacheStats:
        return CacheStats(
            self.hits,
            self.misses,
            self.coalesced,
            self.stale_served,
            self.errors,
            len(self._slots),
            self._capacity,
        )

    def put(self, key: K, value: V) -> None:
        if self._capacity == 0:
            return
        self._slots[key] = _Slot(value, self._clock())
        self._slots.move_to_end(key)
        while len(self._slots) > self._capacity:
            self._slots.popitem(last=False)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        slot = self._slots.get(key)
        if slot is not None and self._clock() - slot.stored_at < self._ttl:
            self._slots.move_to_end(key)
            self.hits += 1
            return slot.value
        future = self._inflight.get(key)
        if future is not None:
            self.coalesced += 1
        else:
            self.misses += 1
            future = asyncio.ensure_future(self._load(key, load))
            self._inflight[key] = future
            future.add_done_callback(lambda f: self._finish(key, f))
        # shield: a cancelled caller must not cancel the call the others are waiting on
        return await asyncio.shield(future)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
        except SearchError:
            self.errors += 1
            slot = self._slots.get(key)
            if slot is not None and self._clock() - slot.stored_at < self._ttl + self._stale:
                self.stale_served += 1
                return slot.value
            raise
        self.put(key, value)
        return value

    def _finish(self, key: K, future: asyncio.Future[V]) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.cancelled():
            future.exception()  # retrieved: no "exception never retrieved" if all callers left


SearchKey = tuple[str, int, str | None]


class SearchService:
    """Track search and lookup for the HTTP layer. Create once per process
    (:meth:`from_settings`), close with :meth:`aclose`."""

    def __init__(
        self,
        source: TrackSource,
        *,
        cache_seconds: float = 300.0,
        cache_size: int = 2048,
        stale_seconds: float = 3600.0,
        default_market: str | None = None,
        max_concurrent_upstream: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._default_market = validate_market(default_market)
        self._upstream = asyncio.Semaphore(max_concurrent_upstream)
        self._searches: _Cache[SearchKey, tuple[Track, ...]] = _Cache(
            ttl=cache_seconds, capacity=cache_size, stale=stale_seconds, clock=clock
        )
        self._tracks: _Cache[str, Track | None] = _Cache(
            ttl=cache_seconds, capacity=cache_size, stale=stale_seconds, clock=clock
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchService:
        """Spotify when both SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET are set, the offline
        catalog when neither is. Only one of them set is a configuration error."""
        has_id = bool(settings.spotify_client_id)
        has_secret = settings.spotify_client_secret is not None and bool(
            settings.spotify_client_secret.get_secret_value()
        )
        if has_id != has_secret:
            raise ValueError("set both SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET, or neither")
        source: TrackSource
        if has_id:
            source = SpotifyClient.from_settings(settings)
        else:
            source = OfflineCatalog.load()
        return cls(
            source,
            cache_seconds=settings.search_cache_seconds,
            cache_size=settings.search_cache_size,
            default_market=settings.spotify_market,
        )

    @property
    def source(self) -> str:
        """Which source answers: "spotify" or "offline"."""
        return self._source.source

    async def search(
        self, q: str, limit: int = DEFAULT_LIMIT, market: str | None = None
    ) -> list[Track]:
        """Up to ``limit`` tracks for ``q``. Raises InvalidQuery (bad input) or a SearchError
        subclass (upstream trouble)."""
        query = normalize_query(q)
        limit = validate_limit(limit)
        effective_market = validate_market(market) or self._default_market
        key: SearchKey = (query.casefold(), limit, effective_market)

        async def load() -> tuple[Track, ...]:
            async with self._upstream:
                tracks = tuple(await self._source.search(query, limit, effective_market))
            for track in tracks:
                self._tracks.put(track.id, track)
            return tracks

        return list(await self._searches.get(key, load))

    async def get_track(self, track_id: str) -> Track | None:
        """The track with this id, or None when the source does not know it. Raises
        InvalidQuery for a malformed id, SearchError for upstream trouble."""
        track_id = validate_track_id(track_id)

        async def load() -> Track | None:
            async with self._upstream:
                return await self._source.get(track_id, self._default_market)

        return await self._tracks.get(track_id, load)

    def stats(self) -> SearchStats:
        return SearchStats(self.source, self._searches.stats(), self._tracks.stats())

    async def health(self) -> str:
        """Returns "ok" or a short reason, for /healthz."""
        try:
            return await self._source.health()
        except Exception as exc:  # health must answer, whatever the source does
            return f"{self.source} health check failed: {type(exc).__name__}"

    async def aclose(self) -> None:
        await self._source.aclose()
