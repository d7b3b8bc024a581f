"""Rate limits (token buckets) per user or per client address, answered with 429 and
`Retry-After`.

In-process: each service instance limits on its own, which bounds a flood per instance; a
deployment with N instances allows up to N times the configured rate per user.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from queueit.http.problems import TooManyRequests


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`per_minute` actions per key, with bursts up to `burst` (default: the per-minute rate).

    `debt`: a refused attempt still costs a token (down to minus the burst), so a client that
    keeps trying while refused waits longer, up to twice the burst's refill time (a backoff).
    """

    def __init__(
        self,
        name: str,
        per_minute: int,
        burst: int | None = None,
        max_keys: int = 100_000,
        *,
        debt: bool = False,
    ):
        self.name = name
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self.max_keys = max_keys
        self.debt = debt
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def refund(self, key: str, cost: float = 1.0) -> None:
        """Give back what `hit` took, for an attempt that turned out not to count (a right join
        code). Taking first and refunding after means parallel attempts cannot all pass."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.capacity, bucket.tokens + cost)

    def hit(self, key: str, cost: float = 1.0) -> None:
        """Take `cost` tokens for `key` or raise TooManyRequests."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.capacity, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return
        if self.debt:
            bucket.tokens = max(-self.capacity, bucket.tokens - cost)
        wait = math.ceil((cost - bucket.tokens) / self.rate) if self.rate > 0 else 60
        raise TooManyRequests(wait, f"Too many {self.name}; try again in {wait} seconds.")
