"""`tenantry evidence export|verify` and the report commands of `tenantry vc` end to end,
through `main()` (its error handling included) on the session's database.

The commands open the database as a user's shell would, through `TENANTRY_HOME`; the rows they
read are written with the same home's master key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tenantry.cli import main as cli_main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.insight.snapshots import record_snapshots
from tests.conftest import TenantFixture, make_tenant
from tests.integration.insight.reports_data import Seeded, seed_check


@pytest.fixture(scope="module")
def home_db(settings: Settings, target: DatabaseTarget) -> Iterator[Database]:
    """The session's database as the CLI sees it (the home's master key), the CLI's
    environment pointing at it."""
    if settings.database_url is not None:
        pytest.skip("needs the embedded server: the CLI finds the database by its name")
    name = target.owner_url.database
    assert name is not None
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("TENANTRY_")]:
            mp.delenv(key)
        mp.setenv("TENANTRY_HOME", str(settings.home))
        mp.setenv("TENANTRY_DATABASE_NAME", name)
        mp.setenv("COLUMNS", "200")
        db = open_database(Settings(), target=target)
        yield db
        db.dispose()


@pytest.fixture(scope="module")
def world(home_db: Database) -> tuple[TenantFixture, Seeded]:
    tenant = make_tenant(home_db)
    seeded = seed_check(home_db, tenant.id, tenant.locations[0], datetime.now(UTC))
    with home_db.tenant_uow(tenant.id) as uow:
        record_snapshots(uow, seeded.check_id)
        uow.commit()
    return tenant, seeded


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    assert cli_main.main(list(args)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    return captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tenantry: error: "), lines
    return lines[0].removeprefix("tenantry: error: ")


def test_export_writes_prov_json_to_stdout_or_a_file(
    world: tuple[TenantFixture, Seeded], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tenant, seeded = world
    args = ("evidence", "export", "--tenant", tenant.slug, "--check", str(seeded.check_id))
    out, _ = cli(capsys, *args, "--format", "prov-json")
    doc = json.loads(out)
    assert doc["prefix"]["prov"] == "http://www.w3.org/ns/prov#"
    assert {f"tenantry:evidence-{e}" for e in seeded.evidence} <= set(doc["entity"])
    target = tmp_path / "check.prov.json"
    out, err = cli(capsys, *args, "--output", str(target))
    assert out == "" and "written to" in err
    assert json.loads(target.read_text()) == doc
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_export_of_an_unknown_check_or_to_a_missing_folder_fails_in_one_line(
    world: tuple[TenantFixture, Seeded], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tenant, seeded = world
    _, err = cli(
        capsys,
        "evidence", "export", "--tenant", tenant.slug, "--check", str(seeded.run_id), code=1,
    )  # fmt: skip
    assert one_error_line(err) == "visibility check not found"
    _, err = cli(
        capsys,
        "evidence", "export", "--tenant", tenant.slug, "--check", str(seeded.check_id),
        "--output", str(tmp_path / "no" / "such" / "folder.json"),
        code=1,
    )  # fmt: skip
    assert "cannot use" in one_error_line(err)
    _, err = cli(capsys, "evidence", "export", "--tenant", tenant.slug, "--check", "x", code=2)
    assert "--check" in one_error_line(err)


def test_verify_passes_on_untouched_evidence_and_fails_with_one_line_once_tampered(
    home_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = make_tenant(home_db)
    seeded = seed_check(home_db, tenant.id, tenant.locations[0], datetime.now(UTC))
    args = ("evidence", "verify", "--tenant", str(tenant.id))
    out, _ = cli(capsys, *args, "--check", str(seeded.check_id))
    assert out.startswith("evidence ledger intact: 3 retrievals, 6 pieces of evidence")
    out, _ = cli(capsys, *args, "--format", "json")
    assert json.loads(out)["ok"] is True
    with psycopg.connect(home_db.target.libpq(home_db.target.owner_url)) as conn:
        conn.execute("ALTER TABLE insight.evidence DISABLE TRIGGER USER")
        conn.execute(
            "UPDATE insight.evidence SET confidence = 1 WHERE tenant_id = %s AND id = %s",
            (tenant.id, seeded.evidence[0]),
        )
        conn.execute("ALTER TABLE insight.evidence ENABLE TRIGGER USER")
    out, err = cli(capsys, *args, code=1)
    assert one_error_line(err) == "evidence ledger: 1 problem found (first: differs_from_audit)"
    assert str(seeded.evidence[0]) in out and "confidence" in out
    out, err = cli(capsys, *args, "--format", "json", code=1)
    report: dict[str, Any] = json.loads(out)
    assert [p["kind"] for p in report["problems"]] == ["differs_from_audit"]


def test_kpis_print_the_field_names_as_json_or_a_table(
    world: tuple[TenantFixture, Seeded], capsys: pytest.CaptureFixture[str]
) -> None:
    tenant, _seeded = world
    out, _ = cli(capsys, "vc", "kpis", "--tenant", tenant.slug, "--json", "--window-days", "7")
    body = json.loads(out)
    assert {
        "evidence_coverage": 1.0,
        "avg_confidence": 0.8833,
        "source_diversity": 3.0,
        "fresh_share": 1.0,
        "completion_rate": 1.0,
        "checks_completed": 1,
        "window_days": 7,
    }.items() <= body.items()
    out, _ = cli(capsys, "vc", "kpis", "--tenant", tenant.slug)
    assert "evidence_coverage" in out and "100.0%" in out and "95.0%" in out
    out, _ = cli(capsys, "vc", "kpis", "--platform", "--json")
    assert json.loads(out)["scope"] == "platform"
    for wrong in ([], ["--tenant", tenant.slug, "--platform"]):
        _, err = cli(capsys, "vc", "kpis", *wrong, code=2)
        assert "--tenant or --platform" in one_error_line(err)


def test_trends_and_benchmarks_print_what_the_ledger_holds(
    world: tuple[TenantFixture, Seeded], capsys: pytest.CaptureFixture[str]
) -> None:
    tenant, _seeded = world
    loc = str(tenant.locations[0])
    args = ("vc", "trends", "--tenant", tenant.slug, "--location", loc)
    out, _ = cli(capsys, *args, "--metric", "gbp.rating", "--format", "json")
    series = json.loads(out)
    assert [(s["metric"], [p["value"] for p in s["points"]]) for s in series] == [
        ("gbp.rating", [4.6])
    ]
    out, _ = cli(capsys, *args, "--days", "30")
    assert "facebook.followers" in out and "gbp.review_count" in out
    _, err = cli(
        capsys, "vc", "trends", "--tenant", tenant.slug, "--location", str(tenant.id), code=1
    )
    assert one_error_line(err) == "location not found in this tenant"
    _, err = cli(capsys, "vc", "refresh-benchmarks", "--period-start", "2001-01-01",
                 "--period-end", "2001-01-31")  # fmt: skip
    assert "0 published" in err and "k = 5 tenants" in err
    _, err = cli(capsys, "vc", "refresh-benchmarks", "--period-start", "2001-02-01",
                 "--period-end", "2001-01-31", code=2)  # fmt: skip
    assert "ends before it starts" in one_error_line(err)
    out, _ = cli(capsys, "vc", "benchmarks", "--region", "Nowhere Town", "--format", "json")
    assert json.loads(out) == []
