"""The bundled offline catalog: integrity, generator drift, and search quality."""

from __future__ import annotations

import collections
import importlib.util
import re
from pathlib import Path

import pytest

from queueit.spotify import InvalidQuery, OfflineCatalog, validate_track
from queueit.spotify.offline import fold

ROOT = Path(__file__).resolve().parents[2]


def test_catalog_integrity(catalog: OfflineCatalog) -> None:
    tracks = catalog.tracks
    assert len(tracks) >= 500
    assert len({t.id for t in tracks}) == len(tracks)
    for t in tracks:
        assert validate_track(**t.to_wire()) == t
        assert re.fullmatch(r"[0-9A-Za-z]{22}", t.id)
        assert t.isrc is None or re.fullmatch(r"XXQIT[0-9]{7}", t.isrc)
        assert t.image_url is None or t.image_url.startswith("https://images.queueit.invalid/")
        assert 20_000 <= t.duration_ms <= 900_000
    assert any(t.explicit for t in tracks) and not all(t.explicit for t in tracks)
    assert any(t.image_url is None for t in tracks)
    assert any(", " in t.artists for t in tracks)


def test_catalog_matches_generator() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_catalog", ROOT / "tools" / "make_catalog.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "src" / "queueit" / "data" / "catalog.json").read_text("utf-8")
    assert module.render(module.build()) == committed, "run python tools/make_catalog.py"


def _artist_counts(catalog: OfflineCatalog) -> collections.Counter[str]:
    return collections.Counter(a for t in catalog.tracks for a in t.artists.split(", "))


def test_exact_title_ranks_first(catalog: OfflineCatalog) -> None:
    names = collections.Counter(t.name for t in catalog.tracks)
    unique = [t for t in catalog.tracks if names[t.name] == 1 and len(t.name.split()) >= 2]
    for track in unique[:40]:
        assert catalog.search_now(track.name)[0] == track, track.name


def test_artist_query_returns_the_artist_first(catalog: OfflineCatalog) -> None:
    for artist, count in _artist_counts(catalog).most_common(8):
        results = catalog.search_now(artist, 50)
        top = results[: min(count, 50)]
        assert all(artist in t.artists.split(", ") for t in top), artist


def test_case_accent_and_whitespace_insensitive(catalog: OfflineCatalog) -> None:
    base = catalog.search_now("Café Lumière")
    assert base
    assert catalog.search_now("cafe lumiere") == base
    assert catalog.search_now("  CAFÉ   LUMIÈRE ") == base
    assert catalog.search_now("Cafe\u0301 Lumiere") == base  # combining accent


def test_non_latin_scripts(catalog: OfflineCatalog) -> None:
    for artist, prefix in (("星野ミナ", "星野"), ("하늘빛", "하늘"), ("Łukasz Wiatr", "lukasz w")):
        results = catalog.search_now(artist, 5)
        assert results and all(artist in t.artists for t in results), artist
        assert catalog.search_now(prefix, 5) == results, prefix
    assert catalog.search_now("morkeskog") == catalog.search_now("Mørkeskog")
    assert catalog.search_now("dvorak street") == catalog.search_now("Dvořák Street")


def test_prefix_and_all_words_must_match(catalog: OfflineCatalog) -> None:
    results = catalog.search_now("lantern")
    assert results
    assert all(
        any(w.startswith("lantern") for f in (t.name, t.artists, t.album) for w in fold(f).split())
        for t in results
    )
    both = catalog.search_now("neon harbor", 50)
    for t in both:
        text = fold(f"{t.name} {t.artists} {t.album}")
        assert "neon" in text and "harbor" in text


def test_apostrophes_are_ignored(catalog: OfflineCatalog) -> None:
    with_apostrophe = [t for t in catalog.tracks if "'" in t.name]
    assert with_apostrophe
    name = with_apostrophe[0].name
    assert with_apostrophe[0] in catalog.search_now(name.replace("'", ""), 50)


def test_field_filters(catalog: OfflineCatalog) -> None:
    artist, _ = _artist_counts(catalog).most_common(1)[0]
    results = catalog.search_now(f"artist:{artist.split()[-1]}", 50)
    assert results and all(fold(artist.split()[-1]) in fold(t.artists) for t in results)
    titles = catalog.search_now("track:highway", 50)
    assert titles and all("highway" in fold(t.name) for t in titles)


def test_no_match_and_limit(catalog: OfflineCatalog) -> None:
    assert catalog.search_now("zzqxv nothing like this") == []
    assert len(catalog.search_now("the", 7)) == 7
    assert len(catalog.search_now("a", 50)) == 50


def test_order_is_deterministic(catalog: OfflineCatalog) -> None:
    again = OfflineCatalog.load()
    for q in ("the", "neon", "lisbon", "dj", "love"):
        assert catalog.search_now(q, 50) == catalog.search_now(q, 50) == again.search_now(q, 50)


def test_reversed_catalog_ranks_the_same(catalog: OfflineCatalog) -> None:
    entries = [(e.track, e.popularity) for e in reversed(catalog._entries)]
    reversed_catalog = OfflineCatalog(entries)
    for q in ("the", "midnight", "songs for"):
        assert reversed_catalog.search_now(q, 50) == catalog.search_now(q, 50)


async def test_get_and_async_interface(catalog: OfflineCatalog) -> None:
    track = catalog.tracks[3]
    assert await catalog.get(track.id) == track
    assert await catalog.get("0" * 22) is None
    with pytest.raises(InvalidQuery):
        await catalog.get("bad id!")
    assert await catalog.search("neon", 3, "US") == catalog.search_now("neon", 3)
    with pytest.raises(InvalidQuery):
        await catalog.search("neon", 3, "Narnia")
    assert await catalog.health() == "ok"


def test_duplicate_ids_refused(catalog: OfflineCatalog) -> None:
    track = catalog.tracks[0]
    with pytest.raises(ValueError, match="duplicate"):
        OfflineCatalog([(track, 1), (track, 2)])


def test_bad_catalog_file_refused(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text(
        '{"tracks": [{"id": "x", "name": "a\\u0000", "artists": "b", "album": "", '
        '"duration_ms": 1}]}'
    )
    with pytest.raises(ValueError, match="row 0"):
        OfflineCatalog.load(bad)
