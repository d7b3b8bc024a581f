"""Join codes: what a host may choose and what the server generates.

Generated codes are 8 characters from an alphabet without look-alikes (no 0/O, 1/I): 32^8 codes,
so with 2,000 live sessions and the per-address budget of wrong codes a guesser needs decades
(bench/join_guessing.py; 6 characters fell in days). The database default
``app.new_join_code(8)`` uses the same alphabet. A host may choose 4-12 characters of
[A-Z0-9]; input is trimmed and upper-cased. Uniqueness among live sessions is the database's job
(unique index ``sessions_live_join_code_key``): insert with
``on conflict (join_code) where ended_at is null do nothing`` and retry a generated code when no
row comes back, or answer 409 for a chosen one.
"""

from __future__ import annotations

import re
import secrets

__all__ = ["ALPHABET", "GENERATED_LENGTH", "generate_join_code", "normalize_join_code"]

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 8
_CHOSEN = re.compile(r"[A-Z0-9]{4,12}")


def generate_join_code(length: int = GENERATED_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalize_join_code(raw: str) -> str | None:
    """The canonical form of a code typed by a user, or None when it can never be valid."""
    code = raw.strip().upper()
    return code if _CHOSEN.fullmatch(code) else None
