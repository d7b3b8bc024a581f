"""Text rules shared by every layer that takes text from outside (tokens, track data, queries)."""

from __future__ import annotations

import re

# C0 and C1 control characters (NUL included), DEL, and lone surrogates (which cannot be encoded
# as UTF-8 and would fail deep inside the database driver).
_FORBIDDEN_CHARS_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def has_forbidden_chars(value: str) -> bool:
    """True when ``value`` holds a NUL, another control character or a lone surrogate."""
    return _FORBIDDEN_CHARS_RE.search(value) is not None
