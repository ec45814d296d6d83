"""Partners, credits, lead routing and the partners' answers through HTTP; errors as
problem+json and nothing written on bad input; a member limited to a location acts for its
partner only."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tests.conftest import TenantFixture
from tests.e2e.api.conftest import issue_key
from tests.partners import place_location

PROBLEM = "application/problem+json"


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    return body


def _partner(client: TestClient, headers: dict[str, str], location_id: object, **kw: Any) -> Any:
    body = {"location_id": str(location_id), "radius_km": 20, "capacity": 5, "price_credits": 2}
    return client.post("/v1/partners", json={**body, **kw}, headers=headers)


def test_partners_credits_routing_and_answers_over_http(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner = issue_key(db, tenant.id)
    a, b = tenant.locations
    place_location(db, tenant, a, 52.52, 13.405)
    place_location(db, tenant, b, 52.60, 13.50)
    created = _partner(client, owner, a, categories=["Catering"], capacity=1)
    assert created.status_code == 201, created.text
    assert created.json()["categories"] == ["catering"]
    assert _partner(client, owner, b).status_code == 201
    assert _partner(client, owner, b, price_credits=3).status_code == 200
    patched = client.patch(f"/v1/partners/{b}", json={"capacity": 4}, headers=owner)
    assert patched.status_code == 200 and patched.json()["capacity"] == 4
    assert patched.json()["price_credits"] == 3
    assert len(client.get("/v1/partners", headers=owner).json()["items"]) == 2
    first = client.get("/v1/partners", params={"limit": 1}, headers=owner).json()
    rest = client.get("/v1/partners", params={"cursor": first["next_cursor"]}, headers=owner)
    assert [p["location_id"] for p in first["items"] + rest.json()["items"]] == [str(a), str(b)]
    for loc, amount in ((a, 10), (b, 6)):
        bought = client.post(
            f"/v1/partners/{loc}/credits",
            json={"kind": "purchase", "amount": amount},
            headers=owner,
        )
        assert bought.status_code == 201, bought.text
    lead_in = {"location_id": str(a), "source": "web_quote", "category": "catering"}
    leads = []
    for lat, lon in ((52.5212345, 13.4098765), (52.59, 13.49)):
        r = client.post(
            "/v1/leads",
            json={**lead_in, "email": "prospect@example.com", "latitude": lat, "longitude": lon},
            headers=owner,
        )
        assert r.status_code == 201, r.text
        leads.append(r.json())
    assert (leads[0]["latitude"], leads[0]["longitude"]) == ("52.521", "13.410")
    moved = client.patch(
        f"/v1/leads/{leads[1]['id']}",
        json={"latitude": 52.6011, "longitude": 13.5049},
        headers=owner,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["latitude"] == "52.601"
    half = client.patch(f"/v1/leads/{leads[1]['id']}", json={"latitude": None}, headers=owner)
    _problem(half, 422)
    dry = client.post("/v1/lead-routing", json={"dry_run": True}, headers=owner)
    assert dry.status_code == 200 and len(dry.json()["assigned"]) == 2
    assert client.get("/v1/lead-assignments", headers=owner).json()["items"] == []
    run = client.post("/v1/lead-routing", headers=owner)
    assert run.status_code == 200, run.text
    placed = {x["lead_id"]: x["location_id"] for x in run.json()["assigned"]}
    assert placed == {leads[0]["id"]: str(a), leads[1]["id"]: str(b)}
    listed = client.get("/v1/lead-assignments", headers=owner).json()["items"]
    offers = {o["partner_id"]: o for o in listed}
    assert len(offers) == 2
    # A member limited to location b answers for b's partner only.
    staff = issue_key(db, tenant.id, "staff", [b])
    mine = client.get("/v1/lead-assignments", headers=staff).json()["items"]
    assert len(mine) == 1
    theirs = next(o for o in offers.values() if o["id"] != mine[0]["id"])
    _problem(client.post(f"/v1/lead-assignments/{theirs['id']}/accept", headers=staff), 404)
    _problem(client.get(f"/v1/partners/{a}/credits", headers=staff), 404)
    declined = client.post(
        f"/v1/lead-assignments/{mine[0]['id']}/decline",
        json={"reason": "no_capacity"},
        headers=staff,
    )
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    credits_b = client.get(f"/v1/partners/{b}/credits", headers=owner).json()
    assert credits_b["balance"] == 6
    assert [e["kind"] for e in credits_b["history"]] == ["refund", "consumption", "purchase"]
    accepted = client.post(f"/v1/lead-assignments/{theirs['id']}/accept", headers=owner)
    assert accepted.json()["status"] == "accepted"
    rated = client.post(
        f"/v1/lead-assignments/{theirs['id']}/rating",
        json={"rating": 2, "reason": "unreachable"},
        headers=owner,
    )
    assert rated.status_code == 200 and rated.json()["rating"] == 2
    done = client.post(
        f"/v1/lead-assignments/{theirs['id']}/conversion", json={"converted": False}, headers=owner
    )
    assert done.json()["status"] == "lost"
    report = {r["location_id"]: r for r in client.get("/v1/partners/report", headers=owner).json()}
    assert report[str(a)]["quality_score"] == 0.0 and report[str(a)]["below_target"]
    assert report[str(b)]["declined"] == 1 and report[str(b)]["credits_spent"] == 0
    _problem(client.delete(f"/v1/partners/{a}", headers=owner), 409)


def test_bad_credit_requests_are_problems_and_write_nothing(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner = issue_key(db, tenant.id)
    a, b = tenant.locations
    assert _partner(client, owner, a).status_code == 201
    url = f"/v1/partners/{a}/credits"
    for body in (
        {"kind": "purchase", "amount": 0},
        {"kind": "purchase", "amount": -5},
        {"kind": "purchase", "amount": "5"},
        {"kind": "purchase"},
        {"kind": "gift", "amount": 5},
        {"kind": "refund", "amount": 5},
        {"kind": "purchase", "amount": 5, "extra": 1},
    ):
        _problem(client.post(url, json=body, headers=owner), 422)
    _problem(
        client.post(
            f"/v1/partners/{b}/credits", json={"kind": "purchase", "amount": 5}, headers=owner
        ),
        404,
    )
    analyst = issue_key(db, tenant.id, "analyst")
    _problem(client.post(url, json={"kind": "purchase", "amount": 5}, headers=analyst), 403)
    _problem(_partner(client, owner, a, radius_km=-1), 422)
    _problem(
        client.post(f"/v1/lead-assignments/{a}/rating", json={"rating": 6}, headers=owner), 422
    )
    assert client.get(url, headers=owner).json()["history"] == []
    assert client.delete(f"/v1/partners/{a}", headers=owner).status_code == 204
    _problem(client.get(f"/v1/partners/{a}", headers=owner), 404)
