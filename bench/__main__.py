"""Run every benchmark, write one JSON per benchmark, print a table.

A benchmark that fails does not stop the others: its error is one row of the table (the
traceback goes to stderr) and the run exits 1 once every benchmark has had its turn.

Environment: BENCH_SCALE (`full`, the default, or `tiny`: seconds per benchmark), BENCH_ONLY
(comma-separated names from `BENCHMARKS`), BENCH_RESULTS (folder of the JSON files),
TENANTRY_BENCH_HOME; the sizes: BENCH_TENANTS (default 10000, the large scale),
BENCH_SEED_TENANTS (500), BENCH_ITERATIONS (2000); the audit benchmarks read
BENCH_AUDIT_TENANTS, BENCH_AUDIT_ITERATIONS and BENCH_AUDIT_ENTRIES; the pipeline benchmark
BENCH_PIPELINE_EVENTS and BENCH_PIPELINE_NEW; the migrate benchmarks BENCH_MIGRATE_SCALE,
BENCH_CDC_SECONDS, BENCH_CDC_RATE and BENCH_CDC_TX_CHANGES; the visibility-check benchmarks
BENCH_VC_*; the scheduling ones BENCH_SCHED_* and BENCH_RACE_*; the payment ones
BENCH_PAY_*; each module's docstring lists its own.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench import (
    api,
    audit,
    bandit,
    dashboard,
    dedup,
    ingest,
    lake_erasure,
    lead_scoring,
    migrate,
    partner_routing,
    payments,
    personalize,
    pipeline,
    privacy,
    scheduling,
    seed_rate,
    vc,
)
from bench.common import Result, bench_scale, server
from tenantry.db.provider import DatabaseTarget

Benchmark = Callable[[DatabaseTarget], "Result | list[Result]"]

BENCHMARKS: dict[str, Benchmark] = {
    "seed_copy_rate": seed_rate.run,
    "dashboard_p95": dashboard.run,
    "audit_write_overhead": audit.write_overhead,
    "audit_verify_rate": audit.verify_rate,
    # key_rotation_seconds, dsar_erase_seconds, dsar_export_seconds, pii_write_overhead
    "privacy": privacy.run,
    # ingest_events_per_s (bulk API), ingest_events_per_s_service (500-event batches) and
    # ingest_events_per_s_http
    "ingest_events_per_s": ingest.run,
    "lake_erasure_seconds": lake_erasure.run,
    # pipeline_run_seconds (full build) and pipeline_incremental_seconds
    "pipeline_run_seconds": pipeline.run,
    # api_read_rps, api_write_rps
    "api": api.run,
    # dedup_f1_febrl4, dedup_f1_fodors_zagat (beside Splink)
    "dedup_f1": dedup.run,
    # one CarBot-shaped source and one migration shared by the three (built by the first)
    "migrate_rows_per_s": migrate.rows_per_s,
    "migrate_verify_rows_per_s": migrate.verify_rows_per_s,
    "migrate_cdc_lag": migrate.cdc_lag,
    "vc_check_seconds": vc.check_seconds,
    # evidence_coverage (the default analyser) and evidence_coverage_llm (a hallucinating model)
    "evidence_coverage": vc.evidence_coverage,
    # a one-week search at a workshop with 20 resources and six months of bookings
    "availability_p95_ms": scheduling.availability_p95,
    # 1,000 concurrent attempts over 100 slots: double bookings (0) and attempts/s
    "booking_race": scheduling.booking_race,
    # precision and recall on >= 5,000 labelled notifications against 2,000 open bookings
    "payment_match_quality": payments.payment_match_quality,
    # notifications parsed, verified, matched and recorded per second, 100,000 open bookings
    "payment_match_rate": payments.payment_match_rate,
    # cumulative regret of the experiments' bandit beside MABWiser's Thompson sampling
    "bandit_regret": bandit.bandit_regret,
    # p99 of an in-process decide (definition, posteriors, the decision row) vs a uniform pick
    "decide_p99_us": bandit.decide_p99_us,
    # Brier score of the learnt lead model on later outcomes beside the constant win rate
    "lead_score_brier": lead_scoring.run,
    # leads placed by the one min-cost assignment beside first-come routing (no database)
    "partner_routing_assigned": partner_routing.run,
    # GET /v1/personalize at a fixed 500 req/s beside an authenticated record read
    "personalize_p99_ms": personalize.run,
}


@dataclass
class Failure:
    benchmark: str
    error: str


def selected(names: Iterable[str], only: str) -> list[str]:
    """The benchmarks `BENCH_ONLY` names (all when empty); an unknown name is an error."""
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ValueError(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(names)}")
    return [n for n in names if not wanted or n in wanted]


def run_all(
    benchmarks: dict[str, Benchmark], names: list[str], target: DatabaseTarget, console: Console
) -> tuple[list[Result], list[Failure]]:
    """Run each named benchmark in turn; one that raises is recorded and the next one runs."""
    results: list[Result] = []
    failures: list[Failure] = []
    for name in names:
        console.print(f"[bold]running {name}[/] ...")
        started = time.perf_counter()
        try:
            produced = benchmarks[name](target)
        except Exception as exc:  # any failure is reported; the others still run
            traceback.print_exc(file=sys.stderr)
            failures.append(Failure(name, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]))
            console.print(f"  [red]failed[/] after {time.perf_counter() - started:.0f} s")
            continue
        for result in produced if isinstance(produced, list) else [produced]:
            path = result.write()
            console.print(f"  wrote {path}")
            results.append(result)
        console.print(f"  done in {time.perf_counter() - started:.0f} s")
    return results, failures


def table(results: list[Result], failures: list[Failure]) -> Table:
    out = Table(title=f"tenantry benchmarks (scale {bench_scale()})")
    out.add_column("benchmark", no_wrap=True)  # names stay whole in a narrow terminal
    for col in ("value", "baseline", "ratio", "target"):
        out.add_column(col)
    for r in results:
        out.add_row(
            r.name,
            f"{r.value:,} {r.unit}",
            f"{r.baseline_value:,} {r.unit}",
            f"{r.ratio:.3f}",
            r.target,
        )
    for f in failures:
        out.add_row(f.benchmark, "[red]FAILED[/]", f.error, "", "")
    return out


def main() -> int:
    console = Console()
    try:
        names = selected(list(BENCHMARKS), os.environ.get("BENCH_ONLY", ""))
        bench_scale()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results, failures = run_all(BENCHMARKS, names, server(), console)
    console.print(table(results, failures))
    console.print(f"{len(names)} benchmarks in {time.perf_counter() - started:.0f} s")
    if failures:
        console.print(f"[red]{len(failures)} failed:[/] {', '.join(f.benchmark for f in failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
