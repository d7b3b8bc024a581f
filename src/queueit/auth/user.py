"""The authenticated caller, built from verified token claims."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from queueit.text import has_forbidden_chars

USERNAME_MAX_CHARS = 64
AVATAR_URL_MAX_CHARS = 2048


@dataclass(frozen=True, slots=True)
class AuthUser:
    """Who is calling. `claims` are the verified JWT claims (used for `request.jwt.claims`)."""

    id: UUID
    email: str | None
    username: str
    avatar_url: str | None
    role: str
    # Supabase's anonymous sign-in (`is_anonymous` claim): a guest who may not host.
    is_anonymous: bool
    # Excluded from eq/hash/repr: a dict is unhashable and claims hold personal data.
    claims: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_claims(cls, user_id: UUID, claims: dict[str, Any]) -> AuthUser:
        """Build the user from claims whose signature and standard fields were already checked."""
        metadata = claims.get("user_metadata")
        if not isinstance(metadata, dict):
            metadata = {}
        email = _clean_text(claims.get("email"), 320)
        username = (
            display_name(metadata.get("username"))
            or display_name(metadata.get("full_name"))
            or display_name(metadata.get("name"))
            or (display_name(email.partition("@")[0]) if email else None)
            or f"user-{user_id.hex[:8]}"
        )
        avatar = _https_url(metadata.get("avatar_url")) or _https_url(metadata.get("picture"))
        role = claims.get("role")
        return cls(
            id=user_id,
            email=email,
            username=username,
            avatar_url=avatar,
            role=role if isinstance(role, str) else "authenticated",
            is_anonymous=claims.get("is_anonymous") is True,
            claims=claims,
        )


# Bidirectional overrides and isolates: they let a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_unsafe_char(ch: str) -> bool:
    # Control characters (NUL included) and lone surrogates; joiners stay (emoji sequences).
    return has_forbidden_chars(ch) or ch in _BIDI_CONTROLS


ZWJ = "\u200d"


def _pictographic(ch: str) -> bool:
    # Emoji blocks (Misc Symbols and Dingbats, and the supplementary pictographs); U+FE0F
    # (the emoji presentation selector) counts, as it sits inside ZWJ sequences.
    code = ord(ch)
    return 0x2600 <= code <= 0x27BF or code >= 0x1F000 or code == 0xFE0F


def display_name(value: object) -> str | None:
    """A name others will see: `_clean_text`, in NFKC (full-width and other compatibility forms
    become plain letters), without invisible format characters (zero-width space, word joiner,
    soft hyphen, ...: Unicode category Cf). A zero-width joiner stays only inside an emoji
    sequence (👩‍💻), where it is what joins the picture."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value)
    kept: list[str] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":
            if not (
                ch == ZWJ
                and kept
                and i + 1 < len(text)
                and _pictographic(kept[-1])
                and _pictographic(text[i + 1])
            ):
                continue
        kept.append(ch)
    return _clean_text("".join(kept), USERNAME_MAX_CHARS)


def _clean_text(value: object, max_chars: int) -> str | None:
    """A trimmed single-line string without control characters (NUL included), or None."""
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if not _is_unsafe_char(ch)).strip()
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        return None
    return cleaned[:max_chars]


def _https_url(value: object) -> str | None:
    """The value if it is a plain https URL with a host, else None (design §6: https only)."""
    if not isinstance(value, str) or not value or len(value) > AVATAR_URL_MAX_CHARS:
        return None
    if any(ch.isspace() or _is_unsafe_char(ch) for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return None
    return value
