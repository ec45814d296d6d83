"""Hostile requests to the payment surface over HTTP: races between reviewers, currencies that
do not fit, hostile Stripe events. Every refusal is a 4xx problem, never a 500, and changes
nothing."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.models import Payment
from tenantry.models.enums import PaymentStatus
from tenantry.payments import review
from tenantry.payments.endpoints import add_secret
from tenantry.payments.intake import lock_payments, record_notices
from tests.billing import booking as billing_booking
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.test_stripe_webhook_http import _event, notifications, post
from tests.payments_support import notice, open_booking

PROBLEM = "application/problem+json"
SECRET = "whsec_attack_test_0123456789"


def _record(db: Database, tenant: TenantFixture, items: list) -> list:
    with db.tenant_uow(tenant.id) as uow:
        out = record_notices(uow, tenant.principal(), items)
        uow.commit()
    return out


def _succeeded(db: Database, tenant: TenantFixture) -> list[Payment]:
    with db.tenant_uow(tenant.id) as uow:
        return list(
            uow.session.scalars(
                sa.select(Payment).where(
                    Payment.tenant_id == tenant.id, Payment.status == PaymentStatus.SUCCEEDED
                )
            )
        )


def _waiting_for_lock(db: Database) -> bool:
    with db.owner_engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar()
        )


def _while_locked(
    db: Database, tenant: TenantFixture, request: Callable[[], Any], decide: Any
) -> Any:
    """Run `request` in a thread while another reviewer holds the payments lock and `decide`s;
    the request is answered only after that decision committed."""
    answer: dict[str, Any] = {}
    with db.tenant_uow(tenant.id) as uow:
        lock_payments(uow)
        thread = threading.Thread(target=lambda: answer.setdefault("r", request()))
        thread.start()
        deadline = time.monotonic() + 10
        while not _waiting_for_lock(db) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert thread.is_alive()
        decide(uow)
        uow.commit()
    thread.join(timeout=20)
    return answer["r"]


def test_two_reviewers_matching_one_notice_at_once_do_not_silently_reassign_it(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    first = open_booking(db, tenant, "Erika", "Mustermann")
    second = open_booking(db, tenant, "Erika", "Mustermann")
    [out] = _record(db, tenant, [notice(20_000, "Erika Mustermann")])
    assert out.status == "needs_review"
    url = f"/v1/payment-notifications/{out.notification_id}/match"
    r = _while_locked(
        db,
        tenant,
        lambda: client.post(url, json={"booking_id": str(second.id)}, headers=key),
        lambda uow: review.match_notification(
            uow, tenant.principal(), out.notification_id, first.id
        ),
    )
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM, r.text
    assert "reassign" in r.json()["detail"]
    [payment] = _succeeded(db, tenant)
    assert payment.booking_id == first.id  # the first reviewer's decision stands


def test_a_reassign_racing_a_reject_does_not_bring_the_notice_back(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    first = open_booking(db, tenant, "Erika", "Mustermann")
    second = open_booking(db, tenant, "Erika", "Mustermann")
    [out] = _record(db, tenant, [notice(20_000, "Erika Mustermann")])
    url = f"/v1/payment-notifications/{out.notification_id}"
    assert client.post(f"{url}/match", json={"booking_id": str(first.id)}, headers=key).is_success
    r = _while_locked(
        db,
        tenant,
        lambda: client.post(f"{url}/reassign", json={"booking_id": str(second.id)}, headers=key),
        lambda uow: review.reject_notification(
            uow, tenant.principal(), out.notification_id, review.RejectReason.NOT_OURS
        ),
    )
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM, r.text
    assert client.get(url, headers=key).json()["status"] == "rejected"
    assert _succeeded(db, tenant) == []


def test_a_notice_cannot_be_matched_to_a_booking_in_another_currency(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    euro = open_booking(db, tenant, "Erika", "Mustermann", currency="EUR")
    [out] = _record(db, tenant, [notice(5_000, "Erika Mustermann", currency="JPY")])
    url = f"/v1/payment-notifications/{out.notification_id}/match"
    r = client.post(url, json={"booking_id": str(euro.id)}, headers=key)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert "JPY" in r.json()["detail"] and "Erika" not in r.text
    assert _succeeded(db, tenant) == []


@pytest.fixture
def shop(db: Database) -> TenantFixture:
    t = make_tenant(db, locations=1)
    with db.platform_uow(tenant_id=t.id) as uow:
        add_secret(uow, t.id, SECRET)
        uow.commit()
    return t


def _charge(event_id: str, **fields: Any) -> bytes:
    charge = {
        "id": "ch_" + event_id,
        "object": "charge",
        "amount": 12000,
        "amount_captured": 12000,
        "captured": True,
        "status": "succeeded",
        "currency": "usd",
        "payment_intent": "pi_" + event_id,
        "billing_details": {"name": "Erika Mustermann", "email": "erika@example.org"},
        **fields,
    }
    return _event("evt_" + event_id, "charge.succeeded", charge)


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": 0, "amount_captured": 0},
        {"amount": -100, "amount_captured": -100},
        {"amount": 10**22, "amount_captured": 10**22},
        {"amount": 1.5, "amount_captured": 1.5},
        {"amount": "12000", "amount_captured": "12000"},
        {"currency": "zzz"},
        {"currency": None},
        {"payment_intent": "pi_\u0000nul", "id": "ch_\u0000nul"},
        {"description": "x\u0000y" * 10_000},
        {"billing_details": {"name": "Erika\u0000" + "M" * 5_000, "phone": "5" * 500}},
        {"metadata": {"booking_code": ["a", {"b": 1}]}},
        {"billing_details": "Erika Mustermann"},
    ],
    ids=lambda f: "-".join(sorted(f)),
)
def test_a_hostile_stripe_event_is_never_a_500(
    client: TestClient, db: Database, shop: TenantFixture, fields: dict[str, Any]
) -> None:
    body = _charge(uuid.uuid4().hex[:12], **fields)
    r = post(client, shop.id, body, secret=SECRET)
    assert r.status_code < 500, r.text
    assert "Erika" not in r.text
    if r.status_code == 200 and r.json().get("status") != "rejected":
        [note] = notifications(db, shop.id)
        assert 0 < note.amount_cents <= 10**10


def test_payer_details_reach_neither_the_audit_trail_nor_plain_columns_nor_the_logs(
    db: Database,
    client: TestClient,
    key_for: Callable[..., dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    friend = open_booking(db, tenant, "Erika", "Mustermann")
    secrets = ("Quirinius Zwackelmann", "Zwackelmann", "quirinius.zw@example.org", "Quokkafest")
    given = notice(
        20_000,
        secrets[0],
        memo=f"{secrets[3]} for Erika",
        payer_email=secrets[2],
        payer_phone="+15550101234",
    )
    with caplog.at_level(logging.DEBUG):
        [out] = _record(db, tenant, [given])
        url = f"/v1/payment-notifications/{out.notification_id}"
        matched = client.post(f"{url}/match", json={"booking_id": str(friend.id)}, headers=key)
        assert matched.status_code == 200, matched.text
        moved = client.post(f"{url}/reject", json={"reason": "other"}, headers=key)
        assert moved.status_code == 200, moved.text
    with db.owner_engine.connect() as conn:
        audit = conn.execute(
            sa.text("SELECT coalesce(old_values::text, '') || coalesce(new_values::text, '')"
                    " FROM audit.log WHERE tenant_id = :t"),
            {"t": tenant.id},
        ).scalars().all()  # fmt: skip
        reasons = conn.execute(
            sa.text("SELECT reasons::text FROM commerce.match_decisions WHERE tenant_id = :t"),
            {"t": tenant.id},
        ).scalars().all()  # fmt: skip
    assert audit
    text = "\n".join([*audit, *reasons, caplog.text]).lower()
    for value in (*secrets, "5550101234"):
        assert value.lower() not in text, value


@pytest.mark.parametrize("created", [253_402_300_800, -99_999_999_999_999, 10**30])
def test_a_stripe_event_created_outside_any_datetime_is_rejected_not_a_500(
    client: TestClient, db: Database, shop: TenantFixture, created: int
) -> None:
    event = {
        "id": "evt_when",
        "object": "event",
        "created": created,
        "type": "charge.succeeded",
        "data": {"object": {"id": "ch_when", "object": "charge", "amount_captured": 100,
                            "currency": "usd", "captured": True, "status": "succeeded"}},
    }  # fmt: skip
    r = post(client, shop.id, json.dumps(event).encode(), secret=SECRET)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected"
    assert notifications(db, shop.id) == []


@pytest.mark.parametrize("action", ["reject", "reassign"])
def test_a_refunded_payment_is_not_taken_back_by_reject_or_reassign(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]], action: str
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    first = open_booking(db, tenant, "Erika", "Mustermann")
    second = open_booking(db, tenant, "Max", "Beispiel")
    [out] = _record(db, tenant, [notice(20_000, "Nobody Known")])
    url = f"/v1/payment-notifications/{out.notification_id}"
    matched = client.post(f"{url}/match", json={"booking_id": str(first.id)}, headers=key)
    payment_id = matched.json()["payment_id"]
    refund = {"amount_cents": 5_000}
    assert client.post(f"/v1/payments/{payment_id}/refunds", json=refund, headers=key).is_success
    body = {"reason": "other"} if action == "reject" else {"booking_id": str(second.id)}
    r = client.post(f"{url}/{action}", json=body, headers=key)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM, r.text
    items = client.get("/v1/payments", params={"booking_id": str(first.id)}, headers=key)
    assert sorted((p["kind"], p["status"]) for p in items.json()["items"]) == [
        ("deposit", "succeeded"),
        ("refund", "succeeded"),
    ]
    assert client.get(url, headers=key).json()["status"] == "matched"


def test_an_empty_list_of_credit_lines_credits_nothing_rather_than_everything(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    booked = billing_booking(db, tenant)
    invoice = client.post(f"/v1/bookings/{booked.booking_id}/invoices", headers=key).json()
    url = f"/v1/invoices/{invoice['id']}/credit-notes"
    r = client.post(url, json={"lines": []}, headers=key)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    notes = client.get("/v1/invoices", params={"kind": "credit_note"}, headers=key)
    assert notes.json()["items"] == []


def test_a_raw_message_is_served_as_a_download_never_as_a_page(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    page = b"From: alerts@example.com\r\n\r\n<html><script>alert(1)</script></html>"
    [out] = _record(db, tenant, [notice(1_000, "Erika Mustermann", raw=page)])
    r = client.get(f"/v1/payment-notifications/{out.notification_id}/raw", headers=key)
    assert r.status_code == 200 and r.content == page
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"] == "attachment"
    assert "sandbox" in r.headers["content-security-policy"]


def test_an_uploaded_email_the_store_refuses_is_a_422_problem_not_a_201(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = {**key_for(tenant), "Content-Type": "message/rfc822"}
    mail = (
        b"From: Venmo <venmo@venmo.com>\r\nTo: payments@example.com\r\n"
        b"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
        b"Subject: Erika Mustermann paid you $99,999,999,999.00\r\n\r\n"
        b"Transaction ID\r\n4000000000000888\r\n"
    )
    r = client.post("/v1/payment-notifications", content=mail, headers=key)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert "Erika" not in r.text
    listed = client.get("/v1/payment-notifications", params={"status": "needs_review"}, headers=key)
    assert listed.json()["items"] == []
