"""The composition root: a database handle whose units of work seal personal data.

`open_database` wires the two layers that must not import each other the wrong way: the
database adapter (`tenantry.db`), which only knows the `Sealer` protocol, and the key code
(`tenantry.privacy`), which uses the unit of work. Entrypoints, jobs and tests open the
database here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tenantry.clock import Clock
from tenantry.config import Settings, get_settings
from tenantry.db.engine import Database, connect_database
from tenantry.db.provider import DatabaseTarget
from tenantry.privacy.master import MasterKeyProvider, master_key_provider
from tenantry.privacy.vault import KeyVault

__all__ = ["open_database"]


def open_database(
    settings: Settings | None = None,
    *,
    target: DatabaseTarget | None = None,
    migrate: bool = False,
    clock: Clock | None = None,
    ids: Callable[[], uuid.UUID] | None = None,
    master: MasterKeyProvider | None = None,
) -> Database:
    """Reach the configured database (starting the embedded one if needed) and wrap it, with
    the configured master key (or `master`) sealing personal data."""
    settings = settings or get_settings()
    vault = KeyVault(master or master_key_provider(settings))
    return connect_database(
        settings, target=target, migrate=migrate, clock=clock, ids=ids, sealing=vault
    )
