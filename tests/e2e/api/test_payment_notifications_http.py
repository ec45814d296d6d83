"""The review queue over HTTP: list, detail with candidates, match, reassign, reject."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.demo.payment_mail import SamplePayment, keys_file_text, make_test_key, signed_mail
from tenantry.payments.intake import record_notices
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import api_settings
from tests.payments_support import notice, open_booking

PROBLEM = "application/problem+json"


def _record(db: Database, tenant: TenantFixture, items: list) -> list:
    with db.tenant_uow(tenant.id) as uow:
        out = record_notices(uow, tenant.principal(), items)
        uow.commit()
    return out


def test_a_reviewer_works_the_queue_through_http(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    first = open_booking(db, tenant, "Erika", "Mustermann")
    second = open_booking(db, tenant, "Erika", "Mustermann")
    [out] = _record(db, tenant, [notice(20_000, "Erika Mustermann")])
    assert out.status == "needs_review"

    queue = client.get("/v1/payment-notifications?status=needs_review", headers=key)
    assert queue.status_code == 200, queue.text
    [item] = queue.json()["items"]
    assert item["id"] == str(out.notification_id) and item["status"] == "needs_review"
    assert item["payer_name"] == "Erika Mustermann" and item["trust"] == "verified"

    detail = client.get(f"/v1/payment-notifications/{item['id']}", headers=key)
    assert detail.status_code == 200 and detail.headers["ETag"]
    candidates = {c["booking_id"] for c in detail.json()["candidates"]}
    assert candidates == {str(first.id), str(second.id)}

    matched = client.post(
        f"/v1/payment-notifications/{item['id']}/match",
        json={"booking_id": str(second.id)},
        headers=key,
    )
    assert matched.status_code == 200, matched.text
    body = matched.json()
    assert (body["status"], body["booking_id"], body["kind"]) == (
        "matched",
        str(second.id),
        "deposit",
    )
    again = client.post(
        f"/v1/payment-notifications/{item['id']}/match",
        json={"booking_id": str(second.id)},
        headers=key,
    )
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM

    moved = client.post(
        f"/v1/payment-notifications/{item['id']}/reassign",
        json={"booking_id": str(first.id)},
        headers=key,
    )
    assert moved.status_code == 200 and moved.json()["booking_id"] == str(first.id)
    booking = client.get(f"/v1/bookings/{second.id}", headers=key).json()
    assert booking["status"] == "confirmed"

    rejected = client.post(
        f"/v1/payment-notifications/{item['id']}/reject", json={"reason": "refunded"}, headers=key
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert client.get(f"/v1/bookings/{first.id}", headers=key).json()["status"] == "confirmed"
    history = client.get(f"/v1/payment-notifications/{item['id']}", headers=key).json()
    assert [d["action"] for d in history["decisions"]] == [
        "queued",
        "matched",
        "reassigned",
        "rejected",
    ]

    raw = client.get(f"/v1/payment-notifications/{item['id']}/raw", headers=key)
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("message/rfc822")


def test_bad_review_input_is_a_problem_and_changes_nothing(
    db: Database, client: TestClient, key_for: Callable[..., dict[str, str]]
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    open_booking(db, tenant, "Erika", "Mustermann")
    [out] = _record(db, tenant, [notice(99_999_00, "Nobody Known")])
    url = f"/v1/payment-notifications/{out.notification_id}"
    for body in ({}, {"booking_id": "nope"}, {"booking_id": str(out.notification_id), "x": 1}):
        r = client.post(f"{url}/match", json=body, headers=key)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    r = client.post(f"{url}/reject", json={"reason": "because"}, headers=key)
    assert r.status_code == 422
    r = client.post(f"{url}/match", json={"booking_id": str(out.notification_id)}, headers=key)
    assert r.status_code == 404
    assert client.get(url, headers=key).json()["status"] == "needs_review"
    staff = key_for(tenant, "staff")
    assert client.post(f"{url}/reject", json={"reason": "other"}, headers=staff).status_code == 403
    scoped = key_for(tenant, "manager", [tenant.locations[0]])
    assert client.get("/v1/payment-notifications", headers=scoped).status_code == 403


def test_a_relay_hands_in_a_signed_e_mail_and_its_redelivery_changes_nothing(
    db: Database, settings: Settings, key_for: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    tenant = make_tenant(db)
    key = key_for(tenant)
    target = open_booking(db, tenant, "Erika", "Mustermann")
    dkim = make_test_key()
    keys = tmp_path / "keys.txt"
    keys.write_text(keys_file_text(dkim))
    app = create_app(db, settings=api_settings(settings, dkim_keys_file=keys))
    payment = SamplePayment(20_000, "Erika Mustermann", datetime.now(UTC), "4000000000000777")
    raw = signed_mail("venmo", payment, dkim)
    headers = {**key, "Content-Type": "message/rfc822"}
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post("/v1/payment-notifications", content=raw, headers=headers)
        assert first.status_code == 201, first.text
        assert (first.json()["status"], first.json()["booking_id"]) == ("matched", str(target.id))
        again = client.post("/v1/payment-notifications", content=raw, headers=headers)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        other = SamplePayment(20_000, "Erika Mustermann", datetime.now(UTC), "4000000000000888")
        tampered = signed_mail("venmo", other, dkim).replace(b"200.00", b"900.00")
        forged = client.post("/v1/payment-notifications", content=tampered, headers=headers)
        assert forged.status_code == 201, forged.text
        assert forged.json()["status"] == "needs_review" and forged.json()["trust"] == "forged"
        wrong = client.post(
            "/v1/payment-notifications", content=raw, headers={**key, "Content-Type": "text/plain"}
        )
        assert wrong.status_code == 415 and wrong.headers["content-type"] == PROBLEM
        junk = client.post("/v1/payment-notifications", content=b"\x00\xff" * 10, headers=headers)
        assert junk.status_code == 422 and junk.headers["content-type"] == PROBLEM
        staff = {**key_for(tenant, "staff"), "Content-Type": "message/rfc822"}
        assert (
            client.post("/v1/payment-notifications", content=raw, headers=staff).status_code == 403
        )
