"""PATCH and DELETE of every resource through HTTP: only the fields sent change, a stale
`If-Match` loses with 412 and writes nothing, soft-deleted records are gone from reads and
lists, retention duties and append-only records answer 409, sealed fields are resealed and
their blind indexes follow, and the audit trail names the touched columns."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.models import Invoice, Vehicle
from tenantry.privacy.crypto import blind_index
from tenantry.privacy.sealing import normalise_identifier
from tenantry.privacy.subjects import find_subject
from tenantry.privacy.vault import keyring
from tests.conftest import TenantFixture
from tests.e2e.api.test_isolation_http import _ids_of
from tests.factories import populate_every_table

H = dict[str, str]


def _post(client: TestClient, h: H, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _customer(client: TestClient, h: H, t: TenantFixture, email: str) -> dict[str, Any]:
    body = {
        "home_location_id": str(t.locations[0]),
        "first_name": "Erika",
        "last_name": "Mustermann",
        "email": email,
        "city": "Musterstadt",
    }
    return _post(client, h, "/v1/customers", body)


def _etag(client: TestClient, h: H, path: str) -> str:
    r = client.get(path, headers=h)
    assert r.status_code == 200, r.text
    return r.headers["ETag"]


def _audit(db: Database, tenant: uuid.UUID, table: str, row: str) -> dict[str, Any]:
    with db.platform_uow() as uow:
        found = uow.session.execute(
            sa.text(
                "SELECT changed_columns, redacted_columns, new_values FROM audit.log"
                " WHERE tenant_id = :t AND table_name = :n AND row_id = :r AND op = 'U'"
                " ORDER BY seq DESC LIMIT 1"
            ),
            {"t": tenant, "n": table, "r": row},
        ).one()
    return dict(found._mapping)


def _subject_of(db: Database, tenant: uuid.UUID, email: str) -> uuid.UUID | None:
    with db.tenant_uow(tenant) as uow:
        subject = find_subject(uow, keyring(uow), email=email)
        return None if subject is None else subject.id


def test_customer_patch_reseals_moves_the_subject_lookup_and_is_audited(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "erika.alt@example.org")
    path = f"/v1/customers/{c['id']}"
    before = _subject_of(db, tenant.id, "erika.alt@example.org")
    assert before is not None
    tag = _etag(client, h, path)
    r = client.patch(
        path,
        json={"email": "Erika.Neu@example.org", "notes": "Stammkunde"},
        headers=h | {"If-Match": tag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "erika.neu@example.org" and r.json()["city"] == "Musterstadt"
    assert r.headers["ETag"] != tag and r.headers["ETag"] == _etag(client, h, path)
    assert client.get(path, headers=h).json()["notes"] == "Stammkunde"
    # The new address finds the person; the old one finds no one.
    assert _subject_of(db, tenant.id, "erika.neu@example.org") == before
    assert _subject_of(db, tenant.id, "erika.alt@example.org") is None
    entry = _audit(db, tenant.id, "crm.customers", c["id"])
    assert {"email", "notes", "updated_at"} <= set(entry["changed_columns"])
    assert {"email", "notes"} <= set(entry["redacted_columns"])
    assert "erika" not in str(entry["new_values"]).lower()


def test_an_email_of_another_person_is_refused_with_409(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    _customer(client, h, tenant, "max.eins@example.org")
    c = _customer(client, h, tenant, "max.zwei@example.org")
    path = f"/v1/customers/{c['id']}"
    tag = _etag(client, h, path)
    r = client.patch(path, json={"email": "max.eins@example.org"}, headers=h)
    assert r.status_code == 409, r.text
    assert _etag(client, h, path) == tag


def test_a_stale_if_match_loses_with_412_and_changes_nothing(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "stale@example.org")
    path = f"/v1/customers/{c['id']}"
    tag = _etag(client, h, path)
    assert client.patch(path, json={"city": "Hamburg"}, headers=h | {"If-Match": tag}).is_success
    lost = client.patch(path, json={"city": "Bremen"}, headers=h | {"If-Match": tag})
    assert lost.status_code == 412, lost.text
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert client.get(path, headers=h).json()["city"] == "Hamburg"
    gone = client.delete(path, headers=h | {"If-Match": tag})
    assert gone.status_code == 412
    assert client.get(path, headers=h).status_code == 200


def test_concurrent_patches_with_the_same_etag_exactly_one_wins(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "race@example.org")
    path = f"/v1/customers/{c['id']}"
    tag = _etag(client, h, path)
    statuses: list[int] = []
    start = threading.Barrier(4)

    def attempt(city: str) -> None:
        start.wait()
        r = client.patch(path, json={"city": city}, headers=h | {"If-Match": tag})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=attempt, args=(f"Stadt {i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 412, 412, 412]


def test_unknown_and_read_only_fields_are_422_and_nothing_is_written(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    lead = _post(
        client,
        h,
        "/v1/leads",
        {"location_id": str(tenant.locations[0]), "source": "web_quote", "email": "l@example.org"},
    )
    path = f"/v1/leads/{lead['id']}"
    tag = _etag(client, h, path)
    for body in ({"status": "qualified"}, {"score": 99}, {"bogus": 1}, {"location_id": None}):
        r = client.patch(path, json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
    assert "read-only" in client.patch(path, json={"score": 1}, headers=h).text
    assert _etag(client, h, path) == tag
    ok = client.patch(
        path,
        json={"persona": "solo-sarah", "interest": "Catering", "utm_source": "newsletter"},
        headers=h,
    )
    assert ok.status_code == 200, ok.text
    assert client.get(path, headers=h).json()["utm_source"] == "newsletter"
    assert client.delete(path, headers=h).status_code == 204
    assert client.get(path, headers=h).status_code == 404
    listed = client.get("/v1/leads", params={"limit": 200}, headers=h).json()["items"]
    assert lead["id"] not in {x["id"] for x in listed}


def test_vehicle_plate_change_moves_its_blind_index(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "fahrer@example.org")
    other = _customer(client, h, tenant, "fahrerin@example.org")
    v = _post(
        client,
        h,
        "/v1/vehicles",
        {"customer_id": c["id"], "make": "VW", "model": "Golf", "license_plate": "B-AB 123"},
    )
    path = f"/v1/vehicles/{v['id']}"
    r = client.patch(
        path,
        json={"license_plate": "HH-XY 987", "customer_id": other["id"], "mileage_km": 120000},
        headers=h | {"If-Match": _etag(client, h, path)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["license_plate"] == "HH-XY 987" and r.json()["customer_id"] == other["id"]
    with db.tenant_uow(tenant.id) as uow:
        ring = keyring(uow)
        index = uow.session.scalar(
            sa.select(Vehicle.license_plate_bidx).where(Vehicle.id == uuid.UUID(v["id"]))
        )
        expected = blind_index(
            ring.field_index_key("license_plate"), normalise_identifier("HH-XY 987")
        )
        assert index == expected
    assert client.get(path, headers=h).json()["license_plate"] == "HH-XY 987"
    assert client.delete(path, headers=h).status_code == 204
    assert client.get(path, headers=h).status_code == 404


def _booking(client: TestClient, h: H, t: TenantFixture, customer_id: str) -> dict[str, Any]:
    return _post(
        client,
        h,
        "/v1/bookings",
        {
            "location_id": str(t.locations[0]),
            "customer_id": customer_id,
            "kind": "appointment",
            "starts_at": "2027-03-01T10:00:00Z",
            "deposit_cents": 1000,
            "items": [{"quantity": 2, "description": "Inspektion", "unit_price_cents": 5000}],
        },
    )


def test_booking_patch_keeps_schedule_and_status_to_their_actions(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "buchung@example.org")
    b = _booking(client, h, tenant, c["id"])
    path = f"/v1/bookings/{b['id']}"
    tag = _etag(client, h, path)
    moved = client.patch(path, json={"starts_at": "2027-03-02T10:00:00Z"}, headers=h)
    assert moved.status_code == 422 and "/v1/bookings/{id}/reschedule" in moved.text
    assert client.patch(path, json={"status": "paid"}, headers=h).status_code == 422
    assert client.patch(path, json={"deposit_cents": 10001}, headers=h).status_code == 422
    assert _etag(client, h, path) == tag
    r = client.patch(
        path,
        json={"notes": "Hintereingang", "event_address": "Musterweg 1", "deposit_cents": 2000},
        headers=h | {"If-Match": tag},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["notes"], r.json()["deposit_cents"]) == ("Hintereingang", 2000)
    assert r.headers["ETag"] == _etag(client, h, path)
    assert client.post(f"{path}/confirm", headers=h).status_code == 200
    part = {"kind": "deposit", "method": "card", "amount_cents": 500}
    assert client.post(f"{path}/payments", json=part, headers=h).status_code == 201
    low = client.patch(path, json={"deposit_cents": 400}, headers=h)
    assert low.status_code == 422 and "already paid" in low.text
    assert client.patch(path, json={"deposit_cents": 1500}, headers=h).status_code == 200
    rest = {"kind": "deposit", "method": "card", "amount_cents": 1000}
    assert client.post(f"{path}/payments", json=rest, headers=h).status_code == 201
    assert client.get(path, headers=h).json()["status"] == "deposit_paid"
    settled = client.patch(path, json={"deposit_cents": 3000}, headers=h)
    assert settled.status_code == 409 and "settled" in settled.text
    assert client.patch(path, json={"notes": "Tor 3"}, headers=h).status_code == 200


def _retained_until(db: Database, dataset: str, year: int) -> date:
    """The expected last day, from the policy row (end of calendar year plus the period)."""
    with db.platform_uow() as uow:
        months, days = uow.session.execute(
            sa.text(
                "SELECT period_months, period_days FROM privacy.retention_defaults"
                " WHERE dataset = :d"
            ),
            {"d": dataset},
        ).one()
        value = uow.session.scalar(
            sa.text(
                "SELECT (make_date(:y + 1, 1, 1) + make_interval(months => :m, days => :d))::date - 1"
            ),
            {"y": year, "m": months, "d": days},
        )
    assert isinstance(value, date)
    return value


def test_vouchers_and_their_bookings_are_kept_with_retained_until(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "beleg@example.org")
    b = _booking(client, h, tenant, c["id"])
    assert client.post(f"/v1/bookings/{b['id']}/confirm", headers=h).status_code == 200
    p = _post(
        client,
        h,
        f"/v1/bookings/{b['id']}/payments",
        {"kind": "deposit", "method": "card", "amount_cents": 1000},
    )
    expected = _retained_until(db, "commerce.payments", int(p["paid_at"][:4]))
    for path in (f"/v1/payments/{p['id']}", f"/v1/bookings/{b['id']}"):
        r = client.delete(path, headers=h)
        assert r.status_code == 409, r.text
        assert r.json()["retained_until"] == expected.isoformat()
        assert client.get(path, headers=h).status_code == 200
    fixed = client.patch(f"/v1/payments/{p['id']}", json={"provider_ref": "TX-1"}, headers=h)
    assert fixed.status_code == 200 and fixed.json()["provider_ref"] == "TX-1"
    assert (
        client.patch(f"/v1/payments/{p['id']}", json={"amount_cents": 1}, headers=h).status_code
        == 422
    )
    # A booking without vouchers goes (soft): 204, then 404 and out of the list.
    free = _booking(client, h, tenant, c["id"])
    assert client.delete(f"/v1/bookings/{free['id']}", headers=h).status_code == 204
    assert client.get(f"/v1/bookings/{free['id']}", headers=h).status_code == 404
    listed = client.get("/v1/bookings", params={"customer_id": c["id"]}, headers=h).json()
    assert [x["id"] for x in listed["items"]] == [b["id"]]


def test_idempotency_key_on_patch_and_delete_replays(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "einmal@example.org")
    path = f"/v1/customers/{c['id']}"
    once = h | {"Idempotency-Key": f"edit-{uuid.uuid4()}"}
    first = client.patch(path, json={"city": "Köln"}, headers=once)
    again = client.patch(path, json={"city": "Köln"}, headers=once)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert client.patch(path, json={"city": "Bonn"}, headers=once).status_code == 422
    gone = h | {"Idempotency-Key": f"delete-{uuid.uuid4()}"}
    assert client.delete(path, headers=gone).status_code == 204
    replay = client.delete(path, headers=gone)
    assert replay.status_code == 204 and replay.content == b""
    assert replay.headers.get("Idempotent-Replayed") == "true"


def test_locations_services_connections_and_reviews(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    rows = populate_every_table(db, tenant.id)
    loc = f"/v1/locations/{tenant.locations[1]}"
    r = client.patch(
        loc,
        json={"name": "Filiale Süd", "capacity": 40},
        headers=h | {"If-Match": _etag(client, h, loc)},
    )
    assert r.status_code == 200 and r.json()["name"] == "Filiale Süd", r.text
    assert client.patch(loc, json={"slug": "loc-0"}, headers=h).status_code == 409  # taken
    svc = _post(
        client,
        h,
        "/v1/services",
        {
            "location_id": str(tenant.locations[0]),
            "kind": "workshop_service",
            "name": "Öl",
            "price_cents": 100,
        },
    )
    spath = f"/v1/services/{svc['id']}"
    assert client.patch(spath, json={"price_cents": 150}, headers=h).json()["price_cents"] == 150
    assert client.delete(spath, headers=h).status_code == 204
    assert client.get(spath, headers=h).status_code == 404
    con = _post(
        client,
        h,
        "/v1/connections",
        {
            "location_id": str(tenant.locations[0]),
            "provider": "google_business_profile",
            "access_token": "tok-1",
        },
    )
    cpath = f"/v1/connections/{con['id']}"
    changed = client.patch(cpath, json={"access_token": None, "display_name": "GBP"}, headers=h)
    assert changed.status_code == 200 and changed.json()["has_access_token"] is False
    assert client.delete(cpath, headers=h).status_code == 204
    assert client.get(cpath, headers=h).status_code == 404
    with db.platform_uow() as uow:
        left = uow.session.scalar(
            sa.text("SELECT count(*) FROM channel.connections WHERE id = :i"), {"i": con["id"]}
        )
    assert left == 0  # disconnected: the row and its sealed tokens are gone
    review = f"/v1/reviews/{rows['engage.reviews'].id}"
    replied = client.patch(review, json={"response_body": "Danke!", "escalated": True}, headers=h)
    assert replied.status_code == 200 and replied.json()["responded_at"] is not None
    assert client.patch(review, json={"rating": 5}, headers=h).status_code == 422
    withdrawn = client.delete(f"{review}/reply", headers=h)
    assert withdrawn.status_code == 200 and withdrawn.json()["response_body"] is None
    assert withdrawn.headers["ETag"] == _etag(client, h, review)


def test_ledger_records_and_data_subject_requests_are_never_deleted(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    rows = populate_every_table(db, tenant.id)
    for path in (
        f"/v1/visibility-checks/{rows['insight.visibility_checks'].id}",
        f"/v1/evidence/{rows['insight.evidence'].id}",
        f"/v1/recommendations/{rows['insight.recommendations'].id}",
        f"/v1/privacy/dsar/{rows['privacy.dsar_requests'].id}",
    ):
        r = client.delete(path, headers=h)
        assert r.status_code == 409, (path, r.text)
        assert client.get(path, headers=h).status_code == 200
        assert "ETag" in client.get(path, headers=h).headers
    rec = f"/v1/recommendations/{rows['insight.recommendations'].id}"
    done = client.patch(
        rec, json={"status": "done"}, headers=h | {"If-Match": _etag(client, h, rec)}
    )
    assert done.status_code == 200 and done.json()["status"] == "done", done.text
    assert client.patch(rec, json={"title": "x"}, headers=h).status_code == 422
    analyst = key_for(tenant, "analyst")
    assert (
        client.delete(f"/v1/evidence/{rows['insight.evidence'].id}", headers=analyst).status_code
        == 403
    )


def test_memberships_keep_an_owner_and_tenants_are_deleted_by_platform_admins(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    owner = _post(client, h, "/v1/memberships", {"email": "inhaber@example.org", "role": "owner"})
    staff = _post(
        client,
        h,
        "/v1/memberships",
        {
            "email": "aushilfe@example.org",
            "role": "staff",
            "location_ids": [str(tenant.locations[0])],
        },
    )
    opath, spath = f"/v1/memberships/{owner['id']}", f"/v1/memberships/{staff['id']}"
    assert client.patch(opath, json={"role": "admin"}, headers=h).status_code == 409
    assert client.delete(opath, headers=h).status_code == 409
    assert (
        client.patch(spath, json={"role": "owner"}, headers=key_for(tenant, "admin")).status_code
        == 403
    )
    scoped = client.patch(
        spath,
        json={"location_ids": None, "role": "manager"},
        headers=h | {"If-Match": _etag(client, h, spath)},
    )
    assert scoped.status_code == 200, scoped.text
    assert scoped.json()["location_ids"] is None and scoped.json()["role"] == "manager"
    assert client.delete(spath, headers=h).status_code == 204
    assert client.get(spath, headers=h).status_code == 404
    # Tenants: the own tenant's details by its owner; the plan and deletion by platform admins.
    tpath = f"/v1/tenants/{tenant.id}"
    named = client.patch(
        tpath,
        json={"display_name": "Musterbetrieb"},
        headers=h | {"If-Match": _etag(client, h, tpath)},
    )
    assert named.status_code == 200 and named.json()["display_name"] == "Musterbetrieb", named.text
    assert client.patch(tpath, json={"plan": "professional"}, headers=h).status_code == 403
    assert client.patch(tpath, json={"slug": "x"}, headers=h).status_code == 422
    assert client.delete(tpath, headers=h).status_code == 403
    admin = key_for(tenant, "platform_admin")
    assert (
        client.patch(tpath, json={"plan": "professional"}, headers=admin).json()["plan"]
        == "professional"
    )
    assert client.delete(tpath, headers=admin).status_code == 204
    assert client.get(tpath, headers=admin).status_code == 404


def test_roles_without_the_action_get_403(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "rolle@example.org")
    analyst = key_for(tenant, "analyst")
    assert (
        client.patch(f"/v1/customers/{c['id']}", json={"city": "X"}, headers=analyst).status_code
        == 403
    )
    assert client.delete(f"/v1/customers/{c['id']}", headers=analyst).status_code == 403
    staff = key_for(tenant, "staff")
    loc = f"/v1/locations/{tenant.locations[0]}"
    assert client.patch(loc, json={"name": "X"}, headers=staff).status_code == 403
    scoped = key_for(tenant, "manager", [tenant.locations[0]])
    moved = client.patch(
        f"/v1/customers/{c['id']}",
        json={"home_location_id": str(tenant.locations[1])},
        headers=scoped,
    )
    assert moved.status_code == 404  # outside the manager's scope: as if it did not exist


def _subject_id(db: Database, tenant: uuid.UUID, table: str, row: str) -> uuid.UUID | None:
    with db.platform_uow() as uow:
        found = uow.session.scalar(
            sa.text(f"SELECT subject_id FROM {table} WHERE tenant_id = :t AND id = :i"),
            {"t": tenant, "i": row},
        )
    return found  # type: ignore[no-any-return]


def test_a_record_without_a_subject_takes_the_one_its_new_contact_names(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _post(client, h, "/v1/customers", {"company_name": "Muster GmbH", "city": "Köln"})
    assert _subject_id(db, tenant.id, "crm.customers", c["id"]) is None
    r = client.patch(
        f"/v1/customers/{c['id']}", json={"email": "neu.kontakt@example.org"}, headers=h
    )
    assert r.status_code == 200, r.text
    subject = _subject_of(db, tenant.id, "neu.kontakt@example.org")
    assert subject is not None
    assert _subject_id(db, tenant.id, "crm.customers", c["id"]) == subject
    # Resealed under the subject's key: the values still open.
    assert client.get(f"/v1/customers/{c['id']}", headers=h).json()["city"] == "Köln"
    lead = _post(
        client,
        h,
        "/v1/leads",
        {
            "location_id": str(tenant.locations[0]),
            "source": "chat",
            "email": "lead.alt@example.org",
        },
    )
    moved = client.patch(
        f"/v1/leads/{lead['id']}", json={"email": "lead.neu@example.org"}, headers=h
    )
    assert moved.status_code == 200, moved.text
    assert _subject_of(db, tenant.id, "lead.neu@example.org") == _subject_id(
        db, tenant.id, "crm.leads", lead["id"]
    )
    assert _subject_of(db, tenant.id, "lead.alt@example.org") is None


def test_a_patch_response_etag_is_the_next_reads_etag_for_decimal_fields(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    path = f"/v1/locations/{tenant.locations[0]}"
    r = client.patch(path, json={"latitude": 52.52, "longitude": 13.4}, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == _etag(client, h, path)
    again = client.patch(path, json={"capacity": 12}, headers=h | {"If-Match": r.headers["ETag"]})
    assert again.status_code == 200, again.text


def test_retained_until_follows_the_tenants_own_policy(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    with db.platform_uow() as uow:
        uow.session.execute(
            sa.text(
                "INSERT INTO privacy.retention_policies"
                " (tenant_id, dataset, period_months, period_days, action, reason)"
                " VALUES (:t, 'commerce.payments', 150, 0, 'delete', 'tax audit pending')"
            ),
            {"t": tenant.id},
        )
        uow.commit()
    c = _customer(client, h, tenant, "eigen@example.org")
    b = _booking(client, h, tenant, c["id"])
    assert client.post(f"/v1/bookings/{b['id']}/confirm", headers=h).status_code == 200
    p = _post(
        client,
        h,
        f"/v1/bookings/{b['id']}/payments",
        {"kind": "deposit", "method": "cash", "amount_cents": 500},
    )
    r = client.delete(f"/v1/payments/{p['id']}", headers=h)
    assert r.status_code == 409, r.text
    year = int(p["paid_at"][:4])
    # 150 months from the end of the payment's year: 12.5 years, so the last day is 30 June.
    assert r.json()["retained_until"] == date(year + 13, 6, 30).isoformat()


def test_every_single_record_read_sends_its_etag(
    app: FastAPI, client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    ids = _ids_of(populate_every_table(db, tenant.id), tenant)
    checked = 0
    for path, item in app.openapi()["paths"].items():
        if not path.startswith("/v1/") or "{" not in path or "get" not in item:
            continue
        r = client.get(path.format(**ids), headers=h)
        assert r.status_code == 200, (path, r.text)
        if r.headers["content-type"].startswith("application/json") and "items" not in r.json():
            body = r.json()
            if isinstance(body, dict) and "id" in body and "series" not in body:
                assert r.headers.get("ETag", "").startswith('"'), path
                checked += 1
    assert checked >= 15


def test_two_concurrent_removals_of_the_last_two_owners_leave_one(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    owners = [
        _post(client, h, "/v1/memberships", {"email": f"owner{i}@example.org", "role": "owner"})
        for i in range(2)
    ]
    statuses: list[int] = []
    start = threading.Barrier(2)

    def remove(membership: dict[str, Any]) -> None:
        start.wait()
        statuses.append(client.delete(f"/v1/memberships/{membership['id']}", headers=h).status_code)

    threads = [threading.Thread(target=remove, args=(m,)) for m in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [204, 409]
    left = client.get("/v1/memberships", params={"role": "owner"}, headers=h).json()["items"]
    assert len(left) == 1


def _invoice(db: Database, tenant: uuid.UUID, booking: dict[str, Any], issued: date) -> None:
    with db.tenant_uow(tenant) as uow:
        uow.session.add(
            Invoice(
                tenant_id=tenant,
                id=uow.ids(),
                booking_id=uuid.UUID(booking["id"]),
                customer_id=uuid.UUID(booking["customer_id"]),
                number=f"R-{uuid.uuid4().hex[:10]}",
                issued_on=issued,
                net_cents=100,
                tax_cents=19,
                gross_cents=119,
            )
        )
        uow.commit()


def test_a_booking_with_an_invoice_goes_only_after_the_invoice_may(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    c = _customer(client, h, tenant, "rechnung@example.org")
    recent, old = _booking(client, h, tenant, c["id"]), _booking(client, h, tenant, c["id"])
    _invoice(db, tenant.id, recent, date(2025, 1, 15))
    _invoice(db, tenant.id, old, date(2012, 6, 1))  # its period ended years ago
    kept = client.delete(f"/v1/bookings/{recent['id']}", headers=h)
    assert kept.status_code == 409, kept.text
    assert (
        kept.json()["retained_until"] == _retained_until(db, "commerce.invoices", 2025).isoformat()
    )
    assert client.delete(f"/v1/bookings/{old['id']}", headers=h).status_code == 204
