"""Credit notes: the only correction of an issued invoice (GoBD).

A credit note is an invoice of kind `credit_note` with its own number series
(`CN-<year>-<nnnnnn>`), naming the invoice it corrects; each of its lines names the invoice line
it credits. It takes everything that remains of the invoice, an amount (gross, taken from the
lines in their order) or amounts of named lines, and never more than remains of a line, so
the credit notes of an invoice never exceed it. A credit that takes the rest of a line takes
exactly the rest of its net and VAT: an invoice credited in full nets to zero in every figure.
The invoice is locked while it is credited, so concurrent credits cannot overdraw it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, ValidationError
from tenantry.models import Invoice, InvoiceLine, Tenant
from tenantry.models.enums import InvoiceKind, InvoiceStatus
from tenantry.payments.invoices import (
    get_invoice,
    issue_date,
    issue_draft,
    lines_of,
    next_number,
    split_gross,
)
from tenantry.services.principal import Action, Principal

__all__ = ["CreditLine", "credit_invoice", "creditable_cents"]


@dataclass(frozen=True)
class CreditLine:
    """Part of a credit note: `amount_cents` (gross) of the invoice line `line_id`."""

    line_id: uuid.UUID
    amount_cents: int


def _credited(uow: UnitOfWork, line_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
    """(gross, net) already credited per invoice line."""
    rows = uow.session.execute(
        sa.select(
            InvoiceLine.credits_line_id,
            sa.func.sum(InvoiceLine.gross_cents),
            sa.func.sum(InvoiceLine.net_cents),
        )
        .where(
            InvoiceLine.tenant_id == uow.require_tenant(),
            InvoiceLine.credits_line_id.in_(list(line_ids)),
        )
        .group_by(InvoiceLine.credits_line_id)
    )
    return {r[0]: (int(r[1]), int(r[2])) for r in rows if r[0] is not None}


def creditable_cents(uow: UnitOfWork, invoice: Invoice) -> int:
    """What credit notes may still take from the invoice (gross cents)."""
    lines = lines_of(uow, [invoice.id])[invoice.id]
    done = _credited(uow, [line.id for line in lines])
    return sum(line.gross_cents - done.get(line.id, (0, 0))[0] for line in lines)


def _allocate(
    lines: list[InvoiceLine],
    left: dict[uuid.UUID, int],
    amount_cents: int | None,
    parts: Sequence[CreditLine] | None,
) -> list[tuple[InvoiceLine, int]]:
    """(invoice line, gross to credit) per credited line."""
    if parts:
        by_id = {line.id: line for line in lines}
        wanted: dict[uuid.UUID, int] = {}
        for part in parts:
            if part.line_id not in by_id:
                raise ValidationError("a credited line is not a line of this invoice")
            if part.amount_cents <= 0:
                raise ValidationError("a credited amount must be positive")
            wanted[part.line_id] = wanted.get(part.line_id, 0) + part.amount_cents
        for line_id, cents in wanted.items():
            if cents > left[line_id]:
                raise ValidationError(
                    f"line {by_id[line_id].position}: the credit exceeds what remains of it"
                    f" ({left[line_id]} cents)"
                )
        return [(by_id[i], c) for i, c in wanted.items()]
    if amount_cents is None:
        return [(line, left[line.id]) for line in lines if left[line.id] > 0]
    if amount_cents <= 0:
        raise ValidationError("a credited amount must be positive")
    if amount_cents > sum(left.values()):
        raise ValidationError(
            f"the credit exceeds what remains creditable ({sum(left.values())} cents)"
        )
    chosen: list[tuple[InvoiceLine, int]] = []
    rest = amount_cents
    for line in lines:
        take = min(rest, left[line.id])
        if take > 0:
            chosen.append((line, take))
            rest -= take
    return chosen


def credit_invoice(
    uow: UnitOfWork,
    principal: Principal,
    invoice_id: uuid.UUID,
    *,
    amount_cents: int | None = None,
    lines: Sequence[CreditLine] | None = None,
    reason: str | None = None,
) -> Invoice:
    """Issue a credit note for the invoice: everything that remains (neither an amount nor
    lines), an amount (taken from the lines in order), or amounts of named lines."""
    principal.require(Action.WRITE_PAYMENTS, "issue credit notes")
    if amount_cents is not None and lines:
        raise ValidationError("give an amount or lines to credit, not both")
    invoice = get_invoice(uow, principal, invoice_id, for_update=True)
    if invoice.kind is not InvoiceKind.INVOICE:
        raise ConflictError("a credit note is not credited: issue a new invoice instead")
    if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
        raise ConflictError(f"an invoice in state {invoice.status.value} is not credited")
    originals = lines_of(uow, [invoice.id])[invoice.id]
    done = _credited(uow, [line.id for line in originals])
    left = {line.id: line.gross_cents - done.get(line.id, (0, 0))[0] for line in originals}
    if sum(left.values()) <= 0:
        raise ConflictError("this invoice has been credited in full")
    chosen = _allocate(originals, left, amount_cents, lines)
    tenant_id = uow.require_tenant()
    tenant = uow.session.get(Tenant, tenant_id)
    assert tenant is not None
    issued_on = max(issue_date(uow, tenant), invoice.issued_on)
    note = Invoice(
        tenant_id=tenant_id,
        id=uow.ids(),
        kind=InvoiceKind.CREDIT_NOTE,
        credits_invoice_id=invoice.id,
        booking_id=invoice.booking_id,
        customer_id=invoice.customer_id,
        number=next_number(uow, InvoiceKind.CREDIT_NOTE, issued_on.year),
        status=InvoiceStatus.DRAFT,
        issued_on=issued_on,
        due_on=None,
        net_cents=0,
        tax_cents=0,
        gross_cents=0,
        currency=invoice.currency,
        billing_name=invoice.billing_name,
        billing_address=invoice.billing_address,
        seller_name=invoice.seller_name,
        seller_vat_id=invoice.seller_vat_id,
        seller_register=invoice.seller_register,
        seller_address=invoice.seller_address,
        reason=reason,
    )
    uow.session.add(note)
    uow.flush()
    rows = []
    for position, (line, gross) in enumerate(chosen, start=1):
        credited_gross, credited_net = done.get(line.id, (0, 0))
        if gross == left[line.id]:  # the rest of the line: its figures cancel exactly
            net = line.net_cents - credited_net
            quantity, unit = (
                (line.quantity, line.unit_price_cents) if not credited_gross else (1, gross)
            )
        else:
            net = min(split_gross(gross, line.vat_rate_bp)[0], line.net_cents - credited_net)
            quantity, unit = 1, gross
        rows.append(
            InvoiceLine(
                tenant_id=tenant_id,
                id=uow.ids(),
                invoice_id=note.id,
                position=position,
                service_id=line.service_id,
                credits_line_id=line.id,
                description=line.description,
                quantity=quantity,
                unit_price_cents=unit,
                vat_rate_bp=line.vat_rate_bp,
                net_cents=net,
                tax_cents=gross - net,
                gross_cents=gross,
            )
        )
    issue_draft(uow, note, rows, InvoiceStatus.ISSUED)
    return note
