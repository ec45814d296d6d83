"""`tenantry invoices issue|list|show|pdf|credit`, `tenantry coupons issue|list|redeem` and the
`refund` command (`tenantry payments refund PAYMENT_ID --amount 12.50`).

Commands act as the tenant's owner through the services the API uses (`tenantry.payments`).
Amounts are given in the currency's units (`12.50`), at most two decimals. The buyer's name
and address are personal data: `invoices show` masks them unless `--reveal` is given. A
coupon's code is printed once, by `coupons issue`, and cannot be shown again.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import typer

from tenantry.api.resources.billing import CouponOut, InvoiceOut, RefundOut
from tenantry.api.resources.common import etag_of
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.edits import mask, print_record
from tenantry.cli.locations import operator
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, money, tenant_option, uuid_value
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import Invoice
from tenantry.models.enums import CouponStatus, InvoiceKind
from tenantry.payments import coupons, credit_notes, invoices, refunds
from tenantry.payments.invoice_pdf import Correction, render_invoice_pdf

__all__ = ["coupons_app", "invoices_app", "refund"]

invoices_app = typer.Typer(help="Invoices and credit notes (GoBD: immutable once issued).")
coupons_app = typer.Typer(help="Review coupons for customers' complaints (seed 004).")


def credit_part(value: str) -> str:
    """LINE_ID=AMOUNT: an invoice line's id and the amount to credit of it."""
    line, sep, amount = value.partition("=")
    if not sep:
        raise typer.BadParameter("must be LINE_ID=AMOUNT, such as 0190...=12.50")
    uuid_value(line.strip())
    money(amount)
    return value


def coupon_code(value: str) -> str:
    """A coupon code as the customer has it (ABCD-EFGH-JKMN-PQRS; case and hyphens free)."""
    try:
        return coupons.normalise_code(value)
    except ValidationError as exc:
        raise typer.BadParameter(exc.message) from None


def _cents(amount: Decimal | None) -> int | None:
    return None if amount is None else int(amount * 100)


def _invoice_out(uow: UnitOfWork, invoice: Invoice) -> InvoiceOut:
    lines = invoices.lines_of(uow, [invoice.id])[invoice.id]
    fields = [k for k in InvoiceOut.model_fields if k != "lines"]
    return InvoiceOut.model_validate(
        {**{k: getattr(invoice, k) for k in fields}, "lines": lines}, from_attributes=True
    )


def _summary(out: InvoiceOut) -> str:
    cents = f"{out.gross_cents / 100:.2f} {out.currency}"
    return f"{out.kind.value} {out.number} ({out.status.value}, {cents}): {out.id}"


@invoices_app.command("issue")
def issue(
    booking: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The booking's id."),
    tenant: str = tenant_option(),
    due_days: int = typer.Option(
        invoices.PAYMENT_TERM_DAYS, "--due-days", min=0, max=365, help="Days until it is due."
    ),
    vat_rate: int = typer.Option(
        invoices.DEFAULT_VAT_RATE_BP,
        "--vat-rate",
        min=0,
        max=10_000,
        help="VAT rate (basis points) of lines without a catalog service.",
    ),
) -> None:
    """Issue the booking's invoice with the next number of the tenant's series."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            inv = invoices.issue_invoice(
                uow,
                operator(tenant_id),
                booking,
                due_in_days=due_days,
                default_vat_rate_bp=vat_rate,
            )
            out = _invoice_out(uow, inv)
            uow.commit()
    print(f"issued {_summary(out)}")


@invoices_app.command("list")
def list_(
    tenant: str = tenant_option(),
    booking: uuid.UUID | None = typer.Option(
        None, "--booking", parser=uuid_value, help="Only this booking's invoices."
    ),
    kind: InvoiceKind | None = typer.Option(None, "--kind", help="invoice or credit_note."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    fmt: OutputFormat = format_option(),
) -> None:
    """List the tenant's invoices and credit notes, oldest first."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            rows = invoices.list_invoices(
                uow, operator(tenant_id), booking_id=booking, kind=kind, limit=limit
            )
            outs = [_invoice_out(uow, r) for r in rows]
    if fmt is OutputFormat.JSON:
        print_json(
            [o.model_dump(mode="json", exclude={"billing_name", "billing_address"}) for o in outs]
        )
        return
    t = table("number", "kind", "status", "issued", "gross", "id", right=("gross",))
    for o in outs:
        gross = f"{o.gross_cents / 100:.2f} {o.currency}"
        t.add_row(o.number, o.kind.value, o.status.value, o.issued_on.isoformat(), gross, str(o.id))
    show(t)


@invoices_app.command("show")
def show_(
    invoice: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The invoice's id."),
    tenant: str = tenant_option(),
    reveal: bool = typer.Option(
        False, "--reveal", help="Print the buyer's name and address (masked by default)."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """Show an invoice or credit note with its lines (the buyer masked unless revealed)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            out = _invoice_out(uow, invoices.get_invoice(uow, operator(tenant_id), invoice))
    data = out.model_dump(mode="json")
    if not reveal:
        data["billing_name"] = mask(data["billing_name"], "name")
        data["billing_address"] = mask(data["billing_address"], "address")
    print_record(data, etag_of(out), fmt, "Invoice")


@invoices_app.command("pdf")
def pdf(
    invoice: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The invoice's id."),
    tenant: str = tenant_option(),
    out: Path = typer.Option(..., "--out", help="The PDF file to write.", dir_okay=False),
) -> None:
    """Write the printable PDF of an invoice or credit note."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            inv = invoices.get_invoice(uow, operator(tenant_id), invoice)
            lines = invoices.lines_of(uow, [inv.id])[inv.id]
            correction = None
            if inv.credits_invoice_id is not None:
                original = invoices.get_invoice(uow, operator(tenant_id), inv.credits_invoice_id)
                correction = Correction(original.number, original.issued_on.isoformat())
            content = render_invoice_pdf(inv, lines, correction)
            number = inv.number
    try:
        out.write_bytes(content)
    except OSError as exc:
        raise ValidationError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {number} to {out} ({len(content)} bytes)")


@invoices_app.command("credit")
def credit(
    invoice: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The invoice's id."),
    tenant: str = tenant_option(),
    amount: Decimal | None = typer.Option(
        None, "--amount", parser=money, help="Credit this much (taken from the lines in order)."
    ),
    lines: list[str] = typer.Option(
        [], "--line", parser=credit_part, metavar="LINE_ID=AMOUNT", help="Credit part of a line."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (printed on the credit note)."),
) -> None:
    """Correct an invoice by a credit note: all that remains unless --amount or --line say."""
    parts = []
    for value in lines:
        line, _sep, cents = value.partition("=")
        parts.append(credit_notes.CreditLine(uuid.UUID(line.strip()), int(money(cents) * 100)))
    if reason is not None and len(reason) > 200:
        raise ValidationError("a reason has at most 200 characters")
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            note = credit_notes.credit_invoice(
                uow,
                operator(tenant_id),
                invoice,
                amount_cents=_cents(amount),
                lines=parts,
                reason=reason,
            )
            out = _invoice_out(uow, note)
            uow.commit()
    print(f"issued {_summary(out)}")


def refund(
    payment: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The payment's id."),
    tenant: str = tenant_option(),
    amount: Decimal = typer.Option(..., "--amount", parser=money, help="How much, e.g. 12.50."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept with the refund)."),
) -> None:
    """Refund (part of) a payment; the booking's paid amount drops with it."""
    if reason is not None and len(reason) > 200:
        raise ValidationError("a reason has at most 200 characters")
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            made, booking = refunds.refund_payment(
                uow, operator(tenant_id), payment, amount_cents=int(amount * 100), reason=reason
            )
            out = RefundOut.model_validate(made)
            status = booking.status.value
            uow.commit()
    print(f"refunded {out.amount_cents / 100:.2f} {out.currency}: {out.id} (booking {status})")


@coupons_app.command("issue")
def issue_coupon(
    review: uuid.UUID = typer.Option(..., "--review", parser=uuid_value, help="The review's id."),
    tenant: str = tenant_option(),
    amount: Decimal | None = typer.Option(
        None, "--amount", parser=money, help="Its value (default and maximum: the cap)."
    ),
) -> None:
    """Issue the coupon for a complaint and print its code (shown this once only)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            issued = coupons.issue_coupon(
                uow, operator(tenant_id), review, amount_cents=_cents(amount)
            )
            out = CouponOut.model_validate(issued.coupon)
            uow.commit()
    typer.echo(
        f"coupon {out.id}: {out.amount_cents / 100:.2f} {out.currency}; the code (shown once):",
        err=True,
    )
    print(issued.code)


@coupons_app.command("list")
def list_coupons(
    tenant: str = tenant_option(),
    customer: uuid.UUID | None = typer.Option(
        None, "--customer", parser=uuid_value, help="Only this customer's coupons."
    ),
    status: CouponStatus | None = typer.Option(None, "--status", help="issued or redeemed."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    fmt: OutputFormat = format_option(),
) -> None:
    """List the tenant's coupons (never their codes)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            rows = coupons.list_coupons(
                uow, operator(tenant_id), customer_id=customer, status=status, limit=limit
            )
            outs = [CouponOut.model_validate(r) for r in rows]
    if fmt is OutputFormat.JSON:
        print_json([o.model_dump(mode="json") for o in outs])
        return
    t = table("id", "status", "amount", "review", "redeemed", right=("amount",))
    for o in outs:
        redeemed = "" if o.redeemed_cents is None else f"{o.redeemed_cents / 100:.2f}"
        t.add_row(
            str(o.id),
            o.status.value,
            f"{o.amount_cents / 100:.2f} {o.currency}",
            str(o.review_id),
            redeemed,
        )
    show(t)


@coupons_app.command("redeem")
def redeem(
    code: str = typer.Argument(..., parser=coupon_code, help="The code the customer has."),
    tenant: str = tenant_option(),
    booking: uuid.UUID = typer.Option(
        ..., "--booking", parser=uuid_value, help="The customer's booking it pays toward."
    ),
) -> None:
    """Redeem a coupon (once) against a booking of the customer it was issued to."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            coupon, payment = coupons.redeem_coupon(uow, operator(tenant_id), code, booking)
            cents, currency, payment_id = coupon.redeemed_cents or 0, coupon.currency, payment.id
            uow.commit()
    print(f"redeemed {cents / 100:.2f} {currency} against booking {booking}: payment {payment_id}")
