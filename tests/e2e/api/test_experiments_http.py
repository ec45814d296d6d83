"""Experiments through HTTP: create, read, pause/resume/stop, the report, outcomes (404, 409
for a second one), refused sensitive context (422 naming it), and permissions."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.decisions.context import Context, Profile
from tenantry.decisions.experiments import decide
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key

BODY: dict[str, Any] = {
    "slot": "welcome-copy",
    "arms": [{"key": "encouraging"}, {"key": "factual"}],
    "floor": 0.05,
    "context": ["persona"],
    "guardrails": [{"metric": "unsubscribe", "max_increase": 0.02, "min_samples": 200}],
}


@pytest.fixture
def shop(db: Database) -> tuple[TenantFixture, dict[str, str]]:
    t = make_tenant(db)
    return t, issue_key(db, t.id)


def _count(db: Database, t: TenantFixture, table: str) -> int:
    with db.tenant_uow(t.id) as uow:
        return int(uow.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def test_an_experiment_is_created_run_and_reported(
    client: TestClient, db: Database, shop: tuple[TenantFixture, dict[str, str]]
) -> None:
    t, h = shop
    r = client.post("/v1/experiments", json=BODY, headers=h)
    assert r.status_code == 201, r.text
    exp = r.json()
    assert exp["default_arm"] == "encouraging" and exp["status"] == "running"
    assert exp["rules"] == {"low_engagement": "encouraging", "facts_tone": "factual"}
    assert client.get(f"/v1/experiments/{exp['id']}", headers=h).json()["slot"] == "welcome-copy"
    assert [e["id"] for e in client.get("/v1/experiments", headers=h).json()["items"]] == [
        exp["id"]
    ]
    profile = Profile(uuid.uuid4(), "uk_test", True, Context(persona="solo-sarah"))
    with db.tenant_uow(t.id) as uow:
        d = decide(uow, "welcome-copy", profile, rng=np.random.default_rng(0))
        uow.commit()
    r = client.post(f"/v1/decisions/{d.decision_id}/outcome", json={"success": True}, headers=h)
    assert r.status_code == 200, r.text
    again = client.post(
        f"/v1/decisions/{d.decision_id}/outcome", json={"success": False}, headers=h
    )
    assert again.status_code == 409
    missing = client.post(
        f"/v1/decisions/{uuid.uuid4()}/outcome", json={"success": True}, headers=h
    )
    assert missing.status_code == 404
    report = client.get(f"/v1/experiments/{exp['id']}/report", headers=h).json()
    arm = next(a for a in report["arms"] if a["arm"] == d.arm)
    assert (arm["decisions"], arm["outcomes"], arm["successes"]) == (1, 1, 1)
    assert report["fairness"]["overall"]["groups"]["solo-sarah"]["outcomes"] == 1
    for action, status in (("pause", "paused"), ("resume", "running"), ("stop", "stopped")):
        r = client.post(f"/v1/experiments/{exp['id']}/{action}", headers=h)
        assert r.status_code == 200 and r.json()["status"] == status
    assert client.post(f"/v1/experiments/{exp['id']}/resume", headers=h).status_code == 409


@pytest.mark.parametrize("attribute", ["gender", "origin", "age"])
def test_sensitive_context_is_refused_by_name_and_nothing_is_written(
    client: TestClient, db: Database, shop: tuple[TenantFixture, dict[str, str]], attribute: str
) -> None:
    t, h = shop
    r = client.post("/v1/experiments", json={**BODY, "context": ["persona", attribute]}, headers=h)
    assert r.status_code == 422 and attribute in r.text
    r = client.post("/v1/experiments", json={**BODY, "eligibility": {attribute: ["x"]}}, headers=h)
    assert r.status_code == 422 and attribute in r.text
    assert _count(db, t, "decisions.experiments") == 0


def test_bad_experiments_are_4xx_with_nothing_written(
    client: TestClient, db: Database, shop: tuple[TenantFixture, dict[str, str]]
) -> None:
    t, h = shop
    bad = [
        {**BODY, "arms": []},
        {**BODY, "floor": 0.6},  # 2 arms * 0.6 > 1
        {**BODY, "default_arm": "nope"},
        {**BODY, "rules": {"facts_tone": "nope"}},
        {**BODY, "guardrails": [{"metric": "mood", "max_increase": 0.1}]},
        {**BODY, "floor": "0.1"},
        {**BODY, "surprise": 1},
    ]
    for body in bad:
        r = client.post("/v1/experiments", json=body, headers=h)
        assert 400 <= r.status_code < 500, (body, r.text)
    assert _count(db, t, "decisions.experiments") == 0
    assert client.post("/v1/experiments", json=BODY, headers=h).status_code == 201
    assert client.post("/v1/experiments", json=BODY, headers=h).status_code == 409


def test_an_analyst_reads_but_does_not_create(
    client: TestClient, db: Database, shop: tuple[TenantFixture, dict[str, str]]
) -> None:
    t, _ = shop
    analyst = issue_key(db, t.id, "analyst")
    assert client.post("/v1/experiments", json=BODY, headers=analyst).status_code == 403
    assert client.get("/v1/experiments", headers=analyst).status_code == 200
