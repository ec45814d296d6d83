"""Refunds recorded against the payment they give money back from.

A refund is a payment of kind `refund` naming the refunded payment (`refund_of_payment_id`),
by the same method and provider. It may not exceed that payment minus its earlier refunds
(checked here under the booking's row lock, and again by a database trigger that locks the
refunded payment), nor refund a tip or a refund. It goes through the booking's ledger: what was
paid drops, and a paid booking left short moves back (`tenantry.domain.bookings`
`status_after_refund`). Money only: a refund does not correct an invoice (a credit note does).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.domain.bookings import Ledger, status_after_refund
from tenantry.errors import ConflictError, ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import Booking, Payment
from tenantry.models.enums import PaymentKind, PaymentStatus
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = ["refund_payment", "refundable_cents"]


def refundable_cents(uow: UnitOfWork, payment: Payment) -> int:
    """What is left to refund of `payment` (cents)."""
    refunded = uow.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0)).where(
            Payment.tenant_id == uow.require_tenant(),
            Payment.refund_of_payment_id == payment.id,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
    )
    return payment.amount_cents - int(refunded or 0)


def refund_payment(
    uow: UnitOfWork,
    principal: Principal,
    payment_id: uuid.UUID,
    *,
    amount_cents: int,
    reason: str | None = None,
) -> tuple[Payment, Booking]:
    """Record a succeeded refund of `amount_cents` from the payment; returns it and its booking."""
    principal.require(Action.WRITE_PAYMENTS, "record refunds")
    if amount_cents <= 0:
        raise ValidationError("a refund must be positive")
    payment: Payment = get_record(uow, principal, KINDS["payment"], payment_id)
    booking = uow.repos.bookings.get(payment.booking_id, for_update=True, include_deleted=True)
    if payment.kind in (PaymentKind.REFUND, PaymentKind.TIP):
        raise ConflictError(f"a {payment.kind.value} payment is not refunded")
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise ConflictError("only a succeeded payment can be refunded")
    left = refundable_cents(uow, payment)
    if amount_cents > left:
        raise ValidationError(f"the refund exceeds what is left of the payment ({left} cents)")
    ledger = Ledger(
        booking.total_cents, booking.deposit_cents, uow.repos.payments.paid_cents(booking.id)
    )
    after = ledger.apply(PaymentKind.REFUND, amount_cents)
    before = booking.status
    booking.status = status_after_refund(booking.status, after)
    now = uow.clock.now()
    refund = uow.repos.payments.add(
        Payment(
            booking_id=booking.id,
            customer_id=booking.customer_id,
            kind=PaymentKind.REFUND,
            method=payment.method,
            status=PaymentStatus.SUCCEEDED,
            amount_cents=amount_cents,
            currency=payment.currency,
            provider=payment.provider,
            refund_of_payment_id=payment.id,
            refund_reason=reason,
            paid_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    if booking.status is not before:
        booking.updated_at = now
        record_change(
            uow,
            "booking",
            booking.id,
            "booking.state_changed",
            {
                "location_id": str(booking.location_id),
                "kind": str(booking.kind),
                "from": str(before),
                "to": str(booking.status),
                "total_cents": booking.total_cents,
            },
        )
    uow.flush()
    return refund, booking
