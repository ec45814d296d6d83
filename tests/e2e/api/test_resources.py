"""Contract tests for the /v1 resources other than leads, through the ASGI app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.models import Connection
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key
from tests.factories import populate_every_table


def _customer(client: TestClient, h: dict[str, str], tenant: TenantFixture) -> dict:
    r = client.post(
        "/v1/customers",
        json={
            "home_location_id": str(tenant.locations[0]),
            "first_name": "Max",
            "last_name": "Mustermann",
            "email": "Max@Example.org",
            "tags": ["vip"],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_customers_create_get_list(client: TestClient, tenant: TenantFixture, key_for) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant)
    assert c["email"] == "max@example.org" and c["tags"] == ["vip"]
    assert client.get(f"/v1/customers/{c['id']}", headers=h).json() == c
    listed = client.get(
        "/v1/customers", params={"home_location_id": str(tenant.locations[0])}, headers=h
    ).json()
    assert [x["id"] for x in listed["items"]] == [c["id"]]
    bad = client.post("/v1/customers", json={"country": "germany", "extra": 1}, headers=h)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body.country", "body.extra"}


def test_vehicles_belong_to_customers(client: TestClient, tenant: TenantFixture, key_for) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant)
    v = client.post(
        "/v1/vehicles",
        json={"customer_id": c["id"], "make": "VW", "model": "Golf", "tuv_due_on": "2027-05-01"},
        headers=h,
    )
    assert v.status_code == 201, v.text
    assert client.get(f"/v1/vehicles/{v.json()['id']}", headers=h).json()["tuv_due_on"] == (
        "2027-05-01"
    )
    listed = client.get("/v1/vehicles", params={"customer_id": c["id"]}, headers=h).json()
    assert [x["id"] for x in listed["items"]] == [v.json()["id"]]


def test_locations_and_services(client: TestClient, tenant: TenantFixture, key_for) -> None:
    h = key_for(tenant)
    loc = client.post(
        "/v1/locations",
        json={"name": "Werkstatt Nord", "slug": "nord", "vertical": "workshop", "city": "Hamburg"},
        headers=h,
    )
    assert loc.status_code == 201, loc.text
    dup = client.post(
        "/v1/locations", json={"name": "Again", "slug": "nord", "vertical": "workshop"}, headers=h
    )
    assert dup.status_code == 409 and dup.json()["type"] == "urn:tenantry:problem:conflict"
    in_city = client.get("/v1/locations", params={"city": "Hamburg"}, headers=h).json()
    assert [x["id"] for x in in_city["items"]] == [loc.json()["id"]]
    svc = client.post(
        "/v1/services",
        json={
            "location_id": loc.json()["id"],
            "kind": "workshop_service",
            "name": "Ölwechsel",
            "price_cents": 8900,
        },
        headers=h,
    )
    assert svc.status_code == 201, svc.text
    listed = client.get("/v1/services", params={"location_id": loc.json()["id"]}, headers=h)
    assert [x["name"] for x in listed.json()["items"]] == ["Ölwechsel"]


def test_booking_lifecycle_with_payments(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant)
    b = client.post(
        "/v1/bookings",
        json={
            "location_id": str(tenant.locations[0]),
            "customer_id": c["id"],
            "kind": "reservation",
            "starts_at": "2027-01-10T19:00:00+01:00",
            "deposit_cents": 1000,
            "items": [{"quantity": 2, "description": "Menü", "unit_price_cents": 2500}],
        },
        headers=h,
    )
    assert b.status_code == 201, b.text
    booking = b.json()
    assert booking["total_cents"] == 5000 and len(booking["items"]) == 1
    base = f"/v1/bookings/{booking['id']}"
    naive = client.post(
        "/v1/bookings",
        json={
            **{k: booking[k] for k in ("location_id", "customer_id", "kind")},
            "starts_at": "2027-01-10T19:00:00",
            "items": [{"quantity": 1, "description": "x", "unit_price_cents": 1}],
        },
        headers=h,
    )
    assert naive.status_code == 422
    assert client.post(f"{base}/fulfil", headers=h).status_code == 409
    assert client.post(f"{base}/confirm", headers=h).json()["status"] == "confirmed"
    pay = client.post(
        f"{base}/payments",
        json={"kind": "deposit", "method": "card", "amount_cents": 1000},
        headers=h,
    )
    assert pay.status_code == 201, pay.text
    assert client.get(base, headers=h).json()["status"] == "deposit_paid"
    over = client.post(
        f"{base}/payments",
        json={"kind": "balance", "method": "cash", "amount_cents": 9000},
        headers=h,
    )
    assert over.status_code == 422
    client.post(
        f"{base}/payments",
        json={"kind": "balance", "method": "cash", "amount_cents": 4000},
        headers=h,
    )
    assert client.post(f"{base}/fulfil", headers=h).json()["status"] == "fulfilled"
    payments = client.get("/v1/payments", params={"booking_id": booking["id"]}, headers=h).json()
    assert [p["amount_cents"] for p in payments["items"]] == [1000, 4000]
    assert client.get(f"/v1/payments/{pay.json()['id']}", headers=h).json()["kind"] == "deposit"
    listed = client.get("/v1/bookings", params={"status": "fulfilled"}, headers=h).json()
    assert [x["id"] for x in listed["items"]] == [booking["id"]]
    assert listed["items"][0]["items"][0]["description"] == "Menü"


def test_cancel_records_the_reason(client: TestClient, tenant: TenantFixture, key_for) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant)
    b = client.post(
        "/v1/bookings",
        json={
            "location_id": str(tenant.locations[0]),
            "customer_id": c["id"],
            "kind": "appointment",
            "starts_at": "2027-02-01T09:00:00Z",
            "items": [{"quantity": 1, "description": "Inspektion", "unit_price_cents": 100}],
        },
        headers=h,
    ).json()
    r = client.post(f"/v1/bookings/{b['id']}/cancel", json={"reason": "sick"}, headers=h)
    assert r.json()["status"] == "cancelled" and r.json()["cancellation_reason"] == "sick"


def test_connection_tokens_are_write_only(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    r = client.post(
        "/v1/connections",
        json={
            "location_id": str(tenant.locations[0]),
            "provider": "instagram",
            "access_token": "token-value-not-real",
            "scopes": ["read"],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert "token-value-not-real" not in r.text and r.json()["has_access_token"] is True
    got = client.get(f"/v1/connections/{r.json()['id']}", headers=h)
    listed = client.get("/v1/connections", headers=h)
    for resp in (got, listed):
        assert "token-value-not-real" not in resp.text and '"access_token"' not in resp.text
    with db.tenant_uow(tenant.id) as uow:
        assert uow.session.get(Connection, (tenant.id, r.json()["id"])).access_token == (
            "token-value-not-real"
        )


def test_read_only_resources_of_a_populated_tenant(client: TestClient, db: Database) -> None:
    t = make_tenant(db)
    rows = populate_every_table(db, t.id)
    h = issue_key(db, t.id)
    for path, table in [
        ("reviews", "engage.reviews"),
        ("visibility-checks", "insight.visibility_checks"),
        ("evidence", "insight.evidence"),
        ("recommendations", "insight.recommendations"),
        ("memberships", "identity.memberships"),
    ]:
        rid = rows[table].id  # type: ignore[attr-defined]
        r = client.get(f"/v1/{path}/{rid}", headers=h)
        assert r.status_code == 200, (path, r.text)
    check = rows["insight.visibility_checks"].id  # type: ignore[attr-defined]
    ev = client.get(f"/v1/visibility-checks/{check}/evidence", headers=h).json()
    assert [e["id"] for e in ev["items"]] == [str(rows["insight.evidence"].id)]  # type: ignore[attr-defined]
    rec = rows["insight.recommendations"].id  # type: ignore[attr-defined]
    linked = client.get(f"/v1/recommendations/{rec}/evidence", headers=h).json()
    assert [e["id"] for e in linked["items"]] == [str(rows["insight.evidence"].id)]  # type: ignore[attr-defined]
    review = rows["engage.reviews"].id  # type: ignore[attr-defined]
    reply = client.post(f"/v1/reviews/{review}/reply", json={"body": "Danke!"}, headers=h)
    assert reply.json()["response_body"] == "Danke!"
    member = rows["identity.memberships"]
    assert client.get(f"/v1/users/{member.user_id}", headers=h).status_code == 200  # type: ignore[attr-defined]
    users = client.get("/v1/users", headers=h).json()["items"]
    assert [u["id"] for u in users] == [str(member.user_id)]  # type: ignore[attr-defined]


def test_memberships_create_users_with_a_scope(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    r = client.post(
        "/v1/memberships",
        json={
            "email": "new.staff@example.com",
            "role": "staff",
            "location_ids": [str(tenant.locations[1])],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["location_ids"] == [str(tenant.locations[1])]
    again = client.post(
        "/v1/memberships", json={"email": "new.staff@example.com", "role": "staff"}, headers=h
    )
    assert again.status_code == 409
    listed = client.get("/v1/memberships", params={"role": "staff"}, headers=h).json()
    assert [m["id"] for m in listed["items"]] == [r.json()["id"]]


def test_tenants_for_platform_admins_and_for_everyone_else(
    client: TestClient, db: Database, tenant: TenantFixture, other_tenant: TenantFixture, key_for
) -> None:
    owner = key_for(tenant)
    admin = key_for(tenant, "platform_admin")
    assert client.get(f"/v1/tenants/{tenant.id}", headers=owner).json()["slug"] == tenant.slug
    assert client.get(f"/v1/tenants/{other_tenant.id}", headers=owner).status_code == 404
    own_list = client.get("/v1/tenants", headers=owner).json()["items"]
    assert [t["id"] for t in own_list] == [str(tenant.id)]
    assert client.get(f"/v1/tenants/{other_tenant.id}", headers=admin).status_code == 200
    body = {"slug": "neu-gmbh-api", "legal_name": "Neu GmbH", "vertical": "caterer"}
    assert client.post("/v1/tenants", json=body, headers=owner).status_code == 403
    created = client.post("/v1/tenants", json=body, headers=admin | {"Idempotency-Key": "t1"})
    assert created.status_code == 201, created.text
    replay = client.post("/v1/tenants", json=body, headers=admin | {"Idempotency-Key": "t1"})
    assert replay.status_code == 201 and replay.json() == created.json()
    assert client.post("/v1/tenants", json=body, headers=admin).status_code == 409
