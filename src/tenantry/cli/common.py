"""Helpers shared by CLI commands: opening the database, resolving a tenant argument."""

from __future__ import annotations

import uuid

from rich.console import Console

from tenantry.config import get_settings
from tenantry.db.engine import Database, open_database
from tenantry.errors import NotFoundError

__all__ = ["console", "open_db", "resolve_tenant"]


def console() -> Console:
    c = Console()
    return c if c.is_terminal else Console(width=150)


def open_db() -> Database:
    return open_database(get_settings(), migrate=True)


def resolve_tenant(db: Database, value: str) -> uuid.UUID:
    """A tenant given by id or slug; unknown or malformed values are one clear error."""
    with db.platform_uow() as uow:
        try:
            tenant_id = uuid.UUID(value)
        except ValueError:
            tenant = uow.repos.tenants.by_slug(value)
            if tenant is None:
                raise NotFoundError("unknown tenant (give its id or slug)") from None
            return tenant.id
        uow.repos.tenants.get(tenant_id)
        return tenant_id
