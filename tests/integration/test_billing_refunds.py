"""Refunds against payments: limits per payment, the ledger and the booking status, and the
database's own check when the service is bypassed."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import ConflictError, PermissionDeniedError, ValidationError
from tenantry.models import Booking, Payment
from tenantry.models.enums import (
    BookingStatus,
    MembershipRole,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from tenantry.payments.refunds import refund_payment
from tenantry.services import bookings
from tests.billing import Booked, booking
from tests.conftest import TenantFixture


def _payments(db: Database, tenant: TenantFixture, booked: Booked) -> list[Payment]:
    with db.tenant_uow(tenant.id) as uow:
        return uow.repos.payments.for_booking(booked.booking_id)


def _refund(
    db: Database, tenant: TenantFixture, payment_id: uuid.UUID, cents: int, **kw: object
) -> tuple[Payment, Booking]:
    with db.tenant_uow(tenant.id) as uow:
        result = refund_payment(uow, tenant.principal(), payment_id, amount_cents=cents, **kw)  # type: ignore[arg-type]
        uow.commit()
        return result


def _paid(db: Database, tenant: TenantFixture, booked: Booked) -> int:
    with db.tenant_uow(tenant.id) as uow:
        return uow.repos.payments.paid_cents(booked.booking_id)


def test_a_refund_lowers_what_was_paid_and_moves_a_paid_booking_back(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant, deposit_cents=2000, paid_cents=7070)
    (paid,) = _payments(db, tenant, booked)
    refund, b = _refund(db, tenant, paid.id, 1000, reason="one guest less")
    assert refund.kind is PaymentKind.REFUND and refund.refund_of_payment_id == paid.id
    assert refund.method is paid.method and refund.refund_reason == "one guest less"
    assert _paid(db, tenant, booked) == 6070
    assert b.status is BookingStatus.DEPOSIT_PAID  # 60.70 paid: above the deposit
    _, b = _refund(db, tenant, paid.id, 5000)
    assert b.status is BookingStatus.CONFIRMED and _paid(db, tenant, booked) == 1070


def test_a_refund_cannot_exceed_its_payment_minus_earlier_refunds(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant, paid_cents=3000)
    (paid,) = _payments(db, tenant, booked)
    _refund(db, tenant, paid.id, 2000)
    with pytest.raises(ValidationError, match="1000 cents"):
        _refund(db, tenant, paid.id, 1001)
    _refund(db, tenant, paid.id, 1000)
    with pytest.raises(ValidationError):
        _refund(db, tenant, paid.id, 1)
    assert _paid(db, tenant, booked) == 0


def test_tips_refunds_and_other_roles_are_refused(db: Database, tenant: TenantFixture) -> None:
    booked = booking(db, tenant, paid_cents=3000)
    with db.tenant_uow(tenant.id) as uow:
        tip, _ = bookings.record_payment(
            uow,
            tenant.principal(),
            booked.booking_id,
            kind=PaymentKind.TIP,
            method=PaymentMethod.CASH,
            amount_cents=500,
        )
        uow.commit()
    with pytest.raises(ConflictError, match="tip"):
        _refund(db, tenant, tip.id, 100)
    paid = next(p for p in _payments(db, tenant, booked) if p.kind is not PaymentKind.TIP)
    refund, _ = _refund(db, tenant, paid.id, 100)
    with pytest.raises(ConflictError, match="refund"):
        _refund(db, tenant, refund.id, 1)
    staff = tenant.principal(MembershipRole.STAFF)
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        refund_payment(uow, staff, paid.id, amount_cents=1)


def test_a_cancelled_booking_can_be_refunded_and_stays_cancelled(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant, paid_cents=7070, status=BookingStatus.CANCELLED)
    (paid,) = _payments(db, tenant, booked)
    _, b = _refund(db, tenant, paid.id, 7070)
    assert b.status is BookingStatus.CANCELLED and _paid(db, tenant, booked) == 0


def test_the_database_refuses_an_over_refund_that_bypasses_the_service(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant, paid_cents=3000)
    (paid,) = _payments(db, tenant, booked)
    _refund(db, tenant, paid.id, 2500)
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        uow.repos.payments.add(
            Payment(
                booking_id=booked.booking_id,
                kind=PaymentKind.REFUND,
                method=PaymentMethod.CARD,
                status=PaymentStatus.SUCCEEDED,
                amount_cents=501,
                refund_of_payment_id=paid.id,
                paid_at=paid.paid_at,
            )
        )
        uow.flush()
    with db.tenant_uow(tenant.id) as uow:
        refunded = uow.session.scalar(
            sa.select(sa.func.sum(Payment.amount_cents)).where(
                Payment.refund_of_payment_id == paid.id
            )
        )
    assert refunded == 2500


def test_a_refund_is_not_recorded_as_a_payment_of_the_booking(
    db: Database, tenant: TenantFixture
) -> None:
    booked = booking(db, tenant, paid_cents=3000)
    with (
        pytest.raises(ValidationError, match="against the payment"),
        db.tenant_uow(tenant.id) as uow,
    ):
        bookings.record_payment(
            uow,
            tenant.principal(),
            booked.booking_id,
            kind=PaymentKind.REFUND,
            method=PaymentMethod.CARD,
            amount_cents=100,
        )
    assert _paid(db, tenant, booked) == 3000


def test_concurrent_refunds_cannot_exceed_the_payment(db: Database, tenant: TenantFixture) -> None:
    booked = booking(db, tenant, paid_cents=3000)
    (paid,) = _payments(db, tenant, booked)
    start = threading.Barrier(3)
    outcomes: list[object] = []

    def refund() -> None:
        start.wait()
        try:
            outcomes.append(_refund(db, tenant, paid.id, 1500)[0])
        except ValidationError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=refund) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 3 and sum(isinstance(o, Payment) for o in outcomes) == 2
    assert _paid(db, tenant, booked) == 0
