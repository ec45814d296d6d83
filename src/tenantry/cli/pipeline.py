"""`tenantry pipeline run|status`: build the analytics lake's star schema and report on it."""

from __future__ import annotations

import json
import sys
from datetime import date

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tenantry.cli.output import console, show
from tenantry.cli.params import OutputFormat, as_of_date, format_option
from tenantry.config import get_settings
from tenantry.pipeline.catalog import MODELS
from tenantry.pipeline.freshness import pipeline_status
from tenantry.pipeline.render import dq_table, run_table, runs_table, sources_table, tables_table
from tenantry.pipeline.runner import run_pipeline

__all__ = ["app"]

app = typer.Typer(
    help="The analytics pipeline: star schema, segments, ML features, data quality.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    full: bool = typer.Option(False, "--full", help="Rebuild every table from all raw events."),
    as_of: date | None = typer.Option(
        None,
        "--as-of",
        parser=as_of_date,
        metavar="YYYY-MM-DD",
        help=(
            "Snapshot date for segments and features, from 2000-01-01 to tomorrow (default: the"
            " day after the newest raw event)."
        ),
    ),
) -> None:
    """Process new raw events into the curated and ml tables (incremental unless --full)."""
    day = as_of
    out = console()
    steps = 2 * len(MODELS)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        task = progress.add_task("planning", total=steps)

        def on_step(name: str, phase: str) -> None:
            if phase == "start":
                progress.update(task, description=name)
            else:
                progress.advance(task)

        record = run_pipeline(get_settings().home, full=full, as_of=day, on_step=on_step)
    if record.status == "noop":
        out.print(f"Nothing new since the last run (as of {record.as_of}); no table changed.")
        return
    show(run_table(record), out=out)
    failed = [r for r in record.dq if not r.passed]
    if failed:
        show(dq_table(failed, only_failed=True), out=out)
        not_published = sum(1 for s in record.steps if s.status in ("failed", "blocked"))
        print(
            f"tenantry: error: {not_published} table(s) not published: data-quality rules failed",
            file=sys.stderr,
        )
        raise typer.Exit(1)


@app.command("status")
def status(
    fmt: OutputFormat = format_option(),
    as_json: bool = typer.Option(False, "--json", hidden=True, help="Same as --format json."),
) -> None:
    """Freshness of each source and table against its SLA, the last runs and DQ report."""
    st = pipeline_status(get_settings().home)
    if as_json or fmt is OutputFormat.JSON:
        payload = {
            "sources": [
                {
                    "source": f.name,
                    "feed": f.feed,
                    "age_seconds": _secs(f.age),
                    "sla_seconds": _secs(f.sla),
                    "ok": f.ok,
                }
                for f in st.sources
            ],
            "tables": [
                {
                    "table": t.name,
                    "layer": t.layer,
                    "rows": t.rows,
                    "version": t.version,
                    "age_seconds": _secs(t.age),
                    "sla_seconds": _secs(t.sla),
                    "ok": t.ok,
                }
                for t in st.tables
            ],
            "runs": [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
                for r in st.runs
            ],
            "dq": st.dq,
        }
        print(json.dumps(payload, indent=2))
        return
    show(sources_table(st), tables_table(st), runs_table(st.runs))
    if st.dq:
        show(dq_table(st.dq))


def _secs(value: object) -> float | None:
    return None if value is None else value.total_seconds()  # type: ignore[attr-defined]
