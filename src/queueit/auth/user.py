"""The authenticated caller, built from verified token claims."""

from __future__ import annotations

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
            _clean_text(metadata.get("username"), USERNAME_MAX_CHARS)
            or _clean_text(metadata.get("full_name"), USERNAME_MAX_CHARS)
            or _clean_text(metadata.get("name"), USERNAME_MAX_CHARS)
            or (_clean_text(email.partition("@")[0], USERNAME_MAX_CHARS) if email else None)
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
