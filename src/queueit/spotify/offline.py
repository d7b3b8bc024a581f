"""The bundled offline catalog: search without Spotify credentials (the default for `make run`).

The catalog (``queueit/data/catalog.json``) is invented metadata written by
``tools/make_catalog.py``; see that script for what is in it.

Search: the query is folded (case, accents, apostrophes) and split into words. Every word must
match a word of the track name, artists or album, whole or as a prefix (so typing-as-you-go
works). ``artist:``, ``album:`` and ``track:`` restrict a word to one field, as on Spotify.
Ranking: matches in the name weigh more than in the artists, which weigh more than in the album;
whole words more than prefixes; the whole query equal to (or starting) the name, an artist or the
album earns a bonus. Ties go to the more popular track, then name, then id: the order is
deterministic.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from queueit.spotify.errors import InvalidTrack
from queueit.spotify.query import (
    DEFAULT_LIMIT,
    normalize_query,
    validate_limit,
    validate_market,
    validate_track_id,
)
from queueit.spotify.track import Track, parse_track

_FIELDS = ("name", "artists", "album")
# (whole word, prefix) weight per field
_WEIGHTS = {"name": (3.0, 2.0), "artists": (2.5, 1.5), "album": (1.5, 1.0)}
_FILTER_RE = re.compile(r"(artist|album|track):(.*)", re.IGNORECASE)
_FILTER_FIELD = {"artist": "artists", "album": "album", "track": "name"}
_WORD_RE = re.compile(r"\w+")


# Latin letters that carry no combining mark to drop, so NFKD leaves them alone.
_LETTERS = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "\u0131": "i",
        "'": None,
        "\u2019": None,
    }
)


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded, a few
    undecomposable letters transliterated (ł, ø, æ, dotless i...), apostrophes removed (so
    "dont" finds "Don't")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold().translate(_LETTERS)


def words(text: str) -> list[str]:
    return _WORD_RE.findall(fold(text))


@dataclass(frozen=True, slots=True)
class _Entry:
    track: Track
    popularity: int
    words: dict[str, tuple[str, ...]]  # field -> words
    word_sets: dict[str, frozenset[str]]
    phrases: dict[str, tuple[str, ...]]  # field -> whole folded values (one per artist)
    sort_name: str


def _entry(track: Track, popularity: int) -> _Entry:
    field_words = {f: tuple(words(getattr(track, f))) for f in _FIELDS}
    return _Entry(
        track=track,
        popularity=popularity,
        words=field_words,
        word_sets={f: frozenset(w) for f, w in field_words.items()},
        phrases={
            "name": (" ".join(field_words["name"]),),
            "artists": tuple(" ".join(words(a)) for a in track.artists.split(", ")),
            "album": (" ".join(field_words["album"]),),
        },
        sort_name=fold(track.name),
    )


def _parse_query(q: str) -> tuple[list[tuple[str | None, str]], str]:
    """[(field or None, word)] and the folded phrase of the unrestricted words."""
    terms: list[tuple[str | None, str]] = []
    free: list[str] = []
    for part in q.split():
        match = _FILTER_RE.fullmatch(part)
        if match:
            field = _FILTER_FIELD[match.group(1).lower()]
            terms.extend((field, w) for w in words(match.group(2)))
        else:
            part_words = words(part)
            terms.extend((None, w) for w in part_words)
            free.extend(part_words)
    return terms, " ".join(free)


def _score(entry: _Entry, terms: list[tuple[str | None, str]], phrase: str) -> float:
    total = 0.0
    for field, word in terms:
        best = 0.0
        for f in (field,) if field else _FIELDS:
            whole, prefix = _WEIGHTS[f]
            if word in entry.word_sets[f]:
                best = max(best, whole)
            elif best < prefix and any(w.startswith(word) for w in entry.words[f]):
                best = prefix
        if best == 0.0:
            return 0.0  # every word must match somewhere
        total += best
    if phrase:
        if phrase in entry.phrases["name"]:
            total += 10.0
        elif entry.phrases["name"][0].startswith(phrase):
            total += 3.0
        if phrase in entry.phrases["artists"]:
            total += 6.0
        if phrase in entry.phrases["album"]:
            total += 4.0
    return total


class OfflineCatalog:
    """An in-memory catalog with the same interface as :class:`SpotifyClient`."""

    source = "offline"

    def __init__(self, entries: Iterable[tuple[Track, int]]) -> None:
        """``entries``: (track, popularity 0..100). Ids must be unique."""
        self._entries = [_entry(track, popularity) for track, popularity in entries]
        self._by_id = {e.track.id: e.track for e in self._entries}
        if len(self._by_id) != len(self._entries):
            raise ValueError("offline catalog has duplicate track ids")

    @classmethod
    def load(cls, path: Path | None = None) -> OfflineCatalog:
        """Load and validate the bundled catalog (or ``path``). Every row passes
        :func:`parse_track`; a bad row is a packaging bug and raises ValueError."""
        if path is None:
            text = resources.files("queueit").joinpath("data/catalog.json").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        data: Any = json.loads(text)
        rows = data.get("tracks") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ValueError("offline catalog: no tracks list")
        entries: list[tuple[Track, int]] = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ValueError(f"offline catalog: row {index} is not an object")
            try:
                track = parse_track(row)
            except InvalidTrack as exc:
                raise ValueError(f"offline catalog: row {index}: {exc}") from exc
            popularity = row.get("popularity", 0)
            entries.append((track, popularity if isinstance(popularity, int) else 0))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def tracks(self) -> list[Track]:
        return [e.track for e in self._entries]

    def search_now(self, q: str, limit: int = DEFAULT_LIMIT) -> list[Track]:
        """Synchronous search (a few hundred rows: a linear scan is plenty)."""
        terms, phrase = _parse_query(normalize_query(q))
        limit = validate_limit(limit)
        if not terms:
            return []
        scored = [(s, e) for e in self._entries if (s := _score(e, terms, phrase)) > 0]
        scored.sort(key=lambda se: (-se[0], -se[1].popularity, se[1].sort_name, se[1].track.id))
        return [e.track for _, e in scored[:limit]]

    async def search(
        self, q: str, limit: int = DEFAULT_LIMIT, market: str | None = None
    ) -> list[Track]:
        """Same contract as Spotify search; ``market`` is validated and otherwise ignored."""
        validate_market(market)
        return self.search_now(q, limit)

    async def get(self, track_id: str, market: str | None = None) -> Track | None:
        validate_market(market)
        return self._by_id.get(validate_track_id(track_id))

    async def health(self) -> str:
        return "ok" if self._entries else "offline catalog is empty"

    async def aclose(self) -> None:
        return None
