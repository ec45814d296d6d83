"""`/v1/services`, `/v1/bookings` (with lifecycle actions and payments) and `/v1/payments`.

Booking transitions are explicit POST actions checked by the booking lifecycle state machine;
`deposit_paid` and `paid` are reached only by recording payments.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
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
from tenantry.api.keyset import decode_keyset, encode_keyset
from tenantry.api.resources.common import (
    ERRORS,
    Cents,
    IdempotencyKey,
    In,
    Instant,
    Integer,
    Out,
    get_one,
    list_page,
    renderer,
    tagged,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import Booking, BookingItem
from tenantry.models.enums import (
    BookingKind,
    BookingStatus,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    ServiceKind,
)
from tenantry.services import bookings as svc
from tenantry.services.dashboard import bookings_between
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, get_record, list_records
from tenantry.services.resources import create_service

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)
_CURRENCY = r"^[A-Z]{3}$"


class ServiceIn(In):
    location_id: uuid.UUID | None = None
    kind: ServiceKind
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, max_length=100)
    price_cents: Cents
    currency: str = Field(default="EUR", pattern=_CURRENCY)
    vat_rate_bp: Integer = Field(default=1900, ge=0, le=10_000)
    duration_minutes: Integer | None = Field(default=None, ge=1, le=100_000)


class ServiceOut(Out):
    location_id: uuid.UUID | None
    kind: ServiceKind
    name: str
    description: str | None
    category: str | None
    price_cents: int
    currency: str
    vat_rate_bp: int
    duration_minutes: int | None
    is_active: bool


class ItemIn(In):
    quantity: Integer = Field(ge=1, le=100_000)
    service_id: uuid.UUID | None = None
    description: str | None = Field(default=None, max_length=200)
    unit_price_cents: Cents | None = None


class BookingIn(In):
    location_id: uuid.UUID
    customer_id: uuid.UUID
    kind: BookingKind
    starts_at: Instant
    ends_at: Instant | None = None
    guest_count: Integer | None = Field(default=None, ge=1, le=100_000)
    deposit_cents: Cents = 0
    lead_id: uuid.UUID | None = None
    vehicle_id: uuid.UUID | None = None
    currency: str = Field(default="EUR", pattern=_CURRENCY)
    items: list[ItemIn] = Field(min_length=1, max_length=200)
    resource_ids: list[uuid.UUID] | None = Field(default=None, max_length=20)


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    service_id: uuid.UUID | None
    description: str
    quantity: int
    unit_price_cents: int


class BookingOut(Out):
    location_id: uuid.UUID
    customer_id: uuid.UUID
    lead_id: uuid.UUID | None
    vehicle_id: uuid.UUID | None
    kind: BookingKind
    status: BookingStatus
    starts_at: datetime
    ends_at: datetime | None
    guest_count: int | None
    total_cents: int
    deposit_cents: int
    currency: str
    confirmed_at: datetime | None
    fulfilled_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None
    notes: str | None
    event_address: str | None
    items: list[ItemOut]


class CancelIn(In):
    reason: str | None = Field(default=None, max_length=200)


class PaymentIn(In):
    kind: PaymentKind
    method: PaymentMethod
    amount_cents: Cents = Field(ge=1)
    provider: str | None = Field(default=None, max_length=40)
    provider_ref: str | None = Field(default=None, max_length=255)
    payer_name: str | None = Field(default=None, max_length=200)


class PaymentOut(Out):
    booking_id: uuid.UUID
    customer_id: uuid.UUID | None
    kind: PaymentKind
    method: PaymentMethod
    status: PaymentStatus
    amount_cents: int
    currency: str
    provider: str | None
    provider_ref: str | None
    payer_name: str | None
    paid_at: datetime | None


# -- services ----------------------------------------------------------------------------


@router.post(
    "/services",
    status_code=201,
    response_model=ServiceOut,
    tags=["services"],
    summary="Add a catalog service",
)
def post_service(
    body: ServiceIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        s = create_service(uow, ctx.principal, **body.model_dump())
        return Written(201, ServiceOut.model_validate(s), "service", s.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/services/{service_id}", response_model=ServiceOut, tags=["services"], summary="Get a service"
)
async def get_service(service_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "service", ServiceOut, service_id)


@router.get(
    "/services", response_model=Page[ServiceOut], tags=["services"], summary="List services"
)
async def list_services(
    ctx: CtxDep,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    kind: Annotated[ServiceKind | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"location_id": location_id, "kind": kind}
    return await list_page(ctx, "service", ServiceOut, filters, cursor, limit)


# -- bookings ----------------------------------------------------------------------------


def _booking_outs(uow: UnitOfWork, bookings: list[Booking]) -> list[BookingOut]:
    """Bookings with their items, fetched in one query for the whole page."""
    lines: dict[uuid.UUID, list[ItemOut]] = {b.id: [] for b in bookings}
    if bookings:
        rows = uow.session.scalars(
            sa.select(BookingItem)
            .where(
                BookingItem.tenant_id == uow.require_tenant(),
                BookingItem.booking_id.in_(list(lines)),
            )
            .order_by(BookingItem.id)
        )
        for item in rows:
            lines[item.booking_id].append(ItemOut.model_validate(item))
    fields = [k for k in BookingOut.model_fields if k != "items"]
    return [BookingOut(**{k: getattr(b, k) for k in fields}, items=lines[b.id]) for b in bookings]


def _booking_out(uow: UnitOfWork, booking: Booking) -> BookingOut:
    return _booking_outs(uow, [booking])[0]


def _render_booking(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    return _booking_out(uow, get_record(uow, principal, KINDS["booking"], id_))


@router.post(
    "/bookings",
    status_code=201,
    response_model=BookingOut,
    tags=["bookings"],
    summary="Create a booking (inquiry) with its items",
)
def post_booking(
    body: BookingIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        fields = body.model_dump(exclude={"items"})
        items = [svc.ItemLine(**i.model_dump()) for i in body.items]
        b = svc.create_booking(uow, ctx.principal, items=items, **fields)
        return Written(201, _booking_out(uow, b), "booking", b.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/bookings/{booking_id}", response_model=BookingOut, tags=["bookings"], summary="Get a booking"
)
def get_booking(booking_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = _render_booking(uow, ctx.principal, booking_id)
    return tagged(body)


@router.get(
    "/bookings", response_model=Page[BookingOut], tags=["bookings"], summary="List bookings"
)
def list_bookings(
    ctx: CtxDep,
    status: Annotated[BookingStatus | None, Query()] = None,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    starts_from: Annotated[
        Instant | None,
        Query(alias="from", description="With `to`: bookings starting at or after this instant."),
    ] = None,
    starts_before: Annotated[
        Instant | None,
        Query(alias="to", description="With `from`: ... and before this one (at most 366 days)."),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {
        "status": status,
        "location_id": location_id,
        "customer_id": customer_id,
    }
    if starts_from is not None or starts_before is not None:
        return _bookings_between(ctx, filters, starts_from, starts_before, cursor, limit)
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        rows = list(
            list_records(
                uow, ctx.principal, KINDS["booking"], where=filters, after=after, limit=limit + 1
            )
        )
        visible = rows[:limit]
        items = _booking_outs(uow, visible)
    more = len(rows) > limit
    page = Page[BookingOut](
        items=items, next_cursor=encode_cursor(visible[-1].id) if more else None
    )
    return json_response(page)


def _bookings_between(
    ctx: CtxDep,
    filters: Mapping[str, object],
    start: datetime | None,
    end: datetime | None,
    cursor: str | None,
    limit: int,
) -> Response:
    """`GET /v1/bookings?from=&to=`: by start time, keyset-paged by (starts_at, id)."""
    if start is None or end is None:
        raise ValidationError("give both from and to, or neither")
    after = decode_keyset("tu", cursor)
    with ctx.read() as uow:
        rows = list(
            bookings_between(
                uow,
                ctx.principal,
                start,
                end,
                where=filters,
                after=after,
                limit=limit + 1,
            )
        )
        visible = rows[:limit]
        items = _booking_outs(uow, visible)
    last = visible[-1] if len(rows) > limit else None
    next_cursor = encode_keyset("tu", last.starts_at, last.id) if last is not None else None
    return json_response(Page[BookingOut](items=items, next_cursor=next_cursor))


def _transition(
    request: Request,
    ctx: CtxDep,
    booking_id: uuid.UUID,
    target: BookingStatus,
    key: str | None,
    body: CancelIn | None = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        reason = body.reason if body else None
        b = svc.transition_booking(uow, ctx.principal, booking_id, target, reason=reason)
        return Written(200, _booking_out(uow, b), "booking", b.id)

    return write(ctx, request, body, key, run)


@router.post(
    "/bookings/{booking_id}/confirm",
    response_model=BookingOut,
    tags=["bookings"],
    summary="Confirm an inquiry",
)
def confirm_booking(
    booking_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _transition(request, ctx, booking_id, BookingStatus.CONFIRMED, idempotency_key)


@router.post(
    "/bookings/{booking_id}/fulfil",
    response_model=BookingOut,
    tags=["bookings"],
    summary="Mark a paid booking fulfilled",
)
def fulfil_booking(
    booking_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _transition(request, ctx, booking_id, BookingStatus.FULFILLED, idempotency_key)


@router.post(
    "/bookings/{booking_id}/mark-reviewed",
    response_model=BookingOut,
    tags=["bookings"],
    summary="Mark a fulfilled booking reviewed",
)
def review_booking(
    booking_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _transition(request, ctx, booking_id, BookingStatus.REVIEWED, idempotency_key)


@router.post(
    "/bookings/{booking_id}/no-show",
    response_model=BookingOut,
    tags=["bookings"],
    summary="Record a no-show",
)
def no_show_booking(
    booking_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _transition(request, ctx, booking_id, BookingStatus.NO_SHOW, idempotency_key)


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    tags=["bookings"],
    summary="Cancel a booking",
)
def cancel_booking(
    booking_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    body: CancelIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return _transition(
        request, ctx, booking_id, BookingStatus.CANCELLED, idempotency_key, body or CancelIn()
    )


@router.post(
    "/bookings/{booking_id}/payments",
    status_code=201,
    response_model=PaymentOut,
    tags=["bookings", "payments"],
    summary="Record a succeeded payment",
)
def post_payment(
    booking_id: uuid.UUID,
    body: PaymentIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        p, _booking = svc.record_payment(uow, ctx.principal, booking_id, **body.model_dump())
        return Written(201, PaymentOut.model_validate(p), "payment", p.id)

    return write(ctx, request, body, idempotency_key, run)


# -- payments ----------------------------------------------------------------------------


@router.get(
    "/payments/{payment_id}", response_model=PaymentOut, tags=["payments"], summary="Get a payment"
)
async def get_payment(payment_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "payment", PaymentOut, payment_id)


@router.get(
    "/payments", response_model=Page[PaymentOut], tags=["payments"], summary="List payments"
)
async def list_payments(
    ctx: CtxDep,
    booking_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"booking_id": booking_id}
    return await list_page(ctx, "payment", PaymentOut, filters, cursor, limit)


RENDERERS = {
    "service": renderer("service", ServiceOut),
    "booking": _render_booking,
    "payment": renderer("payment", PaymentOut),
}
