"""UUIDv7 layout and ordering, deterministic ids, and the fixed clock."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from tenantry.clock import FixedClock
from tenantry.ids import SeededIds, uuid7, uuid7_from, uuid7_hex


def test_uuid7_has_version_7_and_rfc_variant() -> None:
    u = uuid7()
    assert u.version == 7
    assert u.variant == "specified in RFC 4122"


def test_uuid7_embeds_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    u = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= u.int >> 80 <= after


def test_uuid7_sorts_by_time() -> None:
    rng = random.Random(1)
    ids = [uuid7_from(ms, rng) for ms in range(1_700_000_000_000, 1_700_000_000_100)]
    assert ids == sorted(ids)


def test_seeded_ids_repeat_for_the_same_seed_and_differ_otherwise() -> None:
    a = [SeededIds(5, 1_000)() for _ in range(1)]
    gen1, gen2, gen3 = SeededIds(5, 1_000), SeededIds(5, 1_000), SeededIds(6, 1_000)
    first = [gen1() for _ in range(10)]
    assert first == [gen2() for _ in range(10)]
    assert first != [gen3() for _ in range(10)]
    assert a[0] == first[0]


def test_uuid7_hex_matches_the_uuid_form() -> None:
    assert uuid7_hex(123_456, random.Random(3)) == str(uuid7_from(123_456, random.Random(3)))


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(days=1))
    assert clock.now() == datetime(2026, 1, 2, tzinfo=UTC)


def test_fixed_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone"):
        FixedClock(datetime(2026, 1, 1))
