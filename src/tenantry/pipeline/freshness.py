"""Freshness against the SLAs of seed 001 section 8, and the data behind `tenantry pipeline status`.

Sources (`tenantry.lake.vocabulary.SOURCES`): the age of the newest raw event of each
ingestion `source` (`api`, `bulk`, by `ingested_at`) and of the newest relayed database change
(`outbox`, by `occurred_at`) against that source's SLA from `quality.toml`. Tables: the age
of each curated/ml table's last publication (from the run log) against the tables' SLA.
Read-only; it never starts a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tenantry.clock import Clock, SystemClock
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.lake.vocabulary import SOURCES
from tenantry.lake.writer import DOMAIN_EVENTS, DOMAIN_EVENTS_SCHEMA
from tenantry.pipeline.catalog import MODELS, model_path
from tenantry.pipeline.lakeio import open_table, register
from tenantry.pipeline.quality import load_config
from tenantry.pipeline.runlog import read_dq, read_runs, read_steps

__all__ = ["Freshness", "PipelineStatus", "TableState", "pipeline_status", "source_freshness"]


@dataclass(frozen=True)
class Freshness:
    name: str
    feed: str
    newest: datetime | None
    age: timedelta | None
    sla: timedelta

    @property
    def ok(self) -> bool:
        return self.age is not None and self.age <= self.sla


@dataclass(frozen=True)
class TableState:
    name: str
    layer: str
    rows: int
    version: int | None
    published_at: datetime | None
    age: timedelta | None
    sla: timedelta

    @property
    def ok(self) -> bool:
        return self.age is not None and self.age <= self.sla


@dataclass
class PipelineStatus:
    sources: list[Freshness]
    tables: list[TableState]
    runs: list[dict[str, Any]]
    dq: list[dict[str, Any]]


def _minutes(entry: Any, default: int) -> timedelta:
    if isinstance(entry, dict):
        return timedelta(minutes=int(entry.get("sla_minutes", default)))
    return timedelta(minutes=default)


def source_freshness(home: Path, now: datetime) -> list[Freshness]:
    """The newest data per source and its age at `now`: client events by their `source`
    (when ingestion stored them), the outbox by the newest database change relayed."""
    sources = load_config().get("freshness", {}).get("sources", {})
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register(con, "raw", table_path(home, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
    register(con, "domain", table_path(home, "raw", DOMAIN_EVENTS), DOMAIN_EVENTS_SCHEMA)
    rows = con.execute(
        "SELECT source, epoch_us(max(ingested_at)) FROM raw GROUP BY source"
        " UNION ALL SELECT 'outbox', epoch_us(max(occurred_at)) FROM domain"
    ).fetchall()
    newest = {str(s): datetime.fromtimestamp(us / 1e6, now.tzinfo) for s, us in rows if s and us}
    out = []
    for name, entry in sources.items():
        ts = newest.get(name)
        feed = SOURCES.get(name, name)
        out.append(
            Freshness(name, feed, ts, None if ts is None else now - ts, _minutes(entry, 1440))
        )
    return out


def pipeline_status(home: Path, clock: Clock | None = None) -> PipelineStatus:
    """Source freshness, each table's last publication vs. SLA, the last runs and DQ report."""
    now = (clock or SystemClock()).now()
    table_sla = _minutes(load_config().get("freshness", {}).get("tables", {}), 1560)
    published: dict[str, datetime] = {}
    for step in read_steps(home):
        at = step.get("finished_at")
        if step["status"] == "published" and at is not None:
            published[step["step"]] = max(at, published.get(step["step"], at))
    tables = []
    for m in MODELS:
        dt = open_table(model_path(home, m))
        rows = 0
        if dt is not None:
            rows = sum(int(a.get("num_records") or 0) for a in _actions(dt))
        at = published.get(m.name)
        tables.append(
            TableState(
                m.name,
                m.layer,
                rows,
                None if dt is None else int(dt.version()),
                at,
                None if at is None else now - at,
                table_sla,
            )
        )
    runs = read_runs(home)
    last = next((r for r in runs if r["status"] != "noop"), None)
    dq = read_dq(home, last["run_id"]) if last else []
    return PipelineStatus(source_freshness(home, now), tables, runs, dq)


def _actions(dt: Any) -> list[dict[str, Any]]:
    return list(pa.table(dt.get_add_actions(flatten=True)).select(["num_records"]).to_pylist())
