"""Spotify search that holds up: a resilient Spotify Web API client, an offline catalog for
development, a cached single-flight SearchService in front of either, and the validation every
track passes before it enters the system. Exceptions: see :mod:`queueit.spotify.errors`."""

from queueit.spotify.client import SpotifyClient
from queueit.spotify.errors import (
    InvalidInput,
    InvalidQuery,
    InvalidTrack,
    SearchError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from queueit.spotify.offline import OfflineCatalog
from queueit.spotify.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    normalize_query,
    validate_limit,
    validate_market,
    validate_track_id,
)
from queueit.spotify.service import CacheStats, SearchService, SearchStats, TrackSource
from queueit.spotify.track import (
    Track,
    image_url_problem,
    parse_track,
    track_from_spotify,
    validate_track,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "CacheStats",
    "InvalidInput",
    "InvalidQuery",
    "InvalidTrack",
    "OfflineCatalog",
    "SearchError",
    "SearchService",
    "SearchStats",
    "SpotifyClient",
    "Track",
    "TrackSource",
    "UpstreamBadResponse",
    "UpstreamRateLimited",
    "UpstreamUnavailable",
    "image_url_problem",
    "normalize_query",
    "parse_track",
    "track_from_spotify",
    "validate_limit",
    "validate_market",
    "validate_track",
    "validate_track_id",
]
