"""The process caches stay bounded without ever emptying themselves when full."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenantry.cache import ExpiringCache
from tenantry.privacy.master import OpenedSubjectKeys, TenantKeyCache


def test_a_full_cache_drops_only_its_oldest_entry() -> None:
    cache: ExpiringCache[int, str] = ExpiringCache(3, 60)
    for i in range(5):
        cache.put(i, str(i))
    assert [cache.get(i) for i in range(5)] == [None, None, "2", "3", "4"]
    cache.put(2, "two")  # stored again: now the newest
    cache.put(5, "5")
    assert [cache.get(i) for i in range(6)] == [None, None, "two", None, "4", "5"]


def test_entries_expire_and_expire_drops_them() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(10, 0.05)
    cache.put("a", 1)
    cache.put("b", 2, since=time.monotonic() + 60)
    time.sleep(0.06)
    assert cache.get("a") is None
    cache.expire()
    assert len(cache) == 1 and cache.get("b") == 2


def test_a_full_tenant_key_cache_keeps_all_but_its_oldest_entry() -> None:
    cache = TenantKeyCache(max_entries=3)
    for i in range(4):
        cache.put(("k", i), bytes([i]) * 32)
    kept = [i for i in range(4) if cache.get(("k", i)) is not None]
    assert kept == [1, 2, 3]


def test_a_full_active_version_cache_keeps_the_other_tenants() -> None:
    cache = TenantKeyCache(max_entries=2)
    cache.remember_active("a", {"wrapping": 1})
    cache.remember_active("b", {"wrapping": 2})
    cache.remember_active("c", {"wrapping": 3})
    assert cache.active_versions("c") == {"wrapping": 3}
    assert cache.active_versions("b") == {"wrapping": 2}


def test_a_full_opened_key_cache_keeps_all_but_its_oldest_entry() -> None:
    cache = OpenedSubjectKeys(max_entries=2)
    ciphers = [AESGCM(AESGCM.generate_key(bit_length=256)) for _ in range(3)]
    for i, cipher in enumerate(ciphers):
        cache.put(("s", i), cipher)
    assert cache.get(("s", 0)) is None
    assert cache.get(("s", 1)) is ciphers[1]
    assert cache.get(("s", 2)) is ciphers[2]


def test_opened_keys_expire() -> None:
    cache = OpenedSubjectKeys(ttl_seconds=0.05)
    cache.put(("s", 1), AESGCM(AESGCM.generate_key(bit_length=256)))
    time.sleep(0.06)
    assert cache.get(("s", 1)) is None
