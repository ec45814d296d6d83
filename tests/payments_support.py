"""Open bookings and notices for payment tests (obviously fake people, example.com)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tenantry.db.engine import Database
from tenantry.models.enums import BookingKind, BookingStatus
from tenantry.payments.notices import Notice, Source, Trust, TrustLevel
from tenantry.services.bookings import ItemLine, create_booking, transition_booking
from tenantry.services.resources import create_customer
from tests.conftest import TenantFixture

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class OpenBookingRef:
    id: uuid.UUID
    customer_id: uuid.UUID
    total_cents: int
    deposit_cents: int


def open_booking(
    db: Database,
    tenant: TenantFixture,
    first: str,
    last: str,
    *,
    total_cents: int = 80_000,
    deposit_cents: int = 20_000,
    currency: str = "USD",
    starts_at: datetime | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> OpenBookingRef:
    """A confirmed catering booking of a new customer, nothing paid yet."""
    principal = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        customer = create_customer(
            uow,
            principal,
            first_name=first,
            last_name=last,
            email=email or f"{first}.{last}.{uuid.uuid4().hex[:6]}@example.com".lower(),
            phone=phone,
        )
        booking = create_booking(
            uow,
            principal,
            location_id=tenant.locations[0],
            customer_id=customer.id,
            kind=BookingKind.APPOINTMENT,
            starts_at=starts_at or T0 + timedelta(days=30),
            items=[ItemLine(quantity=1, description="Hibachi party", unit_price_cents=total_cents)],
            deposit_cents=deposit_cents,
            currency=currency,
        )
        transition_booking(uow, principal, booking.id, BookingStatus.CONFIRMED)
        ref = OpenBookingRef(booking.id, customer.id, total_cents, deposit_cents)
        uow.commit()
    return ref


def notice(
    amount_cents: int,
    payer: str | None,
    *,
    provider: str = "zelle",
    memo: str | None = None,
    trust: TrustLevel = TrustLevel.VERIFIED,
    when: datetime | None = None,
    transaction_id: str | None = None,
    currency: str = "USD",
    payer_email: str | None = None,
    payer_phone: str | None = None,
    raw: bytes | None = None,
) -> Notice:
    tx = transaction_id or uuid.uuid4().hex[:12].upper()
    return Notice(
        source=Source.EMAIL,
        provider=provider,
        transaction_id=tx,
        amount_cents=amount_cents,
        currency=currency,
        occurred_at=when or datetime.now(UTC),
        raw=raw or f"From: alerts@example.com\r\n\r\n{tx} {amount_cents}".encode(),
        trust=Trust(trust, "test"),
        payer_name=payer,
        payer_email=payer_email,
        payer_phone=payer_phone,
        memo=memo,
        origin=f"{tx}.eml",
    )
