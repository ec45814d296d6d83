"""Segments and ML features: consent states from consent events, and feature rows that are
point-in-time correct (recomputed from the raw events before the as-of instant)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tenantry.pipeline.runner import run_pipeline
from tests.integration.pipeline.conftest import TENANTS, append_raw, raw_event, raw_rows, read

ACTIVITY = ("step_", "email_", "login_oauth", "visibility_check_completed")


def _expected_features(home: Path, as_of: date) -> dict[tuple[str, str], dict[str, int]]:
    """Features recomputed naively from every raw event before the as-of instant."""
    cut = datetime.combine(as_of, datetime.min.time(), UTC)
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    last: dict[tuple[str, str], date] = {}
    for r in raw_rows(home):
        ts = datetime.fromtimestamp(r["us"] / 1e6, UTC)
        kind = r["event_type"]
        if r["user_key"] is None or ts >= cut or ts < cut - timedelta(days=30):
            continue
        if not kind.startswith(ACTIVITY) or kind == "email_verified":
            continue
        key = (r["tenant_id"], r["user_key"])
        f = out[key]
        last[key] = max(last.get(key, ts.date()), ts.date())
        recent = ts >= cut - timedelta(days=7)
        props = json.loads(r["properties"] or "{}")
        if kind == "step_completed":
            f["steps_completed_30d"] += 1
            f["steps_completed_7d"] += recent
        elif kind == "email_open":
            f["email_opens_30d"] += 1
            f["email_opens_7d"] += recent
        elif kind == "email_click":
            f["email_clicks_30d"] += 1
            f["email_clicks_7d"] += recent
        elif kind == "login_oauth" and props.get("success"):
            f["login_count_30d"] += 1
    for key, d in last.items():
        out[key]["last_activity_days_ago"] = (as_of - d).days
    return out


COLUMNS = (
    "steps_completed_7d",
    "email_opens_7d",
    "email_clicks_7d",
    "steps_completed_30d",
    "email_opens_30d",
    "email_clicks_30d",
    "login_count_30d",
    "last_activity_days_ago",
)


def test_features_use_only_events_before_the_as_of_instant(
    lake: Path, day: Callable[[int], date]
) -> None:
    as_of = day(-8)
    cut = datetime.combine(as_of, datetime.min.time(), UTC)
    future = [r for r in raw_rows(lake) if datetime.fromtimestamp(r["us"] / 1e6, UTC) >= cut]
    assert len(future) > 1000  # plenty of later events that would leak
    run = run_pipeline(lake, as_of=as_of)
    assert run.status == "ok" and run.as_of == as_of

    expected = _expected_features(lake, as_of)
    rows = read(lake, "ml_user_features", where=f"feature_date = DATE '{as_of}'")
    assert {(r[0], r[1]) for r in rows} == set(expected) and expected
    for key, feats in expected.items():
        row = _row(lake, as_of, key)
        assert row is not None, key
        for col in COLUMNS:
            assert row[col] == feats.get(col, 0), (key, col)
        assert row["as_of_ts"] == cut

    # a burst of events at and after the as-of instant changes nothing for that date
    t, u = next(iter(expected))
    append_raw(
        lake,
        [
            raw_event(t, u, "step_completed", cut + timedelta(seconds=s), {"step_id": "goals"})
            for s in (0, 60, 86400)
        ],
    )
    before = _row(lake, as_of, (t, u))
    assert run_pipeline(lake, as_of=as_of).status == "ok"
    assert _row(lake, as_of, (t, u)) == before


def test_a_snapshot_for_another_as_of_date_without_new_events_is_also_exact(
    lake: Path, day: Callable[[int], date]
) -> None:
    assert run_pipeline(lake).status == "ok"
    as_of = day(-4)
    run = run_pipeline(lake, as_of=as_of)
    assert run.dates == 0 and {s.step for s in run.steps} == {"segments", "ml_user_features"}
    expected = _expected_features(lake, as_of)
    rows = read(lake, "ml_user_features", where=f"feature_date = DATE '{as_of}'")
    assert len(rows) == len(expected)
    for key, feats in list(expected.items())[:20]:
        row = _row(lake, as_of, key)
        assert row is not None
        assert {c: row[c] for c in COLUMNS} == {c: feats.get(c, 0) for c in COLUMNS}


def _row(home: Path, as_of: date, key: tuple[str, str]) -> dict[str, object] | None:
    import duckdb

    from tenantry.pipeline.catalog import model, model_path
    from tenantry.pipeline.lakeio import register

    m = model("ml_user_features")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register(con, "f", model_path(home, m), m.schema, partition_by=m.partition_by)
    cur = con.execute(
        "SELECT * EXCLUDE (updated_at) FROM f WHERE feature_date = $d AND tenant_id = $t "
        "AND user_key = $u",
        {"d": as_of, "t": key[0], "u": key[1]},
    )
    names = [c[0] for c in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None


def test_segments_take_consent_state_from_the_latest_consent_events(
    lake: Path, day: Callable[[int], date]
) -> None:
    t = TENANTS[2]
    ts = datetime.combine(day(-3), datetime.min.time(), UTC)
    step = {"step_id": "goals", "persona": "ketten-katrin", "comm_prefs": {"tone": "facts"}}
    marketing = {"purpose": "marketing_email"}
    events = [
        raw_event(t, "uk_opted_in", "step_completed", ts, step),
        raw_event(t, "uk_opted_in", "consent_granted", ts + timedelta(hours=1), marketing),
        raw_event(t, "uk_verified", "step_started", ts, step),
        raw_event(t, "uk_verified", "email_verified", ts + timedelta(hours=1), source="consent"),
        raw_event(t, "uk_withdrawn", "step_started", ts, step),
        raw_event(t, "uk_withdrawn", "consent_granted", ts + timedelta(hours=1), marketing),
        raw_event(t, "uk_withdrawn", "consent_withdrawn", ts + timedelta(hours=2), marketing),
        raw_event(t, "uk_analytics_only", "consent_granted", ts, {"purpose": "analytics"}),
        raw_event(t, "uk_expired", "step_started", ts, step),
        raw_event(
            t,
            "uk_expired",
            "consent_granted",
            ts + timedelta(hours=1),
            marketing | {"expires_at": (ts + timedelta(days=1)).isoformat()},
        ),
        raw_event(
            t,
            "uk_not_yet_expired",
            "consent_granted",
            ts,
            marketing | {"expires_at": (ts + timedelta(days=400)).isoformat()},
        ),
    ]
    append_raw(lake, events)
    run = run_pipeline(lake)
    assert run.status == "ok"
    mine = {e["user_key"] for e in events}
    seg = {
        r[1]: r
        for r in read(lake, "segments", where=f"segment_date = DATE '{run.as_of}'")
        if r[1] in mine and r[0] == t
    }
    assert seg["uk_opted_in"][6] == "marketing_opted_in"
    assert seg["uk_verified"][6] == "email_only"
    assert seg["uk_withdrawn"][6] == "unverified"
    assert seg["uk_analytics_only"][6] == "unverified"
    assert seg["uk_expired"][6] == "unverified"  # expired before the as-of date
    assert seg["uk_not_yet_expired"][6] == "marketing_opted_in"
    assert seg["uk_opted_in"][3] == 3 and seg["uk_opted_in"][4] == "1-3"  # onb_day, bucket
    assert seg["uk_opted_in"][7] == "ketten-katrin"  # active: persona_current
    levels = {r[5] for r in read(lake, "segments")}
    assert levels <= {"high", "medium", "low"} and len(levels) > 1
