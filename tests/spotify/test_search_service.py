"""SearchService: input validation, cache, single-flight, stale-if-error, source selection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from spotify_fake import FakeClock, Running, Scripted

from queueit.config import Settings
from queueit.spotify import (
    InvalidQuery,
    OfflineCatalog,
    SearchService,
    SpotifyClient,
    Track,
    UpstreamRateLimited,
    UpstreamUnavailable,
)


class CountingSource:
    """An in-process source that counts calls and can be slowed down or made to fail."""

    source = "fake"

    def __init__(self, catalog: OfflineCatalog, delay: float = 0.0) -> None:
        self.catalog = catalog
        self.delay = delay
        self.calls: list[tuple[str, int, str | None]] = []
        self.gets: list[str] = []
        self.fail: Exception | None = None
        self.active = 0
        self.max_active = 0

    async def search(self, q: str, limit: int, market: str | None) -> list[Track]:
        self.calls.append((q, limit, market))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self.delay)
            if self.fail:
                raise self.fail
            return self.catalog.search_now(q, limit)
        finally:
            self.active -= 1

    async def get(self, track_id: str, market: str | None = None) -> Track | None:
        self.gets.append(track_id)
        return await self.catalog.get(track_id)

    async def health(self) -> str:
        return "ok"

    async def aclose(self) -> None:
        return None


@pytest.fixture
def source(catalog: OfflineCatalog) -> CountingSource:
    return CountingSource(catalog)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(source: CountingSource, clock: FakeClock) -> SearchService:
    return SearchService(source, cache_seconds=300, cache_size=100, clock=clock)


# --- input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   \u00a0 "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "nul\x00"}, "q"),
        ({"q": "new\nline"}, "q"),
        ({"q": "tab\t"}, "q"),
        ({"q": "esc\x1b"}, "q"),
        ({"q": "\ud800"}, "q"),
        ({"q": None}, "q"),
        ({"q": b"bytes"}, "q"),
        ({"q": "ok", "limit": 0}, "limit"),
        ({"q": "ok", "limit": 51}, "limit"),
        ({"q": "ok", "limit": -1}, "limit"),
        ({"q": "ok", "limit": "20"}, "limit"),
        ({"q": "ok", "limit": 2.0}, "limit"),
        ({"q": "ok", "limit": True}, "limit"),
        ({"q": "ok", "market": "U1"}, "market"),
        ({"q": "ok", "market": "USA"}, "market"),
        ({"q": "ok", "market": ""}, "market"),
        ({"q": "ok", "market": "u\x00"}, "market"),
        ({"q": "ok", "market": 1}, "market"),
    ],
)
async def test_invalid_input(
    service: SearchService, source: CountingSource, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        await service.search(**kwargs)
    assert caught.value.field == field
    assert source.calls == []


async def test_valid_edges(service: SearchService, source: CountingSource) -> None:
    await service.search("  " + "y" * 200 + "  ", 1)  # 200 after trimming
    await service.search("neon", 50, "se")
    assert source.calls == [("y" * 200, 1, None), ("neon", 50, "SE")]


async def test_invalid_track_id(service: SearchService) -> None:
    for bad in ("", "a" * 65, "abc-123", "ab cd", "x\x00"):
        with pytest.raises(InvalidQuery):
            await service.get_track(bad)


# --- cache ----------------------------------------------------------------------------------------


async def test_repeat_is_a_hit(service: SearchService, source: CountingSource) -> None:
    first = await service.search("neon")
    second = await service.search("neon")
    assert first == second and first
    assert len(source.calls) == 1
    stats = service.stats().search
    assert (stats.hits, stats.misses, stats.size) == (1, 1, 1)
    assert stats.hit_rate == 0.5


async def test_key_is_normalized(service: SearchService, source: CountingSource) -> None:
    for q in ("Neon  Harbor", " neon harbor ", "NEON HARBOR", "neon\u00a0harbor"):
        await service.search(q)
    assert source.calls == [("Neon Harbor", 20, None)]


async def test_limit_and_market_are_part_of_the_key(
    service: SearchService, source: CountingSource
) -> None:
    await service.search("neon", 20)
    await service.search("neon", 10)
    await service.search("neon", 20, "US")
    await service.search("neon", 20, "us")
    assert len(source.calls) == 3


async def test_default_market(source: CountingSource, clock: FakeClock) -> None:
    service = SearchService(source, default_market="se", clock=clock)
    await service.search("neon")
    await service.search("neon", market="SE")
    assert source.calls == [("neon", 20, "SE")]


async def test_ttl_expiry(service: SearchService, source: CountingSource, clock: FakeClock) -> None:
    await service.search("neon")
    clock.now += 299
    await service.search("neon")
    assert len(source.calls) == 1
    clock.now += 2
    await service.search("neon")
    assert len(source.calls) == 2


async def test_lru_bound(source: CountingSource, clock: FakeClock) -> None:
    service = SearchService(source, cache_size=2, clock=clock)
    await service.search("a")
    await service.search("b")
    await service.search("a")  # a is now most recent
    await service.search("c")  # evicts b
    assert service.stats().search.size == 2
    await service.search("a")
    assert len(source.calls) == 3
    await service.search("b")
    assert len(source.calls) == 4


async def test_zero_size_disables_cache(source: CountingSource) -> None:
    service = SearchService(source, cache_size=0)
    await service.search("a")
    await service.search("a")
    assert len(source.calls) == 2


async def test_results_are_copies(service: SearchService) -> None:
    first = await service.search("neon")
    first.clear()
    assert await service.search("neon")


async def test_errors_are_not_cached(service: SearchService, source: CountingSource) -> None:
    source.fail = UpstreamUnavailable("down")
    with pytest.raises(UpstreamUnavailable):
        await service.search("neon")
    source.fail = None
    assert await service.search("neon")
    assert len(source.calls) == 2
    assert service.stats().search.errors == 1


async def test_stale_if_error(source: CountingSource, clock: FakeClock) -> None:
    service = SearchService(source, cache_seconds=300, stale_seconds=600, clock=clock)
    fresh = await service.search("neon")
    clock.now += 400  # expired, within the stale window
    source.fail = UpstreamRateLimited(30)
    assert await service.search("neon") == fresh
    assert service.stats().search.stale == 1
    clock.now += 600  # beyond ttl + stale
    with pytest.raises(UpstreamRateLimited):
        await service.search("neon")


# --- single-flight --------------------------------------------------------------------------------


async def test_single_flight(source: CountingSource, clock: FakeClock) -> None:
    source.delay = 0.05
    service = SearchService(source, clock=clock)
    results = await asyncio.gather(*(service.search("Neon") for _ in range(20)))
    assert len(source.calls) == 1
    assert all(r == results[0] for r in results)
    stats = service.stats().search
    assert (stats.misses, stats.coalesced, stats.hits) == (1, 19, 0)


async def test_single_flight_shares_errors(source: CountingSource) -> None:
    source.delay = 0.05
    source.fail = UpstreamUnavailable("down")
    service = SearchService(source)
    outcomes = await asyncio.gather(
        *(service.search("neon") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(o, UpstreamUnavailable) for o in outcomes)
    assert len(source.calls) == 1


async def test_cancelled_caller_does_not_cancel_the_others(source: CountingSource) -> None:
    source.delay = 0.1
    service = SearchService(source)
    first = asyncio.ensure_future(service.search("neon"))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(service.search("neon"))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second
    assert first.cancelled()
    assert len(source.calls) == 1
    assert await service.search("neon")  # cached despite the first caller leaving
    assert len(source.calls) == 1


async def test_upstream_concurrency_is_capped(source: CountingSource) -> None:
    source.delay = 0.02
    service = SearchService(source, max_concurrent_upstream=3)
    await asyncio.gather(*(service.search(f"q{i}") for i in range(20)))
    assert len(source.calls) == 20
    assert source.max_active <= 3


# --- track lookup ---------------------------------------------------------------------------------


async def test_get_track_is_cached_and_filled_by_search(
    service: SearchService, source: CountingSource, catalog: OfflineCatalog
) -> None:
    results = await service.search("neon")
    assert await service.get_track(results[0].id) == results[0]
    assert source.gets == []  # known from the search
    other = catalog.tracks[-1]
    assert await service.get_track(other.id) == other
    assert await service.get_track(other.id) == other
    assert await service.get_track("0" * 22) is None
    assert await service.get_track("0" * 22) is None
    assert source.gets == [other.id, "0" * 22]
    lookup = service.stats().lookup
    assert (lookup.hits, lookup.misses) == (3, 2)


# --- source selection and health ------------------------------------------------------------------


async def test_from_settings_offline_by_default() -> None:
    service = SearchService.from_settings(Settings(_env_file=None))
    assert service.source == "offline"
    assert await service.health() == "ok"
    assert await service.search("neon")
    await service.aclose()


async def test_from_settings_spotify(spotify: Running) -> None:
    settings = Settings(
        _env_file=None,
        spotify_client_id="test-client-id",
        spotify_client_secret="test-client-secret",
        spotify_api_url=spotify.api_url,
        spotify_accounts_url=spotify.accounts_url,
        spotify_market="de",
    )
    service = SearchService.from_settings(settings)
    try:
        assert service.source == "spotify"
        assert await service.health() == "ok"
        assert await service.search("neon")
        assert spotify.fake.search_queries[-1]["market"] == "DE"
    finally:
        await service.aclose()


def test_from_settings_half_configured_is_an_error() -> None:
    with pytest.raises(ValueError, match="both"):
        SearchService.from_settings(Settings(_env_file=None, spotify_client_id="only-id"))


async def test_health_never_raises(source: CountingSource) -> None:
    async def broken() -> str:
        raise RuntimeError("boom")

    source.health = broken  # type: ignore[method-assign]
    assert "failed" in await SearchService(source).health()


# --- against the fake Spotify on a real socket ----------------------------------------------------


async def test_real_client_cache_and_single_flight(spotify: Running) -> None:
    spotify.fake.latency = 0.1
    service = SearchService(spotify.client())
    try:
        results = await asyncio.gather(*(service.search("lisbon") for _ in range(25)))
        assert results[0] and all(r == results[0] for r in results)
        assert spotify.fake.search_requests == 1
        assert spotify.fake.token_requests == 1
        await service.search("LISBON ")
        assert spotify.fake.search_requests == 1
        track = results[0][0]
        assert await service.get_track(track.id) == track
        assert spotify.fake.track_requests == 0
    finally:
        await service.aclose()


async def test_real_client_errors_pass_through(spotify: Running) -> None:
    service = SearchService(spotify.client())
    try:
        spotify.fake.script.append(Scripted(status=429, body={}, headers={"Retry-After": "12"}))
        with pytest.raises(UpstreamRateLimited) as caught:
            await service.search("neon")
        assert caught.value.retry_after_seconds == 12
        assert (await service.health()).startswith("Spotify rate limit")
    finally:
        await service.aclose()


async def test_spotify_client_satisfies_the_protocol(spotify: Running) -> None:
    client: SpotifyClient = spotify.client()
    service = SearchService(client)
    assert service.source == "spotify"
    await service.aclose()
