"""Operational endpoints, problem documents, request ids, metrics."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.migrate import head_revision
from tests.conftest import TenantFixture
from tests.e2e.api.conftest import api_settings


def test_healthz_answers_ok(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_reports_the_head_revision(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "revision": head_revision()}


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
    assert r.headers["x-request-id"] == "req-12345678"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


def test_unknown_route_is_a_problem_document(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:tenantry:problem:not-found"
    assert body["status"] == 404 and body["request_id"] == r.headers["x-request-id"]


def test_missing_credentials_are_a_401_problem(client: TestClient) -> None:
    r = client.get("/v1/leads")
    assert r.status_code == 401
    assert r.json()["type"] == "urn:tenantry:problem:unauthenticated"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_invalid_api_key_is_refused(client: TestClient) -> None:
    r = client.get("/v1/leads", headers={"X-API-Key": "tnry_not-a-real-key"})
    assert r.status_code == 401


def test_validation_problem_lists_each_bad_field_without_values(
    client: TestClient, db: Database, tenant: TenantFixture, key_for
) -> None:
    headers = key_for(tenant)
    r = client.post(
        "/v1/leads",
        json={
            "location_id": "not-a-uuid",
            "source": "nowhere",
            "score": 500,
            "email": "secret-person@example.com x",
        },
        headers=headers,
    )
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "urn:tenantry:problem:validation-failed"
    fields = {e["field"] for e in body["errors"]}
    assert {"body.location_id", "body.source", "body.score", "body.email"} <= fields
    assert "secret-person" not in r.text


def test_metrics_count_requests_by_route_template(client: TestClient, tenant, key_for) -> None:
    headers = key_for(tenant)
    client.get(f"/v1/leads/{tenant.locations[0]}", headers=headers)
    text = client.get("/metrics").text
    assert 'route="/v1/leads/{lead_id}"' in text
    assert "tenantry_http_request_duration_seconds_bucket" in text
    assert "tenantry_http_requests_total" in text


def test_openapi_declares_both_security_schemes(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKey"]["type"] == "apiKey"
    assert schemes["BearerJWT"]["scheme"] == "bearer"
    assert "Problem" in doc["components"]["schemas"]


def test_an_unexpected_error_is_a_bare_500_problem(db: Database, settings: Settings) -> None:
    app = create_app(db, settings=api_settings(settings))

    @app.get("/v1/_explode")
    async def explode() -> None:
        raise RuntimeError("secret@example.com must never reach the client")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/v1/_explode")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["content-length"] == str(len(r.content))
    assert r.json()["type"] == "urn:tenantry:problem:internal-error"
    assert "example.com" not in r.text and "RuntimeError" not in r.text


def test_every_problem_carries_its_instance_and_request_id_and_so_does_the_error_log(
    db: Database, settings: Settings, tenant: TenantFixture, key_for
) -> None:
    app = create_app(db, settings=api_settings(settings))

    @app.get("/v1/_explode")
    async def explode() -> None:
        raise RuntimeError("unexpected")

    owner = key_for(tenant)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("tenantry.api").addHandler(handler)
    with TestClient(app, raise_server_exceptions=False) as c:
        answers = {
            "/v1/_explode": c.get("/v1/_explode", headers={"X-Request-ID": "req-explode-1"}),
            "/v1/leads": c.get("/v1/leads", headers={"X-Request-ID": "req-no-key-01"}),
            "/v1/nowhere": c.get("/v1/nowhere", headers={"X-Request-ID": "req-nowhere-1"}),
            "/v1/locations": c.post(
                "/v1/locations",
                json={"name": "x"},
                headers={**owner, "X-Request-ID": "req-invalid-1"},
            ),
            "/v1/customers": c.post(
                "/v1/customers",
                content='{"notes": "a\\u0000b"}',
                headers={
                    **owner,
                    "X-Request-ID": "req-guarded-1",
                    "Content-Type": "application/json",
                },
            ),
        }
    logging.getLogger("tenantry.api").removeHandler(handler)
    for path, r in answers.items():
        assert r.headers["content-type"] == "application/problem+json", path
        problem = r.json()
        assert problem["instance"] == path
        assert problem["request_id"] == r.headers["x-request-id"]
    assert answers["/v1/_explode"].status_code == 500
    assert [getattr(r, "request_id", None) for r in records] == ["req-explode-1"]


def test_a_driver_error_that_escaped_the_adapter_is_still_translated(
    db: Database, settings: Settings
) -> None:
    app = create_app(db, settings=api_settings(settings))

    @app.post("/v1/_raw_reference")
    def raw_reference() -> None:
        # A statement on the driver's own connection (as a raw COPY runs), breaking a foreign key.
        connection = db.app_engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("CREATE TEMP TABLE parents (id int PRIMARY KEY)")
            cursor.execute("CREATE TEMP TABLE children (parent int REFERENCES parents)")
            cursor.execute("INSERT INTO children VALUES (1)")
        finally:
            connection.rollback()
            connection.close()

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/_raw_reference")
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "urn:tenantry:problem:reference-not-found"
    assert r.json()["instance"] == "/v1/_raw_reference"
