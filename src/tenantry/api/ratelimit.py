"""Rate limiting with in-process token buckets: per principal, and failed logins per address.

Each key gets a bucket of `per_minute` tokens that refills continuously. The API keeps two sets:
one per principal (every authenticated request takes a token) and one per client address
(every failed authentication takes a token; an address whose bucket is empty is refused before
its credentials are checked, so keys cannot be guessed at full speed). The buckets live in the
worker process: with N workers a key can make up to N times the limit; put a shared limiter (at
the load balancer) in front when that matters.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from tenantry.errors import RateLimitedError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by principal reference."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Take one token for `key` or raise `RateLimitedError` with the seconds to wait."""
        if self.capacity <= 0:
            return
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise RateLimitedError(
                    f"rate limit of {int(self.capacity)} requests per minute exceeded",
                    retry_after=max(1, wait),
                )
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:
                self._evict(now)

    def check(self, key: str, message: str) -> None:
        """Raise `RateLimitedError` if `key` has no token left, without taking one."""
        bucket = self._buckets.get(key)
        if bucket is None:  # the common case, without the lock: this key never spent a token
            return
        tokens, last = bucket
        tokens = min(self.capacity, tokens + (self._clock() - last) * self.rate)
        if tokens < 1.0:
            raise RateLimitedError(
                message, retry_after=max(1, math.ceil((1.0 - tokens) / self.rate))
            )

    def _evict(self, now: float) -> None:
        """Drop buckets that have refilled completely (they behave like new ones)."""
        full = self.capacity / self.rate if self.rate else 0.0
        for key, (_tokens, last) in list(self._buckets.items()):
            if now - last >= full:
                del self._buckets[key]
