"""Shared benchmark plumbing: the benchmark server, result files, scale knobs, statistics.

Every size a benchmark uses comes from `knob`: an explicit environment variable wins, else
`BENCH_SCALE` picks the full size (the default, the figures in docs/benchmarks.md) or the tiny
one (`BENCH_SCALE=tiny`: seconds per benchmark, for the smoke test that keeps every benchmark
runnable). `BENCH_RESULTS` moves the result files (default `bench/results/`).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tenantry.config import Settings
from tenantry.db.migrate import upgrade
from tenantry.db.provider import OWNER_ROLE, DatabaseTarget, ensure_database
from tenantry.privacy.master import LocalMasterKey

# Every benchmark database seals personal data under this master key (API servers started
# by a benchmark get it as TENANTRY_MASTER_KEY).
BENCH_MASTER_BYTES = bytes(range(32))
BENCH_MASTER = LocalMasterKey(BENCH_MASTER_BYTES, "bench")

RESULTS = Path(__file__).parent / "results"
SCALES = ("full", "tiny")


def bench_scale() -> str:
    """`full` (default) or `tiny`, from `BENCH_SCALE`."""
    value = os.environ.get("BENCH_SCALE", "full").strip().lower() or "full"
    if value not in SCALES:
        raise ValueError(f"BENCH_SCALE must be one of {', '.join(SCALES)}, not {value!r}")
    return value


def knob(name: str, full: int, tiny: int) -> int:
    """The integer setting `name`: its environment variable, else the size of the scale."""
    raw = os.environ.get(name, "").strip()
    if raw:
        return int(raw)
    return tiny if bench_scale() == "tiny" else full


def fknob(name: str, full: float, tiny: float) -> float:
    """The number setting `name` (seconds, rates): like `knob`, for fractional values."""
    raw = os.environ.get(name, "").strip()
    if raw:
        return float(raw)
    return tiny if bench_scale() == "tiny" else full


def scaled_name(name: str) -> str:
    """A database name per scale, so a tiny run never leaves a dataset a full run would reuse."""
    scale = bench_scale()
    return name if scale == "full" else f"{name}_{scale}"


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS", "").strip() or RESULTS)


@dataclass
class Result:
    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    ratio: float
    target: str
    params: dict[str, Any] = field(default_factory=dict)

    def write(self) -> Path:
        folder = results_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.json"
        payload = asdict(self) | {
            "scale": bench_scale(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
        path.write_text(json.dumps(payload, indent=2) + "\n")
        return path


def settings() -> Settings:
    """Benchmarks use their own home so they never touch the demo's data (with an external
    server too: the lake, pipeline and checkpoint files go there)."""
    return Settings(home=Path(os.environ.get("TENANTRY_BENCH_HOME", ".tenantry-bench")))


def server() -> DatabaseTarget:
    return ensure_database(settings())


def database(server: DatabaseTarget, name: str, *, fresh: bool) -> DatabaseTarget:
    try:
        return _database(server, name, fresh=fresh)
    except RuntimeError as exc:
        if fresh or "pre-release schema" not in str(exc):
            raise
        print(f"{name}: built by an older schema, rebuilding it")
        return _database(server, name, fresh=True)


def _database(server: DatabaseTarget, name: str, *, fresh: bool) -> DatabaseTarget:
    with psycopg.connect(server.libpq(server.admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if not exists or fresh:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(OWNER_ROLE)
                )
            )
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO tenantry_app").format(sql.Identifier(name))
            )
    target = server.with_database(name)
    upgrade(target)
    return target


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(samples: list[float]) -> float:
    return statistics.median(samples)
