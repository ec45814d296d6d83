"""The key hierarchy inside a unit of work: master key -> tenant keys -> subject data keys.

`KeyRing` unwraps what it needs once per unit of work and caches it in memory only. Tenant
wrapping keys rotate (`rotate_tenant_key`): the subject keys are re-wrapped under the new
version in batches that each commit, so an interrupted rotation resumes where it stopped, and
no data row is rewritten. The indexing key (blind indexes, pseudonyms) does not rotate with
them, so lookups keep working. Destroying a subject key crypto-shreds that subject's data.
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConfigurationError, ConflictError, NotFoundError
from tenantry.models import PlatformKey, SubjectKey, TenantKey
from tenantry.models.enums import KeyPurpose, KeyStatus
from tenantry.privacy.crypto import (
    DecryptionError,
    KeyDestroyedError,
    derive_key,
    field_aad,
    key_version_of,
    new_key,
    open_,
    seal,
)
from tenantry.privacy.master import MasterKeyProvider, TenantKeyCache

__all__ = [
    "KeyRing",
    "PlatformKeys",
    "RotationReport",
    "cached_tenant_keys",
    "create_tenant_keys",
    "platform_key_aad",
    "rotate_tenant_key",
    "subject_key_aad",
    "tenant_key_aad",
    "tenant_key_cache_key",
]


def tenant_key_aad(tenant_id: uuid.UUID, purpose: KeyPurpose, version: int) -> bytes:
    return f"tenant-key|{tenant_id}|{purpose.value}|{version}".encode()


def subject_key_aad(tenant_id: uuid.UUID | str, subject_id: uuid.UUID, version: int) -> bytes:
    return f"subject-key|{tenant_id}|{subject_id}|{version}".encode()


def _insert_key(
    uow: UnitOfWork,
    master: MasterKeyProvider,
    model: type[TenantKey] | type[PlatformKey],
    aad: bytes,
    **identity: object,
) -> bytes:
    """Insert a new active key version now and return it; if a concurrent transaction created
    the same version first, return theirs. Core statements, so this is safe inside a flush."""
    key = new_key()
    stmt = (
        pg_insert(model)
        .values(
            **identity,
            status=KeyStatus.ACTIVE,
            master_key_id=master.key_id,
            wrapped_key=master.wrap(key, aad),
        )
        .on_conflict_do_nothing()
        .returning(model.version)
    )
    if uow.session.execute(stmt).scalar() is not None:
        return key
    theirs = uow.session.scalar(
        sa.select(model.wrapped_key).where(*(getattr(model, k) == v for k, v in identity.items()))
    )
    if theirs is None:
        raise ConflictError("a key was created concurrently; retry the operation")
    return master.unwrap(theirs, aad)


def create_tenant_keys(uow: UnitOfWork, master: MasterKeyProvider, tenant_id: uuid.UUID) -> None:
    """Version 1 of each of a new tenant's keys, in the transaction that creates the tenant.

    A tenant is born with its keys, so no read has to create them (and commit) and two first
    writes of a new tenant do not meet creating them.
    """
    for purpose in KeyPurpose:
        _insert_key(
            uow,
            master,
            TenantKey,
            tenant_key_aad(tenant_id, purpose, 1),
            tenant_id=tenant_id,
            purpose=purpose,
            version=1,
        )


def _unwrap(master: MasterKeyProvider, wrapped: bytes, aad: bytes) -> bytes:
    """A key wrapped by the master key; a failure is a misconfiguration, never "no data"."""
    try:
        return master.unwrap(wrapped, aad)
    except DecryptionError as exc:
        raise ConfigurationError(
            "the master key cannot unwrap the stored keys (is TENANTRY_MASTER_KEY or the key"
            " file the one this database was created with?)"
        ) from exc


def platform_key_aad(purpose: KeyPurpose, version: int) -> bytes:
    return f"platform-key|{purpose.value}|{version}".encode()


class PlatformKeys:
    """Platform-wide keys (for staff accounts, which no tenant owns), wrapped by the master key.

    The wrapping-purpose key yields the data key that seals `identity.users`; the indexing
    key yields its blind indexes. Cached like tenant keys.
    """

    SCOPE = "platform"

    def __init__(
        self, uow: UnitOfWork, master: MasterKeyProvider, cache: TenantKeyCache | None = None
    ) -> None:
        self.uow = uow
        self.master = master
        self.cache = cache
        self._keys: dict[tuple[KeyPurpose, int], bytes] = {}
        self._active: dict[KeyPurpose, int] = {}

    def active_version(self, purpose: KeyPurpose = KeyPurpose.WRAPPING) -> int:
        if purpose not in self._active:
            version = self.uow.session.scalar(
                sa.select(PlatformKey.version).where(
                    PlatformKey.purpose == purpose, PlatformKey.status == KeyStatus.ACTIVE
                )
            )
            if version is None:
                version = 1
                self._keys[(purpose, version)] = _insert_key(
                    self.uow,
                    self.master,
                    PlatformKey,
                    platform_key_aad(purpose, version),
                    purpose=purpose,
                    version=version,
                )
            self._active[purpose] = version
        return self._active[purpose]

    def key(self, purpose: KeyPurpose, version: int | None = None) -> bytes:
        version = version or self.active_version(purpose)
        cached = self._keys.get((purpose, version))
        shared = (self.master.key_id, self.SCOPE, purpose, version)
        if cached is None and self.cache is not None:
            cached = self.cache.get(shared)
        if cached is None:
            row = self.uow.session.get(PlatformKey, (purpose, version))
            if row is None:
                raise NotFoundError("platform key version not found", version=version)
            cached = _unwrap(self.master, row.wrapped_key, platform_key_aad(purpose, version))
            if self.cache is not None:
                self.cache.put(shared, cached)
        self._keys[(purpose, version)] = cached
        return cached

    def data_key(self, version: int | None = None) -> bytes:
        return derive_key(self.key(KeyPurpose.WRAPPING, version), "records")

    def field_index_key(self, field: str) -> bytes:
        return derive_key(self.key(KeyPurpose.INDEXING), f"blind-index:{field}")


def tenant_key_cache_key(
    master: MasterKeyProvider, tenant_id: uuid.UUID, purpose: KeyPurpose, version: int
) -> tuple[object, ...]:
    """Where an unwrapped tenant key lives in the process's `TenantKeyCache`."""
    return (master.key_id, tenant_id, purpose, version)


def cached_tenant_keys(
    cache: TenantKeyCache,
    master: MasterKeyProvider,
    tenant_id: uuid.UUID,
    purpose: KeyPurpose,
    versions: set[int],
) -> dict[int, bytes]:
    """Those of the tenant's key versions the process cache holds (no database access)."""
    found = {}
    for version in versions:
        hit = cache.get(tenant_key_cache_key(master, tenant_id, purpose, version))
        if hit is not None:
            found[version] = hit
    return found


class KeyRing:
    """Keys of the unit of work's tenant."""

    def __init__(
        self, uow: UnitOfWork, master: MasterKeyProvider, cache: TenantKeyCache | None = None
    ) -> None:
        self.uow = uow
        self.master = master
        self.cache = cache
        self._tenant: dict[tuple[KeyPurpose, int], bytes] = {}
        self._active: dict[KeyPurpose, int] = {}
        self._subjects: dict[uuid.UUID, tuple[int, bytes]] = {}
        # Sub-keys derived from the tenant keys (HKDF), once per unit of work and purpose.
        self._derived: dict[tuple[KeyPurpose, int | None, str], bytes] = {}

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.uow.require_tenant()

    def _create_tenant_key(self, purpose: KeyPurpose, version: int) -> bytes:
        aad = tenant_key_aad(self.tenant_id, purpose, version)
        return _insert_key(
            self.uow,
            self.master,
            TenantKey,
            aad,
            tenant_id=self.tenant_id,
            purpose=purpose,
            version=version,
        )

    def active_version(self, purpose: KeyPurpose = KeyPurpose.WRAPPING) -> int:
        """The active version, creating version 1 on first use."""
        shared = (self.master.key_id, self.tenant_id)
        if not self._active and self.cache is not None:
            self._active.update(self.cache.active_versions(shared) or {})
        if not self._active:  # both purposes in one round trip
            rows = self.uow.session.execute(
                sa.select(TenantKey.purpose, TenantKey.version).where(
                    TenantKey.tenant_id == self.tenant_id,
                    TenantKey.status == KeyStatus.ACTIVE,
                )
            ).all()
            for active_purpose, version in rows:
                self._active[active_purpose] = version
            if len(self._active) == len(KeyPurpose) and self.cache is not None:
                self.cache.remember_active(shared, self._active)
        if purpose not in self._active:
            self._tenant[(purpose, 1)] = self._create_tenant_key(purpose, 1)
            self._active[purpose] = 1
        return self._active[purpose]

    def tenant_key(self, purpose: KeyPurpose, version: int | None = None) -> bytes:
        version = version or self.active_version(purpose)
        cached = self._tenant.get((purpose, version))
        shared = tenant_key_cache_key(self.master, self.tenant_id, purpose, version)
        if cached is None and self.cache is not None:
            cached = self.cache.get(shared)
        if cached is None:
            row = self.uow.session.get(TenantKey, (self.tenant_id, purpose, version))
            if row is None:
                raise NotFoundError("tenant key version not found", version=version)
            cached = _unwrap(
                self.master, row.wrapped_key, tenant_key_aad(self.tenant_id, purpose, version)
            )
            if self.cache is not None:
                self.cache.put(shared, cached)
        self._tenant[(purpose, version)] = cached
        return cached

    def _derive(self, purpose: KeyPurpose, version: int | None, info: str) -> bytes:
        version = version or self.active_version(purpose)
        key = (purpose, version, info)
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = derive_key(self.tenant_key(purpose, version), info)
        return derived

    def field_index_key(self, field: str) -> bytes:
        return self._derive(KeyPurpose.INDEXING, None, f"blind-index:{field}")

    def pseudonym_key(self) -> bytes:
        return self._derive(KeyPurpose.INDEXING, None, "pseudonym")

    def records_key(self, version: int | None = None) -> bytes:
        """The key for personal data about no one in particular (OAuth tokens), per version."""
        return self._derive(KeyPurpose.WRAPPING, version, "records")

    def wrap_subject_key(self, subject_id: uuid.UUID, key: bytes, version: int = 1) -> bytes:
        """`key` wrapped under the active wrapping key (for bulk loads and `create`)."""
        wrapping = self.active_version()
        return seal(
            self.tenant_key(KeyPurpose.WRAPPING, wrapping),
            key,
            subject_key_aad(self.tenant_id, subject_id, version),
            version=wrapping,
        )

    def new_subject_key(self, subject_id: uuid.UUID) -> dict[str, object]:
        """A fresh data key for the subject (kept in this ring): its `subject_keys` row values."""
        key = new_key()
        self._subjects[subject_id] = (1, key)
        return {
            "tenant_id": self.tenant_id,
            "subject_id": subject_id,
            "version": 1,
            "wrapping_version": self.active_version(),
            "wrapped_key": self.wrap_subject_key(subject_id, key),
        }

    def create_subject_key(self, subject_id: uuid.UUID) -> bytes:
        self.uow.session.add(SubjectKey(**self.new_subject_key(subject_id)))
        return self._subjects[subject_id][1]

    def subject_key(self, subject_id: uuid.UUID) -> tuple[int, bytes]:
        """The subject's current data key; `DecryptionError` once it has been destroyed."""
        cached = self._subjects.get(subject_id)
        if cached is not None:
            return cached
        row = self.uow.session.scalars(
            sa.select(SubjectKey)
            .where(SubjectKey.tenant_id == self.tenant_id, SubjectKey.subject_id == subject_id)
            .order_by(SubjectKey.version.desc())
            .limit(1)
        ).one_or_none()
        if row is None:
            raise NotFoundError("subject key not found")
        if row.wrapped_key is None:
            raise KeyDestroyedError()
        wrapping = self.tenant_key(KeyPurpose.WRAPPING, row.wrapping_version)
        key = open_(
            wrapping, row.wrapped_key, subject_key_aad(self.tenant_id, subject_id, row.version)
        )
        self._subjects[subject_id] = (row.version, key)
        return row.version, key

    def preload_subject_keys(self, subject_ids: set[uuid.UUID]) -> None:
        """Unwrap the keys of these subjects with one query (destroyed ones stay absent)."""
        missing = [s for s in subject_ids if s not in self._subjects]
        if not missing:
            return
        rows = self.uow.session.execute(
            sa.select(
                SubjectKey.subject_id,
                SubjectKey.version,
                SubjectKey.wrapping_version,
                SubjectKey.wrapped_key,
            )
            .where(
                SubjectKey.tenant_id == self.tenant_id,
                SubjectKey.subject_id.in_(missing),
                SubjectKey.wrapped_key.is_not(None),
            )
            .order_by(SubjectKey.subject_id, SubjectKey.version)
        ).all()
        for subject_id, version, wrapping_version, wrapped in rows:
            wrapping = self.tenant_key(KeyPurpose.WRAPPING, wrapping_version)
            if wrapped is not None:
                aad = subject_key_aad(self.tenant_id, subject_id, version)
                self._subjects[subject_id] = (version, open_(wrapping, wrapped, aad))

    def destroy_subject_key(self, subject_id: uuid.UUID) -> int:
        """Crypto-shred: drop every version of the subject's key. Returns versions destroyed."""
        result = self.uow.session.execute(
            sa.update(SubjectKey)
            .where(
                SubjectKey.tenant_id == self.tenant_id,
                SubjectKey.subject_id == subject_id,
                SubjectKey.wrapped_key.is_not(None),
            )
            .values(wrapped_key=None, destroyed_at=self.uow.clock.now())
        )
        self._subjects.pop(subject_id, None)
        return int(result.rowcount)  # type: ignore[attr-defined]

    def encrypt(
        self, subject_id: uuid.UUID, table: str, column: str, row_id: uuid.UUID, plaintext: str
    ) -> bytes:
        version, key = self.subject_key(subject_id)
        aad = field_aad(table, column, self.tenant_id, row_id)
        return seal(key, plaintext.encode(), aad, version=version)

    def decrypt(
        self, subject_id: uuid.UUID, table: str, column: str, row_id: uuid.UUID, ciphertext: bytes
    ) -> str:
        version, key = self.subject_key(subject_id)
        if key_version_of(ciphertext) != version:
            raise DecryptionError("ciphertext written under another key version")
        return open_(key, ciphertext, field_aad(table, column, self.tenant_id, row_id)).decode()


@dataclass(frozen=True)
class RotationReport:
    tenant_id: uuid.UUID
    old_version: int
    new_version: int
    rewrapped: int
    resumed: bool
    seconds: float  # the whole call
    rotate_seconds: float  # until the new version was active (new wraps use it from then on)


def _rewrap_batch(uow: UnitOfWork, ring: KeyRing, target: int, batch: int) -> int:
    rows = uow.session.execute(
        sa.select(
            SubjectKey.subject_id,
            SubjectKey.version,
            SubjectKey.wrapping_version,
            SubjectKey.wrapped_key,
        )
        .where(
            SubjectKey.tenant_id == ring.tenant_id,
            SubjectKey.wrapping_version != target,
            SubjectKey.wrapped_key.is_not(None),
        )
        .limit(batch)
    ).all()
    if not rows:
        return 0
    new_wrapping = ring.tenant_key(KeyPurpose.WRAPPING, target)
    buffer = io.StringIO()
    for subject_id, version, wrapping_version, wrapped in rows:
        assert wrapped is not None  # destroyed keys are excluded by the query
        aad = subject_key_aad(ring.tenant_id, subject_id, version)
        key = open_(ring.tenant_key(KeyPurpose.WRAPPING, wrapping_version), wrapped, aad)
        rewrapped = seal(new_wrapping, key, aad, version=target)
        buffer.write(f"{subject_id}\t{version}\t\\\\x{rewrapped.hex()}\n")
    conn = uow.session.connection().connection.driver_connection
    assert conn is not None
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tenantry_rewrap "
            "(subject_id uuid, version int, wrapped_key bytea) ON COMMIT DELETE ROWS"
        )
        with cur.copy("COPY tenantry_rewrap FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        cur.execute(
            "UPDATE privacy.subject_keys k SET wrapped_key = r.wrapped_key, wrapping_version = %s,"
            " updated_at = now() FROM tenantry_rewrap r WHERE k.tenant_id = %s"
            " AND k.subject_id = r.subject_id AND k.version = r.version"
            # an erasure may have destroyed the key since it was read: never bring it back
            " AND k.wrapped_key IS NOT NULL",
            (target, ring.tenant_id),
        )
    return len(rows)


def rotate_tenant_key(
    db: Database,
    master: MasterKeyProvider,
    tenant_id: uuid.UUID,
    *,
    batch: int = 5_000,
    rewrap: bool = True,
    resume_only: bool = False,
) -> RotationReport:
    """Make a new wrapping key version, then re-wrap every subject key under it.

    The new version is active (and the old one retired, still able to unwrap) as soon as the
    first transaction commits; the re-wrap follows in batches and may be deferred
    (`rewrap=False`) to a background run. If subject keys are still under an older version,
    this resumes that re-wrap instead of starting another rotation.
    """
    started = time.perf_counter()
    with db.tenant_uow(tenant_id, actor="system:key-rotation") as uow:
        ring = KeyRing(uow, master)
        old = ring.active_version()
        pending = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(SubjectKey)
            .where(
                SubjectKey.tenant_id == tenant_id,
                SubjectKey.wrapping_version != old,
                SubjectKey.wrapped_key.is_not(None),
            )
        )
        resumed = bool(pending)
        if not resumed and resume_only:
            return RotationReport(tenant_id, old, old, 0, False, 0.0, 0.0)
        if not resumed:
            uow.session.execute(
                sa.update(TenantKey)
                .where(
                    TenantKey.tenant_id == tenant_id,
                    TenantKey.purpose == KeyPurpose.WRAPPING,
                    TenantKey.status == KeyStatus.ACTIVE,
                )
                .values(status=KeyStatus.RETIRED, retired_at=uow.clock.now())
            )
            uow.flush()
            ring._create_tenant_key(KeyPurpose.WRAPPING, old + 1)
            target = old + 1
        else:
            target = old
        uow.commit()
    cache = getattr(db.sealing, "key_cache", None)  # the vault's cache, when it has one
    if isinstance(cache, TenantKeyCache):
        cache.forget_active((master.key_id, tenant_id))  # this process wraps under it now
    rotated = time.perf_counter() - started
    total = 0
    while rewrap:
        with db.tenant_uow(tenant_id, actor="system:key-rotation") as uow:
            done = _rewrap_batch(uow, KeyRing(uow, master), target, batch)
            uow.commit()
        total += done
        if done < batch:
            break
    return RotationReport(
        tenant_id,
        old if not resumed else old - 1,
        target,
        total,
        resumed,
        time.perf_counter() - started,
        rotated,
    )
