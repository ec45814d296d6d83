"""Invoices, credit notes, refunds and review coupons through HTTP, errors as problem+json."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.models.enums import BookingStatus
from tests.billing import booking, review
from tests.conftest import TenantFixture
from tests.e2e.api.conftest import issue_key

PROBLEM = "application/problem+json"


def _problem(r: object, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body: dict[str, object] = r.json()  # type: ignore[attr-defined]
    return body


def test_an_invoice_is_issued_listed_printed_and_credited(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner = issue_key(db, tenant.id)
    booked = booking(db, tenant)
    r = client.post(f"/v1/bookings/{booked.booking_id}/invoices", headers=owner)
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["number"].endswith("-000001") and inv["gross_cents"] == 7070
    assert len(inv["lines"]) == 2 and inv["billing_name"] == "Erika Mustermann"
    again = client.post(f"/v1/bookings/{booked.booking_id}/invoices", headers=owner)
    assert _problem(again, 409)["detail"]
    listed = client.get(
        "/v1/invoices", params={"booking_id": str(booked.booking_id)}, headers=owner
    )
    assert [i["id"] for i in listed.json()["items"]] == [inv["id"]]
    one = client.get(f"/v1/invoices/{inv['id']}", headers=owner)
    assert one.status_code == 200 and one.headers["etag"] and one.json() == inv
    pdf = client.get(f"/v1/invoices/{inv['id']}/pdf", headers=owner)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    too_much = client.post(
        f"/v1/invoices/{inv['id']}/credit-notes", json={"amount_cents": 7071}, headers=owner
    )
    _problem(too_much, 422)
    line = inv["lines"][0]
    note = client.post(
        f"/v1/invoices/{inv['id']}/credit-notes",
        json={"lines": [{"invoice_line_id": line["id"], "amount_cents": 100}], "reason": "late"},
        headers=owner,
    )
    assert note.status_code == 201, note.text
    assert note.json()["kind"] == "credit_note" and note.json()["credits_invoice_id"] == inv["id"]
    rest = client.post(f"/v1/invoices/{inv['id']}/credit-notes", headers=owner)
    assert rest.status_code == 201 and rest.json()["gross_cents"] == 6970
    done = client.post(f"/v1/invoices/{inv['id']}/credit-notes", json={}, headers=owner)
    _problem(done, 409)
    notes = client.get("/v1/invoices", params={"kind": "credit_note"}, headers=owner).json()
    assert len(notes["items"]) == 2
    staff = issue_key(db, tenant.id, "staff")
    other = booking(db, tenant)
    _problem(client.post(f"/v1/bookings/{other.booking_id}/invoices", headers=staff), 403)
    bad = client.post(
        f"/v1/bookings/{other.booking_id}/invoices", json={"due_in_days": "14"}, headers=owner
    )
    _problem(bad, 422)


def test_a_refund_goes_through_the_ledger_and_is_limited(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner = issue_key(db, tenant.id)
    booked = booking(db, tenant, paid_cents=7070)
    (payment,) = client.get(
        "/v1/payments", params={"booking_id": str(booked.booking_id)}, headers=owner
    ).json()["items"]
    r = client.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount_cents": 1250, "reason": "one guest less"},
        headers=owner,
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "refund" and r.json()["refund_of_payment_id"] == payment["id"]
    b = client.get(f"/v1/bookings/{booked.booking_id}", headers=owner).json()
    assert b["status"] == "confirmed"
    over = client.post(
        f"/v1/payments/{payment['id']}/refunds", json={"amount_cents": 5821}, headers=owner
    )
    assert "5820 cents" in str(_problem(over, 422)["detail"])
    _problem(
        client.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount_cents": 0}, headers=owner
        ),
        422,
    )


def test_a_coupon_is_issued_once_with_its_code_and_redeemed_once(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner = issue_key(db, tenant.id)
    served = booking(db, tenant, paid_cents=7070, status=BookingStatus.FULFILLED)
    complaint = review(db, tenant, served, rating=2)
    over = client.post(
        "/v1/coupons", json={"review_id": str(complaint), "amount_cents": 708}, headers=owner
    )
    assert "707" in str(_problem(over, 422)["detail"])
    key = {**owner, "Idempotency-Key": "coupon-1"}
    r = client.post("/v1/coupons", json={"review_id": str(complaint)}, headers=key)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert code and r.json()["amount_cents"] == 707
    replay = client.post("/v1/coupons", json={"review_id": str(complaint)}, headers=key)
    assert replay.status_code == 201 and replay.json()["code"] is None
    listed = client.get("/v1/coupons", headers=owner).json()["items"]
    assert [c["id"] for c in listed] == [r.json()["id"]] and "code" not in listed[0]
    good = review(db, tenant, served, rating=5)
    _problem(client.post("/v1/coupons", json={"review_id": str(good)}, headers=owner), 409)
    visit = booking(db, tenant, customer_id=served.customer_id)
    redeem = {"code": code, "booking_id": str(visit.booking_id)}
    done = client.post("/v1/coupons/redeem", json=redeem, headers=owner)
    assert done.status_code == 200, done.text
    assert done.json()["coupon"]["status"] == "redeemed"
    assert done.json()["payment"]["method"] == "coupon"
    _problem(client.post("/v1/coupons/redeem", json=redeem, headers=owner), 409)
    unknown = {"code": "AAAA-AAAA-AAAA-AAAA", "booking_id": str(visit.booking_id)}
    _problem(client.post("/v1/coupons/redeem", json=unknown, headers=owner), 404)
    got = client.get(f"/v1/coupons/{r.json()['id']}", headers=owner)
    assert got.status_code == 200 and got.json()["redeemed_cents"] == 707
