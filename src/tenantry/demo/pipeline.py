"""Demo of the analytics lake: three weeks of generated events for the demo tenants, one pipeline
run, then the star schema's table sizes, a segment breakdown and the data-quality report.

Idempotent: the events are generated only when the raw table holds no onboarding events of the
demo tenants yet, and a second pipeline run with nothing new changes no table. The events are
synthetic (pseudonymous user keys only), never derived from the tenants' customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import duckdb
from rich.console import Console
from rich.table import Table

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.pipeline.catalog import model, model_path
from tenantry.pipeline.freshness import pipeline_status
from tenantry.pipeline.lakeio import register
from tenantry.pipeline.render import dq_table, run_table, tables_table
from tenantry.pipeline.runlog import RunRecord, read_dq, read_runs
from tenantry.pipeline.runner import run_pipeline
from tenantry.pipeline.synthetic import EventSpec, generate_events

__all__ = ["DEMO_EVENTS", "show_pipeline"]

DEMO_SLUGS = ("demo-trattoria-sole", "demo-schrauber-soehne", "demo-hibachi-heroes")
DEMO_EVENTS = 20_000
DEMO_DAYS = 21
_LEVELS = ("high", "medium", "low")
_CONSENT = ("marketing_opted_in", "email_only", "unverified")


def _tenants(settings: Settings) -> dict[str, str]:
    db = open_database(settings)
    try:
        with db.platform_uow() as uow:
            found = {s: uow.repos.tenants.by_slug(s) for s in DEMO_SLUGS}
        return {str(t.id): t.legal_name for t in found.values() if t is not None}
    finally:
        db.dispose()


def _present(settings: Settings, tenant_ids: list[str]) -> bool:
    con = duckdb.connect()
    register(con, "raw", table_path(settings.home, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
    row = con.execute(
        "SELECT count(*) FROM raw WHERE tenant_id IN (SELECT unnest($t::VARCHAR[])) "
        "AND event_type = 'step_started'",
        {"t": tenant_ids},
    ).fetchall()[0]
    return bool(row[0])


def _segments(settings: Settings, names: dict[str, str]) -> Table:
    m = model("segments")
    con = duckdb.connect()
    register(con, "s", model_path(settings.home, m), m.schema, partition_by=m.partition_by)
    rows = con.execute(
        "SELECT tenant_id, count(*), "
        + ", ".join(f"count(*) FILTER (WHERE engagement_level = '{v}')" for v in _LEVELS)
        + ", "
        + ", ".join(f"count(*) FILTER (WHERE consent_state = '{v}')" for v in _CONSENT)
        + ", count(persona_current) FROM s "
        "WHERE segment_date = (SELECT max(segment_date) FROM s) "
        "AND tenant_id IN (SELECT unnest($t::VARCHAR[])) GROUP BY tenant_id ORDER BY 2 DESC",
        {"t": list(names)},
    ).fetchall()
    t = Table(title="Segments of the latest daily job: users per engagement level and consent")
    t.add_column("tenant")
    for col in ("users", *_LEVELS, *_CONSENT, "active persona"):
        t.add_column(col.replace("_", " "), justify="right")
    for tenant_id, *counts in rows:
        t.add_row(names[tenant_id], *(f"{n:,}" for n in counts))
    return t


def _dq_summary(settings: Settings) -> Table:
    runs = [r for r in read_runs(settings.home) if r["status"] != "noop"]
    results = read_dq(settings.home, runs[0]["run_id"]) if runs else []
    t = Table(title="Data-quality report of the last run (rules per table)")
    for col in ("table", "rules", "passed", "failed"):
        t.add_column(col, justify="left" if col == "table" else "right")
    per: dict[str, list[bool]] = {}
    for r in results:
        per.setdefault(r["table_name"], []).append(bool(r["passed"]))
    for table, passed in per.items():
        failed = passed.count(False)
        t.add_row(
            table, str(len(passed)), str(passed.count(True)), f"[red]{failed}[/]" if failed else "0"
        )
    return t


def show_pipeline(
    console: Console, settings: Settings, *, tenants: Mapping[str, str] | None = None
) -> RunRecord | None:
    """Generate demo events (once), run the pipeline, print what it built; returns the run.

    `tenants` (id -> name) defaults to the seeded demo tenants, looked up by slug.
    """
    names = dict(tenants) if tenants is not None else _tenants(settings)
    if not names:
        console.print("Pipeline demo skipped: the demo tenants are not seeded.")
        return None
    ids = sorted(names)
    if _present(settings, ids):
        console.print("Demo events already in the lake: not generated again.")
    else:
        end = datetime.now(UTC)
        spec = EventSpec(
            ids, DEMO_EVENTS, end - timedelta(days=DEMO_DAYS), end, users_per_tenant=300, seed=2026
        )
        generate_events(settings.home, spec)
        console.print(
            f"Generated {DEMO_EVENTS:,} synthetic events over {DEMO_DAYS} days for "
            f"{len(ids)} demo tenants into the raw lake table."
        )
    record = run_pipeline(settings.home)
    if record.status == "noop":
        console.print("Pipeline: nothing new since the last run, no table changed.")
    else:
        console.print(run_table(record))
    console.print(tables_table(pipeline_status(settings.home)))
    console.print(_segments(settings, names))
    console.print(_dq_summary(settings))
    failed = [r for r in record.dq if not r.passed]
    if failed:
        console.print(dq_table(failed, only_failed=True))
    return record
