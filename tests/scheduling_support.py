"""Builders for scheduling tests and benchmarks: a location with hours, resources and a service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from tenantry.db.engine import Database
from tenantry.models import Customer, Service
from tenantry.models.enums import ResourceKind, ServiceKind
from tenantry.scheduling import capacity, hours, resources
from tenantry.services.principal import Principal

__all__ = ["Shop", "make_shop"]

# Every weekday 09:00-12:00 and 13:00-17:00 (a lunch break), local time.
WEEK = {d: [(9 * 60, 12 * 60), (13 * 60, 17 * 60)] for d in range(1, 8)}


@dataclass
class Shop:
    tenant_id: uuid.UUID
    location_id: uuid.UUID
    service_id: uuid.UUID
    customer_id: uuid.UUID
    staff: list[uuid.UUID] = field(default_factory=list)


def make_shop(
    db: Database,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    staff: int = 1,
    duration: int = 60,
    buffer_before: int = 0,
    buffer_after: int = 0,
    kind: ServiceKind = ServiceKind.WORKSHOP_SERVICE,
    week: hours.Week | None = None,
) -> Shop:
    """Hours, `staff` staff resources and a service needing one of them."""
    tenant = principal.tenant_id
    with db.tenant_uow(tenant) as uow:
        hours.set_week(uow, principal, location_id, week if week is not None else WEEK)
        people = [
            resources.create_resource(
                uow, principal, location_id=location_id, kind=ResourceKind.STAFF, name=f"Bay {i}"
            ).id
            for i in range(staff)
        ]
        service = uow.repos.services.add(
            Service(
                location_id=location_id,
                kind=kind,
                name="Inspection",
                price_cents=5000,
                duration_minutes=duration,
            )
        )
        customer = uow.repos.customers.add(
            Customer(home_location_id=location_id, first_name="Erika", last_name="Mustermann")
        )
        uow.flush()
        resources.set_requirements(
            uow,
            principal,
            service.id,
            needs=[resources.Need(kind=ResourceKind.STAFF, quantity=1)],
            buffer_before_minutes=buffer_before,
            buffer_after_minutes=buffer_after,
        )
        uow.commit()
        return Shop(tenant, location_id, service.id, customer.id, people)


def set_capacity(db: Database, principal: Principal, shop: Shop, **limits: object) -> None:
    with db.tenant_uow(shop.tenant_id) as uow:
        capacity.set_capacity(uow, principal, shop.location_id, **limits)  # type: ignore[arg-type]
        uow.commit()
