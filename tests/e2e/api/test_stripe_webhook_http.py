"""`POST /v1/webhooks/stripe` through the real app: signed events in, everything else a 400.

Every check reads the store: the tenant's `commerce.payment_notifications` and
`commerce.payments` rows and the booking's status, never what a stand-in received.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.domain.bookings import booking_code
from tenantry.models import Booking, Payment, PaymentNotification
from tenantry.payments import webhook
from tenantry.payments.endpoints import add_secret, revoke_endpoint
from tenantry.payments.intake import Outcome
from tenantry.payments.stripe import MAX_EVENT_BYTES, sign
from tests.conftest import TenantFixture, make_tenant
from tests.payments_support import open_booking

URL = "/v1/webhooks/stripe"
SECRET = "whsec_http_test_0123456789"
PROBLEM = "application/problem+json"


@pytest.fixture
def shop(db: Database) -> TenantFixture:
    t = make_tenant(db, locations=1)
    with db.platform_uow(tenant_id=t.id) as uow:
        add_secret(uow, t.id, SECRET)
        uow.commit()
    return t


def stripe_event(event_type: str = "charge.succeeded", **obj: Any) -> bytes:
    charge = {
        "id": "ch_3QhttpTEST",
        "object": "charge",
        "amount": 12000,
        "amount_captured": 12000,
        "currency": "usd",
        "payment_intent": "pi_3QhttpTEST",
        "description": "Catering deposit",
        "metadata": {"booking_code": "BK-HTTP1"},
        "billing_details": {"name": "Erika Mustermann", "email": "erika@example.org"},
        **obj,
    }
    return _event("evt_3QhttpTEST", event_type, charge)


def _event(event_id: str, event_type: str, obj: dict[str, Any]) -> bytes:
    document = {
        "id": event_id,
        "object": "event",
        "created": int(time.time()),
        "type": event_type,
        "data": {"object": obj},
    }
    return json.dumps(document).encode()


def post(
    client: TestClient,
    tenant: uuid.UUID | str | None,
    body: bytes,
    *,
    secret: str = SECRET,
    t: int | None = None,
    signature: str | None = None,
) -> Any:
    t = int(time.time()) if t is None else t
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = signature or f"t={t},v1={sign(body, secret, t)}"
    params = {} if tenant is None else {"tenant": str(tenant)}
    return client.post(URL, content=body, headers=headers, params=params)


def notifications(db: Database, tenant_id: uuid.UUID) -> list[PaymentNotification]:
    """The tenant's stored notifications, oldest first (read through its own unit of work)."""
    with db.tenant_uow(tenant_id) as uow:
        rows = uow.session.scalars(
            sa.select(PaymentNotification).order_by(PaymentNotification.created_at)
        ).all()
        uow.session.expunge_all()
    return list(rows)


def payments(db: Database, tenant_id: uuid.UUID) -> list[Payment]:
    with db.tenant_uow(tenant_id) as uow:
        rows = uow.session.scalars(sa.select(Payment)).all()
        uow.session.expunge_all()
    return list(rows)


def booking_status(db: Database, tenant_id: uuid.UUID, booking_id: uuid.UUID) -> str:
    with db.tenant_uow(tenant_id) as uow:
        booking = uow.session.get(Booking, (tenant_id, booking_id))
        assert booking is not None
        return str(booking.status)


def test_a_signed_payment_event_is_stored_as_a_notification_of_the_tenant(
    client: TestClient, db: Database, shop: TenantFixture, key_for: Callable[..., Any]
) -> None:
    body = stripe_event()
    r = post(client, shop.id, body)
    assert r.status_code == 200, r.text
    [note] = notifications(db, shop.id)
    # No booking of this tenant is open: stored, and left for review.
    assert r.json() == {
        "received": True,
        "event_id": "evt_3QhttpTEST",
        "status": "needs_review",
        "notification_id": str(note.id),
    }
    assert (note.source, note.provider, note.trust, note.signing_domain) == (
        "webhook",
        "stripe",
        "verified",
        "stripe.com",
    )
    assert (note.transaction_id, note.amount_cents, note.currency) == (
        "pi_3QhttpTEST",
        12000,
        "USD",
    )
    assert note.match_status == "needs_review" and note.matched_payment_id is None
    assert note.raw_sha256 == hashlib.sha256(body).hexdigest()
    raw = client.get(f"/v1/payment-notifications/{note.id}/raw", headers=key_for(shop))
    assert raw.status_code == 200 and raw.content == body
    with db.platform_uow() as uow:
        actor = uow.session.execute(
            sa.text(
                "SELECT actor FROM audit.log WHERE tenant_id = :t AND row_id = :r"
                " AND table_name = 'commerce.payment_notifications' AND op = 'I'"
            ),
            {"t": shop.id, "r": str(note.id)},
        ).scalar_one()
    assert actor == webhook.WEBHOOK_ACTOR
    assert payments(db, shop.id) == []


def test_a_redelivered_event_is_recognised_and_changes_nothing(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    body = stripe_event()
    first = post(client, shop.id, body)
    again = post(client, shop.id, body)
    assert first.status_code == again.status_code == 200
    assert (first.json()["status"], again.json()["status"]) == ("needs_review", "duplicate")
    assert again.json()["notification_id"] == first.json()["notification_id"]
    [note] = notifications(db, shop.id)
    assert str(note.id) == first.json()["notification_id"]
    assert note.match_status == "needs_review"


def test_an_event_that_is_no_payment_is_acknowledged_and_ignored(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    r = post(client, shop.id, stripe_event("customer.created"))
    assert r.status_code == 200
    assert r.json() == {"received": True, "ignored": "customer.created"}
    assert notifications(db, shop.id) == []


def _rejected(r: Any) -> str:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:tenantry:problem:webhook-rejected"
    detail: str = r.json()["detail"]
    assert SECRET not in r.text
    return detail


def test_bad_signatures_are_400_problems_and_nothing_is_recorded(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    body = stripe_event()
    now = int(time.time())
    assert "does not verify" in _rejected(
        post(client, shop.id, body, secret="whsec_wrong_one_1234")
    )
    tampered = body.replace(b"12000", b"99000")
    assert "does not verify" in _rejected(
        post(client, shop.id, tampered, signature=f"t={now},v1={sign(body, SECRET, now)}")
    )
    assert "tolerance" in _rejected(post(client, shop.id, body, t=now - 600))
    assert "malformed" in _rejected(post(client, shop.id, body, signature="v1=deadbeef"))
    missing = client.post(URL, content=body, params={"tenant": str(shop.id)})
    assert "missing" in _rejected(missing)
    assert notifications(db, shop.id) == []


def test_an_unknown_tenant_is_refused_exactly_like_a_wrong_signature(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    body = stripe_event()
    unknown = _rejected(post(client, uuid.UUID(int=12345), body))
    wrong = _rejected(post(client, shop.id, body, secret="whsec_wrong_one_1234"))
    assert unknown == wrong
    other = make_tenant(db, locations=1)  # exists, has no secret of its own
    assert _rejected(post(client, other.id, body)) == wrong
    assert "tenant" in _rejected(post(client, None, body))
    assert "tenant" in _rejected(post(client, "not-a-uuid", body))
    assert notifications(db, shop.id) == [] and notifications(db, other.id) == []


def test_a_secret_works_only_for_its_own_tenant_and_until_revoked(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    other = make_tenant(db, locations=1)
    with db.platform_uow(tenant_id=other.id) as uow:
        other_secret = add_secret(uow, other.id, "whsec_other_tenant_0123456")
        uow.commit()
    body = stripe_event()
    _rejected(post(client, shop.id, body, secret="whsec_other_tenant_0123456"))
    assert post(client, other.id, body, secret="whsec_other_tenant_0123456").status_code == 200
    with db.platform_uow(tenant_id=other.id) as uow:
        revoke_endpoint(uow, other.id, other_secret.endpoint_id)
        uow.commit()
    _rejected(post(client, other.id, stripe_event(id="ch_3QhttpOTHER", payment_intent="pi_2"),
                   secret="whsec_other_tenant_0123456"))  # fmt: skip
    assert notifications(db, shop.id) == []
    assert [n.transaction_id for n in notifications(db, other.id)] == ["pi_3QhttpTEST"]


def test_during_a_rotation_both_secrets_are_accepted(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    with db.platform_uow(tenant_id=shop.id) as uow:
        add_secret(uow, shop.id, "whsec_rolled_new_0123456")
        uow.commit()
    body = stripe_event()
    old = post(client, shop.id, body)
    new = post(client, shop.id, body, secret="whsec_rolled_new_0123456")
    assert old.status_code == new.status_code == 200
    assert (old.json()["status"], new.json()["status"]) == ("needs_review", "duplicate")
    with db.platform_uow(tenant_id=shop.id) as uow:
        add_secret(uow, shop.id, "whsec_rolled_new_0123456", replace=True)
        uow.commit()
    later = stripe_event(id="ch_3QhttpLATER", payment_intent="pi_3QhttpLATER")
    _rejected(post(client, shop.id, later))  # the old one is revoked now
    assert post(client, shop.id, later, secret="whsec_rolled_new_0123456").status_code == 200
    assert [n.transaction_id for n in notifications(db, shop.id)] == [
        "pi_3QhttpTEST",
        "pi_3QhttpLATER",
    ]


def test_a_body_over_the_cap_is_413_before_it_is_checked(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    body = stripe_event(description="x" * MAX_EVENT_BYTES)
    r = post(client, shop.id, body)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    assert notifications(db, shop.id) == []


def _intent_succeeded(intent: str, amount: int, code: str) -> bytes:
    """A `payment_intent.succeeded` as a current API version sends it (no payer name)."""
    return _event(
        "evt_1PIsucceeded",
        "payment_intent.succeeded",
        {
            "id": intent,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": "usd",
            "status": "succeeded",
            "description": "Hibachi party deposit",
            "metadata": {"booking_code": code},
            "receipt_email": "erika@example.org",
        },
    )


def test_a_deposit_paid_through_stripe_is_matched_and_recorded_once(
    client: TestClient, db: Database, shop: TenantFixture
) -> None:
    target = open_booking(db, shop, "Erika", "Mustermann")
    open_booking(db, shop, "Max", "Beispiel")  # the same amounts, another customer
    intent = "pi_3QdepositTEST"
    paid = post(client, shop.id, _intent_succeeded(intent, target.deposit_cents,
                                                   booking_code(target.id)))  # fmt: skip
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "matched"
    [note] = notifications(db, shop.id)
    assert paid.json()["notification_id"] == str(note.id)
    assert (note.match_status, note.matched_booking_id) == ("matched", target.id)
    assert booking_status(db, shop.id, target.id) == "deposit_paid"
    [payment] = payments(db, shop.id)
    assert (payment.booking_id, payment.kind, payment.amount_cents) == (
        target.id,
        "deposit",
        target.deposit_cents,
    )
    assert (payment.method, payment.provider_ref) == ("stripe", intent)
    assert note.matched_payment_id == payment.id

    # Stripe delivers the same event again, then the charge of the same payment intent.
    again = post(client, shop.id, _intent_succeeded(intent, target.deposit_cents,
                                                    booking_code(target.id)))  # fmt: skip
    charge = stripe_event(
        id="ch_3QdepositTEST",
        payment_intent=intent,
        amount=target.deposit_cents,
        amount_captured=target.deposit_cents,
        metadata={"booking_code": booking_code(target.id)},
    )
    charged = post(client, shop.id, charge)
    for r in (again, charged):
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "duplicate"
        assert r.json()["notification_id"] == str(note.id)
    assert [n.id for n in notifications(db, shop.id)] == [note.id]
    assert [p.id for p in payments(db, shop.id)] == [payment.id]
    assert booking_status(db, shop.id, target.id) == "deposit_paid"


def test_a_failure_while_recording_is_a_5xx_that_stores_nothing_and_a_retry_records(
    client: TestClient, db: Database, shop: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = open_booking(db, shop, "Erika", "Mustermann")
    real = webhook.record_notices

    def record_then_fail(uow: UnitOfWork, *args: Any, **kwargs: Any) -> list[Outcome]:
        real(uow, *args, **kwargs)  # everything is written, then the store fails
        raise RuntimeError("the database went away")

    body = _intent_succeeded("pi_3QretryTEST", target.deposit_cents, booking_code(target.id))
    monkeypatch.setattr(webhook, "record_notices", record_then_fail)
    failed = post(client, shop.id, body)
    assert failed.status_code >= 500 and failed.headers["content-type"] == PROBLEM
    assert notifications(db, shop.id) == [] and payments(db, shop.id) == []
    assert booking_status(db, shop.id, target.id) == "confirmed"
    monkeypatch.undo()
    retried = post(client, shop.id, body)  # Stripe retries the event
    assert retried.status_code == 200 and retried.json()["status"] == "matched"
    assert booking_status(db, shop.id, target.id) == "deposit_paid"
