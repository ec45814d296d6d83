"""Demo of the analytics lake on the path real events take: the demo's app users send three
weeks of events through ingestion (`tenantry.demo.app_events`, the service behind `POST
/v1/events`), the relay moves them and the outbox (consent, accounts, locations) into the
raw lake, one pipeline run builds the star schema, and the demo prints the tables' sizes, a
segment breakdown and the data-quality report.

Nothing here writes into the lake directly, so the demo's star schema shows that events
accepted by the API reach it. Idempotent: events are sent only while the demo tenants have
none in the inbox or the lake, and a second pipeline run with nothing new changes no table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import duckdb
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.demo.app_events import DEMO_USERS, app_users, demo_events, send
from tenantry.events.relay import relay_once
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.pipeline.catalog import model, model_path
from tenantry.pipeline.freshness import pipeline_status
from tenantry.pipeline.lakeio import register
from tenantry.pipeline.render import dq_table, run_table, tables_table
from tenantry.pipeline.runlog import RunRecord, read_dq, read_runs
from tenantry.pipeline.runner import run_pipeline

__all__ = ["show_pipeline"]

DEMO_SLUGS = ("demo-trattoria-sole", "demo-schrauber-soehne", "demo-hibachi-heroes")
_LEVELS = ("high", "medium", "low")
_CONSENT = ("marketing_opted_in", "email_only", "unverified")


def _tenants(db: Database) -> dict[str, str]:
    with db.platform_uow() as uow:
        found = {s: uow.repos.tenants.by_slug(s) for s in DEMO_SLUGS}
    return {str(t.id): t.legal_name for t in found.values() if t is not None}


def _present(db: Database, settings: Settings, tenant_ids: list[str]) -> bool:
    """Whether the demo tenants' events were sent already (still in the inbox, or relayed)."""
    with db.platform_uow() as uow:
        waiting = uow.session.scalar(
            sa.text("SELECT count(*) FROM events.inbox WHERE tenant_id = ANY(:t)"),
            {"t": [uuid.UUID(t) for t in tenant_ids]},
        )
    if waiting:
        return True
    con = duckdb.connect()
    register(con, "raw", table_path(settings.home, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
    row = con.execute(
        "SELECT count(*) FROM raw WHERE tenant_id IN (SELECT unnest($t::VARCHAR[]))",
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


def _feed(console: Console, db: Database, settings: Settings, ids: list[str]) -> None:
    if _present(db, settings, ids):
        console.print("Demo events already sent: not sent again.")
    else:
        end = datetime.now(UTC) - timedelta(minutes=1)
        sent = accepted = refused = 0
        for tid in ids:
            tenant = app_users(db, uuid.UUID(tid))
            events = list(demo_events(tenant, end))
            ok, other = send(db, tenant.id, events)
            sent, accepted, refused = sent + len(events), accepted + ok, refused + other
        console.print(
            f"Sent {sent:,} app events of {DEMO_USERS * len(ids)} demo users through ingestion "
            f"(the service behind POST /v1/events): {accepted:,} accepted, {refused:,} not."
        )
    report = relay_once(db, settings.home)
    console.print(
        f"Relay: {report.rows.get('inbox', 0):,} events and {report.rows.get('outbox', 0):,} "
        "database changes (consent, accounts, locations) moved to the raw lake."
    )


def show_pipeline(
    console: Console,
    settings: Settings,
    *,
    db: Database | None = None,
    tenants: Mapping[str, str] | None = None,
) -> RunRecord | None:
    """Send the demo's events through ingestion (once), relay, run the pipeline, print what it
    built; returns the run. `tenants` (id -> name) defaults to the seeded demo tenants."""
    own = db is None
    database = db or open_database(settings)
    try:
        names = dict(tenants) if tenants is not None else _tenants(database)
        if not names:
            console.print("Pipeline demo skipped: the demo tenants are not seeded.")
            return None
        _feed(console, database, settings, sorted(names))
    finally:
        if own:
            database.dispose()
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
