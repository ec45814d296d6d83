"""Scheduling through HTTP: setting up a workshop (resources, hours, closures, requirements,
capacity), availability, bookings that hold resources, 409 problems naming the next free
starts, rescheduling, ETags and If-Match, and bad input answered with 4xx and nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key

DAY = "2027-03-01"  # a Monday; Berlin is UTC+1


@pytest.fixture
def shop(client: TestClient, db: Database) -> dict[str, Any]:
    t: TenantFixture = make_tenant(db)
    h = issue_key(db, t.id)
    loc = str(t.locations[0])
    week = [{"weekday": d, "opens": "08:00", "closes": "12:00"} for d in range(1, 8)]
    week += [{"weekday": d, "opens": "13:00", "closes": "18:00"} for d in range(1, 8)]
    r = client.put(f"/v1/locations/{loc}/opening-hours", json={"intervals": week}, headers=h)
    assert r.status_code == 200, r.text
    lift = client.post(
        "/v1/resources", json={"location_id": loc, "kind": "lift", "name": "Lift 1"}, headers=h
    ).json()["id"]
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
        json={"buffer_after_minutes": 15, "resources": [{"resource_kind": "lift"}]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    customer = client.post("/v1/customers", json={"home_location_id": loc}, headers=h).json()["id"]
    return {"h": h, "loc": loc, "lift": lift, "service": service, "customer": customer}


def _booking(s: dict[str, Any], starts_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "location_id": s["loc"],
        "customer_id": s["customer"],
        "kind": "appointment",
        "starts_at": starts_at,
        "items": [{"quantity": 1, "service_id": s["service"]}],
        **extra,
    }


def _availability(client: TestClient, s: dict[str, Any], **params: Any) -> Any:
    query = {
        "location_id": s["loc"],
        "service_id": s["service"],
        "from": f"{DAY}T00:00:00+01:00",
        "to": f"{DAY}T23:59:00+01:00",
        **params,
    }
    return client.get("/v1/availability", params=query, headers=s["h"])


def test_availability_lists_free_starts_with_the_resources_they_use(
    client: TestClient, shop: dict[str, Any]
) -> None:
    r = _availability(client, shop)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["starts_at"] == f"{DAY}T07:00:00Z"
    assert items[0]["resource_ids"] == [shop["lift"]]
    # 45 minutes plus a 15-minute buffer: the last morning start is 11:15 local.
    morning = [i for i in items if i["starts_at"] < f"{DAY}T11:00:00Z"]
    assert morning[-1]["starts_at"] == f"{DAY}T10:15:00Z"


def test_a_taken_time_is_a_409_problem_with_the_next_free_starts(
    client: TestClient, shop: dict[str, Any]
) -> None:
    first = client.post("/v1/bookings", json=_booking(shop, f"{DAY}T09:00:00Z"), headers=shop["h"])
    assert first.status_code == 201, first.text
    assert first.json()["ends_at"] == f"{DAY}T09:45:00Z"
    second = client.post("/v1/bookings", json=_booking(shop, f"{DAY}T09:30:00Z"), headers=shop["h"])
    assert second.status_code == 409
    assert second.headers["content-type"].startswith("application/problem+json")
    problem = second.json()
    # Held 09:00-10:00 (with the buffer); the next start is 10:00Z, on the 15-minute grid.
    assert problem["next_free_slots"][0] == f"{DAY}T10:00:00Z"
    listed = client.get(
        "/v1/bookings", params={"location_id": shop["loc"]}, headers=shop["h"]
    ).json()
    assert len(listed["items"]) == 1


def test_outside_hours_and_a_ten_year_period_are_422_and_nothing_is_written(
    client: TestClient, shop: dict[str, Any]
) -> None:
    r = client.post("/v1/bookings", json=_booking(shop, f"{DAY}T11:00:00Z"), headers=shop["h"])
    assert r.status_code == 422 and "opening hours" in r.json()["detail"]
    r = _availability(client, shop, to="2037-03-01T00:00:00+01:00")
    assert r.status_code == 422
    r = _availability(client, shop, to=f"{DAY}T00:00:00")  # no timezone
    assert r.status_code == 422
    listed = client.get("/v1/bookings", params={"location_id": shop["loc"]}, headers=shop["h"])
    assert listed.json()["items"] == []


def test_reschedule_moves_the_hold_and_cancel_frees_it(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h = shop["h"]
    a = client.post("/v1/bookings", json=_booking(shop, f"{DAY}T08:00:00Z"), headers=h).json()
    b = client.post("/v1/bookings", json=_booking(shop, f"{DAY}T13:00:00Z"), headers=h).json()
    r = client.post(
        f"/v1/bookings/{a['id']}/reschedule", json={"starts_at": f"{DAY}T14:00:00Z"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["starts_at"] == f"{DAY}T14:00:00Z" and r.json()["ends_at"] == f"{DAY}T14:45:00Z"
    r = client.post(
        f"/v1/bookings/{b['id']}/reschedule", json={"starts_at": f"{DAY}T14:30:00Z"}, headers=h
    )
    assert r.status_code == 409 and r.json()["next_free_slots"]
    # The lift is still held by b at 13:00; deleting the lift is refused while it holds bookings.
    assert client.delete(f"/v1/resources/{shop['lift']}", headers=h).status_code == 409
    for booking in (a, b):
        assert client.post(f"/v1/bookings/{booking['id']}/cancel", headers=h).status_code == 200
    starts = [i["starts_at"] for i in _availability(client, shop).json()["items"]]
    assert f"{DAY}T13:00:00Z" in starts and f"{DAY}T14:00:00Z" in starts
    assert client.delete(f"/v1/resources/{shop['lift']}", headers=h).status_code == 204
    assert client.get(f"/v1/resources/{shop['lift']}", headers=h).status_code == 404


def test_setup_reads_carry_etags_and_stale_writes_are_412(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h = shop["h"]
    hours = client.get(f"/v1/locations/{shop['loc']}/opening-hours", headers=h)
    assert hours.status_code == 200 and len(hours.json()["intervals"]) == 14
    tag = hours.headers["ETag"]
    changed = {"intervals": [{"weekday": 1, "opens": "09:00", "closes": "17:00"}]}
    path = f"/v1/locations/{shop['loc']}/opening-hours"
    assert client.put(path, json=changed, headers={**h, "If-Match": tag}).status_code == 200
    assert client.put(path, json=changed, headers={**h, "If-Match": tag}).status_code == 412
    res = client.get(f"/v1/resources/{shop['lift']}", headers=h)
    r = client.patch(
        f"/v1/resources/{shop['lift']}",
        json={"name": "Lift A", "is_active": False},
        headers={**h, "If-Match": res.headers["ETag"]},
    )
    assert r.status_code == 200 and r.json()["name"] == "Lift A" and not r.json()["is_active"]
    assert (
        client.patch(
            f"/v1/resources/{shop['lift']}", json={"location_id": shop["loc"]}, headers=h
        ).status_code
        == 422
    )
    # An inactive lift offers nothing.
    assert _availability(client, shop).json()["items"] == []


def test_closures_and_capacity_are_set_and_listed(client: TestClient, shop: dict[str, Any]) -> None:
    h, loc = shop["h"], shop["loc"]
    r = client.post(
        f"/v1/locations/{loc}/closures", json={"on_date": DAY, "reason": "Holiday"}, headers=h
    )
    assert r.status_code == 201 and r.json()["closed"]
    assert _availability(client, shop).json()["items"] == []
    listed = client.get(f"/v1/locations/{loc}/closures", headers=h).json()["items"]
    assert [c["on_date"] for c in listed] == [DAY]
    bad = client.post(
        f"/v1/locations/{loc}/closures", json={"on_date": DAY, "opens": "10:00"}, headers=h
    )
    assert bad.status_code == 422
    gone = client.delete(f"/v1/locations/{loc}/closures/{listed[0]['id']}", headers=h)
    assert gone.status_code == 204
    assert _availability(client, shop).json()["items"]
    r = client.put(
        f"/v1/locations/{loc}/capacity",
        json={"on_date": DAY, "max_events": 0, "max_guests": 100},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["events_booked"] == 0
    assert _availability(client, shop).json()["items"] == []
    cap = client.get(f"/v1/locations/{loc}/capacity", headers=h).json()["items"]
    assert cap[0]["max_events"] == 0


def test_scheduling_setup_needs_manage_locations(
    client: TestClient, db: Database, shop: dict[str, Any]
) -> None:
    t = make_tenant(db)
    staff = issue_key(db, t.id, "staff")
    r = client.post(
        "/v1/resources",
        json={"location_id": str(t.locations[0]), "kind": "staff", "name": "Max"},
        headers=staff,
    )
    assert r.status_code == 403
