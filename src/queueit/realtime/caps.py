"""How many sockets one user and one client address may hold on this process (asyncapi: 4029).

Counted per process, like the hub's subscribers: a socket lives on one process, and the caps
are there to stop one client from holding hundreds of them (~58 KiB each) or flooding the
10-second authentication window. Sockets waiting for their `auth` frame count against their
address only; a socket with a token on the upgrade is verified at once and never waits there.
"""

from __future__ import annotations

from collections import Counter
from typing import TypeVar
from uuid import UUID

K = TypeVar("K", str, UUID)


class SocketCaps:
    def __init__(self, per_user: int, per_address: int, unauthenticated_per_address: int) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.unauthenticated_per_address = unauthenticated_per_address
        self._users: Counter[UUID] = Counter()
        self._addresses: Counter[str] = Counter()
        self._unauthenticated: Counter[str] = Counter()

    def enter_unauthenticated(self, address: str) -> bool:
        """Count a new socket that has not authenticated; False (not counted) over the cap."""
        if self._unauthenticated[address] >= self.unauthenticated_per_address:
            return False
        self._unauthenticated[address] += 1
        return True

    def leave_unauthenticated(self, address: str) -> None:
        _decrement(self._unauthenticated, address)

    def enter(self, address: str, user_id: UUID) -> bool:
        """Count an authenticated socket; False (not counted) when the user or the address is
        at its cap."""
        if self._users[user_id] >= self.per_user or self._addresses[address] >= self.per_address:
            return False
        self._users[user_id] += 1
        self._addresses[address] += 1
        return True

    def leave(self, address: str, user_id: UUID) -> None:
        _decrement(self._users, user_id)
        _decrement(self._addresses, address)


def _decrement(counter: Counter[K], key: K) -> None:
    """One less; the key goes when it reaches zero (idle addresses must not accumulate)."""
    if counter[key] <= 1:
        counter.pop(key, None)
    else:
        counter[key] -= 1
