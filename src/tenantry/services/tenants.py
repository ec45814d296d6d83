"""The platform's tenant directory, read in a platform unit of work (as `tenantry_owner`).

Tenants are businesses: their names are not personal data, so listings may show them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.models import Tenant

__all__ = ["TenantListing", "list_tenants"]


@dataclass(frozen=True)
class TenantListing:
    id: uuid.UUID
    slug: str
    name: str
    vertical: str
    status: str

    def as_json(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "slug": self.slug,
            "name": self.name,
            "vertical": self.vertical,
            "status": self.status,
        }


def list_tenants(uow: UnitOfWork) -> list[TenantListing]:
    """Every tenant not deleted, by slug."""
    rows = uow.session.execute(
        sa.select(Tenant.id, Tenant.slug, Tenant.display_name, Tenant.vertical, Tenant.status)
        .where(Tenant.deleted_at.is_(None))
        .order_by(Tenant.slug)
    )
    return [
        TenantListing(id=r[0], slug=r[1], name=r[2], vertical=r[3].value, status=r[4].value)
        for r in rows
    ]
