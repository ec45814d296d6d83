"""Hostile and odd input against the routes of issue 19 (scheduling, conversations, edits,
dashboards): each answer is a 4xx problem, nothing unreadable is written, no personal data
leaks into problems, and a location-scoped manager sees only their locations."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key

PROBLEM = "application/problem+json"
# In UTC year 0 and year 10000: outside what Python's datetime holds.
EDGES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
FAR = ("0001-01-01T09:00:00+00:00", "9999-12-31T09:00:00+00:00")


@pytest.fixture
def shop(client: TestClient, db: Database) -> dict[str, Any]:
    t: TenantFixture = make_tenant(db)
    h = issue_key(db, t.id)
    loc = str(t.locations[0])
    week = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(1, 8)]
    r = client.put(f"/v1/locations/{loc}/opening-hours", json={"intervals": week}, headers=h)
    assert r.status_code == 200, r.text
    r = client.post(
        "/v1/resources", json={"location_id": loc, "kind": "lift", "name": "L1"}, headers=h
    )
    assert r.status_code == 201, r.text
    service = client.post(
        "/v1/services",
        json={
            "location_id": loc,
            "kind": "workshop_service",
            "name": "Oil change",
            "price_cents": 8900,
            "duration_minutes": 45,
        },
        headers=h,
    ).json()["id"]
    r = client.put(
        f"/v1/services/{service}/requirements",
        json={"resources": [{"resource_kind": "lift"}]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    customer = client.post("/v1/customers", json={"home_location_id": loc}, headers=h).json()["id"]
    return {"t": t, "h": h, "loc": loc, "service": service, "customer": customer}


def _refused(r: Any, status: int = 422) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM


def _booking(s: dict[str, Any], starts_at: str) -> dict[str, Any]:
    return {
        "location_id": s["loc"],
        "customer_id": s["customer"],
        "kind": "appointment",
        "starts_at": starts_at,
        "items": [{"quantity": 1, "service_id": s["service"]}],
    }


def test_availability_at_the_ends_of_the_calendar_is_refused_not_a_500(
    client: TestClient, shop: dict[str, Any]
) -> None:
    for start, end in [
        ("0001-01-01T00:00:00+00:00", "0001-01-02T00:00:00+00:00"),
        ("9999-12-30T00:00:00+00:00", "9999-12-31T23:59:59+00:00"),
        (EDGES[0], "0001-01-02T00:00:00+14:00"),
    ]:
        query = {"location_id": shop["loc"], "service_id": shop["service"], "from": start}
        r = client.get("/v1/availability", params={**query, "to": end}, headers=shop["h"])
        _refused(r)
        r = client.get("/v1/bookings", params={"from": start, "to": end}, headers=shop["h"])
        _refused(r)


def test_a_booking_at_the_ends_of_the_calendar_is_refused_and_so_is_moving_one_there(
    client: TestClient, shop: dict[str, Any]
) -> None:
    for starts_at in (*FAR, *EDGES):
        _refused(client.post("/v1/bookings", json=_booking(shop, starts_at), headers=shop["h"]))
    r = client.post(
        "/v1/bookings", json=_booking(shop, "2027-03-01T10:00:00+01:00"), headers=shop["h"]
    )
    assert r.status_code == 201, r.text
    booking = r.json()["id"]
    for starts_at in (*FAR, *EDGES):
        r = client.post(
            f"/v1/bookings/{booking}/reschedule", json={"starts_at": starts_at}, headers=shop["h"]
        )
        _refused(r)
    after = client.get(f"/v1/bookings/{booking}", headers=shop["h"]).json()
    assert after["starts_at"] == "2027-03-01T09:00:00Z"


def test_an_interaction_whose_time_has_no_utc_form_is_refused_and_the_list_stays_readable(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h = shop["h"]
    lead = client.post(
        "/v1/leads",
        json={"location_id": shop["loc"], "source": "chat", "email": "lead@example.com"},
        headers=h,
    ).json()["id"]
    for at in EDGES:
        r = client.post(
            f"/v1/leads/{lead}/interactions", json={"kind": "call", "occurred_at": at}, headers=h
        )
        _refused(r)
    r = client.get(f"/v1/leads/{lead}/interactions", headers=h)
    assert r.status_code == 200 and r.json()["items"] == [], r.text


def test_an_unknown_timezone_is_refused_so_availability_and_dashboards_keep_working(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h, loc, t = shop["h"], shop["loc"], shop["t"]
    for zone in ("Mars/Olympus", "Europe/../../etc/passwd"):
        _refused(client.patch(f"/v1/locations/{loc}", json={"timezone": zone}, headers=h))
        _refused(client.patch(f"/v1/tenants/{t.id}", json={"timezone": zone}, headers=h))
        body = {"name": "Filiale", "slug": "filiale-x", "vertical": "workshop", "timezone": zone}
        _refused(client.post("/v1/locations", json=body, headers=h))
    r = client.patch(f"/v1/locations/{loc}", json={"timezone": "America/New_York"}, headers=h)
    assert r.status_code == 200, r.text
    query = {
        "location_id": loc,
        "service_id": shop["service"],
        "from": "2027-03-01T00:00:00-05:00",
        "to": "2027-03-02T00:00:00-05:00",
    }
    r = client.get("/v1/availability", params=query, headers=h)
    assert r.status_code == 200 and r.json()["items"][0]["starts_at"] == "2027-03-01T13:00:00Z"
    assert client.get("/v1/dashboard/leads", headers=h).status_code == 200


def test_a_booking_takes_only_a_service_offered_at_its_location_and_in_the_callers_scope(
    client: TestClient, db: Database, shop: dict[str, Any]
) -> None:
    h, t = shop["h"], shop["t"]
    other = str(t.locations[1])
    week = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(1, 8)]
    r = client.put(f"/v1/locations/{other}/opening-hours", json={"intervals": week}, headers=h)
    assert r.status_code == 200, r.text
    body = {"location_id": other, "kind": "lift", "name": "L2"}
    assert client.post("/v1/resources", json=body, headers=h).status_code == 201
    customer = client.post("/v1/customers", json={"home_location_id": other}, headers=h).json()
    # The shop's service (of its first location) booked at the second one: refused for the
    # owner, and for a manager of the second location the service does not exist.
    booking = {**_booking(shop, "2027-03-01T10:00:00+01:00"), "location_id": other}
    booking["customer_id"] = customer["id"]
    r = client.post("/v1/bookings", json=booking, headers=h)
    _refused(r)
    assert "another location" in r.json()["detail"]
    manager = issue_key(db, t.id, "manager", [t.locations[1]])
    _refused(client.post("/v1/bookings", json=booking, headers=manager), 404)
    listed = client.get("/v1/bookings", params={"location_id": other}, headers=h).json()
    assert listed["items"] == []


def test_a_resource_a_service_needs_by_name_cannot_be_deleted_from_under_it(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h, loc, service = shop["h"], shop["loc"], shop["service"]
    body = {"location_id": loc, "kind": "equipment", "name": "Jack"}
    jack = client.post("/v1/resources", json=body, headers=h).json()["id"]
    needs = {"resources": [{"resource_kind": "lift"}, {"resource_id": jack}]}
    r = client.put(f"/v1/services/{service}/requirements", json=needs, headers=h)
    assert r.status_code == 200, r.text
    r = client.delete(f"/v1/resources/{jack}", headers=h)
    _refused(r, 409)
    assert "requirements" in r.json()["detail"]
    assert client.get(f"/v1/resources/{jack}", headers=h).status_code == 200
    needs = {"resources": [{"resource_kind": "lift"}]}
    assert client.put(f"/v1/services/{service}/requirements", json=needs, headers=h).is_success
    assert client.delete(f"/v1/resources/{jack}", headers=h).status_code == 204
    assert client.delete(f"/v1/resources/{jack}", headers=h).status_code == 404


def test_an_empty_patch_writes_nothing_and_keeps_the_etag(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h = shop["h"]
    thread = client.post(
        "/v1/threads", json={"customer_id": shop["customer"], "channel": "web"}, headers=h
    ).json()["id"]
    escalation = client.post(
        f"/v1/threads/{thread}/escalate", json={"reason": "Rückruf"}, headers=h
    ).json()["id"]
    resource = client.get("/v1/resources", params={"location_id": shop["loc"]}, headers=h)
    urls = [
        f"/v1/threads/{thread}",
        f"/v1/escalations/{escalation}",
        f"/v1/resources/{resource.json()['items'][0]['id']}",
        f"/v1/customers/{shop['customer']}",
    ]
    for url in urls:
        before = client.get(url, headers=h)
        etag = before.headers["ETag"]
        r = client.patch(url, json={}, headers={**h, "If-Match": etag})
        assert r.status_code == 200, r.text
        assert r.json()["updated_at"] == before.json()["updated_at"], url
        assert client.get(url, headers=h).headers["ETag"] == etag, url


def test_a_service_cannot_move_away_from_a_resource_its_requirements_name(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h, loc, service = shop["h"], shop["loc"], shop["service"]
    other = str(shop["t"].locations[1])
    lift = client.get("/v1/resources", params={"location_id": loc}, headers=h).json()["items"][0]
    needs = {"resources": [{"resource_id": lift["id"]}]}
    assert client.put(f"/v1/services/{service}/requirements", json=needs, headers=h).is_success
    r = client.patch(f"/v1/services/{service}", json={"location_id": other}, headers=h)
    _refused(r, 409)
    assert client.get(f"/v1/services/{service}", headers=h).json()["location_id"] == loc
    needs = {"resources": [{"resource_kind": "lift"}]}
    assert client.put(f"/v1/services/{service}/requirements", json=needs, headers=h).is_success
    r = client.patch(f"/v1/services/{service}", json={"location_id": other}, headers=h)
    assert r.status_code == 200 and r.json()["location_id"] == other, r.text


def _race(
    client: TestClient, db: Database, shop: dict[str, Any], lock: str, send: Any
) -> list[int]:
    """Two writes with the same ETag, both sent while another transaction holds `lock`'s row:
    both have read the record by the time it is released, and exactly one may win."""
    statuses: list[int] = []
    with db.tenant_uow(shop["t"].id) as uow:
        uow.session.execute(sa.text(lock))
        threads = [threading.Thread(target=lambda: statuses.append(send().status_code))]
        threads.append(threading.Thread(target=lambda: statuses.append(send().status_code)))
        for t in threads:
            t.start()
        time.sleep(0.5)  # both requests are now waiting for the row
    for t in threads:
        t.join()
    return sorted(statuses)


def test_writes_with_the_same_etag_racing_for_a_resource_or_a_week_one_wins(
    client: TestClient, db: Database, shop: dict[str, Any]
) -> None:
    h, loc = shop["h"], shop["loc"]
    lift = client.get("/v1/resources", params={"location_id": loc}, headers=h).json()["items"][0]
    path = f"/v1/resources/{lift['id']}"
    tag = client.get(path, headers=h).headers["ETag"]
    lock = f"select 1 from scheduling.resources where id = '{lift['id']}' for update"
    names = iter(["Lift A", "Lift B"])

    def rename() -> Any:
        body = {"name": next(names)}
        return client.patch(path, json=body, headers={**h, "If-Match": tag})

    assert _race(client, db, shop, lock, rename) == [200, 412]
    hours = f"/v1/locations/{loc}/opening-hours"
    tag = client.get(hours, headers=h).headers["ETag"]
    lock = f"select 1 from identity.locations where id = '{loc}' for update"
    days = iter([1, 2])

    def replace() -> Any:
        body = {"intervals": [{"weekday": next(days), "opens": "09:00", "closes": "12:00"}]}
        return client.put(hours, json=body, headers={**h, "If-Match": tag})

    assert _race(client, db, shop, lock, replace) == [200, 412]
    assert len(client.get(hours, headers=h).json()["intervals"]) == 1
