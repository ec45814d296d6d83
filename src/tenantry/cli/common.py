"""Helpers shared by CLI commands: opening the database, resolving a tenant argument."""

from __future__ import annotations

import re
import uuid

from rich.console import Console

from tenantry.composition import open_database
from tenantry.config import get_settings
from tenantry.db.engine import Database
from tenantry.errors import NotFoundError, ValidationError

__all__ = ["console", "open_db", "resolve_tenant"]


def console() -> Console:
    c = Console()
    return c if c.is_terminal else Console(width=150)


def open_db() -> Database:
    return open_database(get_settings(), migrate=True)


_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def resolve_tenant(db: Database, value: str) -> uuid.UUID:
    """A tenant given by id or slug; unknown or malformed values are one clear error."""
    try:
        tenant_id: uuid.UUID | None = uuid.UUID(value)
    except ValueError:
        if not _SLUG.fullmatch(value):
            raise ValidationError("--tenant must be a tenant UUID or slug") from None
        tenant_id = None
    with db.platform_uow() as uow:
        if tenant_id is None:
            tenant = uow.repos.tenants.by_slug(value)
            if tenant is None:
                raise NotFoundError("tenant not found (give its UUID or slug)")
            return tenant.id
        uow.repos.tenants.get(tenant_id)
        return tenant_id
