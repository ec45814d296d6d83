"""The pipeline's own bookkeeping in `curated/_pipeline/`: runs, steps, data-quality results
and the raw files already processed (the incremental watermark).

All four are small Delta tables appended to (or, for the watermark, replaced) once per run.
They hold table names, counts, timings and rule texts, never a value from the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake

from tenantry.lake.raw import layer_path
from tenantry.pipeline.lakeio import open_table
from tenantry.pipeline.quality import RuleResult

__all__ = [
    "RunRecord",
    "StepRecord",
    "load_processed",
    "log_dir",
    "read_dq",
    "read_runs",
    "read_steps",
    "save_processed",
    "write_run",
]

_TS = pa.timestamp("us", tz="UTC")
RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("started_at", _TS),
        ("finished_at", _TS),
        ("seconds", pa.float64()),
        ("mode", pa.string()),
        ("status", pa.string()),
        ("as_of", pa.date32()),
        ("dates", pa.int32()),
        ("raw_rows", pa.int64()),
        ("published", pa.int32()),
        ("failed", pa.int32()),
    ]
)
STEPS = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.string()),
        ("status", pa.string()),
        ("rows", pa.int64()),
        ("seconds", pa.float64()),
        ("version", pa.int64()),
        ("finished_at", _TS),
    ]
)
DQ = pa.schema(
    [
        ("run_id", pa.string()),
        ("table_name", pa.string()),
        ("rule", pa.string()),
        ("passed", pa.bool_()),
        ("observed", pa.float64()),
        ("message", pa.string()),
    ]
)
FILES = pa.schema([("path", pa.string()), ("event_date", pa.string())])


@dataclass
class StepRecord:
    step: str
    status: str  # published | failed | blocked | unchanged
    rows: int = 0
    seconds: float = 0.0
    version: int | None = None
    finished_at: datetime | None = None


@dataclass
class RunRecord:
    run_id: str
    started_at: datetime
    finished_at: datetime
    mode: str  # full | incremental | noop
    status: str  # ok | failed | noop
    as_of: date | None
    dates: int
    raw_rows: int
    steps: list[StepRecord] = field(default_factory=list)
    dq: list[RuleResult] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def log_dir(home: Path) -> Path:
    return layer_path(home, "curated") / "_pipeline"


def _append(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    if not rows:
        return
    path.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), pa.Table.from_pylist(rows, schema=schema), mode="append")


def write_run(home: Path, run: RunRecord) -> None:
    base = log_dir(home)
    published = sum(1 for s in run.steps if s.status == "published")
    failed = sum(1 for s in run.steps if s.status in ("failed", "blocked"))
    _append(
        base / "runs",
        [
            {
                "run_id": run.run_id,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "seconds": run.seconds,
                "mode": run.mode,
                "status": run.status,
                "as_of": run.as_of,
                "dates": run.dates,
                "raw_rows": run.raw_rows,
                "published": published,
                "failed": failed,
            }
        ],
        RUNS,
    )
    _append(
        base / "steps",
        [
            {
                "run_id": run.run_id,
                "step": s.step,
                "status": s.status,
                "rows": s.rows,
                "seconds": s.seconds,
                "version": s.version,
                "finished_at": s.finished_at,
            }
            for s in run.steps
        ],
        STEPS,
    )
    _append(
        base / "dq",
        [
            {
                "run_id": run.run_id,
                "table_name": r.table,
                "rule": r.rule,
                "passed": r.passed,
                "observed": r.observed,
                "message": r.message,
            }
            for r in run.dq
        ],
        DQ,
    )


def load_processed(home: Path) -> dict[str, str]:
    dt = open_table(log_dir(home) / "raw_files")
    if dt is None:
        return {}
    t = dt.to_pyarrow_table()
    return dict(zip(t.column("path").to_pylist(), t.column("event_date").to_pylist(), strict=True))


def save_processed(home: Path, files: dict[str, str]) -> None:
    path = log_dir(home) / "raw_files"
    path.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {"path": list(files), "event_date": list(files.values())},
        schema=FILES,
    )
    write_deltalake(str(path), table, mode="overwrite")


def _read(path: Path) -> pa.Table | None:
    dt = open_table(path)
    return None if dt is None else dt.to_pyarrow_table()


def read_runs(home: Path, limit: int = 10) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    t = _read(log_dir(home) / "runs")
    if t is None:
        return []
    rows = sorted(t.to_pylist(), key=lambda r: r["started_at"], reverse=True)
    return rows[:limit]


def read_steps(home: Path) -> list[dict[str, Any]]:
    t = _read(log_dir(home) / "steps")
    return [] if t is None else t.to_pylist()


def read_dq(home: Path, run_id: str) -> list[dict[str, Any]]:
    t = _read(log_dir(home) / "dq")
    if t is None:
        return []
    return [r for r in t.to_pylist() if r["run_id"] == run_id]
