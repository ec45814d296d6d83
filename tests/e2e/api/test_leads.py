"""Contract tests for /v1/leads through the ASGI app on real PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.api.idempotency import prune_expired
from tenantry.db.engine import Database
from tenantry.models import ApiKey, IdempotencyRecord
from tenantry.services.apikeys import hash_secret
from tests.conftest import TenantFixture


def _lead(tenant: TenantFixture, **extra: object) -> dict[str, object]:
    return {
        "location_id": str(tenant.locations[0]),
        "source": "web_quote",
        "email": "erika@example.com",
        "first_name": "Erika",
        **extra,
    }


def test_capture_get_and_list_a_lead(client: TestClient, tenant: TenantFixture, key_for) -> None:
    h = key_for(tenant)
    created = client.post("/v1/leads", json=_lead(tenant, score=40), headers=h)
    assert created.status_code == 201, created.text
    lead = created.json()
    assert lead["status"] == "new" and lead["score"] == 40 and lead["email"] == "erika@example.com"
    got = client.get(f"/v1/leads/{lead['id']}", headers=h)
    assert got.status_code == 200 and got.json() == lead
    listed = client.get("/v1/leads", headers=h).json()
    assert [x["id"] for x in listed["items"]] == [lead["id"]]
    assert listed["next_cursor"] is None


def test_list_paginates_with_an_opaque_cursor_in_creation_order(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    ids = [client.post("/v1/leads", json=_lead(tenant), headers=h).json()["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/leads", params=params, headers=h).json()
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert client.get("/v1/leads", params={"limit": 500}, headers=h).status_code == 422
    bad = client.get("/v1/leads", params={"cursor": "!!"}, headers=h)
    assert bad.status_code == 422


def test_list_filters_by_status_and_location(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    a = client.post("/v1/leads", json=_lead(tenant), headers=h).json()
    b = client.post(
        "/v1/leads", json=_lead(tenant, location_id=str(tenant.locations[1])), headers=h
    ).json()
    assert client.post(f"/v1/leads/{a['id']}/contact", headers=h).status_code == 200
    contacted = client.get("/v1/leads", params={"status": "contacted"}, headers=h).json()
    assert [x["id"] for x in contacted["items"]] == [a["id"]]
    at_second = client.get(
        "/v1/leads", params={"location_id": str(tenant.locations[1])}, headers=h
    ).json()
    assert [x["id"] for x in at_second["items"]] == [b["id"]]


def test_pipeline_actions_follow_the_state_machine(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    lead = client.post("/v1/leads", json=_lead(tenant), headers=h).json()
    base = f"/v1/leads/{lead['id']}"
    skipped = client.post(f"{base}/qualify", headers=h)
    assert skipped.status_code == 409
    assert skipped.json()["type"] == "urn:tenantry:problem:illegal-transition"
    assert client.post(f"{base}/contact", headers=h).json()["status"] == "contacted"
    assert client.post(f"{base}/qualify", headers=h).json()["status"] == "qualified"
    converted = client.post(f"{base}/convert", headers=h)
    assert converted.status_code == 200, converted.text
    assert converted.json()["status"] == "converted" and converted.json()["customer_id"]
    assert client.post(f"{base}/lose", json={"reason": "too late"}, headers=h).status_code == 409


def test_losing_a_lead_needs_a_reason(client: TestClient, tenant: TenantFixture, key_for) -> None:
    h = key_for(tenant)
    lead = client.post("/v1/leads", json=_lead(tenant), headers=h).json()
    assert client.post(f"/v1/leads/{lead['id']}/lose", json={}, headers=h).status_code == 422
    lost = client.post(f"/v1/leads/{lead['id']}/lose", json={"reason": "no budget"}, headers=h)
    assert lost.json()["status"] == "lost" and lost.json()["lost_reason"] == "no budget"


def test_rescore_appends_to_the_score_history(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    lead = client.post("/v1/leads", json=_lead(tenant, score=10), headers=h).json()
    r = client.post(
        f"/v1/leads/{lead['id']}/rescore", json={"score": 80, "reason": "visited twice"}, headers=h
    )
    assert r.json()["score"] == 80
    history = client.get(f"/v1/leads/{lead['id']}/score-history", headers=h).json()
    assert [(x["previous_score"], x["score"], x["reason"]) for x in history] == [
        (10, 80, "visited twice")
    ]


def test_a_lead_without_contact_data_is_a_validation_problem(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    r = client.post(
        "/v1/leads",
        json={"location_id": str(tenant.locations[0]), "source": "web_quote"},
        headers=key_for(tenant),
    )
    assert r.status_code == 422 and r.json()["detail"] == "a lead needs an email or a phone number"


def test_unknown_location_is_refused_without_writing(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    r = client.post(
        "/v1/leads", json=_lead(tenant, location_id=str(uuid.uuid4())), headers=key_for(tenant)
    )
    assert r.status_code == 422
    assert r.json()["type"] == "urn:tenantry:problem:reference-not-found"
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.count() == 0


def test_idempotent_retry_returns_the_first_response_and_writes_once(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant) | {"Idempotency-Key": "create-erika-1"}
    first = client.post("/v1/leads", json=_lead(tenant), headers=h)
    again = client.post("/v1/leads", json=_lead(tenant), headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.count() == 1
        record = uow.session.get(IdempotencyRecord, (tenant.id, _ref(uow, h), "create-erika-1"))
        assert record is not None and record.response_body is None  # no copy of personal data


def _ref(uow, headers: dict[str, str]) -> str:
    key = uow.session.scalars(
        sa.select(ApiKey).where(ApiKey.secret_hash == hash_secret(headers["X-API-Key"]))
    ).one()
    return f"apikey:{key.id}"


def test_same_idempotency_key_with_another_body_is_a_422(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant) | {"Idempotency-Key": "k-1"}
    assert client.post("/v1/leads", json=_lead(tenant), headers=h).status_code == 201
    other = client.post("/v1/leads", json=_lead(tenant, score=99), headers=h)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:tenantry:problem:idempotency-key-reused"
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.count() == 1


def test_idempotency_keys_are_scoped_per_principal(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    for _ in range(2):
        h = key_for(tenant) | {"Idempotency-Key": "shared"}
        assert client.post("/v1/leads", json=_lead(tenant), headers=h).status_code == 201
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.count() == 2


def test_expired_idempotency_key_is_a_new_request(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant) | {"Idempotency-Key": "old"}
    client.post("/v1/leads", json=_lead(tenant), headers=h)
    with db.platform_uow() as uow:
        uow.session.execute(
            sa.update(IdempotencyRecord)
            .where(IdempotencyRecord.tenant_id == tenant.id)
            .values(expires_at=sa.func.now() - sa.text("interval '1 second'"))
        )
        uow.commit()
    assert client.post("/v1/leads", json=_lead(tenant, score=5), headers=h).status_code == 201
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.count() == 2


def test_failed_write_with_a_key_stores_nothing(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant) | {"Idempotency-Key": "fails"}
    bad = {"location_id": str(tenant.locations[0]), "source": "web_quote"}
    assert client.post("/v1/leads", json=bad, headers=h).status_code == 422
    assert client.post("/v1/leads", json=_lead(tenant), headers=h).status_code == 201
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.count() == 1


def test_concurrent_retries_with_one_key_write_once(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant) | {"Idempotency-Key": "racing"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(lambda _i: client.post("/v1/leads", json=_lead(tenant), headers=h), range(4))
        )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.leads.count() == 1


def test_expired_records_are_pruned(db: Database, tenant: TenantFixture) -> None:
    with db.platform_uow() as uow:
        for i in range(3):
            uow.session.add(
                IdempotencyRecord(
                    tenant_id=tenant.id,
                    principal_ref="apikey:test",
                    key=f"old-{i}",
                    salt=b"s",
                    request_hash=b"h",
                    status_code=201,
                    expires_at=datetime(2020, 1, 1, tzinfo=UTC)
                    if i < 2
                    else datetime.now(UTC) + timedelta(hours=1),
                )
            )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        assert prune_expired(uow, datetime.now(UTC)) == 2
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        left = uow.session.scalars(sa.select(IdempotencyRecord.key)).all()
    assert left == ["old-2"]
