"""`tenantry pipeline run|status` as a user runs them, on a lake of generated events (no
database needed), and the demo's pipeline part (on a database of its own).

`run` starts `tenantry` as a subprocess; a second look at the same command (its JSON, another
bad value) calls `main()` in this process (`call`).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from rich.console import Console

from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget
from tenantry.demo.pipeline import show_pipeline
from tenantry.lake import vocabulary
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.models.enums import Vertical
from tenantry.pipeline.catalog import model, model_path
from tenantry.pipeline.lakeio import register
from tenantry.pipeline.runner import run_pipeline
from tenantry.pipeline.synthetic import EventSpec, generate_events, synthetic_tenant_ids
from tests.cli_support import in_process
from tests.conftest import make_tenant
from tests.integration.pipeline.conftest import append_raw, raw_event
from tests.private_db import private_database


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    return env | {"TENANTRY_HOME": str(home), "COLUMNS": "200"}


def run(home: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tenantry")
    proc = subprocess.run(
        [str(exe), *args], env=_env(home), capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == code, proc.stderr
    return proc


def call(home: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = in_process(_env(home), *args)
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
    again = call(home, "pipeline", "run")
    assert "Nothing new" in again.stdout


def test_status_shows_sources_tables_runs_and_dq(home: Path) -> None:
    run_pipeline(home)
    text = run(home, "pipeline", "status").stdout
    for heading in ("Source freshness", "Lake tables", "Last runs", "Data-quality report"):
        assert heading in text
    data = json.loads(call(home, "pipeline", "status", "--format", "json").stdout)
    assert json.loads(call(home, "pipeline", "status", "--json").stdout).keys() == data.keys()
    # every source ingestion and the relay really write, each with data from the generator
    assert {s["source"] for s in data["sources"]} == {"api", "bulk", "outbox"}
    assert all(s["age_seconds"] is not None for s in data["sources"])
    assert "POST /v1/events" in {s["source"]: s["feed"] for s in data["sources"]}["api"]
    assert all(t["rows"] > 0 and t["ok"] for t in data["tables"])
    assert data["runs"][0]["status"] == "ok"
    assert data["dq"] and all(r["passed"] for r in data["dq"])


def test_bad_input_is_one_line_on_stderr(tmp_path: Path) -> None:
    empty = run(tmp_path, "pipeline", "run", code=1)
    assert empty.stderr.strip() == "tenantry: error: the raw event table is empty: nothing to build"
    bad = call(tmp_path, "pipeline", "run", "--as-of", "yesterday", code=2)
    assert bad.stderr.strip() == (
        "tenantry: error: Invalid value for '--as-of': must be a date (YYYY-MM-DD)"
    )
    early = call(tmp_path, "pipeline", "run", "--as-of", "1999-12-31", code=2)
    assert "between 2000-01-01 and" in early.stderr


def test_a_failing_rule_exits_1_and_names_the_rule(home: Path) -> None:
    run_pipeline(home)
    tenant = synthetic_tenant_ids(1)[0]
    ts = datetime.now(UTC) + timedelta(days=1)
    append_raw(home, [raw_event(tenant, "uk_x", "login_oauth", ts, {"provider": "myspace"})])
    proc = run(home, "pipeline", "run", code=1)
    assert "'provider' in" in proc.stdout
    assert proc.stderr.strip().endswith("table(s) not published: data-quality rules failed")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_demo_sends_its_events_through_ingestion_and_the_relay(
    server: DatabaseTarget, settings: Settings, tmp_path: Path
) -> None:
    home = Settings(home=tmp_path)
    with private_database(server, settings, "demo") as db:
        tenants = [make_tenant(db, vertical=v) for v in (Vertical.RESTAURANT, Vertical.WORKSHOP)]
        names = {str(t.id): t.slug for t in tenants}
        out = Console(file=io.StringIO(), width=160)
        record = show_pipeline(out, home, db=db, tenants=names)
        assert record is not None and record.status == "ok", [r for r in record.dq if not r.passed]
        text = out.file.getvalue()  # type: ignore[attr-defined]
        assert "through ingestion" in text and "0 not" in text
        for heading in ("Lake tables", "Segments", "Data-quality report"):
            assert heading in text
        with db.platform_uow() as uow:
            inbox = set(uow.session.scalars(sa.text("SELECT id::text FROM events.inbox")))
        con = duckdb.connect()
        register(con, "raw", table_path(tmp_path, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
        raw = con.execute("SELECT event_id, event_type, source FROM raw").fetchall()
        # every event in the lake came through the inbox, of a type a client may send
        assert raw and {r[0] for r in raw} == inbox
        assert {r[1] for r in raw} == set(vocabulary.INGESTED)
        segments = read_model(tmp_path, "segments")
        assert {s["consent_state"] for s in segments} == {
            "marketing_opted_in",
            "email_only",
            "unverified",
        }
        accounts = read_model(tmp_path, "dim_account")
        assert {a["main_category"] for a in accounts} == {"restaurant", "workshop"}
        again = Console(file=io.StringIO(), width=160)
        second = show_pipeline(again, home, db=db, tenants=names)
        assert second is not None and second.status == "noop"
        assert "already sent" in again.file.getvalue()  # type: ignore[attr-defined]


def read_model(home: Path, name: str) -> list[dict[str, object]]:
    m = model(name)
    con = duckdb.connect()
    register(con, "t", model_path(home, m), m.schema, partition_by=m.partition_by)
    return con.sql("SELECT * FROM t").to_arrow_table().to_pylist()
