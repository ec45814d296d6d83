"""Helpers shared by CLI commands: the database a command works on, resolving a tenant.

`database()` is the one way a command opens the configured database: it applies pending
migrations (unless told not to), hands the `Database` to the block and disposes of its engines
however the block ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tenantry.cli.output import console
from tenantry.cli.params import tenant_ref
from tenantry.composition import open_database
from tenantry.config import get_settings
from tenantry.db.engine import Database
from tenantry.errors import NotFoundError

__all__ = ["console", "database", "resolve_tenant"]


@contextmanager
def database(*, migrate: bool = True) -> Iterator[Database]:
    """The configured database for the length of a `with` block."""
    db = open_database(get_settings(), migrate=migrate)
    try:
        yield db
    finally:
        db.dispose()


def resolve_tenant(db: Database, value: str) -> uuid.UUID:
    """A tenant given by id or slug; an unknown one is one clear error."""
    value = tenant_ref(value)
    try:
        tenant_id: uuid.UUID | None = uuid.UUID(value)
    except ValueError:
        tenant_id = None
    with db.platform_uow() as uow:
        if tenant_id is None:
            tenant = uow.repos.tenants.by_slug(value)
            if tenant is None:
                raise NotFoundError("tenant not found (see `tenantry tenants list`)")
            return tenant.id
        uow.repos.tenants.get(tenant_id)
        return tenant_id
