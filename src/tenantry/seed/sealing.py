"""Seeded personal data, sealed exactly as the application seals it, without a database.

A bulk load cannot go through the ORM sealer, so each generated tenant gets its key set here:
a wrapping and an indexing key (wrapped by the master key, as `KeyRing` would), one data key
per subject (wrapped by the tenant's wrapping key), blind indexes, pseudonyms and AES-GCM
ciphertexts with the same associated data. Rows it produces decrypt through the normal
`KeyRing`; a test checks that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import psycopg

from tenantry.models.enums import KeyPurpose
from tenantry.privacy.crypto import (
    blind_index,
    derive_key,
    field_aad,
    new_key,
    normalise_email,
    pseudonym,
    seal,
)
from tenantry.privacy.keys import (
    PlatformKeys,
    platform_key_aad,
    subject_key_aad,
    tenant_key_aad,
)
from tenantry.privacy.master import MasterKeyProvider
from tenantry.privacy.sealing import normalise_identifier

__all__ = ["PlatformSeedKeys", "SeedKeys", "bytea", "platform_seed_keys"]


def bytea(value: bytes) -> str:
    """A bytea value in COPY text format."""
    return "\\\\x" + value.hex()


@dataclass
class SeedKeys:
    """The keys of one generated tenant."""

    tenant_id: str
    master: MasterKeyProvider
    wrapping: bytes = field(default_factory=new_key)
    indexing: bytes = field(default_factory=new_key)
    _derived: dict[str, bytes] = field(default_factory=dict)

    def tenant_key_rows(self) -> list[tuple[str, str, str]]:
        """(purpose, wrapped key as COPY text, master key id) for version 1 of each key."""
        tid = uuid.UUID(self.tenant_id)
        return [
            (p.value, bytea(self.master.wrap(k, tenant_key_aad(tid, p, 1))), self.master.key_id)
            for p, k in ((KeyPurpose.WRAPPING, self.wrapping), (KeyPurpose.INDEXING, self.indexing))
        ]

    def _key(self, purpose: str) -> bytes:
        key = self._derived.get(purpose)
        if key is None:
            key = self._derived[purpose] = derive_key(self.indexing, purpose)
        return key

    def index(self, field_name: str, normalised: str) -> str:
        return bytea(blind_index(self._key(f"blind-index:{field_name}"), normalised))

    def plate_index(self, plate: str) -> str:
        return self.index("license_plate", normalise_identifier(plate))

    def pseudonym(self, subject_id: str) -> str:
        return pseudonym(self._key("pseudonym"), uuid.UUID(subject_id))

    def new_subject_key(self, subject_id: str) -> tuple[bytes, str]:
        """A fresh data key and its wrapped form (COPY text) for subject_key version 1."""
        key = new_key()
        aad = subject_key_aad(uuid.UUID(self.tenant_id), uuid.UUID(subject_id), 1)
        return key, bytea(seal(self.wrapping, key, aad, version=1))

    def seal(
        self, key: bytes, table: str, column: str, row_id: str, value: str | None
    ) -> str | None:
        if value is None:
            return None
        aad = field_aad(table, column, self.tenant_id, row_id)
        return bytea(seal(key, value.encode(), aad, version=1))


@dataclass(frozen=True)
class PlatformSeedKeys:
    """The platform keys (unwrapped) that seal generated staff accounts."""

    version: int
    data_key: bytes
    index_key: bytes

    def seal(self, column: str, row_id: str, value: str | None) -> str | None:
        if value is None:
            return None
        aad = field_aad("identity.users", column, PlatformKeys.SCOPE, row_id)
        return bytea(seal(self.data_key, value.encode(), aad, version=self.version))

    def email_index(self, email: str) -> str:
        return bytea(blind_index(self.index_key, normalise_email(email)))


def platform_seed_keys(conn: psycopg.Connection, master: MasterKeyProvider) -> PlatformSeedKeys:
    """The active platform keys, created (and committed) when the database has none yet."""
    keys: dict[str, tuple[int, bytes]] = {}
    rows = conn.execute(
        "SELECT purpose, version, wrapped_key FROM privacy.platform_keys WHERE status = 'active'"
    ).fetchall()
    for purpose, version, wrapped in rows:
        aad = platform_key_aad(KeyPurpose(purpose), version)
        keys[purpose] = (version, master.unwrap(bytes(wrapped), aad))
    for purpose in (KeyPurpose.WRAPPING, KeyPurpose.INDEXING):
        if purpose.value not in keys:
            key = new_key()
            conn.execute(
                "INSERT INTO privacy.platform_keys (purpose, version, status, wrapped_key,"
                " master_key_id) VALUES (%s, 1, 'active', %s, %s)",
                (purpose.value, master.wrap(key, platform_key_aad(purpose, 1)), master.key_id),
            )
            keys[purpose.value] = (1, key)
    conn.commit()
    version, wrapping = keys[KeyPurpose.WRAPPING.value]
    return PlatformSeedKeys(
        version,
        derive_key(wrapping, "records"),
        derive_key(keys[KeyPurpose.INDEXING.value][1], "blind-index:email"),
    )
