"""Golden tests of the data-quality rules: each rule type's compiled SQL, and a passing and a
failing table for each, evaluated by DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from tenantry.errors import ValidationError
from tenantry.lake.vocabulary import SOURCES
from tenantry.pipeline.quality import (
    RULE_TYPES,
    compile_rule,
    evaluate,
    load_config,
    parse_rule,
    rules_for,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

GOLDEN = {
    "ColumnCount = 3": 'SELECT count(*) = 3, count(*)::DOUBLE FROM (DESCRIBE "t")',
    "RowCount between 1 and 3": 'SELECT count(*) BETWEEN 1 AND 3, count(*)::DOUBLE FROM "t"',
    "IsComplete 'user_key'": (
        'SELECT count(*) = 0, count(*)::DOUBLE FROM "t" WHERE "user_key" IS NULL'
    ),
    'IsUnique "event_id"': (
        'SELECT count(*) = 0, count(*)::DOUBLE FROM (SELECT "event_id" FROM "t" '
        'GROUP BY "event_id" HAVING count(*) > 1)'
    ),
    "IsPrimaryKey 'tenant_id' 'user_key'": (
        'WITH n AS (SELECT count(*) AS c FROM "t" WHERE "tenant_id" IS NULL OR "user_key" IS '
        'NULL), d AS (SELECT count(*) AS c FROM (SELECT "tenant_id", "user_key" FROM "t" '
        'GROUP BY "tenant_id", "user_key" HAVING count(*) > 1)) SELECT n.c + d.c = 0, '
        "(n.c + d.c)::DOUBLE FROM n, d"
    ),
    "ColumnValues 'persona' in ['solo-sarah', 'bewahrer-ben']": (
        'SELECT count(*) = 0, count(*)::DOUBLE FROM "t" WHERE "persona" IS NOT NULL AND '
        "\"persona\" NOT IN ('solo-sarah', 'bewahrer-ben')"
    ),
    "ReferentialIntegrity 'tenant_id,user_key' 'dim.{tenant_id,user_key}' = 1.0": (
        'WITH k AS (SELECT "tenant_id", "user_key" FROM "t" WHERE "tenant_id" IS NOT NULL AND '
        '"user_key" IS NOT NULL), r AS (SELECT DISTINCT "tenant_id", "user_key", true AS __hit '
        'FROM "dim") SELECT coalesce(count(r.__hit) / nullif(count(*), 0), 1.0) = 1.0, '
        "coalesce(count(r.__hit) / nullif(count(*), 0), 1.0)::DOUBLE FROM k LEFT JOIN r ON "
        'k."tenant_id" = r."tenant_id" AND k."user_key" = r."user_key"'
    ),
    "DataFreshness 'event_ts' <= 26 hours": (
        'SELECT coalesce(($now::TIMESTAMPTZ - max("event_ts")) <= INTERVAL (26) HOUR, false), '
        'epoch(($now::TIMESTAMPTZ - max("event_ts"))) / 3600.0 FROM "t"'
    ),
    "CustomSql 'SELECT count(*) FROM primary WHERE score < 0' = 0": (
        'SELECT v = 0, v::DOUBLE FROM (SELECT count(*) FROM "t" WHERE score < 0) AS q(v)'
    ),
}

# rule -> (rows of a table that passes, rows of a table that fails); columns of "t":
# tenant_id, user_key, event_id, persona, score, event_ts
GOOD = [
    ("t1", "u1", "e1", "solo-sarah", 5, "2026-11-22 10:00:00+00"),
    ("t1", "u2", "e2", "bewahrer-ben", 7, "2026-11-22 11:00:00+00"),
]
CASES = {
    "ColumnCount = 6": (GOOD, None),
    "RowCount between 1 and 3": (GOOD, GOOD * 2),
    "IsComplete 'user_key'": (GOOD, [*GOOD, ("t1", None, "e3", None, 1, "2026-11-22 09:00+00")]),
    'IsUnique "event_id"': (GOOD, [*GOOD, ("t2", "u9", "e1", None, 1, "2026-11-22 09:00+00")]),
    "IsPrimaryKey 'tenant_id' 'user_key'": (
        GOOD,
        [*GOOD, ("t1", "u1", "e3", None, 1, "2026-11-22 09:00+00")],
    ),
    "ColumnValues 'persona' in ['solo-sarah', 'bewahrer-ben']": (
        [*GOOD, ("t1", "u3", "e3", None, 1, "2026-11-22 09:00+00")],
        [*GOOD, ("t1", "u3", "e3", "evil-eve", 1, "2026-11-22 09:00+00")],
    ),
    "ColumnValues 'score' between 0 and 10": (
        GOOD,
        [*GOOD, ("t1", "u3", "e3", None, 11, "2026-11-22 09:00+00")],
    ),
    "ReferentialIntegrity 'tenant_id,user_key' 'dim.{tenant_id,user_key}' = 1.0": (
        GOOD,
        [*GOOD, ("t2", "u1", "e3", None, 1, "2026-11-22 09:00+00")],
    ),
    "DataFreshness 'event_ts' <= 26 hours": (
        GOOD,
        [("t1", "u1", "e1", None, 1, "2026-11-20 09:00+00")],
    ),
    "CustomSql 'SELECT count(*) FROM primary WHERE score < 0' = 0": (
        GOOD,
        [*GOOD, ("t1", "u3", "e3", None, -1, "2026-11-22 09:00+00")],
    ),
}


def _con(rows: list[tuple[object, ...]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE t (tenant_id VARCHAR, user_key VARCHAR, event_id VARCHAR, persona VARCHAR,"
        " score INTEGER, event_ts TIMESTAMPTZ)"
    )
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?::TIMESTAMPTZ)", rows)
    con.execute(
        "CREATE TABLE dim AS SELECT 't1' AS tenant_id, unnest(['u1', 'u2', 'u3']) AS user_key"
    )
    return con


def test_every_rule_type_has_a_golden_sql_and_a_pass_and_fail_case() -> None:
    golden_kinds = {parse_rule(r).kind for r in GOLDEN}
    case_kinds = {parse_rule(r).kind for r in CASES}
    assert golden_kinds == case_kinds == set(RULE_TYPES)


@pytest.mark.parametrize("text", list(GOLDEN))
def test_rule_compiles_to_the_golden_sql(text: str) -> None:
    assert compile_rule(parse_rule(text), "t") == GOLDEN[text]


@pytest.mark.parametrize("text", list(CASES))
def test_rule_passes_on_good_rows_and_fails_on_bad_ones(text: str) -> None:
    good, bad = CASES[text]
    rule = parse_rule(text)
    [ok] = evaluate(_con(good), "t", [rule], "t", now=NOW)
    assert ok.passed, ok
    if bad is None:  # ColumnCount: the failing case is a table with another shape
        con = _con(good)
        con.execute("ALTER TABLE t ADD COLUMN extra INTEGER")
    else:
        con = _con(bad)
    [failed] = evaluate(con, "t", [rule], "t", now=NOW)
    assert not failed.passed, failed
    assert failed.observed is not None


def test_a_rule_on_a_missing_column_fails_with_a_message_instead_of_raising() -> None:
    [r] = evaluate(_con(GOOD), "t", [parse_rule("IsComplete 'nope'")], "t")
    assert not r.passed and r.message.startswith("error:")


@pytest.mark.parametrize(
    "text",
    [
        "IsFancy 'x'",
        "IsComplete user_key",
        "ColumnValues 'x' in [a, b]",
        "RowCount > lots",
        "DataFreshness 'ts' <= 3 fortnights",
        "CustomSql 'DELETE FROM primary' = 0",
        "ReferentialIntegrity 'a,b' 'dim.{a}'",
    ],
)
def test_malformed_rules_are_rejected_with_the_rule_named(text: str) -> None:
    with pytest.raises(ValidationError, match="data-quality rule"):
        parse_rule(text)


def test_the_shipped_rules_file_parses_and_covers_every_table() -> None:
    from tenantry.pipeline.catalog import MODELS

    config = load_config()
    for m in MODELS:
        assert rules_for(config, m.name), m.name
    kinds = {r.kind for m in MODELS for r in rules_for(config, m.name)}
    assert kinds == set(RULE_TYPES)
    assert set(config["freshness"]["sources"]) == set(SOURCES)


def test_the_rules_allow_exactly_the_vocabulary_of_the_event_types() -> None:
    from tenantry.lake import vocabulary as v

    config = load_config()

    def allowed(table: str, column: str) -> set[str]:
        [rule] = [
            r
            for r in rules_for(config, table)
            if r.kind == "ColumnValues" and r.columns == (column,) and r.condition == "in"
        ]
        return set(rule.values)

    assert allowed("fact_email_events", "event_type") == set(v.EMAIL_EVENTS.values())
    assert allowed("fact_onboarding_steps", "event_type") == set(v.ONBOARDING_EVENTS.values())
    assert allowed("fact_onboarding_steps", "persona") == set(v.PERSONAS)
    assert allowed("dim_user", "persona") == set(v.PERSONAS)
    assert allowed("fact_login_oauth", "provider") == set(v.PROVIDERS)
