"""`run_pipeline` on real Delta tables: the star schema, incremental runs, idempotence,
propagation of raw deletions, and data-quality gating of publication."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tenantry.errors import ConflictError
from tenantry.lake import vocabulary
from tenantry.lake.raw import RAW_EVENTS, table_path
from tenantry.pipeline.catalog import MODELS, model_path
from tenantry.pipeline.runlog import load_processed, read_runs
from tenantry.pipeline.runner import pipeline_lock, run_pipeline
from tests.integration.pipeline.conftest import END, TENANTS, append_raw, raw_event, raw_rows, read

FACT_TYPES = {
    "fact_onboarding_steps": tuple(vocabulary.family("onboarding")),
    "fact_visibility_check": tuple(vocabulary.family("visibility")),
    "fact_email_events": tuple(vocabulary.family("email")),
    "fact_login_oauth": tuple(vocabulary.family("login_oauth")),
}


def versions(home: Path) -> dict[str, int]:
    return {m.name: DeltaTable(str(model_path(home, m))).version() for m in MODELS}


def test_first_run_builds_every_table_with_one_fact_row_per_raw_event(lake: Path) -> None:
    run = run_pipeline(lake)
    assert run.status == "ok" and run.mode == "full"
    assert {s.step for s in run.steps if s.status == "published"} == {m.name for m in MODELS}
    raw = raw_rows(lake)
    for fact, types in FACT_TYPES.items():
        assert len(read(lake, fact)) == sum(1 for r in raw if r["event_type"] in types), fact
    users = {(r["tenant_id"], r["user_key"]) for r in raw if r["user_key"]}
    assert len(read(lake, "dim_user")) == len(users)
    assert {r[0] for r in read(lake, "dim_account")} == set(TENANTS)
    days = read(lake, "dim_time", order="date_key")
    assert days[0][1] == min(datetime.fromtimestamp(r["us"] / 1e6, UTC).date() for r in raw)
    assert days[-1][1] == run.as_of == END.date()  # the day after the newest event
    assert all(r.passed for r in run.dq)


def test_rerun_without_new_events_changes_no_table(lake: Path) -> None:
    run_pipeline(lake)
    before = versions(lake)
    again = run_pipeline(lake)
    assert again.status == "noop" and again.steps == []
    assert versions(lake) == before
    assert [r["status"] for r in read_runs(lake)] == ["noop", "ok"]


def test_incremental_run_processes_only_the_new_day_and_equals_a_full_build(
    lake: Path, tmp_path_factory: object, day: Callable[[int], date]
) -> None:
    run_pipeline(lake)
    t, u = TENANTS[0], "uk_incremental_user"
    ts = datetime.combine(day(0), datetime.min.time(), UTC) + timedelta(hours=9)
    append_raw(
        lake,
        [
            raw_event(
                t,
                u,
                "step_completed",
                ts,
                {
                    "step_id": "goals",
                    "persona": "solo-sarah",
                    "comm_prefs": {"tone": "brief"},
                    "duration_seconds": 30,
                },
            ),
            raw_event(
                t,
                u,
                "login_oauth",
                ts + timedelta(minutes=1),
                {"provider": "google", "success": True},
            ),
        ],
    )
    run = run_pipeline(lake)
    assert run.mode == "incremental" and run.dates == 1 and run.raw_rows == 2
    fact_steps = {s.step: s.rows for s in run.steps}
    assert fact_steps["fact_onboarding_steps"] == 1 and fact_steps["fact_login_oauth"] == 1

    full = Path(str(lake) + "-full")
    shutil.copytree(lake / "lake" / "raw", full / "lake" / "raw")
    run_pipeline(full)
    for m in MODELS:
        cols = "* EXCLUDE (updated_at)" if m.name == "ml_user_features" else "*"
        # snapshots: the incremental home also keeps the earlier as-of date's snapshot
        where = f"{m.partition_by} = DATE '{run.as_of}'" if m.kind == "snapshot" else "true"
        assert _rows(lake, m.name, cols, where) == _rows(full, m.name, cols, where), m.name
    [user] = read(lake, "dim_user", where=f"user_key = '{u}'")
    assert user[3] == day(0) and user[11] == 1  # signup_date, steps_completed


def _rows(home: Path, name: str, cols: str, where: str) -> list[tuple[object, ...]]:
    import duckdb

    from tenantry.pipeline.catalog import model
    from tenantry.pipeline.lakeio import register

    m = model(name)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register(con, "t", model_path(home, m), m.schema, partition_by=m.partition_by)
    return con.execute(f"SELECT {cols} FROM t WHERE {where} ORDER BY ALL").fetchall()


def test_a_late_event_reprocesses_only_its_old_date(lake: Path, day: Callable[[int], date]) -> None:
    run_pipeline(lake)
    old = day(-5)
    key = old.year * 10000 + old.month * 100 + old.day
    before = len(read(lake, "fact_login_oauth", where=f"date_key = {key}"))
    ts = datetime.combine(old, datetime.min.time(), UTC) + timedelta(hours=3)
    append_raw(
        lake,
        [
            raw_event(
                TENANTS[1],
                "uk_late",
                "login_oauth",
                ts,
                {"provider": "facebook", "success": False, "error_code": "timeout"},
            )
        ],
    )
    run = run_pipeline(lake)
    assert run.dates == 1
    assert len(read(lake, "fact_login_oauth", where=f"date_key = {key}")) == before + 1
    assert run.as_of == day(0)  # the snapshot date did not move back


def test_rows_deleted_from_raw_disappear_from_the_facts(lake: Path) -> None:
    run_pipeline(lake)
    victim = read(lake, "fact_email_events", where="user_key IS NOT NULL")[0][2]
    assert read(lake, "fact_email_events", where=f"user_key = '{victim}'")
    DeltaTable(str(table_path(lake, "raw", RAW_EVENTS))).delete(f"user_key = '{victim}'")
    run = run_pipeline(lake)
    assert run.status == "ok" and run.dates > 0
    for fact in FACT_TYPES:
        assert not read(lake, fact, where=f"user_key = '{victim}'"), fact


def test_a_failing_rule_keeps_the_table_and_its_dependents_unpublished(
    lake: Path, day: Callable[[int], date]
) -> None:
    run_pipeline(lake)
    before = versions(lake)
    watermark = load_processed(lake)
    ts = datetime.combine(day(0), datetime.min.time(), UTC) + timedelta(hours=10)
    append_raw(
        lake,
        [
            raw_event(
                TENANTS[0],
                "uk_bad",
                "step_completed",
                ts,
                {"step_id": "goals", "persona": "evil-eve", "duration_seconds": 5},
            ),
            raw_event(
                TENANTS[0], "uk_bad", "login_oauth", ts, {"provider": "google", "success": True}
            ),
        ],
    )
    run = run_pipeline(lake)
    assert run.status == "failed"
    status = {s.step: s.status for s in run.steps}
    assert status["fact_onboarding_steps"] == "failed"
    for dependent in ("agg_user_daily", "dim_user", "segments", "ml_user_features"):
        assert status[dependent] == "blocked", dependent
    assert status["fact_login_oauth"] == "published"
    after = versions(lake)
    for name in ("fact_onboarding_steps", "agg_user_daily", "dim_user", "segments"):
        assert after[name] == before[name], name
    assert not read(lake, "fact_onboarding_steps", where="persona = 'evil-eve'")
    failed = [r for r in run.dq if not r.passed]
    assert {r.table for r in failed} == {"fact_onboarding_steps"}
    [persona] = [r for r in failed if "'persona' in" in r.rule]
    assert persona.observed == 1.0  # one offending row
    # the watermark did not move; the failed date stays pending for the next run
    assert load_processed(lake) == watermark | {f"pending:{day(0)}": str(day(0))}

    DeltaTable(str(table_path(lake, "raw", RAW_EVENTS))).delete("user_key = 'uk_bad'")
    fixed = run_pipeline(lake)
    assert fixed.status == "ok" and fixed.dates == 1
    for name in ("dim_user", "fact_login_oauth", "fact_onboarding_steps"):
        assert read(lake, name, where="user_key = 'uk_bad'") == [], name
    assert run_pipeline(lake).status == "noop"


def test_a_second_run_while_the_lock_is_held_fails_at_once(lake: Path) -> None:
    with pipeline_lock(lake), pytest.raises(ConflictError, match="in progress"):
        run_pipeline(lake)
    assert run_pipeline(lake).status == "ok"


def test_full_rebuild_of_an_existing_lake_republishes_the_same_rows(lake: Path) -> None:
    first = run_pipeline(lake)
    before = {m.name: _rows(lake, m.name, "*", "true") for m in MODELS if m.kind != "snapshot"}
    again = run_pipeline(lake, full=True)
    assert again.mode == "full" and again.dates == first.dates
    assert all(s.status == "published" for s in again.steps)
    for name, rows in before.items():
        assert _rows(lake, name, "*", "true") == rows, name
