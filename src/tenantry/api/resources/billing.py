"""`/v1/invoices` (with credit notes and the PDF), refunds of payments, and `/v1/coupons`.

The rules are `tenantry.payments`' (invoices, refunds, coupons); this module only maps HTTP to
them. Issuing, crediting, refunding and coupons need the `write_payments` permission; reads
follow the record kinds of `tenantry.services.records` (a location-scoped principal sees the
invoices and coupons of its locations' bookings). A coupon's code is in the response that
issues it and nowhere else: a replay of that request (same Idempotency-Key) omits it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenantry.api.deps import (
    CtxDep,
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    json_response,
)
from tenantry.api.idempotency import Written
from tenantry.api.resources.commerce import PaymentOut
from tenantry.api.resources.common import (
    ERRORS,
    Cents,
    IdempotencyKey,
    In,
    Integer,
    Out,
    get_one,
    list_page,
    tagged,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models import Invoice, InvoiceLine
from tenantry.models.enums import CouponStatus, InvoiceKind, InvoiceStatus
from tenantry.payments import coupons, credit_notes, invoices, refunds
from tenantry.payments.invoice_pdf import Correction, render_invoice_pdf
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, get_record

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    position: int
    service_id: uuid.UUID | None
    credits_line_id: uuid.UUID | None
    description: str
    quantity: int
    unit_price_cents: int
    vat_rate_bp: int
    net_cents: int
    tax_cents: int
    gross_cents: int


class InvoiceOut(Out):
    kind: InvoiceKind
    number: str
    status: InvoiceStatus
    booking_id: uuid.UUID | None
    customer_id: uuid.UUID
    credits_invoice_id: uuid.UUID | None
    issued_on: date
    due_on: date | None
    net_cents: int
    tax_cents: int
    gross_cents: int
    currency: str
    seller_name: str | None
    seller_vat_id: str | None
    seller_register: str | None
    seller_address: str | None
    billing_name: str | None
    billing_address: str | None
    reason: str | None
    lines: list[InvoiceLineOut]


class InvoiceIn(In):
    due_in_days: Integer = Field(default=invoices.PAYMENT_TERM_DAYS, ge=0, le=365)
    default_vat_rate_bp: Integer = Field(default=invoices.DEFAULT_VAT_RATE_BP, ge=0, le=10_000)


class CreditLineIn(In):
    invoice_line_id: uuid.UUID
    amount_cents: Cents = Field(ge=1)


class CreditNoteIn(In):
    amount_cents: Cents | None = Field(default=None, ge=1)
    lines: list[CreditLineIn] | None = Field(default=None, min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=200)


class RefundIn(In):
    amount_cents: Cents = Field(ge=1)
    reason: str | None = Field(default=None, max_length=200)


class RefundOut(PaymentOut):
    refund_of_payment_id: uuid.UUID | None
    refund_reason: str | None


class CouponIn(In):
    review_id: uuid.UUID
    amount_cents: Cents | None = Field(default=None, ge=1)


class CouponOut(Out):
    review_id: uuid.UUID
    customer_id: uuid.UUID
    booking_id: uuid.UUID
    amount_cents: int
    currency: str
    status: CouponStatus
    issued_by: str
    redeemed_booking_id: uuid.UUID | None
    redeemed_payment_id: uuid.UUID | None
    redeemed_cents: int | None
    redeemed_at: datetime | None


class IssuedCouponOut(CouponOut):
    code: str | None = Field(
        description="The code to give the customer: shown once, in this response only."
    )


class RedeemIn(In):
    code: str = Field(min_length=1, max_length=40)
    booking_id: uuid.UUID


class RedemptionOut(BaseModel):
    coupon: CouponOut
    payment: PaymentOut


def _invoice_outs(uow: UnitOfWork, rows: list[Invoice]) -> list[InvoiceOut]:
    lines = invoices.lines_of(uow, [r.id for r in rows])
    fields = [k for k in InvoiceOut.model_fields if k != "lines"]
    return [
        InvoiceOut(
            **{k: getattr(r, k) for k in fields},
            lines=[InvoiceLineOut.model_validate(x) for x in lines[r.id]],
        )
        for r in rows
    ]


def _render_invoice(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    return _invoice_outs(uow, [invoices.get_invoice(uow, principal, id_)])[0]


def _render_refund(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    return RefundOut.model_validate(get_record(uow, principal, KINDS["payment"], id_))


# -- invoices ----------------------------------------------------------------------------


@router.post(
    "/bookings/{booking_id}/invoices",
    status_code=201,
    response_model=InvoiceOut,
    tags=["invoices"],
    summary="Issue the booking's invoice (gapless number; immutable once issued)",
)
def post_invoice(
    booking_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    body: InvoiceIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    given = body or InvoiceIn()

    def run(uow: UnitOfWork) -> Written:
        inv = invoices.issue_invoice(uow, ctx.principal, booking_id, **given.model_dump())
        return Written(201, _invoice_outs(uow, [inv])[0], "invoice", inv.id)

    return write(ctx, request, given, idempotency_key, run)


@router.get(
    "/invoices", response_model=Page[InvoiceOut], tags=["invoices"], summary="List invoices"
)
def list_invoices(
    ctx: CtxDep,
    booking_id: Annotated[uuid.UUID | None, Query()] = None,
    kind: Annotated[InvoiceKind | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        rows = list(
            invoices.list_invoices(
                uow, ctx.principal, booking_id=booking_id, kind=kind, after=after, limit=limit + 1
            )
        )
        visible = rows[:limit]
        items = _invoice_outs(uow, visible)
    more = len(rows) > limit
    next_cursor = encode_cursor(visible[-1].id) if more else None
    return json_response(Page[InvoiceOut](items=items, next_cursor=next_cursor))


@router.get(
    "/invoices/{invoice_id}",
    response_model=InvoiceOut,
    tags=["invoices"],
    summary="Get an invoice or credit note with its lines",
)
def get_invoice(invoice_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = _render_invoice(uow, ctx.principal, invoice_id)
    return tagged(body)


@router.get(
    "/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The printable PDF"}},
    tags=["invoices"],
    summary="The invoice or credit note as a PDF",
)
def get_invoice_pdf(invoice_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        inv = invoices.get_invoice(uow, ctx.principal, invoice_id)
        lines: list[InvoiceLine] = invoices.lines_of(uow, [inv.id])[inv.id]
        correction = None
        if inv.credits_invoice_id is not None:
            original = uow.session.get(Invoice, (inv.tenant_id, inv.credits_invoice_id))
            if original is not None:
                correction = Correction(original.number, original.issued_on.isoformat())
        content = render_invoice_pdf(inv, lines, correction)
        name = f"{inv.number}.pdf"
    return Response(
        content=content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    status_code=201,
    response_model=InvoiceOut,
    tags=["invoices"],
    summary="Correct an invoice by a credit note (in full, by amount or by lines)",
)
def post_credit_note(
    invoice_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    body: CreditNoteIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    given = body or CreditNoteIn()

    def run(uow: UnitOfWork) -> Written:
        parts = [
            credit_notes.CreditLine(p.invoice_line_id, p.amount_cents) for p in given.lines or ()
        ]
        note = credit_notes.credit_invoice(
            uow,
            ctx.principal,
            invoice_id,
            amount_cents=given.amount_cents,
            lines=parts,
            reason=given.reason,
        )
        return Written(201, _invoice_outs(uow, [note])[0], "invoice", note.id)

    return write(ctx, request, given, idempotency_key, run)


# -- refunds -----------------------------------------------------------------------------


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    tags=["payments"],
    summary="Refund (part of) a payment through the booking's ledger",
)
def post_refund(
    payment_id: uuid.UUID,
    body: RefundIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        refund, _booking = refunds.refund_payment(
            uow, ctx.principal, payment_id, amount_cents=body.amount_cents, reason=body.reason
        )
        return Written(201, RefundOut.model_validate(refund), "refund", refund.id)

    return write(ctx, request, body, idempotency_key, run)


# -- coupons -----------------------------------------------------------------------------


@router.post(
    "/coupons",
    status_code=201,
    response_model=IssuedCouponOut,
    tags=["coupons"],
    summary="Issue a review coupon for a complaint (capped; the code is shown once)",
)
def post_coupon(
    body: CouponIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        issued = coupons.issue_coupon(
            uow, ctx.principal, body.review_id, amount_cents=body.amount_cents
        )
        plain = CouponOut.model_validate(issued.coupon).model_dump()
        out = IssuedCouponOut(**plain, code=issued.code)
        return Written(201, out, stored=out.model_copy(update={"code": None}))

    return write(ctx, request, body, idempotency_key, run)


@router.get("/coupons", response_model=Page[CouponOut], tags=["coupons"], summary="List coupons")
async def list_coupons(
    ctx: CtxDep,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[CouponStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"customer_id": customer_id, "status": status}
    return await list_page(ctx, "coupon", CouponOut, filters, cursor, limit)


@router.get(
    "/coupons/{coupon_id}", response_model=CouponOut, tags=["coupons"], summary="Get a coupon"
)
async def get_coupon(coupon_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "coupon", CouponOut, coupon_id)


@router.post(
    "/coupons/redeem",
    response_model=RedemptionOut,
    tags=["coupons"],
    summary="Redeem a coupon against a booking of its customer (once)",
)
def redeem_coupon(
    body: RedeemIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        coupon, payment = coupons.redeem_coupon(uow, ctx.principal, body.code, body.booking_id)
        out = RedemptionOut(
            coupon=CouponOut.model_validate(coupon), payment=PaymentOut.model_validate(payment)
        )
        return Written(200, out)

    return write(ctx, request, body, idempotency_key, run)


RENDERERS = {"invoice": _render_invoice, "refund": _render_refund}
