"""A realistic party's search traffic through SearchService -> SpotifyClient -> fake Spotify,
printing the cache hit rate. Not a performance test: it asserts only that the cache helps and
that every miss, and only a miss, reached Spotify.

The party: 3 hours, a search moment every 7 s on average (Poisson arrivals), the
app's limit of 20, a 2,048-entry cache with the default 300 s TTL (and, for comparison, one
hour). Guests search for songs whose popularity follows a Zipf law (s = 1.1) over the 640-track
catalog ranked by popularity. A search is the full title (45 %), the artist (25 %),
"title artist" (15 %) or a partial title (15 %); a third are typed in lower case and one in ten
with stray spaces. One search moment in eight is a burst: 2-4 guests searching the same thing
at once (someone shouts a name).
"""

from __future__ import annotations

import asyncio
import random

import pytest
from spotify_fake import FakeClock, Running

from queueit.spotify import CacheStats, OfflineCatalog, SearchService, Track

SEED = 7
PARTY_SECONDS = 3 * 3600
MEAN_GAP_SECONDS = 7.0


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


def _query_for(track: Track, rng: random.Random) -> str:
    artist = track.artists.split(", ")[0]
    form = rng.random()
    if form < 0.45:
        q = track.name
    elif form < 0.70:
        q = artist
    elif form < 0.85:
        q = f"{track.name} {artist}"
    else:
        q = track.name[: max(3, len(track.name) * 2 // 3)]
    if rng.random() < 0.33:
        q = q.lower()
    if rng.random() < 0.10:
        q = f" {q.replace(' ', '  ')} "
    return q


async def _party(
    spotify: Running, catalog: OfflineCatalog, cache_seconds: float
) -> tuple[int, CacheStats]:
    rng = random.Random(SEED)
    by_popularity = [e.track for e in sorted(catalog._entries, key=lambda e: -e.popularity)]
    weights = _zipf_weights(len(by_popularity), 1.1)
    clock = FakeClock()
    service = SearchService(
        spotify.client(), cache_seconds=cache_seconds, cache_size=2048, clock=clock
    )
    searches = 0
    try:
        while clock.now - 1000.0 < PARTY_SECONDS:
            clock.now += rng.expovariate(1 / MEAN_GAP_SECONDS)
            track = rng.choices(by_popularity, weights)[0]
            query = _query_for(track, rng)
            burst = rng.randint(2, 4) if rng.random() < 1 / 8 else 1
            await asyncio.gather(*(service.search(query, 20) for _ in range(burst)))
            searches += burst
    finally:
        await service.aclose()
    return searches, service.stats().search


async def test_party_cache_hit_rate(
    spotify: Running, catalog: OfflineCatalog, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = []
    for ttl in (300, 3600):  # the default SEARCH_CACHE_SECONDS, and an hour for comparison
        spotify.fake.reset()
        searches, stats = await _party(spotify, catalog, ttl)
        assert stats.lookups == searches
        assert stats.misses == spotify.fake.search_requests  # every miss, and only a miss, went out
        assert spotify.fake.token_requests == 1
        assert stats.hit_rate > 0.3
        lines.append(
            f"[search cache] party simulation, TTL {ttl} s: {searches} searches, "
            f"hits={stats.hits} coalesced={stats.coalesced} misses={stats.misses} -> "
            f"hit rate {stats.hit_rate:.1%} (fresh hits alone {stats.hits / searches:.1%}); "
            f"{stats.misses} Spotify search calls; cache size {stats.size}/{stats.capacity}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
