"""Builders for partner matching tests: placed locations, partners with credits, placed leads."""

from __future__ import annotations

import uuid
from decimal import Decimal

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.decisions import partners
from tenantry.models import Location
from tenantry.models.enums import LeadSource
from tenantry.services.leads import capture_lead
from tests.conftest import TenantFixture

BERLIN = (52.520, 13.405)


def place_location(
    db: Database, tenant: TenantFixture, location_id: uuid.UUID, lat: float, lon: float
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            sa.update(Location)
            .where(Location.tenant_id == tenant.id, Location.id == location_id)
            .values(latitude=Decimal(str(lat)), longitude=Decimal(str(lon)))
        )
        uow.commit()


def partner(
    db: Database,
    tenant: TenantFixture,
    location_id: uuid.UUID,
    *,
    at: tuple[float, float] = BERLIN,
    radius_km: float = 30,
    capacity: int = 10,
    price: int = 2,
    credits: int = 0,
    categories: list[str] | None = None,
) -> None:
    place_location(db, tenant, location_id, *at)
    with db.tenant_uow(tenant.id) as uow:
        partners.set_partner(
            uow,
            tenant.principal(),
            location_id,
            radius_km=radius_km,
            capacity=capacity,
            price_credits=price,
            categories=categories or [],
        )
        if credits:
            partners.buy_credits(uow, tenant.principal(), location_id, credits)
        uow.commit()


def lead(
    db: Database,
    tenant: TenantFixture,
    at: tuple[float, float] | None = BERLIN,
    category: str | None = None,
) -> uuid.UUID:
    with db.tenant_uow(tenant.id) as uow:
        row = capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source=LeadSource.WEB_QUOTE,
            email=f"lead-{uuid.uuid4().hex[:8]}@example.com",
            category=category,
            latitude=at[0] if at else None,
            longitude=at[1] if at else None,
        )
        uow.commit()
        return row.id
