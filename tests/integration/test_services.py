"""Services on a real database: lead pipeline with conversion, bookings with payments,
location-scoped managers, and the dashboard figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import (
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tenantry.models import Customer, Lead, Service, User
from tenantry.models.enums import (
    BookingKind,
    BookingStatus,
    LeadStatus,
    MembershipRole,
    PaymentKind,
    PaymentMethod,
)
from tenantry.services import bookings, dashboard, leads
from tenantry.services.bookings import ItemLine
from tenantry.services.records import KINDS, get_record, list_records
from tests.conftest import TenantFixture


def _lead(db: Database, tenant: TenantFixture, email: str, location: int = 0, **kw: object) -> Lead:
    with db.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[location],
            source="web_quote",
            email=email,
            **kw,
        )  # type: ignore[arg-type]
        uow.commit()
        return lead


def _qualify(db: Database, tenant: TenantFixture, lead: Lead) -> None:
    with db.tenant_uow(tenant.id) as uow:
        leads.advance_lead(uow, tenant.principal(), lead.id, LeadStatus.CONTACTED)
        leads.advance_lead(uow, tenant.principal(), lead.id, LeadStatus.QUALIFIED)
        uow.commit()


def test_converting_a_lead_creates_a_customer_from_its_contact_data(
    db: Database, tenant: TenantFixture
) -> None:
    lead = _lead(db, tenant, "Jane.Doe@Example.com", first_name="Jane", last_name="Doe")
    _qualify(db, tenant, lead)
    with db.tenant_uow(tenant.id) as uow:
        _converted, customer = leads.convert_lead(uow, tenant.principal(), lead.id)
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        stored = uow.repos.leads.get(lead.id)
        assert stored.status is LeadStatus.CONVERTED and stored.converted_at is not None
        assert stored.customer_id == customer.id
        assert uow.repos.customers.get(customer.id).email == "jane.doe@example.com"


def test_converting_links_an_existing_customer_with_the_same_email(
    db: Database, tenant: TenantFixture
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        existing = uow.repos.customers.add(Customer(email="known@example.org", first_name="Known"))
        uow.commit()
    lead = _lead(db, tenant, "known@example.org")
    _qualify(db, tenant, lead)
    with db.tenant_uow(tenant.id) as uow:
        _lead_after, customer = leads.convert_lead(uow, tenant.principal(), lead.id)
        uow.commit()
        assert customer.id == existing.id
    with db.tenant_uow(tenant.id) as uow:
        everyone = list_records(uow, tenant.principal(), KINDS["customer"])
        same = [c for c in everyone if c.email == "known@example.org"]
        assert [c.id for c in same] == [existing.id]


def test_a_new_lead_cannot_be_converted_before_qualification(
    db: Database, tenant: TenantFixture
) -> None:
    lead = _lead(db, tenant, "early@example.com")
    with pytest.raises(IllegalTransitionError), db.tenant_uow(tenant.id) as uow:
        leads.convert_lead(uow, tenant.principal(), lead.id)
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.get(lead.id).status is LeadStatus.NEW
        assert uow.repos.customers.count() == 0


def test_losing_a_lead_needs_a_reason(db: Database, tenant: TenantFixture) -> None:
    lead = _lead(db, tenant, "lost@example.com")
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        leads.advance_lead(uow, tenant.principal(), lead.id, LeadStatus.LOST)


def test_rescoring_appends_to_the_score_history(db: Database, tenant: TenantFixture) -> None:
    lead = _lead(db, tenant, "score@example.com", score=20)
    with db.tenant_uow(tenant.id) as uow:
        leads.rescore_lead(uow, tenant.principal(), lead.id, 55, reason="opened quote")
        leads.rescore_lead(uow, tenant.principal(), lead.id, 140, reason="asked for call")
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        history = uow.repos.leads.score_history(lead.id)
        assert [(h.previous_score, h.score) for h in history] == [(20, 55), (55, 100)]
        assert uow.repos.leads.get(lead.id).score == 100


def test_scoped_manager_cannot_see_or_touch_other_locations(
    db: Database, tenant: TenantFixture
) -> None:
    mine = _lead(db, tenant, "mine@example.com", location=0)
    theirs = _lead(db, tenant, "theirs@example.com", location=1)
    manager = tenant.principal(MembershipRole.MANAGER, locations=[tenant.locations[0]])
    with db.tenant_uow(tenant.id) as uow:
        assert get_record(uow, manager, KINDS["lead"], mine.id).id == mine.id
        with pytest.raises(NotFoundError):
            get_record(uow, manager, KINDS["lead"], theirs.id)
        with pytest.raises(NotFoundError):
            leads.advance_lead(uow, manager, theirs.id, LeadStatus.CONTACTED)
        with pytest.raises(NotFoundError):
            leads.capture_lead(
                uow,
                manager,
                location_id=tenant.locations[1],
                source="phone",
                phone="+49 30 1234567",
            )
        figures = dashboard.lead_dashboard(uow, manager)
        assert figures.total_leads == 1


def test_analyst_cannot_write(db: Database, tenant: TenantFixture) -> None:
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        leads.capture_lead(
            uow,
            tenant.principal(MembershipRole.ANALYST),
            location_id=tenant.locations[0],
            source="phone",
            phone="+49 30 1",
        )


def _booking(
    db: Database,
    tenant: TenantFixture,
    *,
    total_each: int = 5_000,
    qty: int = 10,
    deposit: int = 15_000,
) -> tuple[object, object]:
    with db.tenant_uow(tenant.id) as uow:
        customer = uow.repos.customers.add(Customer(email="guest@example.com"))
        service = uow.repos.services.add(
            Service(kind="catering_package", name="Buffet", price_cents=total_each)
        )
        uow.flush()
        booking = bookings.create_booking(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            customer_id=customer.id,
            kind=BookingKind.CATERING_EVENT,
            starts_at=datetime.now(UTC) + timedelta(days=9),
            items=[ItemLine(quantity=qty, service_id=service.id)],
            deposit_cents=deposit,
        )
        uow.commit()
        return booking, customer


def test_booking_total_comes_from_the_catalog_price(db: Database, tenant: TenantFixture) -> None:
    booking, _ = _booking(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        stored = uow.repos.bookings.get(booking.id)  # type: ignore[attr-defined]
        assert stored.total_cents == 50_000
        assert [i.quantity * i.unit_price_cents for i in uow.repos.bookings.items(stored.id)] == [
            50_000
        ]


def test_deposit_and_balance_payments_drive_the_booking_to_paid(
    db: Database, tenant: TenantFixture
) -> None:
    booking, _ = _booking(db, tenant)
    p = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        bookings.transition_booking(uow, p, booking.id, BookingStatus.CONFIRMED)  # type: ignore[attr-defined]
        _pay, b = bookings.record_payment(
            uow,
            p,
            booking.id,
            kind=PaymentKind.DEPOSIT,  # type: ignore[attr-defined]
            method=PaymentMethod.CARD,
            amount_cents=15_000,
        )
        assert b.status is BookingStatus.DEPOSIT_PAID
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        _pay, b = bookings.record_payment(
            uow,
            p,
            booking.id,
            kind=PaymentKind.BALANCE,  # type: ignore[attr-defined]
            method=PaymentMethod.ZELLE,
            amount_cents=35_000,
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.bookings.get(booking.id).status is BookingStatus.PAID  # type: ignore[attr-defined]
        assert uow.repos.payments.paid_cents(booking.id) == 50_000  # type: ignore[attr-defined]
        assert len(uow.repos.payments.for_booking(booking.id)) == 2  # type: ignore[attr-defined]


def test_overpayment_is_refused_and_writes_nothing(db: Database, tenant: TenantFixture) -> None:
    booking, _ = _booking(db, tenant, deposit=0)
    p = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        bookings.transition_booking(uow, p, booking.id, BookingStatus.CONFIRMED)  # type: ignore[attr-defined]
        uow.commit()
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        bookings.record_payment(
            uow,
            p,
            booking.id,
            kind=PaymentKind.FULL,  # type: ignore[attr-defined]
            method=PaymentMethod.CASH,
            amount_cents=50_001,
        )
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.payments.for_booking(booking.id) == []  # type: ignore[attr-defined]
        assert uow.repos.bookings.get(booking.id).status is BookingStatus.CONFIRMED  # type: ignore[attr-defined]


def test_an_inquiry_cannot_take_payments(db: Database, tenant: TenantFixture) -> None:
    booking, _ = _booking(db, tenant)
    with pytest.raises(IllegalTransitionError), db.tenant_uow(tenant.id) as uow:
        bookings.record_payment(
            uow,
            tenant.principal(),
            booking.id,
            kind=PaymentKind.DEPOSIT,  # type: ignore[attr-defined]
            method=PaymentMethod.CARD,
            amount_cents=100,
        )


def test_paid_status_is_not_set_by_hand(db: Database, tenant: TenantFixture) -> None:
    booking, _ = _booking(db, tenant)
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        bookings.transition_booking(uow, tenant.principal(), booking.id, BookingStatus.PAID)  # type: ignore[attr-defined]


def test_lead_dashboard_counts_today_converted_and_average_qualified_score(
    db: Database, tenant: TenantFixture, clock
) -> None:
    today = datetime.now(UTC)
    with db.platform_uow(tenant_id=tenant.id) as uow:

        def add(status: str, score: int, created: datetime, deleted: bool = False) -> None:
            customer_id = None
            if status == "converted":
                customer = Customer(tenant_id=tenant.id, id=db.ids(), email="c@example.com")
                uow.session.add(customer)
                uow.session.flush()
                customer_id = customer.id
            uow.session.add(
                Lead(
                    tenant_id=tenant.id,
                    id=db.ids(),
                    location_id=tenant.locations[0],
                    source="google",
                    status=status,
                    score=score,
                    customer_id=customer_id,
                    created_at=created,
                    lost_reason="x" if status == "lost" else None,
                    deleted_at=today if deleted else None,
                    email="l@example.com",
                )
            )

        add("new", 10, today)
        add("qualified", 60, today)
        add("qualified", 80, today - timedelta(days=3))
        add("converted", 90, today - timedelta(days=10))
        add("lost", 5, today - timedelta(days=40))
        add("qualified", 0, today, deleted=True)  # soft-deleted: not counted
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        figures = dashboard.lead_dashboard(uow, tenant.principal())
    assert figures.today_leads == 2
    assert figures.converted_leads == 1
    assert figures.avg_qualified_score == pytest.approx(70.0)
    assert figures.open_leads == 3
    assert figures.total_leads == 5


def test_booking_kpis_per_location_count_money_collected(
    db: Database, tenant: TenantFixture
) -> None:
    booking, _ = _booking(db, tenant, deposit=0)
    p = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        bookings.transition_booking(uow, p, booking.id, BookingStatus.CONFIRMED)  # type: ignore[attr-defined]
        bookings.record_payment(
            uow,
            p,
            booking.id,
            kind=PaymentKind.FULL,  # type: ignore[attr-defined]
            method=PaymentMethod.CARD,
            amount_cents=50_000,
        )
        bookings.record_payment(
            uow,
            p,
            booking.id,
            kind=PaymentKind.TIP,  # type: ignore[attr-defined]
            method=PaymentMethod.CARD,
            amount_cents=2_000,
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        kpis = dashboard.booking_kpis(uow, p)
        assert len(kpis) == 1
        assert (kpis[0].bookings, kpis[0].booked_cents, kpis[0].collected_cents) == (
            1,
            50_000,
            50_000,
        )
        scoped = dashboard.booking_kpis(
            uow, tenant.principal(MembershipRole.MANAGER, [tenant.locations[1]])
        )
        assert scoped == []


def test_records_list_with_a_stable_cursor(db: Database, tenant: TenantFixture) -> None:
    for i in range(5):
        _lead(db, tenant, f"page{i}@example.com")
    with db.tenant_uow(tenant.id) as uow:
        owner, kind = tenant.principal(), KINDS["lead"]
        first = list_records(uow, owner, kind, limit=3)
        rest = list_records(uow, owner, kind, after=first[-1].id, limit=3)
        ids = [lead.id for lead in [*first, *rest]]
        assert ids == sorted(ids) and len(set(ids)) == 5
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 5


def test_membership_with_location_scope_yields_a_scoped_principal(
    db: Database, tenant: TenantFixture
) -> None:
    from tenantry.services.platform import grant_membership, principal_for

    with db.platform_uow() as uow:
        membership = grant_membership(
            uow,
            tenant_id=tenant.id,
            email="Station.Manager@Example.com",
            role=MembershipRole.MANAGER,
            location_ids=[tenant.locations[1]],
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        principal = principal_for(uow, membership.user_id)
        emails = [u.email for u in uow.session.scalars(sa.select(User)).all()]
        stored = uow.session.scalars(sa.text("SELECT email FROM identity.users")).all()
    assert principal.role is MembershipRole.MANAGER
    assert all(b"example.com" not in bytes(e) for e in stored)  # sealed at rest
    assert principal.location_ids == frozenset({tenant.locations[1]})
    assert emails == ["station.manager@example.com"]


def test_a_user_is_not_a_member_of_other_tenants(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    from tenantry.services.platform import grant_membership, principal_for

    with db.platform_uow() as uow:
        membership = grant_membership(
            uow, tenant_id=tenant.id, email="only-a@example.com", role=MembershipRole.STAFF
        )
        uow.commit()
    with pytest.raises(ValidationError), db.tenant_uow(other_tenant.id) as uow:
        principal_for(uow, membership.user_id)
