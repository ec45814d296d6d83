"""`POST /v1/events` through the ASGI app: per-event outcomes, idempotency, limits, errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.ids import uuid7
from tests.conftest import TenantFixture


def _event(tenant: TenantFixture, **over: object) -> dict[str, object]:
    e: dict[str, object] = {
        "event_id": str(uuid7()),
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "step_completed",
        "location_id": str(tenant.locations[0]),
        "properties": {"step_id": "profile", "duration_seconds": 12},
    }
    return e | over


def test_a_batch_is_ingested_once_and_bad_events_do_not_block_good_ones(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    batch = [_event(tenant), _event(tenant), _event(tenant, event_type="nope")]
    r = client.post("/v1/events", json=batch, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    bad = [x for x in body["results"] if x["status"] == "rejected"]
    assert bad[0]["index"] == 2 and "event_type" in bad[0]["reason"]
    again = client.post("/v1/events", json=batch[:2], headers=h).json()
    assert (again["accepted"], again["duplicate"]) == (0, 2)
    with db.tenant_uow(tenant.id) as uow:
        from sqlalchemy import text

        n = uow.session.scalar(text("SELECT count(*) FROM events.inbox"))
    assert n == 2


def test_oversized_and_malformed_batches_are_refused_whole(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    big = client.post("/v1/events", json=[_event(tenant) for _ in range(501)], headers=h)
    assert big.status_code == 413
    assert big.headers["content-type"].startswith("application/problem+json")
    for body in (b"{not json", b'{"event_id": "x"}'):
        r = client.post(
            "/v1/events", content=body, headers=h | {"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["type"].endswith("validation-failed")


def test_another_tenants_location_is_rejected_per_event(
    client: TestClient, tenant: TenantFixture, other_tenant: TenantFixture, key_for
) -> None:
    r = client.post(
        "/v1/events",
        json=[_event(tenant, location_id=str(other_tenant.locations[0]))],
        headers=key_for(tenant),
    )
    assert r.status_code == 200 and r.json()["rejected"] == 1
    assert str(other_tenant.locations[0]) not in r.text
    assert uuid.UUID(r.json()["results"][0]["event_id"])
