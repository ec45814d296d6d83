"""The master key: the root that wraps every tenant key.

Providers: a file in `$TENANTRY_HOME/master.key` (created on first use, mode 0600), the
`TENANTRY_MASTER_KEY` setting (base64 of 32 bytes), or a KMS plug-in named by
`TENANTRY_KMS_PROVIDER` ("package.module:Factory", called with the settings). A provider only
wraps and unwraps; the master key never leaves it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
import os
import time
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenantry.cache import ExpiringCache
from tenantry.config import Settings
from tenantry.errors import ConfigurationError
from tenantry.privacy.crypto import KEY_BYTES, new_key, open_, seal

__all__ = [
    "LocalMasterKey",
    "MasterKeyProvider",
    "OpenedSubjectKeys",
    "TenantKeyCache",
    "master_key_provider",
]


class MasterKeyProvider(Protocol):
    key_id: str

    def wrap(self, key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


class LocalMasterKey:
    """A master key held in process memory (from a file or the environment)."""

    def __init__(self, key: bytes, source: str) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError("the master key must be 32 bytes")
        self._key = key
        self.key_id = f"{source}:{hashlib.sha256(key).hexdigest()[:16]}"

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        return seal(self._key, key, aad, version=1)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return open_(self._key, wrapped, aad)


def _from_file(path: Path) -> LocalMasterKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(new_key())
    if path.stat().st_mode & 0o077:
        raise ConfigurationError(f"{path.name} must not be readable by others (chmod 600)")
    return LocalMasterKey(path.read_bytes(), "file")


def master_key_provider(settings: Settings) -> MasterKeyProvider:
    """The configured provider: KMS plug-in, environment, or the key file."""
    if settings.kms_provider:
        module, _, name = settings.kms_provider.partition(":")
        try:
            factory = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError("TENANTRY_KMS_PROVIDER cannot be imported") from exc
        provider: MasterKeyProvider = factory(settings)
        return provider
    if settings.master_key is not None:
        try:
            raw = base64.b64decode(settings.master_key.get_secret_value(), validate=True)
        except binascii.Error as exc:
            raise ConfigurationError("TENANTRY_MASTER_KEY must be base64") from exc
        return LocalMasterKey(raw, "env")
    return _from_file(settings.home / "master.key")


class TenantKeyCache:
    """Unwrapped tenant keys shared by the units of work of one process, for a short time.

    Saves a query and a master-key unwrap per request (as envelope-encryption SDKs cache data
    keys). Subject data keys are never cached here: destroying one must take effect at once
    (`OpenedSubjectKeys` only reuses an unwrap of the very bytes the database has just
    returned).
    """

    # Which versions are active is cached for seconds only: after a rotation elsewhere, a
    # process may wrap a few new subject keys under the retired (still valid) version, which
    # `tenantry keys rewrap` (or the next rotation) moves on.
    ACTIVE_TTL = 5.0

    def __init__(self, ttl_seconds: float = 300.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: ExpiringCache[tuple[object, ...], bytes] = ExpiringCache(
            max_entries, ttl_seconds
        )
        self._active: ExpiringCache[object, dict[Any, int]] = ExpiringCache(
            max_entries, self.ACTIVE_TTL
        )

    def active_versions(self, tenant: object) -> dict[Any, int] | None:
        hit = self._active.get(tenant)
        return None if hit is None else dict(hit)

    def remember_active(self, tenant: object, versions: dict[Any, int]) -> None:
        self._active.put(tenant, dict(versions))

    def forget_active(self, tenant: object) -> None:
        self._active.pop(tenant)

    def get(self, key: tuple[object, ...]) -> bytes | None:
        return self._entries.get(key)

    def put(self, key: tuple[object, ...], value: bytes) -> None:
        self._entries.put(key, value)


class OpenedSubjectKeys:
    """Subject keys a process has unwrapped, by the exact wrapped bytes it unwrapped.

    Unwrapping a subject's key is most of the cost of opening a list of people. A read that
    comes without a unit of work (`FetchedKeys`) reads each row's wrapped key in the same
    statement; when those bytes are the ones unwrapped a moment ago, the cipher is reused.
    The database still decides on every read whether a key exists: a destroyed key comes back
    as NULL and opens nothing, whatever is held here. An entry is used for `ttl_seconds` at
    most and dropped at most 10 s after it expired (a lookup sweeps the expired entries), so
    an erased person's key does not stay in the process's memory for long either. When full,
    the oldest entry goes first.
    """

    def __init__(self, ttl_seconds: float = 60.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: ExpiringCache[tuple[object, ...], AESGCM] = ExpiringCache(
            max_entries, ttl_seconds
        )
        self._next_sweep = time.monotonic() + min(ttl_seconds, 10.0)

    def get(self, key: tuple[object, ...]) -> AESGCM | None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        return self._entries.get(key)

    def put(self, key: tuple[object, ...], cipher: AESGCM) -> None:
        self._entries.put(key, cipher)

    def _sweep(self, now: float) -> None:
        """Drop every expired key (an erased person's is never looked up again)."""
        self._next_sweep = now + min(self.ttl, 10.0)
        self._entries.expire(now)

    def __len__(self) -> int:
        return len(self._entries)
