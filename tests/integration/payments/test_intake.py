"""Recording notices: matching, payments through the ledger, duplicates, review."""

from __future__ import annotations

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.domain.bookings import booking_code
from tenantry.models import Booking, Invoice, MatchDecision, Payment, PaymentNotification
from tenantry.models.enums import MembershipRole
from tenantry.payments.intake import record_notices
from tenantry.payments.invoices import issue_invoice
from tenantry.payments.notices import TrustLevel
from tenantry.services.privacy.retention import run_retention
from tests.conftest import TenantFixture
from tests.payments_support import notice, open_booking


def _record(db: Database, tenant: TenantFixture, items: list) -> list:
    with db.tenant_uow(tenant.id) as uow:
        out = record_notices(uow, tenant.principal(), items)
        uow.commit()
    return out


def test_a_deposit_from_the_customer_is_matched_and_recorded_on_the_booking(
    db: Database, tenant: TenantFixture
) -> None:
    target = open_booking(db, tenant, "Erika", "Mustermann")
    open_booking(db, tenant, "Max", "Beispiel")  # same amounts, another person
    [out] = _record(db, tenant, [notice(20_000, "ERIKA MUSTERMANN")])
    assert out.status == "matched", out.reasons
    assert out.booking_id == target.id
    with db.tenant_uow(tenant.id) as uow:
        booking = uow.session.get(Booking, (tenant.id, target.id))
        assert booking is not None and booking.status == "deposit_paid"
        payment = uow.session.scalars(
            sa.select(Payment).where(Payment.booking_id == target.id)
        ).one()
        assert (payment.kind, payment.amount_cents) == ("deposit", 20_000)
        note = uow.session.scalars(sa.select(PaymentNotification)).one()
        assert note.matched_payment_id == payment.id and note.raw_sha256
        assert note.match_confidence is not None and float(note.match_confidence) >= 0.9
        decision = uow.session.scalars(sa.select(MatchDecision)).one()
        assert decision.action == "auto_matched" and decision.booking_id == target.id


def test_a_redelivered_notice_changes_nothing(db: Database, tenant: TenantFixture) -> None:
    open_booking(db, tenant, "Erika", "Mustermann")
    first = notice(20_000, "Erika Mustermann")
    _record(db, tenant, [first])
    [again] = _record(db, tenant, [first])
    assert again.status == "duplicate"
    with db.tenant_uow(tenant.id) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(PaymentNotification)) == 1


def test_an_unverified_notice_is_never_matched_automatically(
    db: Database, tenant: TenantFixture
) -> None:
    open_booking(db, tenant, "Erika", "Mustermann")
    [out] = _record(db, tenant, [notice(20_000, "Erika Mustermann", trust=TrustLevel.FORGED)])
    assert out.status == "needs_review"
    assert any("not verified" in r for r in out.reasons)
    with db.tenant_uow(tenant.id) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_a_friend_paying_with_the_booking_code_is_matched(
    db: Database, tenant: TenantFixture
) -> None:
    target = open_booking(db, tenant, "Erika", "Mustermann")
    open_booking(db, tenant, "Max", "Beispiel")
    memo = f"hibachi for a friend, booking {booking_code(target.id)}"
    [out] = _record(db, tenant, [notice(20_000, "John Doe", memo=memo)])
    assert (out.status, out.booking_id) == ("matched", target.id)


def test_two_equal_candidates_go_to_review(db: Database, tenant: TenantFixture) -> None:
    open_booking(db, tenant, "Erika", "Mustermann")
    open_booking(db, tenant, "Erika", "Mustermann")
    [out] = _record(db, tenant, [notice(20_000, "Erika Mustermann")])
    assert out.status == "needs_review"
    assert any("runner-up" in r for r in out.reasons)


def test_deposit_and_balance_in_one_batch_pay_the_booking(
    db: Database, tenant: TenantFixture
) -> None:
    target = open_booking(db, tenant, "Erika", "Mustermann")
    outs = _record(
        db, tenant, [notice(20_000, "Erika Mustermann"), notice(60_000, "Erika Mustermann")]
    )
    assert [o.status for o in outs] == ["matched", "matched"], [o.reasons for o in outs]
    with db.tenant_uow(tenant.id) as uow:
        booking = uow.session.get(Booking, (tenant.id, target.id))
        assert booking is not None and booking.status == "paid"


def test_two_payers_sharing_a_deposit_are_both_recorded(
    db: Database, tenant: TenantFixture
) -> None:
    target = open_booking(db, tenant, "Erika", "Mustermann")
    open_booking(db, tenant, "Max", "Beispiel")
    code = booking_code(target.id)
    outs = _record(
        db,
        tenant,
        [
            notice(10_000, "Erika Mustermann"),
            notice(10_000, "Jordan Rivera", memo=f"my half {code}"),
        ],
    )
    assert [(o.status, o.booking_id) for o in outs] == [("matched", target.id)] * 2
    with db.tenant_uow(tenant.id) as uow:
        booking = uow.session.get(Booking, (tenant.id, target.id))
        assert booking is not None and booking.status == "deposit_paid"


def test_notifications_expire_with_the_payments_they_document(
    db: Database, tenant: TenantFixture
) -> None:
    open_booking(db, tenant, "Erika", "Mustermann")
    old, new = _record(db, tenant, [notice(5_000, "Nobody Known"), notice(6_000, "Nobody Else")])
    with db.owner_engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE commerce.payment_notifications SET received_at = now() - interval '10 years'"
                " WHERE id = :id"
            ),
            {"id": old.notification_id},
        )
    outcome = {o.dataset: o for o in run_retention(db, tenant.principal(MembershipRole.DPO))}[
        "commerce.payment_notifications"
    ]
    assert outcome.affected == 1
    with db.tenant_uow(tenant.id) as uow:
        left = uow.session.scalars(sa.select(PaymentNotification.id)).all()
        assert left == [new.notification_id]


def test_a_matched_payment_settles_the_bookings_issued_invoice(
    db: Database, tenant: TenantFixture
) -> None:
    target = open_booking(db, tenant, "Erika", "Mustermann", total_cents=30_000, deposit_cents=0)
    with db.tenant_uow(tenant.id) as uow:
        invoice = issue_invoice(uow, tenant.principal(), target.id)
        uow.commit()
    [out] = _record(db, tenant, [notice(30_000, "Erika Mustermann")])
    assert out.status == "matched"
    with db.tenant_uow(tenant.id) as uow:
        settled = uow.session.get(Invoice, (tenant.id, invoice.id))
        assert settled is not None and settled.status == "paid"
