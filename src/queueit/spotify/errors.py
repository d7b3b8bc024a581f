"""Exceptions raised by the Spotify search layer.

Two families, kept apart because the HTTP edge answers them differently:

``InvalidInput`` (a ``ValueError``): the *caller* sent something unacceptable. Nothing upstream was
asked. The edge answers 422 with ``field`` and ``reason`` in ``errors[]``.

    InvalidInput
    ├── InvalidQuery   search parameters: ``q``, ``limit``, ``market``, a track id
    └── InvalidTrack   track data (search results, the add-song body); carries every field problem

``SearchError``: the *upstream* failed us. The edge answers problem+json:

    SearchError
    ├── UpstreamUnavailable   503  timeout, transport error, 5xx after retries, credentials refused
    ├── UpstreamRateLimited   429  Spotify said 429; ``retry_after_seconds`` goes into Retry-After
    └── UpstreamBadResponse   502  malformed JSON, unexpected shape, oversized or unexpected status
"""

from __future__ import annotations


class InvalidInput(ValueError):
    """Caller input failed validation. ``field`` names the input, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidQuery(InvalidInput):
    """A search or lookup parameter is invalid (``q``, ``limit``, ``market``, ``id``)."""


class InvalidTrack(InvalidInput):
    """Track data is invalid. ``errors`` lists every ``(field, reason)``; the first is promoted
    to ``field``/``reason``."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        if not errors:
            raise ValueError("InvalidTrack needs at least one error")
        super().__init__(*errors[0])
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)

    def __str__(self) -> str:
        return "; ".join(f"{f}: {r}" for f, r in self.errors)


class SearchError(Exception):
    """Base of every upstream failure. ``str(exc)`` is a human sentence safe to show a client
    (it never contains credentials or tokens)."""


class UpstreamUnavailable(SearchError):
    """Spotify could not be reached or kept failing: timeout, connection error, 5xx after the
    bounded retries, or the client credentials were refused. Answer 503."""


class UpstreamRateLimited(SearchError):
    """Spotify answered 429. ``retry_after_seconds`` (>= 1) is how long Spotify asked us to wait;
    until then the client does not call Spotify again. Answer 429 with ``Retry-After``."""

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        super().__init__(message or f"Spotify rate limit; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class UpstreamBadResponse(SearchError):
    """Spotify answered, but not with something we can use: invalid JSON, an unexpected shape,
    an oversized body or an unexpected status. Not retried. Answer 502."""
