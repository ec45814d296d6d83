"""UUIDv7 identifiers (RFC 9562): time-ordered primary keys.

Python 3.11 has no `uuid.uuid7`, so this module builds them from a millisecond timestamp and
74 random bits. `uuid7()` uses the OS random source; `uuid7_from(ms, rng)` is deterministic for
the data generator, which must produce the same dataset for the same seed.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from typing import Protocol

__all__ = ["IdGenerator", "SeededIds", "uuid7", "uuid7_from", "uuid7_hex"]

_VERSION_BITS = 0x7 << 76
_VARIANT_BITS = 0x2 << 62
_RAND_A_MASK = (1 << 12) - 1
_RAND_B_MASK = (1 << 62) - 1


def _compose(unix_ms: int, rand: int) -> int:
    rand_a = (rand >> 62) & _RAND_A_MASK
    rand_b = rand & _RAND_B_MASK
    return (
        ((unix_ms & ((1 << 48) - 1)) << 80)
        | _VERSION_BITS
        | (rand_a << 64)
        | _VARIANT_BITS
        | rand_b
    )


def uuid7() -> uuid.UUID:
    """A new UUIDv7 for the current time."""
    rand = int.from_bytes(os.urandom(10), "big")
    return uuid.UUID(int=_compose(time.time_ns() // 1_000_000, rand))


def uuid7_from(unix_ms: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 for a given time whose random part comes from `rng` (deterministic)."""
    return uuid.UUID(int=_compose(unix_ms, rng.getrandbits(74)))


def uuid7_hex(unix_ms: int, rng: random.Random) -> str:
    """Like `uuid7_from`, as the canonical 36-character string, without building a UUID object."""
    h = f"{_compose(unix_ms, rng.getrandbits(74)):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class IdGenerator(Protocol):
    def __call__(self) -> uuid.UUID: ...


class SeededIds:
    """An id generator with a seeded random part and a caller-supplied clock in ms."""

    def __init__(self, seed: int, start_ms: int) -> None:
        self._rng = random.Random(seed)
        self._ms = start_ms

    def __call__(self) -> uuid.UUID:
        self._ms += 1
        return uuid7_from(self._ms, self._rng)
