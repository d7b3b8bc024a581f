"""How many sockets one user and one client address may hold (asyncapi: 4029).

The caps stop one client from holding hundreds of sockets (~30 KiB each) or flooding the
10-second authentication window. Sockets waiting for their `auth` frame count against their
address only; a socket with a token on the upgrade is verified at once and never waits there.

Where they count is LIMITS_STORAGE_URL, as for the rate limits: ``memory://`` counts the
sockets of this process; ``redis://`` counts every instance's sockets together, through the
rate limits' client (`Budgets.redis`). In Redis each
cap is a sorted set of the sockets holding it, scored by a lease this process renews while the
socket is open: the sockets of an instance that died stop counting when their leases run out
instead of holding their slots forever. If Redis cannot be reached, a socket is counted in this
process (logged). `limits` counts events in windows, not things held open, hence this module.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from queueit.logging_setup import Throttle

log = logging.getLogger("queueit.realtime")

PREFIX = "queueit:sockets:"

# KEYS: the caps' sorted sets; ARGV: lease (ms), the socket's member, then each key's cap.
# Drops expired leases, refuses (0) if any cap is full, else holds a slot in every set (1).
_ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[2])
  redis.call('PEXPIRE', key, 2 * lease)
end
return 1
"""

# KEYS: sorted sets; ARGV: lease (ms), then the member to renew in each key (same order).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + lease, ARGV[1 + i])
  redis.call('PEXPIRE', key, 2 * lease)
end
return 1
"""


@dataclass(eq=False)
class Slot:
    """One socket's hold on its caps; give it back with `SocketCaps.leave`."""

    keys: tuple[str, ...]
    member: str
    shared: bool  # held in Redis (else counted in this process)


class SocketCaps:
    def __init__(
        self,
        per_user: int,
        per_address: int,
        unauthenticated_per_address: int,
        redis: Redis | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.unauthenticated_per_address = unauthenticated_per_address
        self.lease_seconds = lease_seconds
        self._counts: Counter[str] = Counter()
        self._held: set[Slot] = set()  # shared slots this process renews
        self._instance = secrets.token_hex(6)
        self._ids = itertools.count()
        self._warned = Throttle(60.0)
        self._redis = redis
        if redis is not None:
            self._enter_script = redis.register_script(_ENTER)
            self._renew_script = redis.register_script(_RENEW)

    @property
    def shared(self) -> bool:
        return self._redis is not None

    async def enter_unauthenticated(self, address: str) -> Slot | None:
        """Hold a slot for a socket that has not authenticated; None over the cap."""
        return await self._enter({f"unauthenticated:{address}": self.unauthenticated_per_address})

    async def enter(self, address: str, user_id: UUID) -> Slot | None:
        """Hold a slot for an authenticated socket; None when the user or the address is at
        its cap."""
        return await self._enter(
            {f"user:{user_id}": self.per_user, f"address:{address}": self.per_address}
        )

    async def leave(self, slot: Slot) -> None:
        if not slot.shared:
            for key in slot.keys:
                if self._counts[key] <= 1:
                    self._counts.pop(key, None)  # idle addresses must not accumulate
                else:
                    self._counts[key] -= 1
            return
        self._held.discard(slot)
        assert self._redis is not None
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in slot.keys:
                    pipe.zrem(key, slot.member)
                await pipe.execute()
        except RedisError as error:
            self._fell_back(error)  # its lease runs out instead

    async def _enter(self, caps: dict[str, int]) -> Slot | None:
        member = f"{self._instance}:{next(self._ids)}"
        if self._redis is not None:
            keys = tuple(PREFIX + key for key in caps)
            try:
                held = await self._enter_script(
                    keys=list(keys), args=[self._lease_ms, member, *caps.values()]
                )
            except RedisError as error:
                self._fell_back(error)
            else:
                if not held:
                    return None
                slot = Slot(keys, member, shared=True)
                self._held.add(slot)
                return slot
        if any(self._counts[key] >= cap for key, cap in caps.items()):
            return None
        for key in caps:
            self._counts[key] += 1
        return Slot(tuple(caps), member, shared=False)

    @property
    def _lease_ms(self) -> int:
        return int(self.lease_seconds * 1000)

    async def renew(self) -> None:
        """Extend the lease of every slot this process holds in Redis."""
        if self._redis is None:
            return
        held = list(self._held)
        for start in range(0, len(held), 500):
            batch = held[start : start + 500]
            keys = [key for slot in batch for key in slot.keys]
            members = [slot.member for slot in batch for _ in slot.keys]
            try:
                await self._renew_script(keys=keys, args=[self._lease_ms, *members])
            except RedisError as error:
                self._fell_back(error)
                return

    async def renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            await self.renew()

    def _fell_back(self, error: RedisError) -> None:
        if self._warned.ready():
            log.warning(
                "socket caps store unreachable; counting in this process",
                extra={"error": repr(error)},
            )
