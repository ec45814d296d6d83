"""The visibility check over HTTP, run by the API's own worker against local sources: an
operator's check from start to report, the anonymous lead flow from request to delivered
result, bad input refused (an LLM provider: test_visibility_checks_llm.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.models import Connection, Lead
from tenantry.models.enums import LeadSource, SyncStatus
from tests.conftest import make_tenant
from tests.e2e.api.conftest import api_settings, issue_key
from tests.insight_support.internet import LocalInternet, local_internet

NOTICE = {"notice_version": "2026-12", "notice_text": "We check your listing and e-mail you."}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def internet() -> Iterator[LocalInternet]:
    with local_internet() as net:
        yield net


def _client(db: Database, settings: Settings) -> Iterator[TestClient]:
    app = create_app(db, settings=api_settings(settings, vc_workers=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def checks_api(db: Database, settings: Settings, internet: LocalInternet) -> Iterator[TestClient]:
    yield from _client(db, internet.settings(settings))


def _completed(client: TestClient, headers: dict[str, str], check_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = client.get(f"/v1/visibility-checks/{check_id}", headers=headers).json()
        if body["status"] in ("completed", "failed"):
            return dict(body)
        time.sleep(0.1)
    raise AssertionError("the worker did not finish the check in 60 s")


def _assert_backed(report: dict[str, Any]) -> None:
    evidence = {e["id"] for e in report["evidence"]}
    assert report["statements"]
    for s in report["statements"]:
        assert s["evidence"], s["text"]
        assert {e["id"] for e in s["evidence"]} <= evidence
    for r in report["recommendations"]:
        assert r["evidence"] and {e["id"] for e in r["evidence"]} <= evidence


def test_an_operators_check_runs_in_the_worker_and_reports_every_statement_with_evidence(
    db: Database, checks_api: TestClient, internet: LocalInternet
) -> None:
    tenant = make_tenant(db, locations=1)
    internet.provision(db, tenant.id, tenant.locations[0])
    headers = issue_key(db, tenant.id)
    started = checks_api.post("/v1/visibility-checks", json={"location": "loc-0"}, headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    check = _completed(checks_api, headers, started.json()["id"])
    assert check["status"] == "completed", check
    assert check["failures"] == []
    for score in ("overall_score", "gbp_score", "social_score", "web_score"):
        assert 0 <= check[score] <= 100
    assert check["competitor_count"] >= 1 and check["persona"]
    report = checks_api.get(f"/v1/visibility-checks/{check['id']}/report", headers=headers)
    assert report.status_code == 200
    _assert_backed(report.json())
    sources = {e["source"] for e in report.json()["evidence"]}
    assert {"website", "places", "gbp", "facebook", "instagram"} <= sources
    with db.tenant_uow(tenant.id) as uow:
        statuses = uow.session.scalars(
            sa.select(Connection.sync_status).where(Connection.tenant_id == tenant.id)
        ).all()
    assert statuses and set(statuses) == {SyncStatus.OK}


def test_the_anonymous_flow_takes_a_visitor_from_request_to_delivered_result(
    db: Database, checks_api: TestClient, internet: LocalInternet
) -> None:
    tenant = make_tenant(db, locations=1)
    headers = issue_key(db, tenant.id)
    asked = checks_api.post(
        "/v1/visibility-checks/requests",
        json={
            "business_name": "Trattoria Esempio",
            "website": internet.website,
            "city": "Berlin",
            "email": "visitor@example.org",
            **NOTICE,
        },
        headers=headers,
    )
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert body["check"]["status"] == "awaiting_confirmation" and body["token"]
    assert "visitor@example.org" not in asked.text
    time.sleep(1.5)  # the worker does not touch an unconfirmed check
    waiting = checks_api.get(f"/v1/visibility-checks/{body['check']['id']}", headers=headers)
    assert waiting.json()["status"] == "awaiting_confirmation"
    lead = checks_api.get(f"/v1/leads/{body['lead_id']}", headers=headers).json()
    assert lead["source"] == LeadSource.VISIBILITY_CHECK.value and lead["status"] == "new"
    wrong = checks_api.post(
        "/v1/visibility-checks/confirm", json={"token": "forged", **NOTICE}, headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith("application/problem+json")
    confirmed = checks_api.post(
        "/v1/visibility-checks/confirm", json={"token": body["token"], **NOTICE}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] in ("queued", "running", "completed")
    again = checks_api.post(
        "/v1/visibility-checks/confirm", json={"token": body["token"], **NOTICE}, headers=headers
    )
    assert again.status_code == 422  # a used token
    check = _completed(checks_api, headers, body["check"]["id"])
    assert check["status"] == "completed" and check["lead_id"] == body["lead_id"]
    report = checks_api.get(f"/v1/visibility-checks/{check['id']}/report", headers=headers)
    _assert_backed(report.json())
    delivered = checks_api.post(f"/v1/visibility-checks/{check['id']}/delivered", headers=headers)
    assert delivered.status_code == 200 and delivered.json()["delivered_at"]
    kpis = checks_api.get("/v1/insight/kpis", headers=headers).json()
    assert kpis["checks_completed"] == 1 and kpis["completion_rate"] == 1.0


def test_an_unconfirmed_request_counts_against_the_completion_rate(
    db: Database, checks_api: TestClient, internet: LocalInternet
) -> None:
    tenant = make_tenant(db, locations=1)
    internet.provision(db, tenant.id, tenant.locations[0], connect=False)
    headers = issue_key(db, tenant.id)
    started = checks_api.post("/v1/visibility-checks", json={"location": "loc-0"}, headers=headers)
    _completed(checks_api, headers, started.json()["id"])
    checks_api.post(
        "/v1/visibility-checks/requests",
        json={"business_name": "Imbiss Beispiel", "email": "late@example.org", **NOTICE},
        headers=headers,
    )
    kpis = checks_api.get("/v1/insight/kpis", headers=headers).json()
    assert kpis["checks_completed"] == 1 and kpis["completion_rate"] == 0.5


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/visibility-checks", {"location": "no such place!"}),
        ("/v1/visibility-checks", {}),
        (
            "/v1/visibility-checks/requests",
            {"business_name": "X", "email": "not-an-address", **NOTICE},
        ),
        (
            "/v1/visibility-checks/requests",
            {
                "business_name": "X",
                "email": "a@example.org",
                "website": "file:///etc/passwd",
                **NOTICE,
            },
        ),
        ("/v1/visibility-checks/confirm", {"token": "", **NOTICE}),
    ],
)
def test_bad_input_is_a_problem_not_a_check(
    db: Database, checks_api: TestClient, path: str, body: dict[str, Any]
) -> None:
    tenant = make_tenant(db, locations=1)
    headers = issue_key(db, tenant.id)
    answer = checks_api.post(path, json=body, headers=headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_check_of_another_tenants_location_is_not_found(
    db: Database, checks_api: TestClient
) -> None:
    mine, theirs = make_tenant(db, locations=1), make_tenant(db, locations=1)
    headers = issue_key(db, mine.id)
    answer = checks_api.post(
        "/v1/visibility-checks", json={"location": str(theirs.locations[0])}, headers=headers
    )
    assert answer.status_code == 404


def test_an_analyst_may_read_but_not_start_a_check(db: Database, checks_api: TestClient) -> None:
    tenant = make_tenant(db, locations=1)
    answer = checks_api.post(
        "/v1/visibility-checks",
        json={"location": "loc-0"},
        headers=issue_key(db, tenant.id, "analyst"),
    )
    assert answer.status_code == 403


def test_a_lead_of_the_flow_lands_in_the_pipeline(db: Database, checks_api: TestClient) -> None:
    tenant = make_tenant(db, locations=1)
    headers = issue_key(db, tenant.id)
    asked = checks_api.post(
        "/v1/visibility-checks/requests",
        json={"business_name": "Werkstatt Muster", "email": "w@example.org", "vertical": "workshop",
              **NOTICE},
        headers=headers,
    )  # fmt: skip
    assert asked.status_code == 201
    with db.tenant_uow(tenant.id) as uow:
        leads = uow.session.scalars(sa.select(Lead).where(Lead.tenant_id == tenant.id)).all()
        assert [(lead.source, lead.email) for lead in leads] == [
            (LeadSource.VISIBILITY_CHECK, "w@example.org")
        ]
