"""lake_erasure_seconds: erase one subject from a lake of many events, vacuum and log cleanup
included, vs. rewriting the raw table without any deleted row (the least a rewrite costs).

The lake is written directly in `RAW_EVENTS_SCHEMA` (one tenant, 50,000 subjects, events
spread over 90 days, one commit per day, as the relay would have produced them) in a temporary
`$TENANTRY_HOME`. Measured: `erase_subject_from_lake` for one subject, followed by a byte scan
that must find nothing (the scan is reported, not timed). Baseline: one full read of the table
(every data file), which any delete that must find the subject's rows pays at least once.

Environment: BENCH_LAKE_EVENTS (10000000), BENCH_LAKE_DAYS (90), BENCH_LAKE_SUBJECTS (50000).
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from bench.common import Result, knob
from tenantry.db.provider import DatabaseTarget
from tenantry.lake.erasure import erase_subject_from_lake, lake_scan
from tenantry.lake.raw import RAW_EVENTS_PARTITION_BY, RAW_EVENTS_SCHEMA, table_path
from tenantry.lake.writer import append

TYPES = pa.array(["step_completed", "email_open", "visibility_check_completed", "login_oauth"])


def _index(n: int, size: int) -> pa.Array:
    return pc.cast(pc.floor(pc.multiply(pc.random(n), size)), pa.int64())


def _day(day: date, n: int, tenant: str, keys: pa.Array) -> pa.Table:
    start_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    offsets = pc.sort_indices(pc.random(n))  # a permutation: sorted, distinct micro-offsets
    micros = pc.add(pc.multiply(pc.cast(offsets, pa.int64()), 86_400_000_000 // n), start_us)
    ts = pc.cast(pc.cast(micros, pa.int64()), pa.timestamp("us", tz="UTC"))
    props = json.dumps({"step_id": "profile", "duration_seconds": 42}, separators=(",", ":"))
    ids = pc.binary_join_element_wise(
        f"{day.isoformat()}-", pc.cast(pa.array(range(n)), pa.string()), ""
    )
    return pa.Table.from_arrays(
        [
            ids,
            pa.array([tenant] * n),
            pa.array([tenant] * n),
            pa.nulls(n, pa.string()),
            pc.take(keys, _index(n, len(keys))),
            pc.take(TYPES, _index(n, len(TYPES))),
            ts,
            pa.array([day] * n, type=pa.date32()),
            pa.array(["{}"] * n),
            pa.array([props] * n),
            pa.array(["bulk"] * n),
            ts,
        ],
        schema=RAW_EVENTS_SCHEMA,
    )


def run(_server: DatabaseTarget) -> Result:
    events = knob("BENCH_LAKE_EVENTS", 10_000_000, 5000)
    days = knob("BENCH_LAKE_DAYS", 90, 5)
    subjects = knob("BENCH_LAKE_SUBJECTS", 50_000, 300)
    tenant = str(uuid.uuid4())
    keys = pa.array([secrets.token_hex(32) for _ in range(subjects)])
    per_day = events // days
    with tempfile.TemporaryDirectory(prefix="tenantry-lake-bench-") as tmp:
        home = Path(tmp)
        path = table_path(home, "raw", "events")
        first = date(2026, 1, 1)
        for d in range(days):
            day = _day(first + timedelta(days=d), per_day, tenant, keys)
            append(
                path,
                day,
                partition_by=RAW_EVENTS_PARTITION_BY,
                app_id="bench",
                version=d + 1,
                metadata={"day": str(d)},
            )
        needle = keys[7].as_py()
        started = time.perf_counter()
        DeltaTable(str(path)).to_pyarrow_table(columns=["user_key"])
        baseline = time.perf_counter() - started
        before = len(lake_scan(home, [needle]))
        started = time.perf_counter()
        report = erase_subject_from_lake(home, tenant, [needle])
        seconds = time.perf_counter() - started
        after = lake_scan(home, [needle])
        size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    assert not after, "the subject is still in the lake"
    return Result(
        name="lake_erasure_seconds",
        value=round(seconds, 3),
        unit="s",
        baseline="one full read of the user_key column of the raw table",
        baseline_value=round(baseline, 3),
        ratio=round(seconds / baseline, 3),
        target="<= 10 s for 10 million events",
        params={
            "events": per_day * days,
            "days": days,
            "subjects": subjects,
            "rows_deleted": report.tables.get("raw/events", 0),
            "files_removed": report.files_removed,
            "log_files_removed": report.log_files_removed,
            "scan_hits_before": before,
            "scan_hits_after": len(after),
            "lake_mb": round(size / 1e6, 1),
        },
    )
