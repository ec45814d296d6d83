"""Data-subject requests: deadlines, access export, erasure with receipt and scan."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.db.engine import Database
from tenantry.errors import ConflictError, IllegalTransitionError, NotFoundError, ValidationError
from tenantry.models import (
    Booking,
    ConsentEntry,
    Customer,
    Invoice,
    Lead,
    Payment,
    SubjectKey,
    Vehicle,
    tenant_tables,
)
from tenantry.models.enums import ConsentPurpose, DsarKind, HoldScope, MembershipRole
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Principal
from tenantry.services.privacy.consent import append_consent
from tenantry.services.privacy.dsar import extend_request, open_request, overdue
from tenantry.services.privacy.erasure import erase_subject
from tenantry.services.privacy.export import export_subject
from tenantry.services.privacy.retention import place_hold
from tenantry.services.privacy.scan import ScanTargets, scan
from tests.conftest import TenantFixture
from tests.factories import NOTICE, TEST_MASTER

EMAIL = "Erika.Example@example.org"


def _dpo(tenant: TenantFixture) -> Principal:
    return Principal(tenant_id=tenant.id, role=MembershipRole.DPO)


def _person(
    db: Database,
    tenant: TenantFixture,
    email: str = EMAIL,
    street: str = "Musterweg 12",
    last: str = "Examplewoman",
    phone: str = "5550123",
) -> dict[str, object]:
    """A customer with a converted lead, a vehicle, a paid booking with an invoice, consent."""
    t, ids = tenant.id, db.ids
    with db.platform_uow(tenant_id=t) as uow:
        s = uow.session
        customer = Customer(
            tenant_id=t,
            id=ids(),
            first_name="Erika",
            last_name=last,
            email=email.lower(),
            phone=f"+49 30 {phone}",
            street=street,
            city="Berlin",
            notes="prefers evenings",
        )
        s.add(customer)
        s.flush()
        lead = Lead(
            tenant_id=t,
            id=ids(),
            location_id=tenant.locations[0],
            customer_id=customer.id,
            source="web_quote",
            status="converted",
            email=email.lower(),
            first_name="Erika",
            last_name=last,
            phone=f"030 {phone}",
        )
        vehicle = Vehicle(
            tenant_id=t,
            id=ids(),
            customer_id=customer.id,
            make="Opel",
            model="Astra",
            license_plate=f"B-EX {phone[-4:]}",
        )
        s.add_all([lead, vehicle])
        s.flush()
        booking = Booking(
            tenant_id=t,
            id=ids(),
            location_id=tenant.locations[0],
            customer_id=customer.id,
            lead_id=lead.id,
            vehicle_id=vehicle.id,
            kind="appointment",
            status="paid",
            starts_at=datetime(2026, 2, 1, tzinfo=UTC),
            total_cents=10_000,
            event_address=f"{street}, Berlin",
            confirmed_at=None,
        )
        s.add(booking)
        s.flush()
        payment = Payment(
            tenant_id=t,
            id=ids(),
            booking_id=booking.id,
            customer_id=customer.id,
            kind="full",
            method="card",
            status="succeeded",
            amount_cents=10_000,
            payer_name=f"Erika {last}",
            paid_at=datetime(2026, 2, 1, tzinfo=UTC),
        )
        invoice = Invoice(
            tenant_id=t,
            id=ids(),
            booking_id=booking.id,
            customer_id=customer.id,
            number=f"R-{ids().hex[-10:]}",
            issued_on=datetime(2026, 2, 1).date(),
            net_cents=8403,
            tax_cents=1597,
            gross_cents=10_000,
            billing_name=f"Erika {last}",
            billing_address=f"{street}, 10115 Berlin",
        )
        s.add_all([payment, invoice])
        ring = KeyRing(uow, TEST_MASTER)
        subject = resolve_subject(uow, ring, email=email, phone=f"+49 30 {phone}")
        append_consent(
            uow,
            subject.id,
            ConsentPurpose.MARKETING_EMAIL,
            "granted",
            source="web_form",
            notice=NOTICE,
        )
        uow.commit()
        return {
            "customer": customer.id,
            "lead": lead.id,
            "vehicle": vehicle.id,
            "booking": booking.id,
            "payment": payment.id,
            "invoice": invoice.id,
            "subject": subject.id,
        }


def test_access_export_bundles_every_source_searched(
    db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    person = _person(db, tenant)
    _person(
        db,
        tenant,
        "someone.else@example.org",
        street="Beispielallee 7",
        last="Otherfamily",
        phone="5559876",
    )
    with db.tenant_uow(tenant.id) as uow:
        result = export_subject(uow, _dpo(tenant), EMAIL)
        uow.commit()
    with zipfile.ZipFile(io.BytesIO(result.bundle)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        customers = json.loads(zf.read("data/crm.customers.json"))
        consent = json.loads(zf.read("data/privacy.consent_journal.json"))
        summary = zf.read("summary.txt").decode()
    assert {m["source"] for m in manifest["sources"]} == set(tenant_tables())
    assert {
        "data/crm.customers.json",
        "data/crm.leads.json",
        "data/crm.vehicles.json",
        "data/commerce.bookings.json",
        "data/commerce.payments.json",
        "data/commerce.invoices.json",
        "data/privacy.consent_journal.json",
    } <= names
    assert [c["id"] for c in customers] == [str(person["customer"])]
    assert customers[0]["email"] == EMAIL.lower()
    assert consent[0]["purpose"] == "marketing_email"
    assert "someone.else" not in json.dumps(customers)
    assert "crm.customers" in summary and result.rows >= 8


def test_export_of_an_unknown_or_malformed_address_is_refused(
    db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        with pytest.raises(NotFoundError):
            export_subject(uow, _dpo(tenant), "nobody@example.org")
        with pytest.raises(ValidationError):
            export_subject(uow, _dpo(tenant), "not-an-address")


def test_erasure_deletes_pseudonymises_shreds_and_proves_it(
    db: Database, tenant: TenantFixture
) -> None:
    person = _person(db, tenant)
    other = _person(
        db,
        tenant,
        "someone.else@example.org",
        street="Beispielallee 7",
        last="Otherfamily",
        phone="5559876",
    )
    with db.tenant_uow(tenant.id) as uow:
        assert scan(uow, _targets()) == []  # only ciphertext at rest
        before = scan(uow, _targets(), ring=keyring(uow))
        assert any(h.table == "crm.customers" for h in before)
        result = erase_subject(uow, _dpo(tenant), EMAIL)
        uow.commit()
    assert result.hits == [] and result.receipt.scan_hits == 0
    assert result.receipt.keys_destroyed == 1
    receipt_text = json.dumps(result.as_json())
    assert "erika" not in receipt_text.lower() and "musterweg" not in receipt_text.lower()
    with db.platform_uow(tenant_id=tenant.id) as uow:
        s = uow.session
        assert s.get(Lead, (tenant.id, person["lead"])) is None
        assert s.get(Vehicle, (tenant.id, person["vehicle"])) is None
        invoice = s.get(Invoice, (tenant.id, person["invoice"]))
        payment = s.get(Payment, (tenant.id, person["payment"]))
        customer = s.get(Customer, (tenant.id, person["customer"]))
        assert invoice.gross_cents == 10_000 and invoice.billing_name == result.receipt.replacement
        assert invoice.billing_address is None
        assert payment.amount_cents == 10_000 and payment.payer_name == result.receipt.replacement
        assert customer.email is None and customer.phone is None and customer.street is None
        assert customer.first_name == customer.last_name == result.receipt.replacement
        assert customer.deleted_at is not None
        key = s.get(SubjectKey, (tenant.id, person["subject"], 1))
        assert key.wrapped_key is None and key.destroyed_at is not None
        assert (
            s.scalar(
                sa.select(sa.func.count())
                .select_from(ConsentEntry)
                .where(ConsentEntry.subject_id == person["subject"])
            )
            == 1
        )
        untouched = s.get(Customer, (tenant.id, other["customer"]))
        assert untouched.email == "someone.else@example.org"


def _targets() -> ScanTargets:
    t = ScanTargets()
    t.add_email(EMAIL)
    t.add_phone("+49 30 5550123")
    t.add_text("Musterweg 12")
    return t


def test_second_erasure_and_tenant_mismatch_are_refused(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    _person(db, tenant)
    with db.tenant_uow(other_tenant.id) as uow, pytest.raises(NotFoundError):
        erase_subject(uow, _dpo(tenant), EMAIL)
    with db.tenant_uow(tenant.id) as uow:
        erase_subject(uow, _dpo(tenant), EMAIL)
        uow.commit()
    with db.tenant_uow(tenant.id) as uow, pytest.raises(ConflictError):
        erase_subject(uow, _dpo(tenant), EMAIL)


def test_legal_hold_turns_deletion_into_pseudonymisation(
    db: Database, tenant: TenantFixture
) -> None:
    person = _person(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        place_hold(
            uow,
            _dpo(tenant),
            scope=HoldScope.CUSTOMER,
            target_id=person["customer"],
            reason="court order 12 O 34/26",
            placed_by="dpo",
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        result = erase_subject(uow, _dpo(tenant), EMAIL)
        uow.commit()
    assert result.hits == []
    with db.platform_uow(tenant_id=tenant.id) as uow:
        lead = uow.session.get(Lead, (tenant.id, person["lead"]))
        vehicle = uow.session.get(Vehicle, (tenant.id, person["vehicle"]))
    assert lead is not None and lead.email is None and lead.first_name == result.receipt.replacement
    assert vehicle is not None and vehicle.license_plate is None
    assert vehicle.license_plate_bidx is None and vehicle.subject_id is None  # unfindable
    assert "pseudonymised (legal hold)" in result.receipt.summary["crm.leads"]


def test_request_deadline_extension_and_overdue_report(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    _person(clocked_db, tenant)
    with clocked_db.tenant_uow(tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        late = open_request(uow, ring, kind=DsarKind.ACCESS, email=EMAIL)
        extended = open_request(uow, ring, kind=DsarKind.RECTIFICATION, email=EMAIL)
        extend_request(uow, extended.id, days=60, reason="complex request, many systems")
        uow.commit()
    assert late.due_at - late.received_at == timedelta(days=30)
    clock.advance(timedelta(days=31))
    with clocked_db.tenant_uow(tenant.id) as uow:
        assert [r.id for r in overdue(uow)] == [late.id]
        with pytest.raises(IllegalTransitionError):
            extend_request(uow, extended.id, days=10, reason="again")
        with pytest.raises(ValidationError):
            extend_request(uow, late.id, days=61, reason="too long")
    clock.advance(timedelta(days=60))
    with clocked_db.tenant_uow(tenant.id) as uow:
        assert {r.id for r in overdue(uow)} == {late.id, extended.id}


def test_a_shared_address_is_reported_not_silently_ignored(
    db: Database, tenant: TenantFixture
) -> None:
    """A household member at the same address keeps their data; the deep scan names the rows."""
    _person(db, tenant)
    housemate = _person(db, tenant, "housemate@example.org")
    with db.tenant_uow(tenant.id) as uow:
        erase_subject(uow, _dpo(tenant), EMAIL)
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        hits = scan(uow, _targets(), ring=keyring(uow))
    assert {h.row for h in hits if h.table == "crm.customers"} == {str(housemate["customer"])}


def test_erasure_reports_the_address_copied_into_someone_elses_free_text(
    db: Database, tenant: TenantFixture
) -> None:
    """Free text is not sealed: a copy of the address there is found and named, not missed."""
    _person(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        leak = uow.repos.leads.add(
            Lead(
                location_id=tenant.locations[0],
                source="phone",
                phone="+49 30 5559999",
                interest=f"call back {EMAIL.lower()} re catering",
            )
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        result = erase_subject(uow, _dpo(tenant), EMAIL)
        uow.commit()
    assert [(h.table, h.column, h.row) for h in result.hits] == [
        ("crm.leads", "interest", str(leak.id))
    ]
