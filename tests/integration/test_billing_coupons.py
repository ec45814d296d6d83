"""Review coupons (seed 004): who gets one, the caps, the secret code, single use (also when
two redemptions race), and the audit trail."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from tenantry.models import Coupon
from tenantry.models.enums import BookingStatus, CouponStatus, MembershipRole, PaymentMethod
from tenantry.payments import coupons
from tenantry.services.bookings import ItemLine
from tests.billing import Booked, booking, review
from tests.conftest import TenantFixture


def _issue(
    db: Database, tenant: TenantFixture, review_id: object, amount: int | None = None
) -> coupons.IssuedCoupon:
    with db.tenant_uow(tenant.id) as uow:
        issued = coupons.issue_coupon(uow, tenant.principal(), review_id, amount_cents=amount)  # type: ignore[arg-type]
        uow.commit()
        return issued


def _redeem(db: Database, tenant: TenantFixture, code: str, booked: Booked) -> Coupon:
    with db.tenant_uow(tenant.id) as uow:
        coupon, _payment = coupons.redeem_coupon(uow, tenant.principal(), code, booked.booking_id)
        uow.commit()
        return coupon


def _served(db: Database, tenant: TenantFixture, **kw: object) -> Booked:
    return booking(db, tenant, paid_cents=7070, status=BookingStatus.FULFILLED, **kw)  # type: ignore[arg-type]


def test_the_cap_is_ten_percent_or_one_hundred_whichever_is_lower() -> None:
    assert coupons.coupon_cap(7070) == 707
    assert coupons.coupon_cap(100_000) == 10_000
    assert coupons.coupon_cap(250_000) == 10_000
    assert coupons.coupon_cap(9) == 0


def test_a_complaint_gets_the_capped_amount_and_more_is_refused(
    db: Database, tenant: TenantFixture
) -> None:
    served = _served(db, tenant)
    complaint = review(db, tenant, served, rating=3)
    with pytest.raises(ValidationError, match="at most 707 cents"):
        _issue(db, tenant, complaint, 708)
    issued = _issue(db, tenant, complaint)
    assert issued.coupon.amount_cents == 707 and issued.coupon.status is CouponStatus.ISSUED
    with pytest.raises(ConflictError, match="already has a coupon"):
        _issue(db, tenant, complaint, 100)


def test_a_large_booking_is_capped_at_one_hundred(db: Database, tenant: TenantFixture) -> None:
    big = booking(
        db,
        tenant,
        items=[ItemLine(1, description="Wedding catering", unit_price_cents=250_000)],
        paid_cents=250_000,
        status=BookingStatus.FULFILLED,
    )
    issued = _issue(db, tenant, review(db, tenant, big, rating=1))
    assert issued.coupon.amount_cents == 10_000
    with pytest.raises(ValidationError):
        _issue(db, tenant, review(db, tenant, big, rating=2), 10_001)


@pytest.mark.parametrize("rating", [4, 5])
def test_a_good_review_gets_no_coupon(db: Database, tenant: TenantFixture, rating: int) -> None:
    served = _served(db, tenant)
    with pytest.raises(ConflictError, match="could be better"):
        _issue(db, tenant, review(db, tenant, served, rating=rating))


def test_only_an_existing_customers_complaint_about_a_booking_that_took_place_qualifies(
    db: Database, tenant: TenantFixture
) -> None:
    served = _served(db, tenant)
    with pytest.raises(ConflictError, match="booking and a customer"):
        _issue(db, tenant, review(db, tenant, served, rating=1, linked=False))
    upcoming = booking(db, tenant)
    with pytest.raises(ConflictError, match="took place"):
        _issue(db, tenant, review(db, tenant, upcoming, rating=1))
    stranger = Booked(served.booking_id, booking(db, tenant).customer_id, served.total_cents)
    with pytest.raises(ConflictError, match="not the customer"):
        _issue(db, tenant, review(db, tenant, stranger, rating=1))
    staff = tenant.principal(MembershipRole.STAFF)
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        coupons.issue_coupon(uow, staff, review(db, tenant, served, rating=1))


def test_the_code_is_stored_only_as_a_keyed_hash_and_the_coupon_is_audited(
    db: Database, tenant: TenantFixture
) -> None:
    served = _served(db, tenant)
    issued = _issue(db, tenant, review(db, tenant, served, rating=2))
    assert len(issued.code) == 19 and issued.code.count("-") == 3
    plain = coupons.normalise_code(issued.code)
    with db.owner_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit.log WHERE tenant_id = :t"
                " AND table_name = 'commerce.coupons'"
            ),
            {"t": tenant.id},
        ).scalar_one()
        leaked = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit.log WHERE tenant_id = :t"
                " AND (new_values::text LIKE :c OR new_values::text LIKE :p)"
            ),
            {"t": tenant.id, "c": f"%{issued.code}%", "p": f"%{plain}%"},
        ).scalar_one()
    assert rows >= 1 and leaked == 0
    with db.tenant_uow(tenant.id) as uow:
        stored = uow.session.get(Coupon, (tenant.id, issued.coupon.id))
        assert stored is not None
        assert plain.encode() not in stored.code_hash and len(stored.code_hash) == 32


def test_a_coupon_is_redeemed_once_for_the_same_customer_through_the_ledger(
    db: Database, tenant: TenantFixture
) -> None:
    served = _served(db, tenant)
    issued = _issue(db, tenant, review(db, tenant, served, rating=3))
    other = booking(db, tenant)
    with pytest.raises(ConflictError, match="customer it was issued to"):
        _redeem(db, tenant, issued.code, other)
    with pytest.raises(NotFoundError):
        _redeem(db, tenant, "AAAA-AAAA-AAAA-AAAA", other)
    with pytest.raises(ValidationError):
        _redeem(db, tenant, "not a code", other)
    next_visit = booking(db, tenant, customer_id=served.customer_id)
    redeemed = _redeem(db, tenant, issued.code.lower().replace("-", " "), next_visit)
    assert redeemed.status is CouponStatus.REDEEMED and redeemed.redeemed_cents == 707
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.payments.paid_cents(next_visit.booking_id) == 707
        (payment,) = uow.repos.payments.for_booking(next_visit.booking_id)
        assert payment.method is PaymentMethod.COUPON and payment.provider_ref == str(redeemed.id)
    with pytest.raises(ConflictError, match="already been redeemed"):
        _redeem(db, tenant, issued.code, next_visit)
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            sa.text("UPDATE commerce.coupons SET status = 'issued', redeemed_at = NULL,"
                    " redeemed_booking_id = NULL, redeemed_cents = NULL, redeemed_payment_id = NULL"
                    " WHERE id = :i"),
            {"i": redeemed.id},
        )  # fmt: skip


def test_two_concurrent_redemptions_cannot_both_succeed(
    db: Database, tenant: TenantFixture
) -> None:
    served = _served(db, tenant)
    issued = _issue(db, tenant, review(db, tenant, served, rating=1))
    targets = [booking(db, tenant, customer_id=served.customer_id) for _ in range(4)]
    start = threading.Barrier(len(targets))
    outcomes: list[object] = []
    lock = threading.Lock()

    def redeem(target: Booked) -> None:
        start.wait()
        try:
            result: object = _redeem(db, tenant, issued.code, target)
        except ConflictError as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=redeem, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    wins = [o for o in outcomes if isinstance(o, Coupon)]
    assert len(outcomes) == len(targets) and len(wins) == 1
    with db.tenant_uow(tenant.id) as uow:
        paid = sum(uow.repos.payments.paid_cents(t.booking_id) for t in targets)
    assert paid == 707
