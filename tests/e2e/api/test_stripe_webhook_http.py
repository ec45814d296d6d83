"""`POST /v1/webhooks/stripe` through the real app: signed events in, everything else a 400.

Payment intake (the store and matcher) is another part of the system: here a recorder stands
in for it at its seam (`payments.wiring.record_items`) and keeps what the endpoint hands on.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.models.enums import MembershipRole
from tenantry.payments import wiring
from tenantry.payments.endpoints import add_secret, revoke_endpoint
from tenantry.payments.notices import Notice, Rejected
from tenantry.payments.stripe import MAX_EVENT_BYTES, sign
from tenantry.services.principal import Principal
from tests.conftest import TenantFixture, make_tenant

URL = "/v1/webhooks/stripe"
SECRET = "whsec_http_test_0123456789"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class FakeOutcome:
    origin: str | None
    status: str
    notification_id: uuid.UUID | None


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[uuid.UUID, Principal, list[Notice | Rejected]]] = []

    def __call__(
        self, uow: UnitOfWork, principal: Principal, items: Sequence[Notice | Rejected]
    ) -> list[FakeOutcome]:
        self.calls.append((uow.require_tenant(), principal, list(items)))
        return [FakeOutcome(i.origin, "needs_review", uuid.UUID(int=7)) for i in items]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recording = Recorder()
    monkeypatch.setattr(wiring, "record_items", recording)
    return recording


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
    document = {
        "id": "evt_3QhttpTEST",
        "object": "event",
        "created": int(time.time()),
        "type": event_type,
        "data": {"object": charge},
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


def test_a_signed_payment_event_is_handed_on_as_a_notice_of_the_tenant(
    client: TestClient, shop: TenantFixture, recorder: Recorder
) -> None:
    body = stripe_event()
    r = post(client, shop.id, body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "received": True,
        "event_id": "evt_3QhttpTEST",
        "status": "needs_review",
        "notification_id": str(uuid.UUID(int=7)),
    }
    [(tenant_id, principal, [item])] = recorder.calls
    assert tenant_id == shop.id and principal.tenant_id == shop.id
    assert principal.role is MembershipRole.MANAGER
    assert isinstance(item, Notice) and item.raw == body
    assert (item.transaction_id, item.amount_cents, item.currency) == (
        "pi_3QhttpTEST",
        12000,
        "USD",
    )


def test_a_redelivered_event_is_passed_on_unchanged_for_the_store_to_recognise(
    client: TestClient, shop: TenantFixture, recorder: Recorder
) -> None:
    body = stripe_event()
    assert post(client, shop.id, body).status_code == 200
    assert post(client, shop.id, body).status_code == 200
    first, second = (call[2][0] for call in recorder.calls)
    assert isinstance(first, Notice) and isinstance(second, Notice)
    assert (first.transaction_id, first.sha256) == (second.transaction_id, second.sha256)


def test_an_event_that_is_no_payment_is_acknowledged_and_ignored(
    client: TestClient, shop: TenantFixture, recorder: Recorder
) -> None:
    r = post(client, shop.id, stripe_event("customer.created"))
    assert r.status_code == 200
    assert r.json() == {"received": True, "ignored": "customer.created"}
    assert recorder.calls == []


def _rejected(r: Any) -> str:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:tenantry:problem:webhook-rejected"
    detail: str = r.json()["detail"]
    assert SECRET not in r.text
    return detail


def test_bad_signatures_are_400_problems_and_nothing_is_recorded(
    client: TestClient, shop: TenantFixture, recorder: Recorder
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
    assert recorder.calls == []


def test_an_unknown_tenant_is_refused_exactly_like_a_wrong_signature(
    client: TestClient, db: Database, shop: TenantFixture, recorder: Recorder
) -> None:
    body = stripe_event()
    unknown = _rejected(post(client, uuid.UUID(int=12345), body))
    wrong = _rejected(post(client, shop.id, body, secret="whsec_wrong_one_1234"))
    assert unknown == wrong
    other = make_tenant(db, locations=1)  # exists, has no secret of its own
    assert _rejected(post(client, other.id, body)) == wrong
    assert "tenant" in _rejected(post(client, None, body))
    assert "tenant" in _rejected(post(client, "not-a-uuid", body))
    assert recorder.calls == []


def test_a_secret_works_only_for_its_own_tenant_and_until_revoked(
    client: TestClient, db: Database, shop: TenantFixture, recorder: Recorder
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
    _rejected(post(client, other.id, body, secret="whsec_other_tenant_0123456"))
    assert len(recorder.calls) == 1


def test_during_a_rotation_both_secrets_are_accepted(
    client: TestClient, db: Database, shop: TenantFixture, recorder: Recorder
) -> None:
    with db.platform_uow(tenant_id=shop.id) as uow:
        add_secret(uow, shop.id, "whsec_rolled_new_0123456")
        uow.commit()
    body = stripe_event()
    assert post(client, shop.id, body).status_code == 200
    assert post(client, shop.id, body, secret="whsec_rolled_new_0123456").status_code == 200
    with db.platform_uow(tenant_id=shop.id) as uow:
        add_secret(uow, shop.id, "whsec_rolled_new_0123456", replace=True)
        uow.commit()
    _rejected(post(client, shop.id, body))  # the old one is revoked now
    assert len(recorder.calls) == 2


def test_a_body_over_the_cap_is_413_before_it_is_checked(
    client: TestClient, shop: TenantFixture, recorder: Recorder
) -> None:
    body = stripe_event(description="x" * MAX_EVENT_BYTES)
    r = post(client, shop.id, body)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    assert recorder.calls == []
