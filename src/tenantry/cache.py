"""`ExpiringCache`: the one process cache of tenantry, bounded and with expiring entries.

A full cache drops its oldest entry, never everything (a cache emptied when full makes every
caller pay a miss at once, a burst of cold reads exactly when the process is busiest). Entries
expire `ttl` seconds after they were stored; an expired entry is dropped by the lookup that
finds it, and `expire()` drops them all.

A lookup is one `dict.get` and a clock read: it sits on the API's read path (the opened subject
keys are looked up once per row), where `cachetools.TTLCache` measured ten times slower per
lookup (its LRU bookkeeping runs in Python). Lookups take no lock (a `dict` operation is
atomic); stores and sweeps do, so threads may share a cache.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

__all__ = ["ExpiringCache"]

K = TypeVar("K")
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """At most `maxsize` entries, each valid for `ttl` seconds; the oldest goes first."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        if maxsize < 1:
            raise ValueError("a cache holds at least one entry")
        self.maxsize = maxsize
        self.ttl = ttl
        self._entries: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if time.monotonic() > hit[1]:
            self._entries.pop(key, None)
            return None
        return hit[0]

    def put(self, key: K, value: V, *, since: float | None = None) -> None:
        """Store `value`, valid for `ttl` seconds from now (or from `since`, a monotonic time)."""
        expires = (time.monotonic() if since is None else since) + self.ttl
        with self._lock:
            entries = self._entries
            entries.pop(key, None)  # stored again: it becomes the newest
            while len(entries) >= self.maxsize:
                del entries[next(iter(entries))]  # dicts keep insertion order: the oldest
            entries[key] = (value, expires)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def expire(self, now: float | None = None) -> None:
        """Drop every expired entry."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in [k for k, (_, until) in self._entries.items() if now > until]:
                del self._entries[key]
