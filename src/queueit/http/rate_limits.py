"""Rate limits per user or per client address, answered with 429 and `Retry-After`, on the
`limits` library.

Where the counts live is LIMITS_STORAGE_URL:

- ``memory://`` (the default, nothing to install): each process counts on its own, so N service
  instances allow N times each limit;
- ``redis://host:port/db`` (or ``rediss://``): every instance takes from one budget.

If the shared store cannot be reached, a limit is counted in this process instead (logged), so a
Redis outage degrades the limits to per-instance ones rather than refusing the party's requests.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.asyncio import ConnectionPool, Redis

from queueit.config import Settings
from queueit.http.problems import TooManyRequests
from queueit.logging_setup import Throttle

log = logging.getLogger("queueit.rate_limits")

__all__ = [
    "Budgets",
    "Limits",
    "RateLimit",
    "RefundableRateLimit",
    "per_day",
    "per_minute",
]


def per_minute(amount: int) -> RateLimitItem:
    return RateLimitItemPerMinute(amount)


def per_day(amount: int) -> RateLimitItem:
    return RateLimitItemPerDay(amount)


def _async_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if scheme in ("memory", "redis", "rediss"):
        return f"async+{scheme}://{rest}"
    raise ValueError(f"LIMITS_STORAGE_URL: unsupported scheme {scheme!r}")


class Budgets:
    """The store every limit of this process counts in, and the in-process one it falls back to.

    With ``redis://``, `redis` is the one client (one connection pool) of the process's
    limits: the rate limits count through it, and so do the socket caps (realtime/caps.py)."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self.shared = url.partition("://")[0] != "memory"
        async_url = _async_url(url)
        options: dict[str, Any] = {"wrap_exceptions": True}
        self.redis: Redis | None = None
        if self.shared:
            # short timeouts: an unreachable store costs a request a moment, not seconds
            pool = ConnectionPool.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self.redis = Redis(connection_pool=pool)
            options |= {"implementation": "redispy", "connection_pool": pool}
        storage = storage_from_string(async_url, **options)
        assert isinstance(storage, Storage)
        self.storage: Storage = storage
        self.local = MemoryStorage(wrap_exceptions=True)
        self._warned = Throttle(60.0)

    def fell_back(self, error: StorageError) -> None:
        if self._warned.ready():
            log.warning(
                "rate limit store unreachable; counting in this process",
                extra={"store": self.url.partition("://")[0], "error": repr(error.storage_error)},
            )

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.connection_pool.disconnect()


class RateLimit:
    """Up to each item's amount of actions per key in its window (``30/minute`` and
    ``500/day``), counted with the sliding window counter: constant memory per key in the store,
    no burst at a window's edge. A refused action costs nothing."""

    strategy: type[RateLimiter] = SlidingWindowCounterRateLimiter

    def __init__(self, budgets: Budgets, name: str, items: Sequence[RateLimitItem]) -> None:
        self.budgets = budgets
        self.name = name
        self.namespace = name.replace(" ", "_")
        self.items = list(items)
        self._shared = self.strategy(budgets.storage)
        self._local = self.strategy(budgets.local)

    async def hit(self, key: str, cost: int = 1) -> None:
        """Take `cost` actions for `key`, or raise TooManyRequests (with how long to wait)."""
        limiter = self._shared
        for item in self.items:
            try:
                allowed = await limiter.hit(item, self.namespace, key, cost=cost)
            except StorageError as error:
                self.budgets.fell_back(error)
                limiter = self._local
                allowed = await limiter.hit(item, self.namespace, key, cost=cost)
            if not allowed:
                stats = await limiter.get_window_stats(item, self.namespace, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyRequests(wait, f"Too many {self.name}; try again in {wait} seconds.")


class RefundableRateLimit(RateLimit):
    """A limit where an attempt is taken before its outcome is known and given back when it
    turns out not to count (a right join code). Taking first means parallel attempts cannot all
    pass; the fixed window is the strategy whose count can be given back."""

    strategy = FixedWindowRateLimiter

    async def refund(self, key: str) -> None:
        for item in self.items:
            storage_key = item.key_for(self.namespace, key)
            for storage in (self.budgets.storage, self.budgets.local):
                try:
                    left = await storage.incr(storage_key, item.get_expiry(), amount=-1)
                except StorageError as error:
                    self.budgets.fell_back(error)
                    continue
                if left < 0:
                    # the window ended between taking and giving back: the new window must
                    # not start in credit
                    await storage.incr(storage_key, item.get_expiry(), amount=-left)
                break


@dataclass
class Limits:
    """Every rate limit of a process, on one `Budgets`. Per user: writes, join attempts,
    searches, reads. Per client address (every account behind it together): wrong join codes,
    reads, failed authentications, sockets opened without a token."""

    budgets: Budgets
    writes: RateLimit
    joins: RateLimit
    wrong_codes: RefundableRateLimit
    search: RateLimit
    reads: RateLimit
    reads_per_address: RateLimit
    failed_auth: RateLimit
    tokenless_sockets: RateLimit

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        budgets = Budgets(settings.limits_storage_url)

        def limit(name: str, *items: RateLimitItem) -> RateLimit:
            return RateLimit(budgets, name, items)

        return cls(
            budgets=budgets,
            writes=limit("writes", per_minute(settings.rate_limit_writes_per_minute)),
            joins=limit("join attempts", per_minute(settings.rate_limit_joins_per_minute)),
            wrong_codes=RefundableRateLimit(
                budgets,
                "wrong join codes from this address",
                [
                    per_minute(settings.rate_limit_wrong_codes_per_address_per_minute),
                    per_day(settings.rate_limit_wrong_codes_per_address_per_day),
                ],
            ),
            search=limit("searches", per_minute(settings.rate_limit_searches_per_minute)),
            reads=limit("reads", per_minute(settings.rate_limit_reads_per_minute)),
            reads_per_address=limit(
                "reads from this address",
                per_minute(settings.rate_limit_reads_per_address_per_minute),
            ),
            failed_auth=limit(
                "failed authentications from this address",
                per_minute(settings.rate_limit_failed_auth_per_address_per_minute),
            ),
            tokenless_sockets=limit(
                "sockets without a token from this address",
                per_minute(settings.rate_limit_tokenless_sockets_per_address_per_minute),
            ),
        )
