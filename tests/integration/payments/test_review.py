"""The review queue: match, reassign, reject; remembered payers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import ConflictError, PermissionDeniedError
from tenantry.models import Booking, PayerAlias, Payment, PaymentNotification
from tenantry.models.enums import MembershipRole
from tenantry.payments.intake import record_notices
from tenantry.payments.review import (
    RejectReason,
    list_notifications,
    match_notification,
    reject_notification,
)
from tests.conftest import TenantFixture
from tests.payments_support import notice, open_booking


def _record(db: Database, tenant: TenantFixture, items: list) -> list:
    with db.tenant_uow(tenant.id) as uow:
        out = record_notices(uow, tenant.principal(), items)
        uow.commit()
    return out


def _status(db: Database, tenant: TenantFixture, booking_id) -> str:
    with db.tenant_uow(tenant.id) as uow:
        booking = uow.session.get(Booking, (tenant.id, booking_id))
        assert booking is not None
        return str(booking.status)


def test_a_confirmed_friend_is_remembered_and_matched_next_time(
    db: Database, tenant: TenantFixture
) -> None:
    target = open_booking(db, tenant, "Erika", "Mustermann")
    open_booking(db, tenant, "Max", "Beispiel")
    [queued] = _record(db, tenant, [notice(20_000, "Jane Roe")])
    assert queued.status == "needs_review"
    with db.tenant_uow(tenant.id) as uow:
        done = match_notification(uow, tenant.principal(), queued.notification_id, target.id)
        uow.commit()
    assert done.remembered_payer and done.payment_id is not None
    assert _status(db, tenant, target.id) == "deposit_paid"
    with db.tenant_uow(tenant.id) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(PayerAlias)) == 1
    [balance] = _record(db, tenant, [notice(60_000, "JANE ROE")])
    assert (balance.status, balance.booking_id) == ("matched", target.id), balance.reasons
    assert _status(db, tenant, target.id) == "paid"


def test_reassigning_moves_the_payment_and_restores_the_first_booking(
    db: Database, tenant: TenantFixture
) -> None:
    wrong = open_booking(db, tenant, "Erika", "Mustermann")
    right = open_booking(db, tenant, "Erik", "Musterfrau")
    [out] = _record(db, tenant, [notice(20_000, "Erika Mustermann")])
    assert out.booking_id == wrong.id
    with db.tenant_uow(tenant.id) as uow:
        match_notification(uow, tenant.principal(), out.notification_id, right.id, reassign=True)
        uow.commit()
    assert _status(db, tenant, wrong.id) == "confirmed"
    assert _status(db, tenant, right.id) == "deposit_paid"
    with db.tenant_uow(tenant.id) as uow:
        statuses = sorted(str(p.status) for p in uow.session.scalars(sa.select(Payment)))
        assert statuses == ["cancelled", "succeeded"]


def test_rejecting_a_matched_notice_takes_its_payment_back(
    db: Database, tenant: TenantFixture
) -> None:
    target = open_booking(db, tenant, "Erika", "Mustermann")
    [out] = _record(db, tenant, [notice(20_000, "Erika Mustermann")])
    with db.tenant_uow(tenant.id) as uow:
        reject_notification(uow, tenant.principal(), out.notification_id, RejectReason.REFUNDED)
        uow.commit()
    assert _status(db, tenant, target.id) == "confirmed"
    with db.tenant_uow(tenant.id) as uow:
        note = uow.session.scalars(sa.select(PaymentNotification)).one()
        assert note.match_status == "rejected" and note.matched_payment_id is None
        with pytest.raises(ConflictError):
            reject_notification(uow, tenant.principal(), note.id, RejectReason.OTHER)


def test_the_queue_lists_what_needs_review_and_a_scoped_member_cannot_see_it(
    db: Database, tenant: TenantFixture
) -> None:
    open_booking(db, tenant, "Erika", "Mustermann")
    _record(db, tenant, [notice(20_000, "Erika Mustermann"), notice(5_000, "Nobody Known")])
    with db.tenant_uow(tenant.id) as uow:
        rows, more = list_notifications(uow, tenant.principal(), status="needs_review")
        assert [r.amount_cents for r in rows] == [5_000] and not more
        scoped = tenant.principal(MembershipRole.MANAGER, locations=[tenant.locations[0]])
        with pytest.raises(PermissionDeniedError):
            list_notifications(uow, scoped)
