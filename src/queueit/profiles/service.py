"""The caller's profile row, upserted from the token once per process (and again only when the
token's name, email, avatar or anonymity change).

The cache is per `Database` (a test process may run several databases) and remembers a user only
after the transaction that wrote the row committed: a rolled-back request writes it again next
time.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from queueit.auth.user import AuthUser
from queueit.db import Connection, Database
from queueit.profiles import repository

MAX_CACHED_USERS = 100_000
_EMAIL = re.compile(r"[^\s\x00-\x1f\x7f]{3,320}")

Fingerprint = tuple[str, str | None, str | None, bool]

_seen: weakref.WeakKeyDictionary[Database, OrderedDict[UUID, Fingerprint]] = (
    weakref.WeakKeyDictionary()
)


def profile_values(user: AuthUser) -> Fingerprint:
    """What the profile row holds for this token, trimmed to the table's CHECKs."""
    email = user.email if user.email and _EMAIL.fullmatch(user.email) else None
    return (user.username[:64], email, user.avatar_url, user.is_anonymous)


@dataclass
class Seen:
    """Call `commit()` once the transaction committed."""

    cache: OrderedDict[UUID, Fingerprint] | None = None
    user_id: UUID | None = None
    values: Fingerprint | None = None

    def commit(self) -> None:
        if self.cache is None or self.user_id is None or self.values is None:
            return
        self.cache[self.user_id] = self.values
        self.cache.move_to_end(self.user_id)
        while len(self.cache) > MAX_CACHED_USERS:
            self.cache.popitem(last=False)


async def ensure_profile(conn: Connection, db: Database, user: AuthUser) -> Seen:
    cache = _seen.get(db)
    if cache is None:
        cache = _seen[db] = OrderedDict()
    values = profile_values(user)
    if cache.get(user.id) == values:
        return Seen()
    await repository.upsert_profile(conn, user.id, *values)
    return Seen(cache, user.id, values)


def forget(db: Database) -> None:
    """Drop the cache of a database (tests that recreate one)."""
    _seen.pop(db, None)


def forget_user(db: Database, user_id: UUID) -> None:
    """The user's profile was deleted: write it again if they come back."""
    cache = _seen.get(db)
    if cache is not None:
        cache.pop(user_id, None)
