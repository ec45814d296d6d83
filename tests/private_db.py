"""A migrated database of a test's own, for tests that relay: the relay moves every tenant's
inbox and outbox, and a pipeline run over other tests' events would check their data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.db.provider import DatabaseTarget
from tests.conftest import TEST_MASTER, create_database, drop_database


@contextmanager
def private_database(server: DatabaseTarget, settings: Settings, name: str) -> Iterator[Database]:
    full = f"tenantry_{name}_{os.getpid()}"
    target = create_database(server, full)
    try:
        upgrade(target)
        db = open_database(settings, target=target, master=TEST_MASTER)
        try:
            yield db
        finally:
            db.dispose()
    finally:
        drop_database(server, full)
