"""Editing and deleting bookings and payments, within what accounting law leaves changeable.

A booking's schedule (start, end, guests, location) moves only by rescheduling, its status
only by its lifecycle actions and payments; what PATCH may change is the rest (notes, event
address, deposit, the linked vehicle and lead). Payments and invoices are accounting vouchers
(HGB section 257, AO section 147): they are never deleted by hand, and a booking that has any
is kept until the last of them may go. The date comes from the tenant's effective retention
policy for the voucher's dataset, computed as the retention job applies it.

Nothing here commits; the edit shape is `tenantry.services.edits`'.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, RetentionDutyError, ValidationError
from tenantry.models import Booking, Invoice, Lead, Payment, Vehicle
from tenantry.models.enums import BookingStatus, PaymentKind, PaymentStatus
from tenantry.services.edits import Precondition, apply_changes, begin_edit, soft_delete
from tenantry.services.principal import Action, Principal
from tenantry.services.privacy.retention import retained_until
from tenantry.services.records import KINDS, get_record

__all__ = [
    "SCHEDULE_FIELDS",
    "booking_retained_until",
    "delete_booking",
    "delete_payment",
    "update_booking",
    "update_payment",
]

# Changed by `POST /v1/bookings/{id}/reschedule`, never by PATCH: moving a booking is a
# question of free resources, not of a field.
SCHEDULE_FIELDS = ("starts_at", "ends_at", "guest_count", "location_id")
_DEPOSIT_OPEN = frozenset({BookingStatus.INQUIRY, BookingStatus.CONFIRMED})


def _deposits_paid(uow: UnitOfWork, booking_id: uuid.UUID) -> int:
    """Succeeded deposit payments of a booking, in cents."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0)).where(
        Payment.tenant_id == uow.require_tenant(),
        Payment.booking_id == booking_id,
        Payment.kind == PaymentKind.DEPOSIT,
        Payment.status == PaymentStatus.SUCCEEDED,
    )
    return int(uow.session.scalar(stmt) or 0)


def update_booking(
    uow: UnitOfWork,
    principal: Principal,
    booking_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Booking:
    moved = sorted(k for k in changes if k in SCHEDULE_FIELDS)
    if moved:
        raise ValidationError(
            f"{', '.join(moved)} cannot be patched: use POST /v1/bookings/{{id}}/reschedule"
        )
    booking: Booking = begin_edit(
        uow, principal, "booking", booking_id, Action.WRITE_BOOKINGS, precondition
    )
    if "deposit_cents" in changes and changes["deposit_cents"] != booking.deposit_cents:
        deposit = changes["deposit_cents"]
        if booking.status not in _DEPOSIT_OPEN:
            # Past these states the status says how the payments stand against the deposit.
            raise ConflictError(
                f"the deposit of a booking in state {booking.status.value} is settled;"
                " it changes only while the booking is an inquiry or confirmed"
            )
        if not 0 <= deposit <= booking.total_cents:
            raise ValidationError("deposit must be between 0 and the booking total")
        if deposit < _deposits_paid(uow, booking.id):
            raise ValidationError("deposit cannot be lower than the deposit already paid")
    if changes.get("vehicle_id") is not None:
        vehicle: Vehicle = get_record(uow, principal, KINDS["vehicle"], changes["vehicle_id"])
        if vehicle.customer_id != booking.customer_id:
            raise ValidationError("the vehicle belongs to another customer")
    if changes.get("lead_id") is not None:
        lead: Lead = get_record(uow, principal, KINDS["lead"], changes["lead_id"])
        if lead.customer_id not in (None, booking.customer_id):
            raise ValidationError("the lead belongs to another customer")
    return apply_changes(uow, booking, changes)  # type: ignore[no-any-return]


def _at(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def booking_retained_until(uow: UnitOfWork, booking_id: uuid.UUID) -> date | None:
    """The last day the booking's vouchers (succeeded payments, invoices) must be kept, or
    None when it has none."""
    tenant = uow.require_tenant()
    paid = uow.session.scalar(
        sa.select(sa.func.max(sa.func.coalesce(Payment.paid_at, Payment.created_at))).where(
            Payment.tenant_id == tenant,
            Payment.booking_id == booking_id,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
    )
    issued = uow.session.scalar(
        sa.select(sa.func.max(Invoice.issued_on)).where(
            Invoice.tenant_id == tenant, Invoice.booking_id == booking_id
        )
    )
    dates = []
    if paid is not None:
        dates.append(retained_until(uow, "commerce.payments", paid))
    if issued is not None:
        dates.append(retained_until(uow, "commerce.invoices", _at(issued)))
    return max(dates) if dates else None


def delete_booking(
    uow: UnitOfWork,
    principal: Principal,
    booking_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    """Soft delete a booking, unless its vouchers are still within their retention period."""
    booking = begin_edit(uow, principal, "booking", booking_id, Action.WRITE_BOOKINGS, precondition)
    until = booking_retained_until(uow, booking.id)
    if until is not None and until >= uow.clock.now().date():
        raise RetentionDutyError(
            "this booking has payments or invoices, which are accounting vouchers that must"
            " be kept (HGB section 257, AO section 147); cancel it instead",
            retained_until=until,
        )
    soft_delete(uow, booking)


def update_payment(
    uow: UnitOfWork,
    principal: Principal,
    payment_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Payment:
    """Correct a payment's references (provider, its reference, the payer's name); amounts,
    kind, method and status are the voucher and stay as recorded (a refund corrects them)."""
    payment: Payment = begin_edit(
        uow, principal, "payment", payment_id, Action.WRITE_PAYMENTS, precondition
    )
    return apply_changes(uow, payment, changes)  # type: ignore[no-any-return]


def delete_payment(
    uow: UnitOfWork,
    principal: Principal,
    payment_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    """Always refused: a payment is a voucher; the retention job removes it when its period
    ends."""
    payment: Payment = begin_edit(
        uow, principal, "payment", payment_id, Action.WRITE_PAYMENTS, precondition
    )
    until = retained_until(uow, "commerce.payments", payment.paid_at or payment.created_at)
    raise RetentionDutyError(
        "a payment is an accounting voucher (HGB section 257, AO section 147): it is never"
        " deleted by hand; the retention job removes it once its period has ended",
        retained_until=until,
    )
