"""Invoices and credit notes on a real database: gapless numbers under concurrency, GoBD
immutability enforced by PostgreSQL for the application role, credit limits, the PDF."""

from __future__ import annotations

import re
import threading
import zlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.db.engine import Database
from tenantry.errors import ConflictError, PermissionDeniedError, ValidationError
from tenantry.models import Invoice
from tenantry.models.enums import (
    InvoiceKind,
    InvoiceStatus,
    MembershipRole,
    PaymentKind,
    PaymentMethod,
)
from tenantry.payments import credit_notes, invoices
from tenantry.payments.invoice_pdf import Correction, render_invoice_pdf
from tenantry.services import bookings
from tenantry.services.principal import Principal
from tenantry.services.privacy.retention import run_retention
from tests.billing import Booked, booking
from tests.conftest import TenantFixture


def _issue(db: Database, tenant: TenantFixture, booked: Booked) -> Invoice:
    with db.tenant_uow(tenant.id) as uow:
        inv = invoices.issue_invoice(uow, tenant.principal(), booked.booking_id)
        uow.commit()
        return inv


def _credit(db: Database, tenant: TenantFixture, invoice: Invoice, **kw: object) -> Invoice:
    with db.tenant_uow(tenant.id) as uow:
        note = credit_notes.credit_invoice(uow, tenant.principal(), invoice.id, **kw)  # type: ignore[arg-type]
        uow.commit()
        return note


def test_an_invoice_splits_each_line_by_its_services_vat_rate(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant)
    inv = _issue(db, tenant, booked)
    assert re.fullmatch(r"INV-\d{4}-000001", inv.number)
    assert inv.status is InvoiceStatus.ISSUED
    assert inv.due_on is not None and (inv.due_on - inv.issued_on).days == 14
    with db.tenant_uow(tenant.id) as uow:
        lines = invoices.lines_of(uow, [inv.id])[inv.id]
        got = uow.session.get(Invoice, (tenant.id, inv.id))
        assert got is not None
        assert got.billing_name == "Erika Mustermann"
        assert "10115 Berlin" in (got.billing_address or "")
        assert got.seller_name and got.seller_name.startswith("Test ")
    by_rate = {line.vat_rate_bp: line for line in lines}
    assert by_rate[1900].gross_cents == 6000 and by_rate[1900].net_cents == 5042
    assert by_rate[700].gross_cents == 1070 and by_rate[700].net_cents == 1000
    assert inv.gross_cents == booked.total_cents == 7070
    assert inv.net_cents + inv.tax_cents == inv.gross_cents
    assert inv.tax_cents == 958 + 70
    with db.owner_engine.connect() as conn:  # the buyer is sealed in the table
        raw = conn.execute(
            sa.text("SELECT billing_name FROM commerce.invoices WHERE id = :i"), {"i": inv.id}
        ).scalar_one()
    assert b"Mustermann" not in bytes(raw)


def test_a_paid_booking_gets_a_paid_invoice_and_one_without_items_one_line(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant, paid_cents=7070)
    with db.owner_engine.begin() as conn:
        conn.execute(
            sa.text("SELECT set_config('tenantry.tenant_id', :t, true)"), {"t": str(tenant.id)}
        )
        conn.execute(
            sa.text("DELETE FROM commerce.booking_items WHERE booking_id = :b"),
            {"b": booked.booking_id},
        )
    inv = _issue(db, tenant, booked)
    assert inv.status is InvoiceStatus.PAID
    with db.tenant_uow(tenant.id) as uow:
        (line,) = invoices.lines_of(uow, [inv.id])[inv.id]
    assert line.gross_cents == 7070 and line.vat_rate_bp == invoices.DEFAULT_VAT_RATE_BP


def test_an_inquiry_is_not_invoiced_and_an_invoiced_booking_not_twice(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant)
    inv = _issue(db, tenant, booked)
    with pytest.raises(ConflictError, match="already has an invoice"):
        _issue(db, tenant, booked)
    _credit(db, tenant, inv)  # in full: now it may be invoiced again
    again = _issue(db, tenant, booked)
    assert again.number.endswith("-000002")
    analyst = tenant.principal(MembershipRole.ANALYST)
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        invoices.issue_invoice(uow, analyst, booked.booking_id)


def _parse(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


def test_numbers_are_gapless_and_unique_when_many_issue_at_once_and_some_roll_back(
    db: Database, tenant: TenantFixture
) -> None:
    targets = [booking(db, tenant) for _ in range(12)]
    rolled_back = {1, 4, 7, 10}
    start = threading.Barrier(len(targets))
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def issue(i: int, booked: Booked) -> None:
        try:
            start.wait()
            with db.tenant_uow(tenant.id) as uow:
                inv = invoices.issue_invoice(uow, tenant.principal(), booked.booking_id)
                if i in rolled_back:
                    uow.rollback()  # on purpose: its number must come back
                    return
                uow.commit()
                with lock:
                    numbers.append(inv.number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(i, b)) for i, b in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    kept = len(targets) - len(rolled_back)
    assert sorted(_parse(n) for n in numbers) == list(range(1, kept + 1))
    with db.tenant_uow(tenant.id) as uow:
        stored = uow.session.scalars(
            sa.select(Invoice.number).where(Invoice.kind == InvoiceKind.INVOICE)
        ).all()
    assert sorted(stored) == sorted(numbers)


STATEMENTS = [
    "UPDATE commerce.invoices SET gross_cents = gross_cents + 100, net_cents = net_cents + 100"
    " WHERE id = :i",
    "UPDATE commerce.invoices SET number = 'INV-X' WHERE id = :i",
    "UPDATE commerce.invoices SET issued_on = issued_on - 1 WHERE id = :i",
    "UPDATE commerce.invoices SET status = 'void' WHERE id = :i",
    "DELETE FROM commerce.invoices WHERE id = :i",
    "DELETE FROM commerce.invoice_lines WHERE invoice_id = :i",
    "UPDATE commerce.invoice_lines SET description = 'changed' WHERE invoice_id = :i",
    "INSERT INTO commerce.invoice_lines (tenant_id, id, invoice_id, position, description,"
    " quantity, unit_price_cents, vat_rate_bp, net_cents, tax_cents, gross_cents)"
    " SELECT tenant_id, gen_random_uuid(), invoice_id, 99, 'extra', 1, 1, 0, 1, 0, 1"
    " FROM commerce.invoice_lines WHERE invoice_id = :i LIMIT 1",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_the_database_refuses_to_change_an_issued_invoice_for_the_application(
    db: Database, tenant: TenantFixture, statement: str
) -> None:
    inv = _issue(db, tenant, booking(db, tenant))
    with pytest.raises(PermissionDeniedError, match="GoBD"), db.tenant_uow(tenant.id) as uow:
        uow.session.execute(sa.text(statement), {"i": inv.id})
    with db.tenant_uow(tenant.id) as uow:
        got = uow.session.get(Invoice, (tenant.id, inv.id))
        assert got is not None and got.number == inv.number and got.gross_cents == inv.gross_cents
        assert len(invoices.lines_of(uow, [inv.id])[inv.id]) == 2


def test_status_moves_only_from_issued_to_paid_and_the_owner_cannot_delete_either(
    db: Database, tenant: TenantFixture
) -> None:
    inv = _issue(db, tenant, booking(db, tenant))
    with db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            sa.text("UPDATE commerce.invoices SET status = 'paid' WHERE id = :i"), {"i": inv.id}
        )
        uow.commit()
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            sa.text("UPDATE commerce.invoices SET status = 'issued' WHERE id = :i"), {"i": inv.id}
        )
    with pytest.raises(PermissionDeniedError), db.platform_uow(tenant_id=tenant.id) as uow:
        uow.session.execute(sa.text("DELETE FROM commerce.invoices WHERE id = :i"), {"i": inv.id})


def test_the_counter_only_moves_forward_by_one(db: Database, tenant: TenantFixture) -> None:
    _issue(db, tenant, booking(db, tenant))
    for statement in (
        "UPDATE commerce.invoice_counters SET last_value = last_value - 1",
        "UPDATE commerce.invoice_counters SET last_value = last_value + 2",
        "DELETE FROM commerce.invoice_counters",
    ):
        with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
            uow.session.execute(sa.text(statement))


def test_retention_still_deletes_issued_invoices_after_eight_years(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    inv = _issue(clocked_db, tenant, booking(clocked_db, tenant))
    dpo = Principal(tenant_id=tenant.id, role=MembershipRole.DPO)
    clock.set(datetime(2035, 1, 2, tzinfo=UTC))  # 2026 + 8 full years
    outcome = {o.dataset: o for o in run_retention(clocked_db, dpo)}
    assert outcome["commerce.invoices"].affected == 1
    with clocked_db.tenant_uow(tenant.id) as uow:
        assert uow.session.get(Invoice, (tenant.id, inv.id)) is None
        assert invoices.lines_of(uow, [inv.id])[inv.id] == []


def test_credit_notes_never_exceed_the_invoice_and_cancel_it_exactly(
    db: Database, tenant: TenantFixture
) -> None:
    inv = _issue(db, tenant, booking(db, tenant))
    with db.tenant_uow(tenant.id) as uow:
        lines = invoices.lines_of(uow, [inv.id])[inv.id]
    with pytest.raises(ValidationError, match="exceeds"):
        _credit(db, tenant, inv, amount_cents=inv.gross_cents + 1)
    seven = next(line for line in lines if line.vat_rate_bp == 700)
    part = _credit(
        db, tenant, inv, lines=[credit_notes.CreditLine(seven.id, 500)], reason="late delivery"
    )
    assert part.kind is InvoiceKind.CREDIT_NOTE and part.credits_invoice_id == inv.id
    assert re.fullmatch(r"CN-\d{4}-000001", part.number)
    assert part.gross_cents == 500
    with pytest.raises(ValidationError, match="remains"):
        _credit(db, tenant, inv, lines=[credit_notes.CreditLine(seven.id, 571)])
    rest = _credit(db, tenant, inv)
    assert rest.number.endswith("-000002")
    assert part.gross_cents + rest.gross_cents == inv.gross_cents
    assert part.net_cents + rest.net_cents == inv.net_cents
    assert part.tax_cents + rest.tax_cents == inv.tax_cents
    with pytest.raises(ConflictError, match="in full"):
        _credit(db, tenant, inv, amount_cents=1)
    with pytest.raises(ConflictError, match="credit note"):
        _credit(db, tenant, rest)
    with db.tenant_uow(tenant.id) as uow:
        got = uow.session.get(Invoice, (tenant.id, inv.id))
        assert got is not None and credit_notes.creditable_cents(uow, got) == 0


def _page_text(pdf: bytes) -> bytes:
    """The decompressed content streams of a PDF (enough to find the text fpdf2 wrote)."""
    text = b""
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            text += zlib.decompress(match.group(1))
        except zlib.error:
            text += match.group(1)
    return text


def test_the_pdf_is_a_pdf_with_the_number_and_the_same_bytes_every_time(
    db: Database, tenant: TenantFixture
) -> None:
    inv = _issue(db, tenant, booking(db, tenant))
    note = _credit(db, tenant, inv, amount_cents=1000, reason="Kälte")
    with db.tenant_uow(tenant.id) as uow:
        got = uow.session.get(Invoice, (tenant.id, inv.id))
        credit = uow.session.get(Invoice, (tenant.id, note.id))
        assert got is not None and credit is not None
        lines = invoices.lines_of(uow, [got.id, credit.id])
        pdf = render_invoice_pdf(got, lines[got.id])
        again = render_invoice_pdf(got, lines[got.id])
        correction = Correction(got.number, got.issued_on.isoformat())
        credit_pdf = render_invoice_pdf(credit, lines[credit.id], correction)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert pdf == again
    text = _page_text(pdf)
    assert inv.number.encode() in text
    assert b"Erika Mustermann" in text and b"70.70 EUR" in text
    credit_text = _page_text(credit_pdf)
    assert (
        b"Credit note" in credit_text and f"Corrects invoice {inv.number}".encode() in credit_text
    )


def test_an_issued_invoice_becomes_paid_when_its_booking_is_paid(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant, deposit_cents=2000)
    inv = _issue(db, tenant, booked)
    assert inv.status is InvoiceStatus.ISSUED
    for kind, cents in ((PaymentKind.DEPOSIT, 2000), (PaymentKind.BALANCE, 5070)):
        with db.tenant_uow(tenant.id) as uow:
            bookings.record_payment(
                uow,
                tenant.principal(),
                booked.booking_id,
                kind=kind,
                method=PaymentMethod.SEPA,
                amount_cents=cents,
            )
            uow.commit()
        with db.tenant_uow(tenant.id) as uow:
            got = uow.session.get(Invoice, (tenant.id, inv.id))
            assert got is not None
            expected = InvoiceStatus.PAID if cents == 5070 else InvoiceStatus.ISSUED
            assert got.status is expected


def test_concurrent_credit_notes_cannot_overdraw_the_invoice(
    db: Database, tenant: TenantFixture
) -> None:
    inv = _issue(db, tenant, booking(db, tenant))
    start = threading.Barrier(3)
    outcomes: list[object] = []

    def credit() -> None:
        start.wait()
        try:
            outcomes.append(_credit(db, tenant, inv, amount_cents=3000))
        except ValidationError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=credit) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    notes = [o for o in outcomes if isinstance(o, Invoice)]
    assert len(outcomes) == 3 and len(notes) == 2  # 2 x 30.00 of 70.70; a third would overdraw
    with db.tenant_uow(tenant.id) as uow:
        got = uow.session.get(Invoice, (tenant.id, inv.id))
        assert got is not None and credit_notes.creditable_cents(uow, got) == 1070
