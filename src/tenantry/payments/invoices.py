"""Invoices: issued from a booking, numbered without gaps, never changed.

An invoice is issued from a booking: one line per booking item (or one line for the booking's
total when it has no items), each at the VAT rate of its catalog service (lines without a
service at `DEFAULT_VAT_RATE_BP` unless the caller names another rate). Prices are gross (VAT
included, as the customer pays them); a line's net and VAT are split from its gross, rounded
half up to the cent. The seller is the tenant (legal name, VAT id, commercial register) at the
address of the booking's location, the buyer the booking's customer (company or full name and
address, sealed as the customer's personal data), both as they were on the day of issue.

Numbers: `INV-<year>-<nnnnnn>` for invoices, `CN-<year>-<nnnnnn>` for credit notes, each
series per tenant and calendar year (the tenant's time zone) counting from 1. The counter row
of the series is incremented in the issuing transaction and stays locked until it commits, so
a rolled-back issue leaves no gap and two concurrent issues never share a number.

Once issued nothing changes (GoBD; a database trigger refuses it for every role): only the
status may step from issued to paid. Corrections are credit notes: each names the invoice it
corrects and credits some or all of what remains of its lines; together they never exceed the
invoice (`credit_notes`). A booking holds one invoice at a time: another is issued only once
the earlier ones are fully credited. This module does no rendering (see `invoice_pdf`) and no
HTTP or CLI work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, NotFoundError, ValidationError
from tenantry.models import (
    Booking,
    Customer,
    Invoice,
    InvoiceLine,
    Location,
    Service,
    Tenant,
)
from tenantry.models.enums import BookingStatus, InvoiceKind, InvoiceStatus
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record, list_records

__all__ = [
    "DEFAULT_VAT_RATE_BP",
    "PAYMENT_TERM_DAYS",
    "get_invoice",
    "issue_date",
    "issue_draft",
    "issue_invoice",
    "lines_of",
    "list_invoices",
    "next_number",
    "settle_invoices",
    "settle_invoices_of",
    "split_gross",
]

DEFAULT_VAT_RATE_BP = 1900  # the German standard rate, for lines without a catalog service
PAYMENT_TERM_DAYS = 14
PREFIXES = {InvoiceKind.INVOICE: "INV", InvoiceKind.CREDIT_NOTE: "CN"}
# A booking is invoiced once it is agreed (not an inquiry) and not called off unpaid.
INVOICEABLE = frozenset(
    {
        BookingStatus.CONFIRMED,
        BookingStatus.DEPOSIT_PAID,
        BookingStatus.PAID,
        BookingStatus.FULFILLED,
        BookingStatus.REVIEWED,
        BookingStatus.NO_SHOW,
    }
)


def split_gross(gross_cents: int, vat_rate_bp: int) -> tuple[int, int]:
    """(net, VAT) of a gross amount at a rate in basis points, net rounded half up."""
    divisor = 10_000 + vat_rate_bp
    net = (2 * gross_cents * 10_000 + divisor) // (2 * divisor)
    return net, gross_cents - net


def next_number(uow: UnitOfWork, kind: InvoiceKind, year: int) -> str:
    """The next number of the tenant's series for `year`, held until the transaction ends."""
    value = uow.session.scalar(
        sa.text(
            "INSERT INTO commerce.invoice_counters (tenant_id, id, series, year, last_value)"
            " VALUES (:t, :id, :series, :year, 1)"
            " ON CONFLICT (tenant_id, series, year) DO UPDATE"
            " SET last_value = commerce.invoice_counters.last_value + 1, updated_at = now()"
            " RETURNING last_value"
        ),
        {"t": uow.require_tenant(), "id": uow.ids(), "series": kind.value, "year": year},
    )
    assert isinstance(value, int)
    return f"{PREFIXES[kind]}-{year}-{value:06d}"


def issue_date(uow: UnitOfWork, tenant: Tenant) -> date:
    """Today in the tenant's time zone: the date of issue, and the year of its number."""
    return uow.clock.now().astimezone(ZoneInfo(tenant.timezone)).date()


def _seller_address(location: Location | None) -> str | None:
    if location is None:
        return None
    street = " ".join(p for p in (location.street, location.house_number) if p)
    city = " ".join(p for p in (location.postal_code, location.city) if p)
    parts = [location.name, street, city, location.country]
    return "\n".join(p for p in parts if p) or None


def _buyer(customer: Customer) -> tuple[str | None, str | None]:
    full = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    name = customer.company_name or full or None
    if customer.company_name and full:
        name = f"{customer.company_name}\n{full}"
    city = " ".join(p for p in (customer.postal_code, customer.city) if p)
    address = "\n".join(p for p in (customer.street, city, customer.country) if p) or None
    return name, address


def _open_invoices_cents(uow: UnitOfWork, booking_id: uuid.UUID) -> int:
    """What the booking's invoices bill, net of their credit notes (gross cents)."""
    tenant = uow.require_tenant()
    credited = (
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.gross_cents), 0))
        .where(Invoice.tenant_id == tenant, Invoice.booking_id == booking_id)
        .where(Invoice.kind == InvoiceKind.CREDIT_NOTE)
        .scalar_subquery()
    )
    billed = (
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.gross_cents), 0))
        .where(Invoice.tenant_id == tenant, Invoice.booking_id == booking_id)
        .where(Invoice.kind == InvoiceKind.INVOICE, Invoice.status != InvoiceStatus.DRAFT)
        .scalar_subquery()
    )
    return int(uow.session.scalar(sa.select(billed - credited)) or 0)


def _booking_lines(
    uow: UnitOfWork, booking: Booking, default_rate: int
) -> list[tuple[uuid.UUID | None, str, int, int, int]]:
    """(service, description, quantity, unit gross, VAT rate) per line of the invoice."""
    items = uow.repos.bookings.items(booking.id)
    if not items:
        when = booking.starts_at.date().isoformat()
        text = f"{booking.kind.value.replace('_', ' ').capitalize()} on {when}"
        return [(None, text, 1, booking.total_cents, default_rate)]
    ids = {i.service_id for i in items if i.service_id is not None}
    rates: dict[uuid.UUID, int] = {}
    if ids:
        rows = uow.session.execute(
            sa.select(Service.id, Service.vat_rate_bp).where(
                Service.tenant_id == uow.require_tenant(), Service.id.in_(ids)
            )
        )
        rates = {r.id: r.vat_rate_bp for r in rows}
    return [
        (
            i.service_id,
            i.description,
            i.quantity,
            i.unit_price_cents,
            rates.get(i.service_id, default_rate) if i.service_id else default_rate,
        )
        for i in items
    ]


def _paid_status(uow: UnitOfWork, booking: Booking, gross: int) -> InvoiceStatus:
    paid = uow.repos.payments.paid_cents(booking.id)
    return InvoiceStatus.PAID if paid >= gross else InvoiceStatus.ISSUED


def issue_invoice(
    uow: UnitOfWork,
    principal: Principal,
    booking_id: uuid.UUID,
    *,
    due_in_days: int = PAYMENT_TERM_DAYS,
    default_vat_rate_bp: int = DEFAULT_VAT_RATE_BP,
) -> Invoice:
    """Issue the booking's invoice (see the module doc); paid at once if the booking is."""
    principal.require(Action.WRITE_PAYMENTS, "issue invoices")
    if not 0 <= due_in_days <= 365:
        raise ValidationError("the payment term must be between 0 and 365 days")
    if not 0 <= default_vat_rate_bp <= 10_000:
        raise ValidationError("a VAT rate must be between 0 and 10000 basis points")
    booking = uow.repos.bookings.get(booking_id, for_update=True)
    principal.require_location(booking.location_id, "booking")
    if booking.status not in INVOICEABLE:
        raise ConflictError(f"a booking in state {booking.status.value} is not invoiced")
    if _open_invoices_cents(uow, booking.id) > 0:
        raise ConflictError(
            "this booking already has an invoice: credit it in full before issuing another"
        )
    lines = _booking_lines(uow, booking, default_vat_rate_bp)
    if sum(q * unit for _s, _d, q, unit, _r in lines) <= 0:
        raise ValidationError("the booking has nothing to invoice (its total is zero)")
    tenant_id = uow.require_tenant()
    tenant = uow.session.get(Tenant, tenant_id)
    customer = uow.session.get(Customer, (tenant_id, booking.customer_id))
    if tenant is None or customer is None:
        raise NotFoundError("the booking's customer or tenant is missing")
    location = uow.session.get(Location, (tenant_id, booking.location_id))
    issued_on = issue_date(uow, tenant)
    name, address = _buyer(customer)
    invoice = Invoice(
        tenant_id=tenant_id,
        id=uow.ids(),
        kind=InvoiceKind.INVOICE,
        booking_id=booking.id,
        customer_id=booking.customer_id,
        number=next_number(uow, InvoiceKind.INVOICE, issued_on.year),
        status=InvoiceStatus.DRAFT,
        issued_on=issued_on,
        due_on=issued_on + timedelta(days=due_in_days),
        net_cents=0,
        tax_cents=0,
        gross_cents=0,
        currency=booking.currency,
        billing_name=name,
        billing_address=address,
        seller_name=tenant.legal_name,
        seller_vat_id=tenant.vat_id,
        seller_register=tenant.commercial_register,
        seller_address=_seller_address(location),
    )
    uow.session.add(invoice)
    uow.flush()
    rows = []
    for position, (service_id, text, quantity, unit, rate) in enumerate(lines, start=1):
        net, tax = split_gross(quantity * unit, rate)
        rows.append(
            InvoiceLine(
                tenant_id=tenant_id,
                id=uow.ids(),
                invoice_id=invoice.id,
                position=position,
                service_id=service_id,
                description=text[:200],
                quantity=quantity,
                unit_price_cents=unit,
                vat_rate_bp=rate,
                net_cents=net,
                tax_cents=tax,
                gross_cents=net + tax,
            )
        )
    issue_draft(uow, invoice, rows, _paid_status(uow, booking, sum(r.gross_cents for r in rows)))
    return invoice


def issue_draft(
    uow: UnitOfWork, invoice: Invoice, rows: list[InvoiceLine], status: InvoiceStatus
) -> None:
    """Add the lines to the draft, then issue it: after this nothing of it changes."""
    uow.session.add_all(rows)
    uow.flush()
    invoice.net_cents = sum(r.net_cents for r in rows)
    invoice.tax_cents = sum(r.tax_cents for r in rows)
    invoice.gross_cents = sum(r.gross_cents for r in rows)
    invoice.status = status
    invoice.updated_at = uow.clock.now()
    uow.flush()


def lines_of(
    uow: UnitOfWork, invoice_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[InvoiceLine]]:
    """The lines of each invoice, in position order (one query for all)."""
    found: dict[uuid.UUID, list[InvoiceLine]] = {i: [] for i in invoice_ids}
    if invoice_ids:
        rows = uow.session.scalars(
            sa.select(InvoiceLine)
            .where(
                InvoiceLine.tenant_id == uow.require_tenant(),
                InvoiceLine.invoice_id.in_(list(invoice_ids)),
            )
            .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
        )
        for line in rows:
            found[line.invoice_id].append(line)
    return found


def get_invoice(
    uow: UnitOfWork, principal: Principal, invoice_id: uuid.UUID, *, for_update: bool = False
) -> Invoice:
    invoice: Invoice = get_record(
        uow, principal, KINDS["invoice"], invoice_id, for_update=for_update
    )
    return invoice


def list_invoices(
    uow: UnitOfWork,
    principal: Principal,
    *,
    booking_id: uuid.UUID | None = None,
    kind: InvoiceKind | None = None,
    after: uuid.UUID | None = None,
    limit: int = 50,
) -> Sequence[Invoice]:
    where = {"booking_id": booking_id, "kind": kind}
    return list_records(uow, principal, KINDS["invoice"], where=where, after=after, limit=limit)


def settle_invoices(uow: UnitOfWork, booking_id: uuid.UUID, paid_cents: int) -> int:
    """Mark the booking's issued invoices paid once what was paid for it covers them (the one
    change an issued invoice allows); returns how many."""
    result = uow.session.execute(
        sa.update(Invoice)
        .where(
            Invoice.tenant_id == uow.require_tenant(),
            Invoice.booking_id == booking_id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.gross_cents <= paid_cents,
        )
        .values(status=InvoiceStatus.PAID, updated_at=uow.clock.now())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def settle_invoices_of(uow: UnitOfWork, paid: Mapping[uuid.UUID, int]) -> int:
    """`settle_invoices` for many bookings at once (booking id -> what was paid for it)."""
    if not paid:
        return 0
    result = uow.session.execute(
        sa.text(
            "UPDATE commerce.invoices i SET status = 'paid', updated_at = :now"
            " FROM unnest(CAST(:ids AS uuid[]), CAST(:paid AS bigint[])) AS v(booking_id, paid)"
            " WHERE i.tenant_id = :tenant AND i.booking_id = v.booking_id"
            " AND i.kind = 'invoice' AND i.status = 'issued' AND i.gross_cents <= v.paid"
        ),
        {
            "now": uow.clock.now(),
            "ids": list(paid),
            "paid": list(paid.values()),
            "tenant": uow.require_tenant(),
        },
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
