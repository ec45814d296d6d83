"""Run every benchmark, write one JSON per benchmark, print a table.

Environment: BENCH_TENANTS (default 10000, the large scale), BENCH_SEED_TENANTS (500),
BENCH_ITERATIONS (2000), BENCH_ONLY (comma-separated names), TENANTRY_BENCH_HOME; the audit
benchmarks read BENCH_AUDIT_TENANTS, BENCH_AUDIT_ITERATIONS and BENCH_AUDIT_ENTRIES; the
pipeline benchmark BENCH_PIPELINE_EVENTS and BENCH_PIPELINE_NEW.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.table import Table

from bench import api, audit, dashboard, ingest, lake_erasure, pipeline, privacy, seed_rate
from bench.common import Result, server

BENCHMARKS = {
    "seed_copy_rate": seed_rate.run,
    "dashboard_p95": dashboard.run,
    "audit_write_overhead": audit.write_overhead,
    "audit_verify_rate": audit.verify_rate,
    # key_rotation_seconds, dsar_erase_seconds, dsar_export_seconds, pii_write_overhead
    "privacy": privacy.run,
    # ingest_events_per_s (bulk API) and ingest_events_per_s_service (500-event batches)
    "ingest_events_per_s": ingest.run,
    "lake_erasure_seconds": lake_erasure.run,
    # pipeline_run_seconds (full build) and pipeline_incremental_seconds
    "pipeline_run_seconds": pipeline.run,
    # api_read_rps, api_write_rps
    "api": api.run,
}


def main() -> int:
    only = {n for n in os.environ.get("BENCH_ONLY", "").split(",") if n}
    console = Console()
    target = server()
    results: list[Result] = []
    for name, fn in BENCHMARKS.items():
        if only and name not in only:
            continue
        console.print(f"[bold]running {name}[/] ...")
        produced = fn(target)
        for result in produced if isinstance(produced, list) else [produced]:
            path = result.write()
            console.print(f"  wrote {path}")
            results.append(result)
    table = Table(title="tenantry benchmarks")
    for col in ("benchmark", "value", "baseline", "ratio", "target"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.name,
            f"{r.value:,} {r.unit}",
            f"{r.baseline_value:,} {r.unit}",
            f"{r.ratio:.3f}",
            r.target,
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
