"""The booking lifecycle and the money rules that drive it.

    inquiry -> confirmed -> deposit_paid -> paid -> fulfilled -> reviewed
    confirmed -> paid                     (paid in full at once, or no deposit asked)
    inquiry | confirmed | deposit_paid | paid -> cancelled
    confirmed | deposit_paid | paid -> no_show

Payments move a booking forward: once the succeeded payments reach the deposit it becomes
`deposit_paid`, once they reach the total it becomes `paid`. Refunds reduce what was paid.
Overpayment is refused: money beyond the balance is an error, not a silent credit.

Refunds (`status_after_refund`) are taken in every state money was taken in, and after it
(fulfilled, reviewed, cancelled, no-show). One that leaves a paid booking short moves it back
(paid -> deposit_paid or confirmed, deposit_paid -> confirmed); later states stay as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tenantry.domain.statemachine import StateMachine
from tenantry.errors import IllegalTransitionError, ValidationError
from tenantry.models.enums import BookingStatus, PaymentKind

__all__ = [
    "BOOKING_LIFECYCLE",
    "PAYABLE_STATES",
    "REFUNDABLE_STATES",
    "Ledger",
    "booking_code",
    "kind_of_payment",
    "status_after_payment",
    "status_after_refund",
]

_B = BookingStatus

BOOKING_LIFECYCLE: StateMachine[BookingStatus] = StateMachine(
    "booking",
    {
        _B.INQUIRY: frozenset({_B.CONFIRMED, _B.CANCELLED}),
        _B.CONFIRMED: frozenset({_B.DEPOSIT_PAID, _B.PAID, _B.CANCELLED, _B.NO_SHOW}),
        _B.DEPOSIT_PAID: frozenset({_B.PAID, _B.CANCELLED, _B.NO_SHOW}),
        _B.PAID: frozenset({_B.FULFILLED, _B.CANCELLED, _B.NO_SHOW}),
        _B.FULFILLED: frozenset({_B.REVIEWED}),
        _B.REVIEWED: frozenset(),
        _B.CANCELLED: frozenset(),
        _B.NO_SHOW: frozenset(),
    },
)

PAYABLE_STATES = frozenset({_B.CONFIRMED, _B.DEPOSIT_PAID, _B.PAID})
REFUNDABLE_STATES = PAYABLE_STATES | {_B.FULFILLED, _B.REVIEWED, _B.CANCELLED, _B.NO_SHOW}


@dataclass(frozen=True)
class Ledger:
    """What a booking costs and what has been paid for it, in cents."""

    total_cents: int
    deposit_cents: int
    paid_cents: int

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.paid_cents

    def apply(self, kind: PaymentKind, amount_cents: int) -> Ledger:
        """The ledger after a succeeded payment of `kind` (tips do not count toward the total)."""
        if amount_cents <= 0:
            raise ValidationError("payment amount must be positive")
        if kind is PaymentKind.TIP:
            return self
        if kind is PaymentKind.REFUND:
            if amount_cents > self.paid_cents:
                raise ValidationError("refund exceeds the amount paid")
            return Ledger(self.total_cents, self.deposit_cents, self.paid_cents - amount_cents)
        if amount_cents > self.balance_cents:
            raise ValidationError("payment exceeds the open balance")
        if kind is PaymentKind.DEPOSIT and self.paid_cents + amount_cents > self.deposit_cents:
            raise ValidationError("deposit payment exceeds the agreed deposit")
        return Ledger(self.total_cents, self.deposit_cents, self.paid_cents + amount_cents)


def status_after_payment(status: BookingStatus, ledger: Ledger, kind: PaymentKind) -> BookingStatus:
    """The booking status once a payment has been applied to `ledger`."""
    if status not in PAYABLE_STATES:
        raise IllegalTransitionError(f"booking: cannot take payments in state {status.value}")
    if kind is PaymentKind.TIP or kind is PaymentKind.REFUND:
        return status
    if ledger.paid_cents >= ledger.total_cents:
        return BOOKING_LIFECYCLE.check(status, _B.PAID) if status is not _B.PAID else status
    if (
        status is _B.CONFIRMED
        and ledger.deposit_cents > 0
        and ledger.paid_cents >= ledger.deposit_cents
    ):
        return BOOKING_LIFECYCLE.check(status, _B.DEPOSIT_PAID)
    return status


def booking_code(booking_id: uuid.UUID) -> str:
    """The short code a customer writes in a payment memo: the last 8 hex digits of the id
    (its random part), upper case. Not unique by construction; a collision only makes two
    candidates, which the matcher then tells apart by the other evidence."""
    return booking_id.hex[-8:].upper()


def status_after_refund(status: BookingStatus, ledger: Ledger) -> BookingStatus:
    """The booking status once a refund has been applied to `ledger` (see the module doc).

    Moving back is not a lifecycle transition anyone may choose: only a refund does it.
    """
    if status not in REFUNDABLE_STATES:
        raise IllegalTransitionError(f"booking: nothing to refund in state {status.value}")
    if status not in (_B.PAID, _B.DEPOSIT_PAID) or ledger.paid_cents >= ledger.total_cents:
        return status
    if ledger.deposit_cents > 0 and ledger.paid_cents >= ledger.deposit_cents:
        return _B.DEPOSIT_PAID
    return _B.CONFIRMED


def kind_of_payment(ledger: Ledger, cents: int) -> PaymentKind:
    """What a payment of `cents` is for, given what the booking has received: the deposit
    while the deposit is not yet paid and the payment stays within it, all of the price at
    once, or (part of) the balance."""
    paid = ledger.paid_cents
    if paid < ledger.deposit_cents and paid + cents <= ledger.deposit_cents:
        return PaymentKind.DEPOSIT
    if paid == 0 and cents == ledger.total_cents:
        return PaymentKind.FULL
    return PaymentKind.BALANCE
