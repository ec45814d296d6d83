"""Review coupons (seed 004): compensation for an existing customer's complaint, redeemed once.

Who gets one: the author of a review that names both a booking and a customer (the booking's
own customer), with a "could be better" rating, which on the 1-5 scale is
`COULD_BE_BETTER_MAX_RATING` (3) or lower, for a booking that took place (fulfilled or
reviewed). One coupon per review.

How much: at most 10 % of the booking's total or 100 in its currency (10,000 cents), whichever
is lower (`coupon_cap`); the default is the cap, a larger amount asked for is refused.

The code: 16 random letters and digits (80 bits, Crockford base 32, shown as four groups of
four), returned once when the coupon is issued. Only its keyed HMAC (the tenant's index key
for "coupon-code") is stored, so neither the database nor the audit trail can show it again.

Redeeming: once, against a booking of the same customer in the same currency that has an open
balance. It records a payment (method `coupon`, provider reference the coupon's id, which a
unique index admits once) through the booking's ledger, for the coupon's value or the open
balance if that is lower (the rest lapses). The coupon row is locked while it is redeemed, so
of two concurrent redemptions exactly one succeeds.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.domain.bookings import Ledger
from tenantry.errors import ConflictError, NotFoundError, ValidationError
from tenantry.models import Coupon, Customer, Payment
from tenantry.models.billing import COUPON_ABSOLUTE_CAP_CENTS
from tenantry.models.enums import BookingStatus, CouponStatus, PaymentKind, PaymentMethod
from tenantry.privacy.crypto import blind_index
from tenantry.privacy.vault import keyring
from tenantry.services.bookings import record_payment
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record, list_records

__all__ = [
    "COULD_BE_BETTER_MAX_RATING",
    "IssuedCoupon",
    "coupon_cap",
    "issue_coupon",
    "list_coupons",
    "normalise_code",
    "redeem_coupon",
]

COULD_BE_BETTER_MAX_RATING = 3
COUPON_SHARE_PERCENT = 10
COMPLAINT_STATES = frozenset({BookingStatus.FULFILLED, BookingStatus.REVIEWED})
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
_LENGTH = 16
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


@dataclass(frozen=True)
class IssuedCoupon:
    """A coupon just issued, with its code: the only time the code exists outside the customer's
    hands."""

    coupon: Coupon
    code: str


def coupon_cap(total_cents: int) -> int:
    """The most a coupon for a booking of this total may be worth (cents)."""
    return max(0, min(total_cents * COUPON_SHARE_PERCENT // 100, COUPON_ABSOLUTE_CAP_CENTS))


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4))


def normalise_code(code: str) -> str:
    """A code as typed (any case, with or without hyphens and spaces) in its stored form."""
    plain = code.upper().replace("-", "").replace(" ", "").translate(_READ_AS)
    if len(plain) != _LENGTH or any(ch not in _ALPHABET for ch in plain):
        raise ValidationError(
            "a coupon code has 16 letters and digits, such as ABCD-EFGH-JKMN-PQRS"
        )
    return plain


def _code_hash(uow: UnitOfWork, code: str) -> bytes:
    return blind_index(keyring(uow).field_index_key("coupon-code"), normalise_code(code))


def issue_coupon(
    uow: UnitOfWork,
    principal: Principal,
    review_id: uuid.UUID,
    *,
    amount_cents: int | None = None,
) -> IssuedCoupon:
    """Issue the coupon for a complaint (see the module doc for who, how much)."""
    principal.require(Action.WRITE_PAYMENTS, "issue coupons")
    review = get_record(uow, principal, KINDS["review"], review_id)
    if review.booking_id is None or review.customer_id is None:
        raise ConflictError(
            "a coupon compensates an existing customer's complaint: the review must name"
            " a booking and a customer"
        )
    if review.rating > COULD_BE_BETTER_MAX_RATING:
        raise ConflictError(
            f"a coupon is for a 'could be better' review (rating {COULD_BE_BETTER_MAX_RATING}"
            " or lower)"
        )
    booking = uow.repos.bookings.get(review.booking_id, for_update=True)
    principal.require_location(booking.location_id, "booking")
    if booking.customer_id != review.customer_id:
        raise ConflictError("the review's customer is not the customer of its booking")
    if booking.status not in COMPLAINT_STATES:
        raise ConflictError(
            f"a coupon is for a booking that took place, not one in state {booking.status.value}"
        )
    customer = uow.session.get(Customer, (booking.tenant_id, booking.customer_id))
    if customer is None or customer.deleted_at is not None:
        raise ConflictError("the review's customer no longer exists")
    cap = coupon_cap(booking.total_cents)
    if cap <= 0:
        raise ConflictError("the booking's total is too small for a coupon")
    amount = cap if amount_cents is None else amount_cents
    if amount <= 0:
        raise ValidationError("a coupon's amount must be positive")
    if amount > cap:
        raise ValidationError(
            f"a coupon may be worth at most {cap} cents here (10 % of the booking, at most"
            f" {COUPON_ABSOLUTE_CAP_CENTS} cents)",
            cap_cents=cap,
        )
    taken = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Coupon)
        .where(Coupon.tenant_id == booking.tenant_id, Coupon.review_id == review.id)
    )
    if taken:
        raise ConflictError("this review already has a coupon")
    code = _new_code()
    coupon = Coupon(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        review_id=review.id,
        customer_id=booking.customer_id,
        booking_id=booking.id,
        amount_cents=amount,
        currency=booking.currency,
        code_hash=_code_hash(uow, code),
        status=CouponStatus.ISSUED,
        issued_by=principal.actor,
    )
    uow.session.add(coupon)
    uow.flush()
    return IssuedCoupon(coupon, code)


def list_coupons(
    uow: UnitOfWork,
    principal: Principal,
    *,
    customer_id: uuid.UUID | None = None,
    status: CouponStatus | None = None,
    after: uuid.UUID | None = None,
    limit: int = 50,
) -> Sequence[Coupon]:
    where = {"customer_id": customer_id, "status": status}
    return list_records(uow, principal, KINDS["coupon"], where=where, after=after, limit=limit)


def redeem_coupon(
    uow: UnitOfWork, principal: Principal, code: str, booking_id: uuid.UUID
) -> tuple[Coupon, Payment]:
    """Redeem the coupon with this code against the booking (see the module doc)."""
    principal.require(Action.WRITE_PAYMENTS, "redeem coupons")
    digest = _code_hash(uow, code)
    found = uow.session.scalar(
        sa.select(Coupon.id).where(
            Coupon.tenant_id == uow.require_tenant(), Coupon.code_hash == digest
        )
    )
    if found is None:
        raise NotFoundError("no coupon has this code")
    coupon: Coupon = get_record(uow, principal, KINDS["coupon"], found, for_update=True)
    if coupon.status is CouponStatus.REDEEMED:
        raise ConflictError("this coupon has already been redeemed")
    booking = uow.repos.bookings.get(booking_id, for_update=True)
    principal.require_location(booking.location_id, "booking")
    if booking.customer_id != coupon.customer_id:
        raise ConflictError(
            "a coupon is redeemed only for a booking of the customer it was issued to"
        )
    if booking.currency != coupon.currency:
        raise ValidationError("the coupon's currency differs from the booking's")
    ledger = Ledger(
        booking.total_cents, booking.deposit_cents, uow.repos.payments.paid_cents(booking.id)
    )
    if ledger.balance_cents <= 0:
        raise ConflictError("the booking has no open balance to redeem a coupon against")
    applied = min(coupon.amount_cents, ledger.balance_cents)
    payment, _booking = record_payment(
        uow,
        principal,
        booking.id,
        kind=PaymentKind.BALANCE,
        method=PaymentMethod.COUPON,
        amount_cents=applied,
        provider="coupon",
        provider_ref=str(coupon.id),
    )
    coupon.status = CouponStatus.REDEEMED
    coupon.redeemed_booking_id = booking.id
    coupon.redeemed_payment_id = payment.id
    coupon.redeemed_cents = applied
    coupon.redeemed_at = uow.clock.now()
    uow.flush()
    return coupon, payment
