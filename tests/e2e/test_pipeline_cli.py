"""`tenantry pipeline run|status` as a user runs them, on a lake of generated events (no
database needed), and the demo's pipeline part."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from tenantry.config import Settings
from tenantry.demo.pipeline import DEMO_EVENTS, show_pipeline
from tenantry.pipeline.runner import run_pipeline
from tenantry.pipeline.synthetic import EventSpec, generate_events, synthetic_tenant_ids
from tests.integration.pipeline.conftest import append_raw, raw_event


def run(home: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env |= {"TENANTRY_HOME": str(home), "COLUMNS": "200"}
    exe = Path(sys.executable).with_name("tenantry")
    proc = subprocess.run(
        [str(exe), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == code, proc.stderr
    return proc


@pytest.fixture
def home(tmp_path: Path) -> Path:
    end = datetime.now(UTC)
    generate_events(
        tmp_path, EventSpec(synthetic_tenant_ids(2), 3000, end - timedelta(days=14), end)
    )
    return tmp_path


def test_run_builds_the_lake_then_reports_nothing_new(home: Path) -> None:
    first = run(home, "pipeline", "run")
    assert "published" in first.stdout and "fact_onboarding_steps" in first.stdout
    again = run(home, "pipeline", "run")
    assert "Nothing new" in again.stdout


def test_status_shows_sources_tables_runs_and_dq(home: Path) -> None:
    run_pipeline(home)
    text = run(home, "pipeline", "status").stdout
    for heading in ("Source freshness", "Lake tables", "Last runs", "Data-quality report"):
        assert heading in text
    data = json.loads(run(home, "pipeline", "status", "--format", "json").stdout)
    assert json.loads(run(home, "pipeline", "status", "--json").stdout).keys() == data.keys()
    assert {s["source"] for s in data["sources"]} == {"app", "ga4", "consent", "ses"}
    assert all(t["rows"] > 0 and t["ok"] for t in data["tables"])
    assert data["runs"][0]["status"] == "ok"
    assert data["dq"] and all(r["passed"] for r in data["dq"])


def test_bad_input_is_one_line_on_stderr(tmp_path: Path) -> None:
    empty = run(tmp_path, "pipeline", "run", code=1)
    assert empty.stderr.strip() == "tenantry: error: the raw event table is empty: nothing to build"
    bad = run(tmp_path, "pipeline", "run", "--as-of", "yesterday", code=2)
    assert bad.stderr.strip() == (
        "tenantry: error: Invalid value for '--as-of': must be a date (YYYY-MM-DD)"
    )
    early = run(tmp_path, "pipeline", "run", "--as-of", "1999-12-31", code=2)
    assert "between 2000-01-01 and" in early.stderr


def test_a_failing_rule_exits_1_and_names_the_rule(home: Path) -> None:
    run_pipeline(home)
    tenant = synthetic_tenant_ids(1)[0]
    ts = datetime.now(UTC) + timedelta(days=1)
    append_raw(home, [raw_event(tenant, "uk_x", "oauth_login", ts, {"provider": "myspace"})])
    proc = run(home, "pipeline", "run", code=1)
    assert "'provider' in" in proc.stdout
    assert proc.stderr.strip().endswith("table(s) not published: data-quality rules failed")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_demo_generates_events_once_and_shows_schema_segments_and_dq(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    tenants = dict(zip(synthetic_tenant_ids(3, seed=3), ("Sole", "Kfz", "Hibachi"), strict=True))
    out = Console(file=io.StringIO(), width=160)
    record = show_pipeline(out, settings, tenants=tenants)
    assert record is not None and record.status == "ok"
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert f"Generated {DEMO_EVENTS:,} synthetic events" in text
    for heading in ("Lake tables", "Segments", "Data-quality report"):
        assert heading in text
    again = Console(file=io.StringIO(), width=160)
    assert show_pipeline(again, settings, tenants=tenants).status == "noop"  # type: ignore[union-attr]
    assert "already in the lake" in again.file.getvalue()  # type: ignore[attr-defined]
