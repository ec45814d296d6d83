"""Every legal and illegal booking transition, and the money rules of deposits and balances."""

from __future__ import annotations

import itertools

import pytest

from tenantry.domain.bookings import BOOKING_LIFECYCLE, Ledger, status_after_payment
from tenantry.errors import IllegalTransitionError, ValidationError
from tenantry.models.enums import BookingStatus as B
from tenantry.models.enums import PaymentKind as K

LEGAL = {
    (B.INQUIRY, B.CONFIRMED),
    (B.INQUIRY, B.CANCELLED),
    (B.CONFIRMED, B.DEPOSIT_PAID),
    (B.CONFIRMED, B.PAID),
    (B.CONFIRMED, B.CANCELLED),
    (B.CONFIRMED, B.NO_SHOW),
    (B.DEPOSIT_PAID, B.PAID),
    (B.DEPOSIT_PAID, B.CANCELLED),
    (B.DEPOSIT_PAID, B.NO_SHOW),
    (B.PAID, B.FULFILLED),
    (B.PAID, B.CANCELLED),
    (B.PAID, B.NO_SHOW),
    (B.FULFILLED, B.REVIEWED),
}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_booking_transition_is_allowed(current: B, target: B) -> None:
    assert BOOKING_LIFECYCLE.check(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"), [p for p in itertools.product(B, B) if p not in LEGAL]
)
def test_illegal_booking_transition_is_refused(current: B, target: B) -> None:
    with pytest.raises(IllegalTransitionError):
        BOOKING_LIFECYCLE.check(current, target)


@pytest.mark.parametrize("state", [B.REVIEWED, B.CANCELLED, B.NO_SHOW])
def test_end_states_are_terminal(state: B) -> None:
    assert BOOKING_LIFECYCLE.is_terminal(state)


def test_deposit_then_balance_moves_confirmed_to_deposit_paid_then_paid() -> None:
    ledger = Ledger(total_cents=100_000, deposit_cents=30_000, paid_cents=0)
    after_deposit = ledger.apply(K.DEPOSIT, 30_000)
    assert status_after_payment(B.CONFIRMED, after_deposit, K.DEPOSIT) is B.DEPOSIT_PAID
    after_balance = after_deposit.apply(K.BALANCE, 70_000)
    assert after_balance.balance_cents == 0
    assert status_after_payment(B.DEPOSIT_PAID, after_balance, K.BALANCE) is B.PAID


def test_partial_deposit_keeps_the_booking_confirmed() -> None:
    ledger = Ledger(100_000, 30_000, 0).apply(K.DEPOSIT, 10_000)
    assert status_after_payment(B.CONFIRMED, ledger, K.DEPOSIT) is B.CONFIRMED


def test_full_payment_without_deposit_goes_straight_to_paid() -> None:
    ledger = Ledger(5_000, 0, 0).apply(K.FULL, 5_000)
    assert status_after_payment(B.CONFIRMED, ledger, K.FULL) is B.PAID


def test_several_partial_payments_add_up() -> None:
    ledger = Ledger(9_000, 3_000, 0)
    for amount in (1_000, 2_000, 3_000, 3_000):
        ledger = ledger.apply(K.BALANCE if ledger.paid_cents >= 3_000 else K.DEPOSIT, amount)
    assert ledger.paid_cents == 9_000 and ledger.balance_cents == 0


def test_overpayment_is_refused() -> None:
    with pytest.raises(ValidationError):
        Ledger(10_000, 0, 8_000).apply(K.BALANCE, 2_001)


def test_deposit_beyond_the_agreed_deposit_is_refused() -> None:
    with pytest.raises(ValidationError):
        Ledger(10_000, 3_000, 0).apply(K.DEPOSIT, 3_001)


@pytest.mark.parametrize("amount", [0, -1])
def test_non_positive_amounts_are_refused(amount: int) -> None:
    with pytest.raises(ValidationError):
        Ledger(10_000, 0, 0).apply(K.FULL, amount)


def test_refund_reduces_what_was_paid_and_cannot_exceed_it() -> None:
    assert Ledger(10_000, 0, 10_000).apply(K.REFUND, 4_000).paid_cents == 6_000
    with pytest.raises(ValidationError):
        Ledger(10_000, 0, 1_000).apply(K.REFUND, 1_001)


def test_tips_do_not_count_toward_the_total() -> None:
    ledger = Ledger(10_000, 0, 10_000)
    assert ledger.apply(K.TIP, 2_000) == ledger


@pytest.mark.parametrize("state", [B.INQUIRY, B.CANCELLED, B.NO_SHOW, B.FULFILLED, B.REVIEWED])
def test_payments_are_refused_outside_payable_states(state: B) -> None:
    with pytest.raises(IllegalTransitionError):
        status_after_payment(state, Ledger(1_000, 0, 1_000), K.FULL)
