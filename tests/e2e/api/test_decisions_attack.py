"""Attacks on the decision services (issue 21) over HTTP: each test pins a problem a hostile
client or a careful reviewer found, and failed before its fix."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tests.conftest import TenantFixture
from tests.e2e.api.conftest import issue_key
from tests.partners import lead, partner

PROBLEM = "application/problem+json"


def _offer(client: TestClient, db: Database, tenant: TenantFixture) -> tuple[dict[str, str], Any]:
    """An owner's key and the one offer that routing made to location a's partner."""
    owner = issue_key(db, tenant.id)
    a = tenant.locations[0]
    partner(db, tenant, a, credits=10, price=3)
    lead(db, tenant)
    run = client.post("/v1/lead-routing", headers=owner)
    assert run.status_code == 200 and len(run.json()["assigned"]) == 1, run.text
    (offer,) = client.get("/v1/lead-assignments", headers=owner).json()["items"]
    return owner, offer


def test_an_offer_refunded_by_hand_can_still_be_declined(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner, offer = _offer(client, db, tenant)
    a = tenant.locations[0]
    url = f"/v1/partners/{a}/credits"
    back = client.post(url, json={"kind": "refund", "assignment_id": offer["id"]}, headers=owner)
    assert back.status_code == 201, back.text
    declined = client.post(f"/v1/lead-assignments/{offer['id']}/decline", headers=owner)
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    got = client.get(url, headers=owner).json()
    # Refunded once: the decline does not give the credits back a second time.
    assert got["balance"] == 10
    assert [e["kind"] for e in got["history"]] == ["refund", "consumption", "purchase"]
