"""The key vault: the master key and the process-wide key caches, and the sealer factory that
the composition root hands to the database, so every unit of work seals with them.

`keyring(uow)` and `platform_keys(uow)` are how code above the unit of work reaches the keys
its sealer holds; the unit of work itself knows only the `Sealer` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConfigurationError
from tenantry.privacy.keys import KeyRing, PlatformKeys
from tenantry.privacy.master import MasterKeyProvider, OpenedSubjectKeys, TenantKeyCache
from tenantry.privacy.sealing import FieldSealer

__all__ = ["KeyVault", "keyring", "platform_keys", "vault_of"]


@dataclass
class KeyVault:
    """The master key and the caches shared by every unit of work of one database handle."""

    master: MasterKeyProvider
    key_cache: TenantKeyCache = field(default_factory=TenantKeyCache)
    opened_keys: OpenedSubjectKeys = field(default_factory=OpenedSubjectKeys)

    def __call__(self, uow: UnitOfWork) -> FieldSealer:
        """The sealer of a unit of work that is being entered."""
        ring = KeyRing(uow, self.master, self.key_cache) if uow.tenant_id is not None else None
        return FieldSealer(ring, PlatformKeys(uow, self.master, self.key_cache))


def _sealer(uow: UnitOfWork) -> FieldSealer:
    sealer = uow.sealer
    if not isinstance(sealer, FieldSealer):
        raise ConfigurationError("this unit of work has no master key")
    return sealer


def keyring(uow: UnitOfWork) -> KeyRing:
    """The tenant's keys for this unit of work (the same ring its sealer uses)."""
    if uow.tenant_id is None:
        raise ConfigurationError("this unit of work has no tenant or no master key")
    return _sealer(uow).ring


def platform_keys(uow: UnitOfWork) -> PlatformKeys:
    """The platform-wide keys (staff accounts) for this unit of work."""
    return _sealer(uow).platform


def vault_of(db: Database) -> KeyVault:
    """The database handle's key vault; personal data needs one."""
    if not isinstance(db.sealing, KeyVault):
        raise ConfigurationError("personal data can only be read with the master key")
    return db.sealing
