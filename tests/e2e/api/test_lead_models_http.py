"""/v1/lead-models and the explanations in /v1/leads through the ASGI app: training, the
current model, its report, permissions, errors as problem+json; scores come from the outbox
projection, never from the request."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.decisions.lead_features import NoEngagement
from tenantry.decisions.lead_projection import project_lead_scores
from tests.conftest import TenantFixture
from tests.e2e.api.conftest import api_settings

PROBLEM = "application/problem+json"


def test_a_tenant_without_a_model_scores_by_the_rules_and_has_no_report(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    current = client.get("/v1/lead-models/current", headers=h)
    assert current.status_code == 200, current.text
    body = current.json()
    assert body["kind"] == "rules" and body["version"] is None and body["model_version"] == "rules"
    assert body["base"] == 20 and {r["rule"] for r in body["rules"]} >= {"source", "recency"}
    report = client.get("/v1/lead-models/current/report", headers=h)
    assert report.status_code == 404 and report.headers["content-type"] == PROBLEM
    assert "no lead scoring model" in report.json()["detail"]


def test_training_stores_a_version_and_only_writers_may_train(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    analyst = key_for(tenant, "analyst")
    refused = client.post("/v1/lead-models", headers=analyst)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    trained = client.post("/v1/lead-models", headers=h | {"Idempotency-Key": "train-1"})
    assert trained.status_code == 201, trained.text
    model = trained.json()
    assert model["kind"] == "rules" and model["version"] == 1 and model["n_outcomes"] == 0
    assert "fewer than the minimum" in model["metrics"]["reason"]
    again = client.post("/v1/lead-models", headers=h | {"Idempotency-Key": "train-1"})
    assert again.json() == model
    assert client.get("/v1/lead-models/current", headers=analyst).json()["version"] == 1
    report = client.get("/v1/lead-models/current/report", headers=analyst)
    assert report.status_code == 200, report.text
    assert (
        report.json()["n_outcomes"] == 0 and len(report.json()["calibration"]["reliability"]) == 10
    )
    naive = client.get(
        "/v1/lead-models/current/report", params={"cut": "2026-01-01T00:00:00"}, headers=h
    )
    assert naive.status_code == 422 and naive.headers["content-type"] == PROBLEM
    bad = client.get("/v1/lead-models/current/report", params={"cut": "soon"}, headers=h)
    assert bad.status_code == 422


@pytest.mark.parametrize("manual", [False, True])
def test_a_lead_shows_its_current_explanation_and_its_history(
    client: TestClient, db: Database, tenant: TenantFixture, key_for, manual: bool
) -> None:
    h = key_for(tenant)
    lead = client.post(
        "/v1/leads",
        json={
            "location_id": str(tenant.locations[0]),
            "source": "referral",
            "email": "explained@example.com",
            "persona": "ketten-katrin",
        },
        headers=h,
    ).json()
    # The request recorded the change; it did not score.
    assert lead["score"] == 0 and lead["score_explanation"] is None
    assert client.get(f"/v1/leads/{lead['id']}/score-history", headers=h).json() == []
    project_lead_scores(db, tenant.id, NoEngagement())
    got = client.get(f"/v1/leads/{lead['id']}", headers=h).json()
    explanation = got["score_explanation"]
    assert explanation["kind"] == "rules" and explanation["points"]["source"] == 25
    total = explanation["base"] + sum(explanation["points"].values())
    assert total == pytest.approx(explanation["raw"], abs=1e-4)
    assert round(explanation["raw"]) == got["score"] > 0
    if manual:
        r = client.post(
            f"/v1/leads/{lead['id']}/rescore", json={"score": 91, "reason": "manual"}, headers=h
        )
        assert r.status_code == 200 and r.json()["score"] == 91
        assert r.json()["score_explanation"]["kind"] == "manual"
    history = client.get(f"/v1/leads/{lead['id']}/score-history", headers=h).json()
    assert [row["explanation"]["kind"] for row in history] == ["rules"] + (
        ["manual"] if manual else []
    )
    assert history[-1]["score"] == (91 if manual else got["score"])


def test_the_server_rescores_changed_leads_in_the_background(
    db: Database, settings: Settings, tenant: TenantFixture, key_for
) -> None:
    app = create_app(db, settings=api_settings(settings, lead_rescore_seconds=0.2))
    h = key_for(tenant)
    with TestClient(app, raise_server_exceptions=False) as c:
        lead = c.post(
            "/v1/leads",
            json={
                "location_id": str(tenant.locations[0]),
                "source": "phone",
                "email": "background@example.com",
            },
            headers=h,
        ).json()
        deadline = time.monotonic() + 60
        got = lead
        while got["score_explanation"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
            got = c.get(f"/v1/leads/{lead['id']}", headers=h).json()
    assert got["score_explanation"] is not None, "not rescored within 60 s"
    assert got["score_explanation"]["kind"] == "rules" and got["score"] > 0
