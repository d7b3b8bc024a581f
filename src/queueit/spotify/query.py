"""Validation of search and lookup parameters. Everything raises :class:`InvalidQuery`."""

from __future__ import annotations

import re
import unicodedata

from queueit.spotify.errors import InvalidQuery
from queueit.spotify.track import TRACK_ID_RE
from queueit.text import has_forbidden_chars

MAX_QUERY_CHARS = 200
MIN_LIMIT = 1
MAX_LIMIT = 50
DEFAULT_LIMIT = 20

# The contract's market shape (ISO 3166-1 alpha-2): two upper-case letters.
_MARKET_RE = re.compile(r"[A-Z]{2}")


def normalize_query(q: object) -> str:
    """The query as sent upstream: NFC, trimmed, inner whitespace runs collapsed to one space.

    Rejects non-strings, NUL and other control characters (anywhere, before trimming), and
    queries that are empty or longer than 200 characters once trimmed.
    """
    if not isinstance(q, str):
        raise InvalidQuery("q", "must be a string")
    if has_forbidden_chars(q):
        raise InvalidQuery("q", "must not contain control characters")
    q = " ".join(unicodedata.normalize("NFC", q).split())
    if not q:
        raise InvalidQuery("q", "must not be empty")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidQuery("q", f"must be at most {MAX_QUERY_CHARS} characters")
    return q


def validate_limit(limit: object) -> int:
    """``limit`` as an int from 1 to 50 (booleans and floats are refused)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be an integer from {MIN_LIMIT} to {MAX_LIMIT}")
    return limit


def validate_market(market: object) -> str | None:
    """``market`` upper-cased (``^[A-Z]{2}$``, the contract's shape), or None.

    Only the shape is checked: a code Spotify does not know is Spotify's to refuse, so the
    contract and the server agree on what is valid input. (The HTTP edge takes upper case only,
    as the contract says; settings may be written in lower case.)
    """
    if market is None:
        return None
    if not isinstance(market, str) or not _MARKET_RE.fullmatch(market.upper()):
        raise InvalidQuery("market", "must be two letters (ISO 3166-1 alpha-2)")
    return market.upper()


def validate_track_id(track_id: object) -> str:
    """A track id: 1..64 characters of ``[A-Za-z0-9]`` (Spotify's own are 22, base62)."""
    if not isinstance(track_id, str) or not TRACK_ID_RE.fullmatch(track_id):
        raise InvalidQuery("id", "must be 1 to 64 characters of A-Z, a-z, 0-9")
    return track_id
