"""SpotifyClient against a fake Spotify on a real local socket."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from spotify_fake import CLIENT_ID, FakeClock, Running, Scripted, spotify_track_json

from queueit.spotify import (
    SpotifyClient,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamUnavailable,
)


async def test_search_maps_spotify_tracks(spotify: Running, client: SpotifyClient) -> None:
    tracks = await client.search("Café Lumière", 5)
    assert 1 <= len(tracks) <= 5
    first = tracks[0]
    assert "Café Lumière" in first.artists
    expected = spotify.fake.catalog._by_id[first.id]
    assert first == expected  # id, isrc, name, artists, album, duration, explicit round-trip...
    if expected.image_url:  # ...and of 640/300/64 the 300 px image is chosen
        assert first.image_url is not None and first.image_url.endswith("/300.jpg")
    sent = spotify.fake.search_queries[-1]
    assert sent == {"q": "Café Lumière", "type": "track", "limit": "5"}


async def test_search_sends_market(spotify: Running, client: SpotifyClient) -> None:
    await client.search("neon", 3, "se")
    assert spotify.fake.search_queries[-1]["market"] == "SE"


async def test_mapping_joins_artists_and_normalizes_isrc(
    spotify: Running, client: SpotifyClient
) -> None:
    item = spotify_track_json(spotify.fake.catalog.tracks[0])
    item["artists"] = [{"name": "A"}, {"name": "B, Jr."}, {"name": ""}, {"id": "no-name"}]
    item["external_ids"] = {"isrc": "xx-qit-25-00001"}
    item["album"]["images"] = [{"url": "https://i.example.com/a.jpg", "height": None}]
    del item["explicit"]
    spotify.fake.script.append(Scripted(body={"tracks": {"items": [item]}}))
    (track,) = await client.search("x")
    assert track.artists == "A, B, Jr."
    assert track.isrc == "XXQIT2500001"
    assert track.image_url == "https://i.example.com/a.jpg"
    assert track.explicit is False


async def test_token_is_cached(spotify: Running, client: SpotifyClient) -> None:
    for q in ("neon", "harbor", "lisbon", "neon"):
        await client.search(q)
    assert spotify.fake.token_requests == 1
    assert spotify.fake.search_requests == 4
    assert spotify.fake.bad_auth == []  # Basic auth with the client id and secret


async def test_concurrent_first_calls_share_one_token_request(
    spotify: Running, client: SpotifyClient
) -> None:
    await asyncio.gather(*(client.search(f"q{i}") for i in range(10)))
    assert spotify.fake.token_requests == 1


async def test_token_refreshed_before_expiry(spotify: Running) -> None:
    clock = FakeClock()
    spotify.fake.expires_in = 3600
    client = spotify.client(clock=clock)
    try:
        await client.search("neon")
        clock.now += 3000  # well inside the hour: cached
        await client.search("neon")
        assert spotify.fake.token_requests == 1
        clock.now += 550  # 3550 s: inside the refresh margin (60 s before expiry)
        await client.search("neon")
        assert spotify.fake.token_requests == 2
        assert client.tokens_fetched == 2
    finally:
        await client.aclose()


async def test_401_refreshes_token_once(spotify: Running, client: SpotifyClient) -> None:
    await client.search("neon")
    spotify.fake.revoke_all()  # Spotify no longer accepts the cached token
    tracks = await client.search("harbor")
    assert tracks
    assert spotify.fake.token_requests == 2
    assert spotify.fake.search_requests == 3  # ok, 401, ok


async def test_persistent_401_is_unavailable_after_one_refresh(
    spotify: Running, client: SpotifyClient
) -> None:
    unauthorized = Scripted(status=401, body={"error": {"status": 401, "message": "no"}})
    spotify.fake.script.extend([unauthorized, unauthorized, unauthorized])
    with pytest.raises(UpstreamUnavailable):
        await client.search("neon")
    assert spotify.fake.search_requests == 2
    assert spotify.fake.token_requests == 2


async def test_429_raises_with_retry_after_and_blocks(
    spotify: Running, client: SpotifyClient
) -> None:
    spotify.fake.script.append(Scripted(status=429, body={}, headers={"Retry-After": "7"}))
    started = time.monotonic()
    with pytest.raises(UpstreamRateLimited) as caught:
        await client.search("neon")
    assert caught.value.retry_after_seconds == 7
    assert time.monotonic() - started < 5  # raised, not waited out
    # Within the window nothing goes upstream.
    with pytest.raises(UpstreamRateLimited) as again:
        await client.search("harbor")
    assert 1 <= again.value.retry_after_seconds <= 7
    assert spotify.fake.search_requests == 1
    assert (await client.health()).startswith("Spotify rate limit")


async def test_short_429_is_waited_out_once(spotify: Running) -> None:
    client = spotify.client(max_rate_limit_wait_seconds=1.0)
    try:
        spotify.fake.script.append(Scripted(status=429, body={}, headers={"Retry-After": "0"}))
        assert await client.search("neon")
        assert spotify.fake.search_requests == 2
    finally:
        await client.aclose()


async def test_429_with_http_date_and_garbage_retry_after(
    spotify: Running, client: SpotifyClient
) -> None:
    spotify.fake.script.append(
        Scripted(status=429, body={}, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    )
    with pytest.raises(UpstreamRateLimited) as caught:
        await client.search("neon")
    assert caught.value.retry_after_seconds == 86_400  # clamped to a day
    other = spotify.client(max_rate_limit_wait_seconds=0)
    try:
        spotify.fake.script.append(Scripted(status=429, body={}, headers={"Retry-After": "soon"}))
        with pytest.raises(UpstreamRateLimited) as garbage:
            await other.search("neon")
        assert garbage.value.retry_after_seconds == 1
    finally:
        await other.aclose()


async def test_5xx_then_success_is_retried(spotify: Running, client: SpotifyClient) -> None:
    spotify.fake.script.extend(
        [Scripted(status=500, body={}), Scripted(status=502, body=b"<html>")]
    )
    assert await client.search("neon")
    assert spotify.fake.search_requests == 3


async def test_persistent_5xx_is_unavailable(spotify: Running, client: SpotifyClient) -> None:
    spotify.fake.script.extend([Scripted(status=503, body={})] * 5)
    with pytest.raises(UpstreamUnavailable, match="503"):
        await client.search("neon")
    assert spotify.fake.search_requests == 3  # one try + 2 retries
    assert (await client.health()).endswith("HTTP 503")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe garbage",
        b"",
        b"[]",
        b'{"tracks": null}',
        b'{"tracks": {"items": {"a": 1}}}',
        b'{"error": "nope"}',
    ],
)
async def test_malformed_answers_are_bad_response(
    spotify: Running, client: SpotifyClient, body: bytes
) -> None:
    spotify.fake.script.append(Scripted(body=body))
    with pytest.raises(UpstreamBadResponse):
        await client.search("neon")
    assert spotify.fake.search_requests == 1  # not retried


async def test_unexpected_4xx_is_bad_response(spotify: Running, client: SpotifyClient) -> None:
    spotify.fake.script.append(Scripted(status=400, body={"error": {"status": 400}}))
    with pytest.raises(UpstreamBadResponse, match="400"):
        await client.search("neon")


async def test_oversized_answer_is_bad_response(spotify: Running) -> None:
    client = spotify.client(max_response_bytes=1000)
    try:
        spotify.fake.script.append(Scripted(body={"tracks": {"items": [], "pad": "x" * 5000}}))
        with pytest.raises(UpstreamBadResponse, match="too large"):
            await client.search("neon")
    finally:
        await client.aclose()


async def test_slow_upstream_times_out(spotify: Running) -> None:
    client = spotify.client(timeout_seconds=0.3)
    try:
        spotify.fake.script.extend([Scripted(body={}, delay=4.0)] * 3)
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="no answer within"):
            await client.search("neon")
        # Bounded by the total timeout (2 x 0.3 s), far below the 4 s the server takes.
        # A loose functional bound, not a performance assertion.
        assert time.monotonic() - started < 3.0
    finally:
        await client.aclose()


async def test_slow_drip_body_cannot_stretch_an_attempt(spotify: Running) -> None:
    client = spotify.client(timeout_seconds=0.5, max_retries=0)
    try:
        # Each byte arrives well within httpx's read timeout, the whole body never would.
        spotify.fake.script.append(Scripted(body={"tracks": {"items": []}}, drip=0.1))
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable):
            await client.search("neon")
        assert time.monotonic() - started < 2.0
    finally:
        await client.aclose()


async def test_unreachable_upstream_is_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = SpotifyClient(
        CLIENT_ID,
        "secret",
        api_url=f"http://127.0.0.1:{port}/v1",
        accounts_url=f"http://127.0.0.1:{port}/api/token",
        timeout_seconds=1,
        backoff_base_seconds=0.01,
    )
    try:
        with pytest.raises(UpstreamUnavailable, match="could not connect"):
            await client.search("neon")
        assert await client.health() != "ok"
    finally:
        await client.aclose()


async def test_refused_credentials(spotify: Running) -> None:
    client = SpotifyClient(
        CLIENT_ID, "wrong", api_url=spotify.api_url, accounts_url=spotify.accounts_url
    )
    try:
        with pytest.raises(UpstreamUnavailable, match="refused the client credentials"):
            await client.search("neon")
        assert await client.health() == "Spotify refused the client credentials"
        assert spotify.fake.token_requests == 1  # not hammered on every call
        assert spotify.fake.search_requests == 0
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "Bearer", "expires_in": 3600},
        {"access_token": "t", "token_type": "Bearer", "expires_in": "3600"},
        {"access_token": "t", "token_type": "Bearer", "expires_in": -5},
        {"access_token": "t", "token_type": "mac", "expires_in": 3600},
        {"access_token": "t\r\nX-Evil: 1", "token_type": "Bearer", "expires_in": 3600},
    ],
)
async def test_malformed_token_answer(
    spotify: Running, client: SpotifyClient, body: dict[str, Any]
) -> None:
    spotify.fake.token_script.append(Scripted(body=body))
    with pytest.raises(UpstreamBadResponse):
        await client.search("neon")


async def test_token_endpoint_5xx_is_retried(spotify: Running, client: SpotifyClient) -> None:
    spotify.fake.token_script.append(Scripted(status=500, body={}))
    assert await client.search("neon")
    assert spotify.fake.token_requests == 2


async def test_hostile_upstream_tracks_are_dropped_or_cleaned(
    spotify: Running, client: SpotifyClient
) -> None:
    good = spotify_track_json(spotify.fake.catalog.tracks[0])
    counter = iter(range(100))

    def variant(**changes: Any) -> dict[str, Any]:
        item = {**good, "id": f"Variant{next(counter):015d}", "album": {**good["album"]}}
        for key, value in changes.items():
            if key == "images":
                item["album"]["images"] = value
            else:
                item[key] = value
        return item

    dropped = [
        None,  # Spotify does put nulls in items
        "not an object",
        variant(id=None, is_local=True),
        variant(id="abc/../../x"),
        variant(name="bad\x00name"),
        variant(name="bell\x07"),
        variant(name="x" * 501),
        variant(name="   "),
        variant(duration_ms=0),
        variant(duration_ms="180000"),
        variant(duration_ms=True),
        variant(artists=[]),
        variant(artists=[{"name": "\ud800"}]),
        variant(album={"name": "a" * 501, "images": []}),
    ]
    cleaned = [
        variant(images=[{"url": "javascript:alert(1)", "width": 300}]),
        variant(images=[{"url": "http://i.example.com/a.jpg", "width": 300}]),
        variant(images=[{"url": "https://user@i.example.com/a.jpg", "width": 300}]),
        variant(images="nope"),
        variant(external_ids={"isrc": "<script>"}),
        variant(explicit="yes"),
    ]
    spotify.fake.script.append(Scripted(body={"tracks": {"items": [*dropped, *cleaned, good]}}))
    tracks = await client.search("x", 50)
    assert [t.id for t in tracks] == [c["id"] for c in cleaned] + [good["id"]]
    assert [t.image_url for t in tracks[:4]] == [None] * 4
    assert tracks[4].isrc is None
    assert tracks[5].explicit is False


async def test_get_track(spotify: Running, client: SpotifyClient) -> None:
    known = spotify.fake.catalog.tracks[7]
    assert await client.get(known.id) == known
    assert await client.get("0" * 22) is None  # 404
    assert await client.get("short") is None  # not a Spotify id: no request
    assert spotify.fake.track_requests == 2


async def test_health_ok_with_valid_credentials(client: SpotifyClient) -> None:
    assert await client.health() == "ok"
