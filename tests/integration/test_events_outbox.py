"""Services write their outbox entries in the change's own transaction, without personal data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.models import Customer, OutboxEntry
from tenantry.models.enums import (
    BookingKind,
    BookingStatus,
    LeadStatus,
    PaymentKind,
    PaymentMethod,
)
from tenantry.services import bookings, leads
from tenantry.services.bookings import ItemLine
from tests.conftest import TenantFixture


def _entries(db: Database, tenant: TenantFixture, aggregate: uuid.UUID) -> list[OutboxEntry]:
    with db.tenant_uow(tenant.id) as uow:
        return list(
            uow.session.scalars(
                sa.select(OutboxEntry)
                .where(OutboxEntry.aggregate_id == aggregate)
                .order_by(OutboxEntry.txid, OutboxEntry.seq)
            )
        )


def test_lead_changes_are_recorded_in_the_outbox(db: Database, tenant: TenantFixture) -> None:
    with db.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="web_quote",
            email="outbox-lead@example.org",
            first_name="Erika",
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        leads.advance_lead(uow, tenant.principal(), lead.id, LeadStatus.CONTACTED)
        uow.commit()
    entries = _entries(db, tenant, lead.id)
    assert [e.event_type for e in entries] == ["lead.created", "lead.status_changed"]
    assert entries[1].payload["from"] == "new" and entries[1].payload["to"] == "contacted"
    text = str([e.payload for e in entries])
    assert "example.org" not in text and "Erika" not in text


def test_a_rolled_back_change_leaves_no_outbox_entry(db: Database, tenant: TenantFixture) -> None:
    with db.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="web_quote",
            email="rolled-back@example.org",
        )
        # no commit: the unit of work rolls back
    assert _entries(db, tenant, lead.id) == []


def test_booking_states_are_recorded_in_the_outbox(db: Database, tenant: TenantFixture) -> None:
    p = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        customer = uow.repos.customers.add(Customer(email="outbox-booking@example.com"))
        uow.flush()
        booking = bookings.create_booking(
            uow,
            p,
            location_id=tenant.locations[0],
            customer_id=customer.id,
            kind=BookingKind.RESERVATION,
            starts_at=datetime.now(UTC) + timedelta(days=3),
            items=[ItemLine(quantity=2, description="Menu", unit_price_cents=2500)],
        )
        bookings.transition_booking(uow, p, booking.id, BookingStatus.CONFIRMED)
        bookings.record_payment(
            uow, p, booking.id, kind=PaymentKind.FULL, method=PaymentMethod.CARD, amount_cents=5000
        )
        uow.commit()
    entries = _entries(db, tenant, booking.id)
    assert [e.event_type for e in entries] == [
        "booking.created",
        "booking.state_changed",
        "booking.state_changed",
    ]
    assert [(e.payload.get("from"), e.payload["to"]) for e in entries] == [
        (None, "inquiry"),
        ("inquiry", "confirmed"),
        ("confirmed", "paid"),
    ]
    assert len({e.txid for e in entries}) == 1  # one transaction, in insertion order
