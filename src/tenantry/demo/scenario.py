"""Demo scenario: seed three tenants, run sample flows as real principals, collect a summary.

Idempotent: the tenants are seeded once (fixed slugs and seed), and each flow first looks for
the lead it creates, so a second run changes nothing and reports the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.demo.decisions import route_demo_lead
from tenantry.demo.payment_mail import SamplePayment, make_test_key, signed_mail
from tenantry.demo.privacy import PrivacyDemo, run_privacy_demo
from tenantry.domain.bookings import booking_code
from tenantry.errors import ConfigurationError
from tenantry.models import Booking, Customer, Lead, Location, Payment, Service, Tenant, Vehicle
from tenantry.models.enums import (
    BookingKind,
    BookingStatus,
    LeadStatus,
    MembershipRole,
)
from tenantry.payments.intake import record_notices
from tenantry.payments.sources import parse_email
from tenantry.payments.trust import DkimVerifier
from tenantry.privacy.master import MasterKeyProvider
from tenantry.repositories.dashboard import BookingKpis, LeadDashboard
from tenantry.seed.generator import TenantSpec
from tenantry.seed.loader import LoadStats, load
from tenantry.services import bookings, dashboard, leads
from tenantry.services.bookings import ItemLine
from tenantry.services.principal import Principal

__all__ = ["DEMO_TENANTS", "DemoSummary", "run_demo"]

M = TypeVar("M", Location, Service)

DEMO_SEED = 2026
DEMO_TENANTS = (
    TenantSpec(0, "restaurant", "Trattoria Sole", "demo-trattoria-sole", locations=4),
    TenantSpec(1, "workshop", "Schrauber & Söhne Kfz", "demo-schrauber-soehne", locations=3),
    TenantSpec(2, "caterer", "Hibachi Heroes Catering", "demo-hibachi-heroes", locations=1),
)


@dataclass
class FlowResult:
    name: str
    outcome: str
    fresh: bool


@dataclass
class TenantFigures:
    name: str
    vertical: str
    locations: int
    customers: int
    leads_by_status: dict[str, int]
    bookings_by_status: dict[str, int]
    collected_cents: int
    dashboard: LeadDashboard
    kpis: list[BookingKpis]


@dataclass
class DemoSummary:
    load: LoadStats
    flows: list[FlowResult] = field(default_factory=list)
    tenants: list[TenantFigures] = field(default_factory=list)
    isolation: dict[str, int] = field(default_factory=dict)
    scoped_dashboard: tuple[str, LeadDashboard] | None = None
    privacy: PrivacyDemo | None = None
    routed: bool = False  # this run routed the decision services act's lead


def _tenant(db: Database, slug: str) -> Tenant:
    with db.platform_uow() as uow:
        tenant = uow.repos.tenants.by_slug(slug)
        assert tenant is not None, slug
        return tenant


def _existing_flow_lead(uow: UnitOfWork, email: str) -> Lead | None:
    return uow.repos.leads.by_email(email)


# Each flow reports the state it left behind, read back the same way on the run that did the
# work and on every rerun, so the summary says the same thing each time.


def _lead_booking(uow: UnitOfWork, lead: Lead) -> Booking | None:
    """The booking made from the lead (or, failing that, its customer's latest one)."""
    linked = uow.session.scalars(
        sa.select(Booking).where(Booking.lead_id == lead.id).order_by(Booking.id).limit(1)
    ).first()
    if linked is not None or lead.customer_id is None:
        return linked
    return uow.session.scalars(
        sa.select(Booking)
        .where(Booking.customer_id == lead.customer_id)
        .order_by(Booking.id.desc())
        .limit(1)
    ).first()


def _catering_outcome(uow: UnitOfWork, lead: Lead) -> str:
    booking = _lead_booking(uow, lead)
    if booking is None:
        return f"lead {lead.status.value}"
    payments = uow.session.scalar(
        sa.select(sa.func.count()).select_from(Payment).where(Payment.booking_id == booking.id)
    )
    return (
        f"booking {booking.status.value}, {booking.total_cents / 100:,.2f} EUR"
        f" in {payments or 0} payments"
    )


def _tuv_outcome(uow: UnitOfWork, lead: Lead) -> str:
    booking = _lead_booking(uow, lead)
    if booking is None or booking.vehicle_id is None:
        return f"lead {lead.status.value}"
    vehicle = uow.session.scalars(sa.select(Vehicle).where(Vehicle.id == booking.vehicle_id)).one()
    due = f"TÜV due {vehicle.tuv_due_on:%Y-%m-%d}, " if vehicle.tuv_due_on else ""
    return f"{due}appointment {booking.status.value}"


def _lost_outcome(lead: Lead) -> str:
    reason = " (reason recorded)" if lead.lost_reason else ""
    return f"lead {lead.status.value}{reason}"


def _first(uow: UnitOfWork, model: type[M], *where: sa.ColumnElement[bool]) -> M:
    stmt = sa.select(model).where(*where).order_by(model.id).limit(1)
    return uow.session.scalars(stmt).one()


def flow_lead_to_catering(db: Database) -> FlowResult:
    """Caterer: web quote -> qualified -> converted -> event paid by deposit and balance."""
    tenant = _tenant(db, "demo-hibachi-heroes")
    owner = Principal(tenant_id=tenant.id, role=MembershipRole.OWNER)
    email = "flow.catering@example.com"
    with db.tenant_uow(tenant.id, actor="demo") as uow:
        if (lead := _existing_flow_lead(uow, email)) is not None:
            return FlowResult("lead -> catering event", _catering_outcome(uow, lead), False)
        location = _first(uow, Location)
        service = _first(uow, Service, Service.name == "Hibachi-Menü pro Person")
        lead = leads.capture_lead(
            uow,
            owner,
            location_id=location.id,
            source="web_quote",
            first_name="Demo",
            last_name="Example",
            email=email,
            interest="Geburtstag, 40 Gäste",
            score=55,
        )
        leads.advance_lead(uow, owner, lead.id, LeadStatus.CONTACTED)
        leads.advance_lead(uow, owner, lead.id, LeadStatus.QUALIFIED)
        leads.rescore_lead(uow, owner, lead.id, 82, reason="budget confirmed", model_version="demo")
        lead, customer = leads.convert_lead(uow, owner, lead.id)
        booking = bookings.create_booking(
            uow,
            owner,
            location_id=location.id,
            customer_id=customer.id,
            kind=BookingKind.CATERING_EVENT,
            starts_at=uow.clock.now() + timedelta(days=21),
            guest_count=40,
            items=[ItemLine(quantity=40, service_id=service.id)],
            deposit_cents=66_000,
            lead_id=lead.id,
        )
        bookings.transition_booking(uow, owner, booking.id, BookingStatus.CONFIRMED)
        _pay_by_provider_mails(uow, owner, booking)
        bookings.transition_booking(uow, owner, booking.id, BookingStatus.FULFILLED)
        bookings.transition_booking(uow, owner, booking.id, BookingStatus.REVIEWED)
        uow.commit()
        return FlowResult("lead -> catering event", _catering_outcome(uow, lead), True)


def _pay_by_provider_mails(uow: UnitOfWork, owner: Principal, booking: Booking) -> None:
    """The deposit arrives as a Stripe notification from the customer, the balance as a PayPal
    one from a friend who wrote the booking code: both DKIM-signed (a demo key), both matched
    by `tenantry.payments` as an import would."""
    key = make_test_key(selector="demo")
    verifier = DkimVerifier.from_keys(
        {f"demo._domainkey.{domain}": key.txt.encode() for domain in ("stripe.com", "paypal.com")}
    )
    now = uow.clock.now()
    deposit = SamplePayment(
        66_000, "Demo Example", now, "pi_3QDemoDepositExample01", currency="EUR"
    )
    balance = SamplePayment(
        booking.total_cents - 66_000,
        "Jordan Rivera",
        now + timedelta(minutes=5),
        "7DM12345AB6789012",
        currency="EUR",
        memo=f"for the party, booking {booking_code(booking.id)}",
    )
    mails = [signed_mail("stripe", deposit, key), signed_mail("paypal", balance, key)]
    notices = [parse_email(raw, verifier=verifier, origin="demo") for raw in mails]
    outcomes = record_notices(uow, owner, notices)
    if any(o.status != "matched" for o in outcomes):
        raise ConfigurationError("the demo's payment notifications were not matched")


def flow_tuv_reminder(db: Database) -> FlowResult:
    """Workshop: a customer whose TÜV is due soon books the inspection (HU/AU)."""
    tenant = _tenant(db, "demo-schrauber-soehne")
    owner = Principal(tenant_id=tenant.id, role=MembershipRole.OWNER)
    email = "flow.tuev@example.com"
    with db.tenant_uow(tenant.id, actor="demo") as uow:
        if (lead := _existing_flow_lead(uow, email)) is not None:
            return FlowResult("TÜV due -> appointment", _tuv_outcome(uow, lead), False)
        today = uow.clock.now().date()
        vehicle = uow.session.scalars(
            sa.select(Vehicle)
            .where(Vehicle.tuv_due_on.between(today, today + timedelta(days=60)))
            .order_by(Vehicle.tuv_due_on, Vehicle.id)
            .limit(1)
        ).one()
        customer = uow.repos.customers.get(vehicle.customer_id)
        service = _first(uow, Service, Service.name == "HU/AU (TÜV)")
        assert customer.home_location_id is not None
        lead = leads.capture_lead(
            uow,
            owner,
            location_id=customer.home_location_id,
            source="phone",
            email=email,
            interest="HU/AU",
            score=70,
        )
        leads.advance_lead(uow, owner, lead.id, LeadStatus.CONTACTED)
        leads.advance_lead(uow, owner, lead.id, LeadStatus.QUALIFIED)
        lead, _ = leads.convert_lead(uow, owner, lead.id, customer_id=customer.id)
        booking = bookings.create_booking(
            uow,
            owner,
            location_id=customer.home_location_id,
            customer_id=customer.id,
            vehicle_id=vehicle.id,
            kind=BookingKind.APPOINTMENT,
            starts_at=uow.clock.now() + timedelta(days=3),
            items=[ItemLine(quantity=1, service_id=service.id)],
            lead_id=lead.id,
        )
        bookings.transition_booking(uow, owner, booking.id, BookingStatus.CONFIRMED)
        uow.commit()
        return FlowResult("TÜV due -> appointment", _tuv_outcome(uow, lead), True)


def flow_lost_lead(db: Database) -> FlowResult:
    """Restaurant: an Instagram lead for a group dinner is contacted and lost with a reason."""
    tenant = _tenant(db, "demo-trattoria-sole")
    owner = Principal(tenant_id=tenant.id, role=MembershipRole.OWNER)
    email = "flow.instagram@example.com"
    with db.tenant_uow(tenant.id, actor="demo") as uow:
        if (lead := _existing_flow_lead(uow, email)) is not None:
            return FlowResult("instagram lead -> lost", _lost_outcome(lead), False)
        location = _first(uow, Location)
        lead = leads.capture_lead(
            uow,
            owner,
            location_id=location.id,
            source="instagram",
            email=email,
            interest="Gruppenessen 12 Personen",
            score=40,
        )
        leads.advance_lead(uow, owner, lead.id, LeadStatus.CONTACTED)
        lead = leads.advance_lead(uow, owner, lead.id, LeadStatus.LOST, reason="Termin passt nicht")
        uow.commit()
        return FlowResult("instagram lead -> lost", _lost_outcome(lead), True)


def _figures(db: Database, tenant: Tenant) -> TenantFigures:
    owner = Principal(tenant_id=tenant.id, role=MembershipRole.OWNER)
    with db.tenant_uow(tenant.id, actor="demo") as uow:
        s = uow.session

        def by_status(table: str) -> dict[str, int]:
            rows = s.execute(sa.text(f"SELECT status, count(*) FROM {table} GROUP BY status"))
            return {r[0]: r[1] for r in rows}

        collected = s.scalar(
            sa.text(
                "SELECT coalesce(sum(CASE WHEN kind = 'refund' THEN -amount_cents"
                " ELSE amount_cents END), 0) FROM commerce.payments WHERE status = 'succeeded'"
            )
        )
        return TenantFigures(
            name=tenant.display_name,
            vertical=tenant.vertical.value,
            locations=uow.repos.locations.count(),
            customers=uow.repos.customers.count(Customer.deleted_at.is_(None)),
            leads_by_status=by_status("crm.leads"),
            bookings_by_status=by_status("commerce.bookings"),
            collected_cents=int(collected or 0),
            dashboard=dashboard.lead_dashboard(uow, owner),
            kpis=dashboard.booking_kpis(uow, owner),
        )


def _isolation(db: Database, tenants: list[Tenant]) -> dict[str, int]:
    """What the application role sees: per tenant its own leads only, unbound nothing."""
    seen: dict[str, int] = {}
    with db.unbound_uow() as uow:
        seen["no tenant bound"] = int(
            uow.session.scalar(sa.text("SELECT count(*) FROM crm.leads")) or 0
        )
    for tenant in tenants:
        with db.tenant_uow(tenant.id) as uow:
            seen[tenant.display_name] = int(
                uow.session.scalar(sa.text("SELECT count(DISTINCT tenant_id) FROM crm.leads")) or 0
            )
    return seen


def _scoped(db: Database, tenant: Tenant) -> tuple[str, LeadDashboard]:
    """A manager scoped to one location sees only that location's leads."""
    with db.tenant_uow(tenant.id) as uow:
        location = uow.session.scalars(
            sa.select(Location).order_by(Location.slug.desc()).limit(1)
        ).one()
        manager = Principal(
            tenant_id=tenant.id, role=MembershipRole.MANAGER, location_ids=frozenset({location.id})
        )
        return location.name, dashboard.lead_dashboard(uow, manager)


def run_demo(
    db: Database,
    owner_conninfo: str,
    *,
    master: MasterKeyProvider,
    home: Path,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    stats = load(
        owner_conninfo,
        list(DEMO_TENANTS),
        master=master,
        scale="medium",
        seed=DEMO_SEED,
        progress=progress,
    )
    summary = DemoSummary(load=stats)
    summary.flows = [flow_lead_to_catering(db), flow_tuv_reminder(db), flow_lost_lead(db)]
    summary.routed = route_demo_lead(db)  # shown by the decision services act
    tenants = [_tenant(db, t.slug) for t in DEMO_TENANTS]
    summary.tenants = [_figures(db, t) for t in tenants]
    summary.isolation = _isolation(db, tenants)
    summary.scoped_dashboard = _scoped(db, tenants[0])
    caterer = tenants[2]
    with db.tenant_uow(caterer.id) as uow:
        location = _first(uow, Location)
    summary.privacy = run_privacy_demo(db, home, caterer.id, location.id)
    return summary
