"""`tenantry pipeline run`: build the star schema, segments and features from the raw events.

The raw layer is two tables: the client events (`raw/events`) and the database changes
relayed from the outbox (`raw/domain_events`: consent, accounts, locations). A run compares
their data files with the ones the last good run processed; the
event dates of added or removed files are the work (everything with `full=True`). Those dates'
raw events are loaded into DuckDB once, each model's SQL stages its rows in a DuckDB temp
table, its data-quality rules run on the staged rows, and only then are the tables that
passed published as Delta commits; a failing table (and what depends on it) keeps its previous
version, and the watermark stays put so the next run retries the same dates. A run with no new
raw files and an existing snapshot for its as-of date changes no table (`noop`).
"""

from __future__ import annotations

import fcntl
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tenantry.clock import Clock, SystemClock
from tenantry.errors import ConflictError, ValidationError
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.lake.writer import DOMAIN_EVENTS, DOMAIN_EVENTS_SCHEMA
from tenantry.pipeline.catalog import IDENTIFYING, MODELS, Model, model, model_path, sql_text
from tenantry.pipeline.lakeio import open_table, publish, raw_files, register
from tenantry.pipeline.quality import RuleResult, evaluate, load_config, rules_for
from tenantry.pipeline.runlog import (
    RunRecord,
    StepRecord,
    load_processed,
    log_dir,
    save_processed,
    write_run,
)

__all__ = ["OnStep", "date_key", "pipeline_lock", "run_pipeline"]

# on_step(step name, phase): phase is "start" or the step's outcome
OnStep = Callable[[str, str], None]


def date_key(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


@dataclass
class _Plan:
    mode: str
    dates: list[date]
    as_of: date
    current: dict[str, str]
    processed: dict[str, str]


@contextmanager
def pipeline_lock(home: Path) -> Iterator[None]:
    """Hold the lake's pipeline lock: one run at a time, and writers of curated/ml tables
    (such as the lake erasure) take it so a run never overwrites their commit with rows it
    read before it. Raises ConflictError at once if it is held."""
    base = log_dir(home)
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError("another pipeline run is in progress") from None
        yield
    finally:
        os.close(fd)


def _plan(home: Path, full: bool, as_of: date | None) -> _Plan:
    current = raw_files(home)
    if not current:
        raise ValidationError("the raw event table is empty: nothing to build")
    processed = {} if full else load_processed(home)
    changed = {current[p] for p in current.keys() - processed.keys()}
    changed |= {processed[p] for p in processed.keys() - current.keys()}
    dates = sorted(date.fromisoformat(d) for d in changed)
    newest = max(date.fromisoformat(d) for d in current.values())
    mode = "full" if full or not processed else "incremental"
    return _Plan(mode, dates, as_of or newest + timedelta(days=1), current, processed)


def _snapshot_exists(home: Path, m: Model, as_of: date) -> bool:
    dt = open_table(model_path(home, m))
    if dt is None:
        return False
    actions = pa.table(dt.get_add_actions(flatten=True))
    return as_of in actions.column(f"partition.{m.partition_by}").to_pylist()


def _connect(home: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # outside the lake: spilled rows hold pseudonyms, and the lake directory must hold only
    # tables the lake erasure knows
    spill = home / "tmp" / "pipeline-spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    return con


class _Run:
    def __init__(self, home: Path, plan: _Plan, clock: Clock, on_step: OnStep | None) -> None:
        self.home, self.plan, self.clock = home, plan, clock
        self.on_step = on_step or (lambda _s, _p: None)
        self.con = _connect(home)
        self.config = load_config()
        self.staged: set[str] = set()
        self.failed: set[str] = set()
        self.steps: dict[str, StepRecord] = {}
        self.dq: list[RuleResult] = []
        self.deferred: list[tuple[Model, str]] = []
        as_of_ts = datetime.combine(plan.as_of, dtime(0), UTC)
        self.params: dict[str, Any] = {
            "as_of": plan.as_of,
            "as_of_ts": as_of_ts,
            "now": clock.now(),
            "kd": date_key(plan.as_of),
            "k7": date_key(plan.as_of - timedelta(days=7)),
            "k30": date_key(plan.as_of - timedelta(days=30)),
        }

    def register(self) -> int:
        keys = {date_key(d) for d in self.plan.dates}
        full = self.plan.mode == "full"
        for m in MODELS:
            path = None if full and m.kind != "snapshot" else model_path(self.home, m)
            register(self.con, f"cur_{m.name}", path, m.schema, partition_by=m.partition_by)
        agg = model("agg_user_daily")
        agg_path = None if full else model_path(self.home, agg)
        lo, hi = self.params["k30"], self.params["kd"]
        register(
            self.con,
            "cur_agg_affected",
            agg_path if keys else None,
            agg.schema,
            partition_by="date_key",
            keep=lambda v: v in keys,
        )
        register(
            self.con,
            "cur_agg_window",
            agg_path,
            agg.schema,
            partition_by="date_key",
            keep=lambda v: lo <= v < hi,
        )
        self.con.execute(
            "CREATE TEMP TABLE affected AS SELECT unnest($k::INTEGER[]) AS date_key",
            {"k": sorted(keys)},
        )
        dates = set(self.plan.dates)
        for view, table, schema in (
            ("raw_batch", RAW_EVENTS, RAW_EVENTS_SCHEMA),
            ("domain_batch", DOMAIN_EVENTS, DOMAIN_EVENTS_SCHEMA),
        ):
            register(
                self.con,
                view,
                table_path(self.home, "raw", table),
                schema,
                partition_by="event_date",
                keep=lambda v: v in dates,
            )
        # a view, not a copy: each model's scan reads only the columns and rows it needs
        self.con.execute(f"CREATE TEMP VIEW batch AS {sql_text('batch.sql')}")
        row = self.con.execute("SELECT count(*) FROM batch").fetchall()[0]
        return int(row[0])

    def _relation(self, name: str) -> str:
        return f'"stg_{name}"' if name in self.staged else f'"cur_{name}"'

    def _sql(self, m: Model) -> tuple[str, dict[str, Any]]:
        text = sql_text(m.sql_file)
        used = set(re.findall(r"\$(\w+)", text))
        return text, {k: v for k, v in self.params.items() if k in used}

    def stage(self, m: Model) -> None:
        if any(n in self.failed for n in m.needs):
            self.failed.add(m.name)
            self.steps[m.name] = StepRecord(m.name, "blocked")
            self.on_step(m.name, "blocked")
            return
        for n in m.needs:  # unchanged upstream: read its published rows
            if n not in self.staged:
                self.con.execute(
                    f'CREATE OR REPLACE TEMP VIEW "stg_{n}" AS SELECT * FROM "cur_{n}"'
                )
        self.on_step(m.name, "start")
        started = time.perf_counter()
        text, params = self._sql(m)
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "stg_{m.name}" AS {text}', params)
        row = self.con.execute(f'SELECT count(*) FROM "stg_{m.name}"').fetchall()[0]
        self.staged.add(m.name)
        rules = rules_for(self.config, m.name)
        later = {x.name for x in MODELS} - self.staged
        now_rules = [r for r in rules if r.reference not in later]
        self.deferred += [(m, r.text) for r in rules if r.reference in later]
        self._check(m, now_rules)
        self.steps[m.name] = StepRecord(
            m.name,
            "failed" if m.name in self.failed else "checked",
            int(row[0]) if row else 0,
            time.perf_counter() - started,
        )
        self.on_step(m.name, self.steps[m.name].status)

    def _check(self, m: Model, rules: list[Any]) -> None:
        results = evaluate(
            self.con,
            m.name,
            rules,
            f"stg_{m.name}",
            resolve=self._relation,
            now=self.params["as_of_ts"],
        )
        self.dq += results
        if not all(r.passed for r in results):
            self.failed.add(m.name)

    def check_deferred(self) -> None:
        by_model: dict[str, tuple[Model, list[Any]]] = {}
        for m, text in self.deferred:
            rules = [r for r in rules_for(self.config, m.name) if r.text == text]
            by_model.setdefault(m.name, (m, []))[1].extend(rules)
        for m, rules in by_model.values():
            self._check(m, rules)
            if m.name in self.failed and self.steps[m.name].status == "checked":
                self.steps[m.name].status = "failed"

    def publish_all(self) -> None:
        for m in MODELS:
            rec = self.steps.get(m.name)
            if rec is None or rec.status != "checked":
                continue
            # an input failed a rule checked after this step, or a partner failed
            if any(p in self.failed for p in (*m.needs, *m.publish_with)):
                rec.status = "blocked"
                self.failed.add(m.name)
                continue
            self.on_step(f"publish {m.name}", "start")
            started = time.perf_counter()
            if m.kind == "fact":
                replace: list[object] | None = (
                    None if self.plan.mode == "full" else [date_key(d) for d in self.plan.dates]
                )
            elif m.kind == "snapshot":
                replace = [self.plan.as_of.isoformat()]
            else:
                replace = None
            reader = self.con.sql(f'SELECT * FROM "stg_{m.name}"').to_arrow_reader(250_000)
            rec.version = publish(
                model_path(self.home, m),
                reader,
                m.schema,
                partition_by=m.partition_by,
                replace=replace,
                identifying=IDENTIFYING,
            )
            rec.seconds += time.perf_counter() - started
            rec.status = "published"
            rec.finished_at = self.clock.now()
            self.on_step(f"publish {m.name}", "published")


def run_pipeline(
    home: Path,
    *,
    full: bool = False,
    as_of: date | None = None,
    clock: Clock | None = None,
    on_step: OnStep | None = None,
) -> RunRecord:
    """Run the pipeline once over the lake under `home`; returns the logged run."""
    clock = clock or SystemClock()
    with pipeline_lock(home):
        started = clock.now()
        plan = _plan(home, full, as_of)
        snapshots = [m for m in MODELS if m.kind == "snapshot"]
        run_id = str(uuid.uuid4())
        if not plan.dates and all(_snapshot_exists(home, m, plan.as_of) for m in snapshots):
            run = RunRecord(run_id, started, clock.now(), "noop", "noop", plan.as_of, 0, 0)
            write_run(home, run)
            return run
        r = _Run(home, plan, clock, on_step)
        try:
            raw_rows = r.register()
            for m in MODELS:
                if plan.dates or m.kind == "snapshot":
                    r.stage(m)
            r.check_deferred()
            r.publish_all()
        finally:
            r.con.close()
        ok = not r.failed
        if ok:
            save_processed(home, plan.current)
        elif plan.dates:
            # Some tables of these dates may be published, others not: keep the dates pending
            # (entries no raw file matches) so the next run processes them again in any case.
            pending = {f"pending:{d.isoformat()}": d.isoformat() for d in plan.dates}
            save_processed(home, plan.processed | pending)
        run = RunRecord(
            run_id,
            started,
            clock.now(),
            plan.mode,
            "ok" if ok else "failed",
            plan.as_of,
            len(plan.dates),
            raw_rows,
            list(r.steps.values()),
            r.dq,
        )
        write_run(home, run)
        return run
