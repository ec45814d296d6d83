"""Builders for the billing tests: a customer, catalog services and a confirmed booking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from tenantry.db.engine import Database
from tenantry.models import Customer, Review
from tenantry.models.enums import BookingKind, BookingStatus, PaymentKind, PaymentMethod
from tenantry.services import bookings
from tenantry.services.bookings import ItemLine
from tenantry.services.resources import create_service
from tests.conftest import TenantFixture

STARTS = datetime(2026, 3, 1, 18, tzinfo=UTC)


@dataclass(frozen=True)
class Booked:
    booking_id: uuid.UUID
    customer_id: uuid.UUID
    total_cents: int


def customer(db: Database, tenant: TenantFixture, **fields: object) -> uuid.UUID:
    values: dict[str, object] = {
        "first_name": "Erika",
        "last_name": "Mustermann",
        "street": "Musterstrasse 1",
        "postal_code": "10115",
        "city": "Berlin",
        "email": f"erika-{uuid.uuid4().hex[:8]}@example.org",
        **fields,
    }
    with db.tenant_uow(tenant.id) as uow:
        c = Customer(tenant_id=tenant.id, id=uow.ids(), home_location_id=tenant.locations[0])
        for name, value in values.items():
            setattr(c, name, value)
        uow.session.add(c)
        uow.commit()
        return c.id


def booking(
    db: Database,
    tenant: TenantFixture,
    *,
    customer_id: uuid.UUID | None = None,
    items: list[ItemLine] | None = None,
    deposit_cents: int = 0,
    paid_cents: int = 0,
    status: BookingStatus | None = None,
) -> Booked:
    """A confirmed booking of a 19 % menu (2 x 30.00) and a 7 % dessert (1 x 10.70) unless
    `items` say otherwise; `paid_cents` recorded as one payment; then moved to `status`."""
    cust = customer_id or customer(db, tenant)
    owner = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        if items is None:
            menu = create_service(
                uow,
                owner,
                kind="menu_item",
                name="Hibachi menu",
                price_cents=3000,
                vat_rate_bp=1900,
            )
            dessert = create_service(
                uow, owner, kind="menu_item", name="Dessert", price_cents=1070, vat_rate_bp=700
            )
            items = [ItemLine(2, service_id=menu.id), ItemLine(1, service_id=dessert.id)]
        b = bookings.create_booking(
            uow,
            owner,
            location_id=tenant.locations[0],
            customer_id=cust,
            kind=BookingKind.APPOINTMENT,
            starts_at=STARTS,
            items=items,
            deposit_cents=deposit_cents,
        )
        bookings.transition_booking(uow, owner, b.id, BookingStatus.CONFIRMED)
        if paid_cents:
            bookings.record_payment(
                uow,
                owner,
                b.id,
                kind=PaymentKind.FULL if paid_cents == b.total_cents else PaymentKind.BALANCE,
                method=PaymentMethod.CARD,
                amount_cents=paid_cents,
            )
        if status is not None:
            bookings.transition_booking(uow, owner, b.id, status)
        uow.commit()
        return Booked(b.id, cust, b.total_cents)


def review(
    db: Database, tenant: TenantFixture, booked: Booked, rating: int, *, linked: bool = True
) -> uuid.UUID:
    with db.tenant_uow(tenant.id) as uow:
        r = Review(
            tenant_id=tenant.id,
            id=uow.ids(),
            location_id=tenant.locations[0],
            booking_id=booked.booking_id if linked else None,
            customer_id=booked.customer_id if linked else None,
            platform="google",
            rating=rating,
            published_at=STARTS,
        )
        uow.session.add(r)
        uow.commit()
        return r.id
