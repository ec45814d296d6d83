"""Booking use cases: create with items, move through the lifecycle, take payments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tenantry.db.uow import UnitOfWork
from tenantry.domain.bookings import BOOKING_LIFECYCLE, Ledger, status_after_payment
from tenantry.errors import IllegalTransitionError, ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import Booking, BookingItem, Payment
from tenantry.models.enums import (
    BookingKind,
    BookingStatus,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from tenantry.payments.invoices import settle_invoices, settle_invoices_of
from tenantry.scheduling.booking import schedule_booking
from tenantry.scheduling.resources import service_at
from tenantry.services.principal import Action, Principal

__all__ = [
    "ItemLine",
    "PaymentEntry",
    "create_booking",
    "get_booking",
    "record_payment",
    "record_payments",
    "transition_booking",
]

# Transitions driven by payments are not set by hand.
_MANUAL_TARGETS = frozenset(
    {
        BookingStatus.CONFIRMED,
        BookingStatus.FULFILLED,
        BookingStatus.REVIEWED,
        BookingStatus.CANCELLED,
        BookingStatus.NO_SHOW,
    }
)


@dataclass(frozen=True)
class ItemLine:
    """A booking line: a catalog service (price from the catalog) or a free line."""

    quantity: int
    service_id: uuid.UUID | None = None
    description: str | None = None
    unit_price_cents: int | None = None


def get_booking(uow: UnitOfWork, principal: Principal, booking_id: uuid.UUID) -> Booking:
    principal.require(Action.READ)
    booking = uow.repos.bookings.get(booking_id)
    principal.require_location(booking.location_id, "booking")
    return booking


def create_booking(
    uow: UnitOfWork,
    principal: Principal,
    *,
    location_id: uuid.UUID,
    customer_id: uuid.UUID,
    kind: BookingKind,
    starts_at: datetime,
    items: list[ItemLine],
    ends_at: datetime | None = None,
    guest_count: int | None = None,
    deposit_cents: int = 0,
    lead_id: uuid.UUID | None = None,
    vehicle_id: uuid.UUID | None = None,
    currency: str = "EUR",
    resource_ids: Sequence[uuid.UUID] | None = None,
) -> Booking:
    """Create an inquiry; the total is the sum of its lines.

    When its services need resources (or `resource_ids` names some) the booking must lie within
    the location's opening hours and holds free resources (see `tenantry.scheduling`); a
    catering event claims its day's capacity.
    """
    principal.require(Action.WRITE_BOOKINGS)
    principal.require_location(location_id, "location")
    if not items:
        raise ValidationError("a booking needs at least one item")
    if starts_at.tzinfo is None:
        raise ValidationError("starts_at must carry a timezone")
    lines: list[BookingItem] = []
    for line in items:
        if line.quantity <= 0:
            raise ValidationError("item quantity must be positive")
        if line.service_id is not None:
            service = service_at(uow, principal, line.service_id, location_id)
            if service.currency != currency:
                raise ValidationError("service currency differs from the booking currency")
            price, description = service.price_cents, line.description or service.name
        else:
            if line.unit_price_cents is None or not line.description:
                raise ValidationError("a free item needs a description and a unit price")
            price, description = line.unit_price_cents, line.description
        if price < 0:
            raise ValidationError("unit price must not be negative")
        lines.append(
            BookingItem(
                service_id=line.service_id,
                description=description,
                quantity=line.quantity,
                unit_price_cents=price,
            )
        )
    total = sum(item.quantity * item.unit_price_cents for item in lines)
    if not 0 <= deposit_cents <= total:
        raise ValidationError("deposit must be between 0 and the booking total")
    now = uow.clock.now()
    booking = uow.repos.bookings.add(
        Booking(
            location_id=location_id,
            customer_id=customer_id,
            lead_id=lead_id,
            vehicle_id=vehicle_id,
            kind=kind,
            status=BookingStatus.INQUIRY,
            starts_at=starts_at,
            ends_at=ends_at,
            guest_count=guest_count,
            total_cents=total,
            deposit_cents=deposit_cents,
            currency=currency,
            created_at=now,
            updated_at=now,
        )
    )
    uow.flush()
    for item in lines:
        item.booking_id = booking.id
        uow.repos.bookings.add_item(item)
    uow.flush()
    service_ids = [item.service_id for item in lines if item.service_id is not None]
    schedule_booking(uow, booking, service_ids=service_ids, resource_ids=resource_ids or ())
    uow.flush()
    _state_changed(uow, booking, None)
    return booking


def _state_changed(uow: UnitOfWork, booking: Booking, before: BookingStatus | None) -> None:
    """Outbox entry for a new booking (`before` None) or a changed state."""
    payload = {
        "location_id": str(booking.location_id),
        "kind": str(booking.kind),
        "to": str(booking.status),
        "total_cents": booking.total_cents,
    }
    if before is None:
        record_change(uow, "booking", booking.id, "booking.created", payload)
    elif str(before) != str(booking.status):
        payload["from"] = str(before)
        record_change(uow, "booking", booking.id, "booking.state_changed", payload)


def transition_booking(
    uow: UnitOfWork,
    principal: Principal,
    booking_id: uuid.UUID,
    target: BookingStatus,
    *,
    reason: str | None = None,
) -> Booking:
    """Confirm, fulfil, mark reviewed, cancel or record a no-show."""
    principal.require(Action.WRITE_BOOKINGS)
    if target not in _MANUAL_TARGETS:
        raise ValidationError(f"{target.value} is reached by recording payments")
    booking = uow.repos.bookings.get(booking_id, for_update=True)
    principal.require_location(booking.location_id, "booking")
    BOOKING_LIFECYCLE.check(booking.status, target)
    now = uow.clock.now()
    if target is BookingStatus.CONFIRMED:
        booking.confirmed_at = now
    elif target is BookingStatus.FULFILLED:
        booking.fulfilled_at = now
    elif target is BookingStatus.CANCELLED:
        booking.cancelled_at = now
        booking.cancellation_reason = reason
    before, booking.status = booking.status, target
    _state_changed(uow, booking, before)
    uow.flush()
    return booking


def record_payment(
    uow: UnitOfWork,
    principal: Principal,
    booking_id: uuid.UUID,
    *,
    kind: PaymentKind,
    method: PaymentMethod,
    amount_cents: int,
    provider: str | None = None,
    provider_ref: str | None = None,
    payer_name: str | None = None,
) -> tuple[Payment, Booking]:
    """Record a succeeded payment and move the booking to deposit_paid or paid (and its
    issued invoices to paid once they are covered).

    Refunds are not recorded here: each names the payment it gives money back from
    (`tenantry.payments.refunds.refund_payment`).
    """
    principal.require(Action.WRITE_PAYMENTS)
    if kind is PaymentKind.REFUND:
        raise ValidationError(
            "a refund is recorded against the payment it gives money back from"
            " (a refund of that payment), not as a payment of the booking"
        )
    booking = uow.repos.bookings.get(booking_id, for_update=True)
    principal.require_location(booking.location_id, "booking")
    paid = uow.repos.payments.paid_cents(booking.id)
    entry = PaymentEntry(booking.id, kind, method, amount_cents, provider, provider_ref, payer_name)
    payment, ledger = _apply(uow, booking, paid, entry)
    uow.flush()
    if kind is not PaymentKind.TIP:
        settle_invoices(uow, booking.id, ledger.paid_cents)
    return payment, booking


@dataclass(frozen=True)
class PaymentEntry:
    """One succeeded payment to record against a booking."""

    booking_id: uuid.UUID
    kind: PaymentKind
    method: PaymentMethod
    amount_cents: int
    provider: str | None = None
    provider_ref: str | None = None
    payer_name: str | None = None
    payment_id: uuid.UUID | None = None  # chosen by the caller to reference it before a flush


def record_payments(
    uow: UnitOfWork, principal: Principal, entries: Sequence[PaymentEntry]
) -> list[Payment | ValidationError | IllegalTransitionError]:
    """Record many payments at once, in order, with the rules of `record_payment`.

    The bookings are locked in one statement (id order, so concurrent batches cannot deadlock)
    and their paid amounts read in one more. An entry the ledger refuses (overpayment, a
    booking that can no longer take money) yields its error in place of a payment; the others
    are recorded.
    """
    principal.require(Action.WRITE_PAYMENTS)
    ids = sorted({e.booking_id for e in entries})
    bookings = {b.id: b for b in uow.repos.bookings.lock_many(ids)}
    paid = uow.repos.payments.paid_cents_of(ids)
    out: list[Payment | ValidationError | IllegalTransitionError] = []
    for entry in entries:
        booking = bookings.get(entry.booking_id)
        if booking is None or not principal.sees(booking.location_id):
            out.append(ValidationError("booking not found or no longer open"))
            continue
        try:
            payment, ledger = _apply(uow, booking, paid.get(booking.id, 0), entry)
        except (ValidationError, IllegalTransitionError) as exc:
            out.append(exc)
            continue
        paid[booking.id] = ledger.paid_cents
        out.append(payment)
    uow.flush()
    settled = {e.booking_id for e, p in zip(entries, out, strict=True) if isinstance(p, Payment)}
    settle_invoices_of(uow, {booking_id: paid[booking_id] for booking_id in sorted(settled)})
    return out


def _apply(
    uow: UnitOfWork, booking: Booking, paid_cents: int, entry: PaymentEntry
) -> tuple[Payment, Ledger]:
    """Apply one payment to a locked booking whose succeeded payments add up to `paid_cents`."""
    ledger = Ledger(booking.total_cents, booking.deposit_cents, paid_cents)
    after = ledger.apply(entry.kind, entry.amount_cents)
    before = booking.status
    booking.status = status_after_payment(booking.status, after, entry.kind)
    _state_changed(uow, booking, before)
    now = uow.clock.now()
    payment = Payment(
        booking_id=booking.id,
        customer_id=booking.customer_id,
        kind=entry.kind,
        method=entry.method,
        status=PaymentStatus.SUCCEEDED,
        amount_cents=entry.amount_cents,
        currency=booking.currency,
        provider=entry.provider,
        provider_ref=entry.provider_ref,
        payer_name=entry.payer_name,
        subject_id=booking.subject_id,  # the booking's subject: no lookup when sealing
        paid_at=now,
        created_at=now,
        updated_at=now,
    )
    if entry.payment_id is not None:
        payment.id = entry.payment_id
    uow.repos.payments.add(payment)
    return payment, after
