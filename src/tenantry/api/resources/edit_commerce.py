"""PATCH and DELETE of `/v1/services`, `/v1/bookings` and `/v1/payments`.

A booking's schedule is moved by rescheduling and its status by its lifecycle actions; PATCH
refuses both by name. Payments and bookings with vouchers answer DELETE with 409 and the
`retained_until` of their retention duty (`tenantry.services.edits_commerce`).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field, model_validator

from tenantry.api.deps import CtxDep
from tenantry.api.idempotency import Written
from tenantry.api.resources.commerce import BookingOut, PaymentOut, ServiceOut, _booking_out
from tenantry.api.resources.common import (
    ERRORS,
    Boolean,
    Cents,
    IdempotencyKey,
    IfMatch,
    Integer,
    NoContent,
    Patch,
    deleted,
    edited,
    matching,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models.enums import ServiceKind
from tenantry.services import edits, edits_commerce

_CURRENCY = r"^[A-Z]{3}$"

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class ServicePatch(Patch):
    __read_only__ = (*Patch.__read_only__, "deleted_at")
    __not_null__ = ("kind", "name", "price_cents", "currency", "vat_rate_bp", "is_active")

    location_id: uuid.UUID | None = None
    kind: ServiceKind | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, max_length=100)
    price_cents: Cents | None = None
    currency: str | None = Field(default=None, pattern=_CURRENCY)
    vat_rate_bp: Integer | None = Field(default=None, ge=0, le=10_000)
    duration_minutes: Integer | None = Field(default=None, ge=1, le=100_000)
    is_active: Boolean | None = None


class BookingPatch(Patch):
    """The fields of a booking that are neither its schedule nor its lifecycle."""

    __read_only__ = (
        *Patch.__read_only__,
        "status",
        "total_cents",
        "currency",
        "customer_id",
        "kind",
        "items",
        "confirmed_at",
        "fulfilled_at",
        "cancelled_at",
        "cancellation_reason",
        "deleted_at",
    )
    __not_null__ = ("deposit_cents",)

    notes: str | None = Field(default=None, max_length=5000)
    event_address: str | None = Field(default=None, max_length=300)
    deposit_cents: Cents | None = None
    vehicle_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_schedule(cls, data: Any) -> Any:
        if isinstance(data, dict):
            moved = sorted(k for k in data if k in edits_commerce.SCHEDULE_FIELDS)
            if moved:
                raise ValueError(
                    f"{', '.join(moved)} cannot be patched: use POST /v1/bookings/{{id}}/reschedule"
                )
        return data


class PaymentPatch(Patch):
    """A payment's references; amount, kind, method and status are the voucher."""

    __read_only__ = (
        *Patch.__read_only__,
        "booking_id",
        "customer_id",
        "kind",
        "method",
        "status",
        "amount_cents",
        "currency",
        "paid_at",
    )

    provider: str | None = Field(default=None, max_length=40)
    provider_ref: str | None = Field(default=None, max_length=255)
    payer_name: str | None = Field(default=None, max_length=200)


@router.patch(
    "/services/{service_id}",
    response_model=ServiceOut,
    tags=["services"],
    summary="Change a catalog service",
)
def patch_service(
    service_id: uuid.UUID,
    body: ServicePatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ServiceOut.model_validate)
        s = edits.update_service(uow, ctx.principal, service_id, body.changes(), check)
        return Written(200, ServiceOut.model_validate(s), "service", s.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/services/{service_id}",
    status_code=204,
    response_class=Response,
    tags=["services"],
    summary="Delete a catalog service (soft)",
)
def delete_service(
    service_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ServiceOut.model_validate)
        edits.delete_service(uow, ctx.principal, service_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


@router.patch(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    tags=["bookings"],
    summary="Change a booking's notes, address, deposit or links (not its schedule or status)",
)
def patch_booking(
    booking_id: uuid.UUID,
    body: BookingPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, lambda b: _booking_out(uow, b))
        changes = body.changes()
        b = edits_commerce.update_booking(uow, ctx.principal, booking_id, changes, check)
        return Written(200, _booking_out(uow, b), "booking", b.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/bookings/{booking_id}",
    status_code=204,
    response_class=Response,
    tags=["bookings"],
    summary="Delete a booking (soft; 409 while its payments or invoices must be kept)",
)
def delete_booking(
    booking_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, lambda b: _booking_out(uow, b))
        edits_commerce.delete_booking(uow, ctx.principal, booking_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


@router.patch(
    "/payments/{payment_id}",
    response_model=PaymentOut,
    tags=["payments"],
    summary="Correct a payment's references (provider, reference, payer name)",
)
def patch_payment(
    payment_id: uuid.UUID,
    body: PaymentPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, PaymentOut.model_validate)
        p = edits_commerce.update_payment(uow, ctx.principal, payment_id, body.changes(), check)
        return Written(200, PaymentOut.model_validate(p), "payment", p.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/payments/{payment_id}",
    status_code=204,
    response_class=Response,
    tags=["payments"],
    summary="Refused: a payment is an accounting voucher (409 with retained_until)",
)
def delete_payment(
    payment_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, PaymentOut.model_validate)
        edits_commerce.delete_payment(uow, ctx.principal, payment_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


RENDERERS: dict[str, Any] = {}
