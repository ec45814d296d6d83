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

Environment: BENCH_PIPELINE_EVENTS (10000000), BENCH_PIPELINE_NEW (100000),
BENCH_PIPELINE_TENANTS (2000), BENCH_PIPELINE_USERS (100), BENCH_PIPELINE_DAYS (180).
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bench.common import Result, knob, settings
from tenantry.db.provider import DatabaseTarget
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.pipeline.lakeio import raw_files, register
from tenantry.pipeline.runner import run_pipeline
from tenantry.pipeline.synthetic import EventSpec, generate_events, synthetic_tenant_ids

END = datetime(2026, 11, 1, tzinfo=UTC)


def _base(root: Path, events: int, tenants: int, users: int, days: int) -> Path:
    base = root / "base"
    # v2: outbox types in raw/domain_events
    marker = base / f"ready-v2-{events}-{tenants}x{users}x{days}"
    if not marker.exists():
        shutil.rmtree(base, ignore_errors=True)
        spec = EventSpec(
            synthetic_tenant_ids(tenants), events, END - timedelta(days=days), END, users
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
    events = knob("BENCH_PIPELINE_EVENTS", 10_000_000, 20_000)
    new = knob("BENCH_PIPELINE_NEW", 100_000, 1000)
    tenants = knob("BENCH_PIPELINE_TENANTS", 2000, 10)
    users = knob("BENCH_PIPELINE_USERS", 100, 20)
    days = knob("BENCH_PIPELINE_DAYS", 180, 30)
    root = settings().home / "pipeline"
    base = _base(root, events, tenants, users, days)
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base / "lake" / "raw", work / "lake" / "raw")

    scan = _scan_seconds(work)
    started = time.perf_counter()
    full = run_pipeline(work)
    full_s = time.perf_counter() - started
    assert full.status == "ok", [r for r in full.dq if not r.passed]

    spec = EventSpec(
        synthetic_tenant_ids(tenants), new, END, END + timedelta(days=1), users, first_index=events
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
        "tenants": tenants,
        "users": tenants * users,
        "days": days,
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
