"""Rich renderings of pipeline runs, status, table sizes, segments and data-quality reports.

Shared by `tenantry pipeline` and the demo. Builds tables from the records the pipeline
returns; reads nothing itself and prints only names, counts and timings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from rich.table import Table

from tenantry.pipeline.freshness import PipelineStatus
from tenantry.pipeline.quality import RuleResult
from tenantry.pipeline.runlog import RunRecord

__all__ = ["dq_table", "run_table", "runs_table", "sources_table", "tables_table"]


def _age(age: timedelta | None) -> str:
    if age is None:
        return "-"
    s = int(age.total_seconds())
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _ok(ok: bool) -> str:
    return "[green]ok[/]" if ok else "[red]late[/]"


def run_table(run: RunRecord) -> Table:
    t = Table(
        title=f"Pipeline run {run.run_id[:8]}: {run.mode}, {run.dates} date(s), "
        f"as of {run.as_of}, {run.status} in {run.seconds:.1f}s"
    )
    for col in ("step", "status", "rows", "seconds", "version"):
        t.add_column(col, justify="left" if col in ("step", "status") else "right")
    for s in run.steps:
        colour = {"published": "green", "failed": "red", "blocked": "yellow"}.get(s.status, "")
        t.add_row(
            s.step,
            f"[{colour}]{s.status}[/]" if colour else s.status,
            f"{s.rows:,}",
            f"{s.seconds:.2f}",
            "-" if s.version is None else str(s.version),
        )
    return t


def dq_table(results: Iterable[RuleResult | dict[str, Any]], *, only_failed: bool = False) -> Table:
    t = Table(title="Data-quality report" + (" (failed rules)" if only_failed else ""))
    for col in ("table", "rule", "result", "observed"):
        t.add_column(col, justify="right" if col == "observed" else "left")
    for r in results:
        row = (
            r
            if isinstance(r, dict)
            else {
                "table_name": r.table,
                "rule": r.rule,
                "passed": r.passed,
                "observed": r.observed,
                "message": r.message,
            }
        )
        if only_failed and row["passed"]:
            continue
        observed = row["observed"]
        t.add_row(
            str(row["table_name"]),
            str(row["rule"]),
            "[green]pass[/]" if row["passed"] else f"[red]FAIL[/] {row.get('message') or ''}",
            "-" if observed is None else f"{observed:,.4g}",
        )
    return t


def sources_table(status: PipelineStatus) -> Table:
    t = Table(title="Source freshness: where raw data comes from, and how old its newest is")
    for col in ("source", "what it is", "newest data", "age", "SLA", "state"):
        t.add_column(col)
    for f in status.sources:
        t.add_row(
            f.name,
            f.feed,
            "-" if f.newest is None else f.newest.strftime("%Y-%m-%d %H:%M"),
            _age(f.age),
            _age(f.sla),
            "[dim]no data[/]" if f.newest is None else _ok(f.ok),
        )
    return t


def tables_table(status: PipelineStatus) -> Table:
    t = Table(title="Lake tables")
    for col in ("table", "layer", "rows", "version", "published", "age", "SLA", "state"):
        t.add_column(col, justify="right" if col in ("rows", "version") else "left")
    for s in status.tables:
        t.add_row(
            s.name,
            s.layer,
            f"{s.rows:,}",
            "-" if s.version is None else str(s.version),
            "-" if s.published_at is None else s.published_at.strftime("%Y-%m-%d %H:%M"),
            _age(s.age),
            _age(s.sla),
            "[dim]never[/]" if s.published_at is None else _ok(s.ok),
        )
    return t


def runs_table(runs: list[dict[str, Any]]) -> Table:
    t = Table(title="Last runs")
    for col in ("started", "mode", "status", "as of", "dates", "raw rows", "seconds", "published"):
        t.add_column(col, justify="right" if col in ("dates", "raw rows", "seconds") else "left")
    for r in runs:
        t.add_row(
            r["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
            r["mode"],
            r["status"],
            str(r["as_of"]),
            str(r["dates"]),
            f"{r['raw_rows']:,}",
            f"{r['seconds']:.2f}",
            f"{r['published']}" + (f" ([red]{r['failed']} failed[/])" if r["failed"] else ""),
        )
    return t
