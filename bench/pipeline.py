"""pipeline_run_seconds: the star schema, segments and features built from 10 million raw events,
then the incremental run after 100,000 new events.

The raw events are generated once (`tenantry.pipeline.synthetic`: 2,000 tenants x 100 users,
180 days) into `$TENANTRY_BENCH_HOME/pipeline/base` and copied into a fresh work home for every
run, so the full build always starts from an empty curated layer.

- `pipeline_run_seconds`: `run_pipeline` on the fresh home (every step: staging, all
  data-quality rules, publication). Baseline: one DuckDB scan of every column of every raw
  event (what any build must at least read). Target: <= 120 s.
- `pipeline_incremental_seconds`: 100,000 new events on the next day appended to the raw
  table, then `run_pipeline` again. Baseline: the full build. Target: ratio <= 0.05.

Environment: BENCH_PIPELINE_EVENTS (10000000), BENCH_PIPELINE_NEW (100000).
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bench.common import Result, settings
from tenantry.db.provider import DatabaseTarget
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.pipeline.lakeio import raw_files, register
from tenantry.pipeline.runner import run_pipeline
from tenantry.pipeline.synthetic import EventSpec, generate_events, synthetic_tenant_ids

TENANTS = 2000
USERS = 100
DAYS = 180
END = datetime(2026, 11, 1, tzinfo=UTC)


def _base(root: Path, events: int) -> Path:
    base = root / "base"
    marker = base / f"ready-v2-{events}"  # v2: outbox types in raw/domain_events
    if not marker.exists():
        shutil.rmtree(base, ignore_errors=True)
        spec = EventSpec(
            synthetic_tenant_ids(TENANTS), events, END - timedelta(days=DAYS), END, USERS
        )
        started = time.perf_counter()
        generate_events(base, spec)
        marker.write_text(f"{time.perf_counter() - started:.1f}\n")
    return base


def _scan_seconds(home: Path) -> float:
    con = duckdb.connect()
    register(con, "raw", table_path(home, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
    cols = ", ".join(f'max("{n}")' for n in RAW_EVENTS_SCHEMA.names)
    started = time.perf_counter()
    con.execute(f"SELECT count(*), {cols} FROM raw").fetchall()
    return time.perf_counter() - started


def run(_server: DatabaseTarget) -> list[Result]:
    events = int(os.environ.get("BENCH_PIPELINE_EVENTS", "10000000"))
    new = int(os.environ.get("BENCH_PIPELINE_NEW", "100000"))
    root = settings().home / "pipeline"
    base = _base(root, events)
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base / "lake" / "raw", work / "lake" / "raw")

    scan = _scan_seconds(work)
    started = time.perf_counter()
    full = run_pipeline(work)
    full_s = time.perf_counter() - started
    assert full.status == "ok", [r for r in full.dq if not r.passed]

    spec = EventSpec(
        synthetic_tenant_ids(TENANTS), new, END, END + timedelta(days=1), USERS, first_index=events
    )
    generate_events(work, spec)
    started = time.perf_counter()
    inc = run_pipeline(work)
    inc_s = time.perf_counter() - started
    assert inc.status == "ok", inc.status
    assert inc.dates == 1, inc.dates

    steps = {s.step: round(s.seconds, 2) for s in full.steps}
    common = {
        "raw_events": events,
        "new_events": new,
        "tenants": TENANTS,
        "users": TENANTS * USERS,
        "days": DAYS,
        "raw_files": len(raw_files(work)),
    }
    return [
        Result(
            name="pipeline_run_seconds",
            value=round(full_s, 2),
            unit="s",
            baseline="DuckDB scan of every column of every raw event",
            baseline_value=round(scan, 2),
            ratio=round(full_s / scan, 3),
            target="<= 120 s",
            params=common | {"rows_in": full.raw_rows, "step_seconds": steps, "dates": full.dates},
        ),
        Result(
            name="pipeline_incremental_seconds",
            value=round(inc_s, 2),
            unit="s",
            baseline="full build of the same lake (pipeline_run_seconds)",
            baseline_value=round(full_s, 2),
            ratio=round(inc_s / full_s, 4),
            target="ratio <= 0.05",
            params=common
            | {
                "rows_in": inc.raw_rows,
                "step_seconds": {s.step: round(s.seconds, 2) for s in inc.steps},
            },
        ),
    ]
