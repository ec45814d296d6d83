"""Services write their outbox entries in the change's own transaction, without personal data."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.lake.vocabulary import EVENT_TYPES, OUTBOX
from tenantry.models import Customer, OutboxEntry, User
from tenantry.models.enums import (
    BookingKind,
    BookingStatus,
    LeadStatus,
    MembershipRole,
    PaymentKind,
    PaymentMethod,
)
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.services import bookings, leads
from tenantry.services.bookings import ItemLine
from tenantry.services.privacy.consent import append_consent
from tenantry.services.privacy.doi import issue_opt_in, redeem_opt_in
from tenantry.services.privacy.erasure import erase_subject
from tests.conftest import TenantFixture, make_tenant
from tests.events_support import member, pseudonym_of
from tests.factories import NOTICE, TEST_MASTER


def vocab_properties(event_type: str) -> tuple[str, ...]:
    return next(e.properties for e in EVENT_TYPES if e.name == event_type)


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


# Analytics changes: consent, accounts and locations, written by triggers with the change.


def _analytics(db: Database, tenant_id: uuid.UUID, after: int = 0) -> list[OutboxEntry]:
    with db.tenant_uow(tenant_id) as uow:
        return list(
            uow.session.scalars(
                sa.select(OutboxEntry)
                .where(OutboxEntry.event_type.in_(OUTBOX), OutboxEntry.seq > after)
                .order_by(OutboxEntry.txid, OutboxEntry.seq)
            )
        )


def _last_seq(db: Database, tenant_id: uuid.UUID) -> int:
    with db.tenant_uow(tenant_id) as uow:
        return int(uow.session.scalar(sa.select(sa.func.max(OutboxEntry.seq))) or 0)


def test_consent_decisions_reach_the_outbox_as_pseudonymous_events(
    db: Database, tenant: TenantFixture
) -> None:
    user = member(db, tenant.id)  # analytics granted
    key = pseudonym_of(db, tenant.id, user)
    with db.platform_uow(tenant_id=tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        subject = resolve_subject(uow, ring, email="consent-outbox@example.com")
        for purpose, decision in (("analytics", "granted"), ("marketing_email", "denied")):
            append_consent(uow, subject.id, purpose, decision, source="t", notice=NOTICE)
        pending = issue_opt_in(
            uow, ring, email="consent-outbox@example.com", purpose="vc_report", notice=NOTICE
        )
        redeem_opt_in(uow, ring, pending.token, notice=NOTICE)
        other = subject.pseudonym
        uow.commit()
    entries = [e for e in _analytics(db, tenant.id) if e.aggregate_type == "consent"]
    got = [(e.event_type, e.payload.get("purpose"), e.payload["user_key"]) for e in entries]
    assert ("consent_granted", "analytics", key) in got
    assert got[-4:] == [
        ("consent_granted", "analytics", other),
        ("consent_withdrawn", "marketing_email", other),
        ("consent_granted", "vc_report", other),
        ("email_verified", "vc_report", other),
    ]
    text = str([e.payload for e in entries])
    assert "example.com" not in text and str(user) not in text
    assert all(set(e.payload) <= set(vocab_properties(e.event_type)) for e in entries)


def test_without_analytics_consent_only_the_analytics_decision_reaches_the_outbox(
    db: Database, tenant: TenantFixture
) -> None:
    """As ingestion suppresses their events, the lake hears nothing else about such subjects."""
    before = _last_seq(db, tenant.id)
    with db.platform_uow(tenant_id=tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        subject = resolve_subject(uow, ring, email="no-analytics@example.com")
        append_consent(uow, subject.id, "marketing_email", "granted", source="t", notice=NOTICE)
        append_consent(uow, subject.id, "analytics", "granted", source="t", notice=NOTICE)
        append_consent(uow, subject.id, "analytics", "withdrawn", source="t", notice=NOTICE)
        append_consent(uow, subject.id, "marketing_email", "withdrawn", source="t", notice=NOTICE)
        uow.commit()
    got = [(e.event_type, e.payload["purpose"]) for e in _analytics(db, tenant.id, before)]
    assert got == [("consent_granted", "analytics"), ("consent_withdrawn", "analytics")]


def test_a_rolled_back_consent_leaves_no_event(db: Database, tenant: TenantFixture) -> None:
    before = _last_seq(db, tenant.id)
    with db.platform_uow(tenant_id=tenant.id) as uow:
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email="rb@example.com")
        append_consent(uow, subject.id, "analytics", "granted", source="t", notice=NOTICE)
    assert _analytics(db, tenant.id, before) == []


def test_tenants_and_locations_reach_the_outbox_on_every_relevant_change(db: Database) -> None:
    t = make_tenant(db, locations=1)  # created: one account and one location event
    first = _analytics(db, t.id)
    assert [e.event_type for e in first] == ["account_upserted", "location_upserted"]
    assert first[0].payload["main_category"] == "restaurant" and first[0].payload["is_active"]
    before = _last_seq(db, t.id)
    with db.tenant_uow(t.id) as uow:
        uow.session.execute(
            sa.text(
                "UPDATE identity.locations SET city = 'Hamburg', price_range = 3,"
                " phone = '+49 30 1234567', email = 'loc@example.org'"
            )
        )
        uow.commit()
    with db.tenant_uow(t.id) as uow:  # nothing the analytics read: no event
        uow.session.execute(sa.text("UPDATE identity.locations SET onboarding_step = 2"))
        uow.commit()
    [changed] = _analytics(db, t.id, before)
    assert changed.event_type == "location_upserted" and changed.aggregate_id == t.locations[0]
    assert (changed.payload["city"], changed.payload["price_range"]) == ("Hamburg", "€€€")
    assert "example.org" not in str(changed.payload) and "1234567" not in str(changed.payload)
    assert set(changed.payload) <= set(vocab_properties("location_upserted"))


def test_the_triggers_use_only_the_vocabularys_names(db: Database) -> None:
    with db.platform_uow() as uow:
        sources = uow.session.scalars(
            sa.text(
                "SELECT prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'events' AND (proname LIKE 'outbox_%' OR proname LIKE '%_payload')"
            )
        ).all()
    text = "\n".join(sources)
    named = set(re.findall(r"'([a-z]+_[a-z_]+)'", text))
    assert set(OUTBOX) <= named
    keys = {k for k in named if k not in OUTBOX}
    declared = {p for name in OUTBOX for p in vocab_properties(name)}
    assert keys <= declared, keys - declared


def test_erasure_deletes_the_subjects_consent_events(db: Database, tenant: TenantFixture) -> None:
    user = member(db, tenant.id)
    key = pseudonym_of(db, tenant.id, user)
    assert [e for e in _analytics(db, tenant.id) if e.payload.get("user_key") == key]
    with db.platform_uow(tenant_id=tenant.id) as uow:
        found = uow.session.get(User, user)
        assert found is not None
        email = found.email
    with db.tenant_uow(tenant.id) as uow:
        result = erase_subject(uow, tenant.principal(MembershipRole.DPO), email)
        uow.commit()
    assert result.receipt.summary["events.outbox"]["deleted"] >= 1
    assert result.hits == []
    assert [e for e in _analytics(db, tenant.id) if e.payload.get("user_key") == key] == []
