"""The read side of the ledger over HTTP: KPIs, benchmarks, trends, a check's PROV-JSON and
its verification; bad input is a problem, another tenant's (or location's) rows are not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.insight.snapshots import record_snapshots
from tenantry.models import Benchmark
from tenantry.models.enums import Vertical
from tests.conftest import TenantFixture, make_tenant
from tests.integration.insight.reports_data import Seeded, seed_check

Headers = dict[str, str]
KPI_FIELDS = {
    "evidence_coverage",
    "avg_confidence",
    "source_diversity",
    "fresh_share",
    "completion_rate",
    "checks_completed",
}


@pytest.fixture(scope="module")
def world(db: Database) -> tuple[TenantFixture, Seeded]:
    """A tenant with one completed check (the app reads with the wall clock: checked now)."""
    tenant = make_tenant(db)
    seeded = seed_check(db, tenant.id, tenant.locations[0], datetime.now(UTC))
    with db.tenant_uow(tenant.id) as uow:
        record_snapshots(uow, seeded.check_id)
        uow.commit()
    return tenant, seeded


def problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_kpis_carry_the_issues_field_names_and_their_targets(
    client: TestClient, world: tuple[TenantFixture, Seeded], key_for: Callable[..., Headers]
) -> None:
    tenant, _seeded = world
    r = client.get("/v1/insight/kpis", headers=key_for(tenant, "analyst"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= KPI_FIELDS
    assert (body["checks_requested"], body["checks_completed"]) == (1, 1)
    assert body["completion_rate"] == 1.0 and body["evidence_coverage"] == 1.0
    assert body["fresh_share"] == 1.0 and body["source_diversity"] == 3.0
    assert body["targets"]["evidence_coverage"] == {"target": 0.95, "met": True}
    assert body["window_days"] == 30
    assert (
        client.get("/v1/insight/kpis", params={"window_days": 7}, headers=key_for(tenant)).json()[
            "window_days"
        ]
        == 7
    )


def test_kpis_of_a_principal_scoped_to_another_location_leave_this_one_out(
    client: TestClient, world: tuple[TenantFixture, Seeded], key_for: Callable[..., Headers]
) -> None:
    tenant, _seeded = world
    scoped = key_for(tenant, "manager", [tenant.locations[1]])
    body = client.get("/v1/insight/kpis", headers=scoped).json()
    assert (body["checks_requested"], body["evidence_current"]) == (0, 0)
    assert body["evidence_coverage"] is None


@pytest.mark.parametrize("window", ["0", "100000", "many", "1.5"])
def test_a_bad_window_is_a_problem(
    client: TestClient,
    world: tuple[TenantFixture, Seeded],
    key_for: Callable[..., Headers],
    window: str,
) -> None:
    tenant, _seeded = world
    problem(
        client.get("/v1/insight/kpis", params={"window_days": window}, headers=key_for(tenant)), 422
    )


def test_benchmarks_are_listed_and_filtered(
    client: TestClient,
    db: Database,
    world: tuple[TenantFixture, Seeded],
    key_for: Callable[..., Headers],
) -> None:
    tenant, _seeded = world
    region = f"Messestadt {uuid.uuid4().hex[:6]}"
    with db.platform_uow() as uow:  # as `refresh_benchmarks` publishes them
        for category, p50 in (("", "4.3"), ("italian", "4.4")):
            uow.session.add(
                Benchmark(
                    id=uow.ids(),
                    vertical=Vertical.RESTAURANT,
                    category=category,
                    region=region,
                    metric="gbp.rating",
                    period_start=datetime(2026, 11, 1).date(),
                    period_end=datetime(2026, 11, 30).date(),
                    p25=Decimal("4.1"),
                    p50=Decimal(p50),
                    p75=Decimal("4.6"),
                    sample_size=12,
                    tenant_count=7,
                )
            )
        uow.commit()
    h = key_for(tenant)
    r = client.get("/v1/insight/benchmarks", params={"region": region.lower()}, headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["category"], i["p50"], i["tenant_count"]) for i in items] == [
        ("", 4.3, 7),
        ("italian", 4.4, 7),
    ]
    only = client.get(
        "/v1/insight/benchmarks",
        params={
            "region": region,
            "category": "italian",
            "vertical": "restaurant",
            "metric": "gbp.rating",
        },
        headers=h,
    ).json()["items"]
    assert len(only) == 1 and only[0]["period_start"] == "2026-11-01"
    none = client.get(
        "/v1/insight/benchmarks", params={"region": region, "vertical": "workshop"}, headers=h
    )
    assert none.json()["items"] == []
    problem(client.get("/v1/insight/benchmarks", params={"vertical": "bakery"}, headers=h), 422)
    problem(
        client.get("/v1/insight/benchmarks", params={"metric": "Not A Metric!"}, headers=h), 422
    )


def test_trends_show_the_locations_series_and_hide_other_locations(
    client: TestClient,
    db: Database,
    world: tuple[TenantFixture, Seeded],
    key_for: Callable[..., Headers],
) -> None:
    tenant, _seeded = world
    loc = tenant.locations[0]
    r = client.get(f"/v1/locations/{loc}/trends", headers=key_for(tenant, "staff"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["location_id"] == str(loc) and body["days"] == 90
    metrics = {(s["source"], s["metric"]) for s in body["series"]}
    assert metrics == {
        ("gbp", "gbp.rating"),
        ("gbp", "gbp.review_count"),
        ("facebook", "facebook.followers"),
    }
    rating = client.get(
        f"/v1/locations/{loc}/trends",
        params={"metric": "gbp.rating", "days": 7},
        headers=key_for(tenant),
    ).json()["series"]
    assert [p["value"] for p in rating[0]["points"]] == [4.6] and rating[0]["change"] == 0.0
    scoped = key_for(tenant, "manager", [tenant.locations[1]])
    problem(client.get(f"/v1/locations/{loc}/trends", headers=scoped), 404)
    stranger = key_for(make_tenant(db))
    problem(client.get(f"/v1/locations/{loc}/trends", headers=stranger), 404)
    problem(
        client.get(f"/v1/locations/{loc}/trends", params={"days": 0}, headers=key_for(tenant)), 422
    )
    problem(client.get("/v1/locations/not-a-uuid/trends", headers=key_for(tenant)), 422)


def test_provenance_is_prov_json_of_the_check(
    client: TestClient,
    db: Database,
    world: tuple[TenantFixture, Seeded],
    key_for: Callable[..., Headers],
) -> None:
    tenant, seeded = world
    r = client.get(f"/v1/visibility-checks/{seeded.check_id}/provenance", headers=key_for(tenant))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["prefix"]["prov"] == "http://www.w3.org/ns/prov#"
    assert {f"tenantry:evidence-{e}" for e in seeded.evidence} <= set(doc["entity"])
    assert f"tenantry:analysis-{seeded.run_id}" in doc["activity"]
    assert "wasDerivedFrom" in doc and None not in doc.values()
    assert "Mustermann" not in r.text
    stranger = key_for(make_tenant(db))
    problem(
        client.get(f"/v1/visibility-checks/{seeded.check_id}/provenance", headers=stranger), 404
    )


def test_integrity_is_clean_until_the_evidence_is_tampered_with(
    client: TestClient, db: Database, key_for: Callable[..., Headers]
) -> None:
    tenant = make_tenant(db)
    seeded = seed_check(db, tenant.id, tenant.locations[0], datetime.now(UTC) - timedelta(days=1))
    url = f"/v1/visibility-checks/{seeded.check_id}/integrity"
    clean = client.get(url, headers=key_for(tenant, "analyst"))
    assert clean.status_code == 200, clean.text
    assert clean.json()["ok"] is True and clean.json()["checked"]["evidence"] == 6
    with psycopg.connect(db.target.libpq(db.target.owner_url)) as conn:
        conn.execute("ALTER TABLE insight.evidence DISABLE TRIGGER USER")
        conn.execute(
            "UPDATE insight.evidence SET claim = 'The Google profile is rated 5.0.'"
            " WHERE tenant_id = %s AND id = %s",
            (tenant.id, seeded.evidence[3]),
        )
        conn.execute("ALTER TABLE insight.evidence ENABLE TRIGGER USER")
    body = client.get(url, headers=key_for(tenant)).json()
    assert body["ok"] is False
    assert body["problems"] == [
        {
            "kind": "differs_from_audit",
            "table": "insight.evidence",
            "row_id": str(seeded.evidence[3]),
            "detail": "differs from the audit trail in claim",
        }
    ]
    problem(client.get(url, headers=key_for(make_tenant(db))), 404)
    problem(
        client.get(f"/v1/visibility-checks/{uuid.uuid4()}/integrity", headers=key_for(tenant)), 404
    )
