"""The track shape and the validation every piece of track data passes before it enters the system.

Wire shape (fixed by the iOS app): ``id, isrc, name, artists, album, duration_ms, image_url,
explicit``. ``artists`` is one string, the artist names joined by ``", "``.

Validation applies to search results (Spotify or offline) and to the add-song request body alike:
nothing with a NUL, a control character, an oversized string or a non-https image reaches Postgres
or another phone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from queueit.spotify.errors import InvalidTrack
from queueit.text import has_forbidden_chars

MAX_TEXT_CHARS = 500
MAX_IMAGE_URL_CHARS = 2048
MAX_DURATION_MS = 86_400_000

TRACK_ID_RE = re.compile(r"[A-Za-z0-9]{1,64}")
ISRC_RE = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
# What an image URL may contain: printable ASCII URL characters. No whitespace, quotes, angle
# brackets, backslashes or backticks; IDN hosts must arrive in punycode.
_URL_CHARS_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
_HOST_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)

TRACK_FIELDS = ("id", "isrc", "name", "artists", "album", "duration_ms", "image_url", "explicit")


@dataclass(frozen=True, slots=True)
class Track:
    """A validated track. Build it with :func:`validate_track` or :func:`parse_track`, not
    directly, unless the values are already known to be valid."""

    id: str
    isrc: str | None
    name: str
    artists: str
    album: str
    duration_ms: int
    image_url: str | None
    explicit: bool

    def to_wire(self) -> dict[str, Any]:
        """The JSON object the iOS app decodes."""
        return {
            "id": self.id,
            "isrc": self.isrc,
            "name": self.name,
            "artists": self.artists,
            "album": self.album,
            "duration_ms": self.duration_ms,
            "image_url": self.image_url,
            "explicit": self.explicit,
        }


def image_url_problem(url: object) -> str | None:
    """Why ``url`` is not an acceptable image URL, or None when it is.

    Accepted: ``https://HOST[:PORT][/path][?query][#fragment]`` in printable ASCII, at most
    2048 characters, where HOST is a DNS name with at least one dot. Rejected: every other
    scheme (``http:``, ``javascript:``, ``data:``, scheme-relative ``//``), user info
    (``https://good@evil``), backslashes, whitespace and control characters, IP literals and
    dotless hosts (nothing on a phone's local network), malformed ports.
    """
    if not isinstance(url, str):
        return "must be a string or null"
    if not url:
        return "must not be empty (use null)"
    if len(url) > MAX_IMAGE_URL_CHARS:
        return f"must be at most {MAX_IMAGE_URL_CHARS} characters"
    if not _URL_CHARS_RE.fullmatch(url):
        return "must be a URL of printable ASCII characters"
    if not url.startswith("https://"):
        return "must be an https URL"
    rest = url[len("https://") :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return "must not contain user info"
    if not authority:
        return "must have a host"
    if authority.startswith("["):
        return "must not use an IP address as host"
    host, sep, port = authority.partition(":")
    if sep and not (port.isdigit() and len(port) <= 5 and 0 < int(port) <= 65535):
        return "has an invalid port"
    host = host.removesuffix(".")
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2:
        return "must have a public DNS host name"
    if not all(_HOST_LABEL_RE.fullmatch(label) for label in labels):
        return "must have a valid DNS host name"
    if labels[-1].isdigit():
        return "must not use an IP address as host"
    # Belt and braces: the standard parser must see the same scheme, host and no user info.
    try:
        parts = urlsplit(url)
        parsed_port = parts.port
    except ValueError:
        return "is not a valid URL"
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or (parts.hostname or "").removesuffix(".") != host.lower()
        or (parsed_port is None) != (not sep)
    ):
        return "is not a valid URL"
    return None


def _text_problem(value: object, *, allow_empty: bool) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > MAX_TEXT_CHARS:
        return f"must be at most {MAX_TEXT_CHARS} characters"
    if has_forbidden_chars(value):
        return "must not contain control characters"
    if not allow_empty and not value.strip():
        return "must not be empty"
    return None


def _collect_problems(
    id: object,
    isrc: object,
    name: object,
    artists: object,
    album: object,
    duration_ms: object,
    image_url: object,
    explicit: object,
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(id, str) or not TRACK_ID_RE.fullmatch(id):
        problems.append(("id", "must be 1 to 64 characters of A-Z, a-z, 0-9"))
    if isrc is not None and (not isinstance(isrc, str) or not ISRC_RE.fullmatch(isrc)):
        problems.append(("isrc", "must be null or 12 characters like CCXXXYYNNNNN (ISRC)"))
    for field, value, allow_empty in (
        ("name", name, False),
        ("artists", artists, False),
        ("album", album, True),
    ):
        problem = _text_problem(value, allow_empty=allow_empty)
        if problem:
            problems.append((field, problem))
    if (
        not isinstance(duration_ms, int)
        or isinstance(duration_ms, bool)
        or not 1 <= duration_ms <= MAX_DURATION_MS
    ):
        problems.append(("duration_ms", f"must be an integer from 1 to {MAX_DURATION_MS}"))
    if image_url is not None:
        problem = image_url_problem(image_url)
        if problem:
            problems.append(("image_url", problem))
    if not isinstance(explicit, bool):
        problems.append(("explicit", "must be a boolean"))
    return problems


def validate_track(
    *,
    id: object,
    isrc: object,
    name: object,
    artists: object,
    album: object,
    duration_ms: object,
    image_url: object,
    explicit: object = False,
) -> Track:
    """Check every field and return a :class:`Track`; raise :class:`InvalidTrack` listing every
    problem otherwise. Values are checked, never altered (no trimming, no case folding).

    Rules: ``id`` 1..64 of ``[A-Za-z0-9]``; ``isrc`` null or ``[A-Z]{2}[A-Z0-9]{3}[0-9]{7}``;
    ``name`` and ``artists`` 1..500 characters, not blank; ``album`` 0..500 characters; no NUL,
    control characters or lone surrogates in any text; ``duration_ms`` integer 1..86_400_000;
    ``image_url`` null or https (see :func:`image_url_problem`); ``explicit`` boolean.
    """
    problems = _collect_problems(id, isrc, name, artists, album, duration_ms, image_url, explicit)
    if problems:
        raise InvalidTrack(problems)
    assert isinstance(id, str) and isinstance(name, str) and isinstance(artists, str)
    assert isinstance(album, str) and isinstance(duration_ms, int) and isinstance(explicit, bool)
    assert isrc is None or isinstance(isrc, str)
    assert image_url is None or isinstance(image_url, str)
    return Track(id, isrc, name, artists, album, duration_ms, image_url, explicit)


def parse_track(data: Mapping[str, object]) -> Track:
    """Validate a wire-shaped mapping (the add-song body, a catalog row). ``isrc``,
    ``image_url`` and ``explicit`` may be absent (null, null, false); other keys are ignored."""
    missing = [
        (f, "is required")
        for f in ("id", "name", "artists", "album", "duration_ms")
        if f not in data
    ]
    if missing:
        raise InvalidTrack(missing)
    return validate_track(
        id=data["id"],
        isrc=data.get("isrc"),
        name=data["name"],
        artists=data["artists"],
        album=data["album"],
        duration_ms=data["duration_ms"],
        image_url=data.get("image_url"),
        explicit=data.get("explicit", False),
    )


# --- Spotify's track object -> Track ------------------------------------------------------------

PREFERRED_IMAGE_PX = 300  # a list-cell thumbnail at 3x; Spotify offers 640, 300 and 64


def _pick_image(images: object) -> str | None:
    """The smallest valid image at least PREFERRED_IMAGE_PX wide, else the largest valid one,
    else the first valid one when sizes are missing; None when no image is acceptable."""
    if not isinstance(images, list):
        return None
    sized: list[tuple[int, str]] = []
    unsized: list[str] = []
    for image in images:
        if not isinstance(image, dict):
            continue
        url = image.get("url")
        if image_url_problem(url) is not None:
            continue
        assert isinstance(url, str)
        width = image.get("width")
        if width is None:
            width = image.get("height")
        if isinstance(width, int) and not isinstance(width, bool) and width > 0:
            sized.append((width, url))
        else:
            unsized.append(url)
    big_enough = [s for s in sized if s[0] >= PREFERRED_IMAGE_PX]
    if big_enough:
        return min(big_enough, key=lambda s: s[0])[1]
    if sized:
        return max(sized, key=lambda s: s[0])[1]
    return unsized[0] if unsized else None


def _normalize_isrc(external_ids: object) -> str | None:
    if not isinstance(external_ids, dict):
        return None
    isrc = external_ids.get("isrc")
    if not isinstance(isrc, str):
        return None
    isrc = isrc.replace("-", "").replace(" ", "").upper()
    return isrc if ISRC_RE.fullmatch(isrc) else None


def track_from_spotify(obj: object) -> Track | None:
    """Map one Spotify track object to a :class:`Track`, or None when it cannot be used.

    Lenient where a field is optional (a bad ISRC or image becomes null; a missing ``explicit``
    is false), strict where it is not (id, name, artists, duration): such tracks are dropped,
    never passed on.
    """
    if not isinstance(obj, dict):
        return None
    artists = obj.get("artists")
    if not isinstance(artists, list):
        return None
    names: list[str] = []
    for artist in artists:
        name = artist.get("name") if isinstance(artist, dict) else None
        if isinstance(name, str) and name.strip():
            names.append(name)
    if not names:
        return None
    album = obj.get("album")
    album_name: object = ""
    images: object = None
    if isinstance(album, dict):
        album_name = album.get("name")
        album_name = "" if album_name is None else album_name
        images = album.get("images")
    explicit = obj.get("explicit", False)
    try:
        return validate_track(
            id=obj.get("id"),
            isrc=_normalize_isrc(obj.get("external_ids")),
            name=obj.get("name"),
            artists=", ".join(names),
            album=album_name,
            duration_ms=obj.get("duration_ms"),
            image_url=_pick_image(images),
            explicit=explicit if isinstance(explicit, bool) else False,
        )
    except InvalidTrack:
        return None
