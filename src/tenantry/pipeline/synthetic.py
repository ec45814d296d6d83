"""Synthetic raw events for tests and the benchmark, written straight into the raw tables.

The generator is one DuckDB query over `range(n)`: every random choice is a hash of the event's
index and the seed, so the same arguments always give the same events, in any thread order, and
ten million events take seconds. Event types, property names and values come from
`tenantry.lake.vocabulary`, as for real events: client (`ingest`) types go to `raw/events`,
database-change (`outbox`) types to `raw/domain_events`, shaped as the relay writes them.
Users appear only as `user_key` pseudonyms, emails only as a keyed-hash stand-in; nothing here
is personal data. It must not be used to write real events: the event relay
(tenantry.events) owns the raw tables in production, and the demo goes through ingestion.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import write_deltalake

from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_PARTITION_BY, RAW_EVENTS_SCHEMA, table_path
from tenantry.lake.vocabulary import (
    ADDRESS_FORMS,
    EMAIL_KEY,
    HELP_LEVELS,
    LOGIN_METHODS,
    MAIN_CATEGORIES,
    MARKETING_PURPOSE,
    ONBOARDING_STEPS,
    PERSONAS,
    PRICE_RANGES,
    PROVIDERS,
    TONES,
)
from tenantry.lake.writer import DOMAIN_EVENTS, DOMAIN_EVENTS_SCHEMA
from tenantry.pipeline.catalog import render_sql
from tenantry.pipeline.lakeio import open_table, table_config, writer_properties

__all__ = [
    "EventSpec",
    "domain_batches",
    "event_batches",
    "generate_events",
    "synthetic_tenant_ids",
]

_BATCH_ROWS = 500_000
# raw columns that can carry a pseudonym: no statistics, as the raw table's contract asks
_IDENTIFYING = frozenset({"user_key", "external_ids", "properties", "payload"})


@dataclass(frozen=True)
class EventSpec:
    """What to generate: `n` events spread evenly over [start, end) for the given tenants.

    `first_index` continues an earlier call's numbering so event ids stay unique across calls.
    """

    tenant_ids: Sequence[str]
    n: int
    start: datetime
    end: datetime
    users_per_tenant: int = 100
    locations_per_tenant: int = 3
    first_index: int = 0
    seed: int = 6


def synthetic_tenant_ids(count: int, seed: int = 6) -> list[str]:
    """Stable UUID-shaped tenant ids for generated lakes that have no database behind them."""
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT {_uuid_expr('hash(i, $seed, 101)', 'hash(i, $seed, 102)')} "
        "FROM range($n) t(i) ORDER BY i",
        {"seed": seed, "n": count},
    ).fetchall()
    return [str(r[0]) for r in rows]


def _uuid_expr(a: str, b: str, version: str = "8") -> str:
    hx = f"lower(lpad(to_hex({a}), 16, '0') || lpad(to_hex({b}), 16, '0'))"
    return (
        f"(substr({hx}, 1, 8) || '-' || substr({hx}, 9, 4) || '-{version}' || substr({hx}, 14, 3)"
        f" || '-' || substr({hx}, 17, 4) || '-' || substr({hx}, 21, 12))"
    )


def _pick(values: Sequence[str], r: str) -> str:
    literal = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{literal}[({r} % {len(values)})::INTEGER + 1]"


def _name(event_type: str) -> str:
    """The quoted event type, refused unless the vocabulary has it."""
    return render_sql(f"{{{{ name:{event_type} }}}}")


def _query() -> str:
    step = _pick(ONBOARDING_STEPS, "r5")
    persona = _pick(PERSONAS, "hash(u, $seed, 11)")
    tone = _pick(TONES, "hash(u, $seed, 12)")
    address = _pick(ADDRESS_FORMS, "hash(u, $seed, 13)")
    provider = _pick(PROVIDERS, "r5")
    help_level = _pick(HELP_LEVELS, "r6")
    method = _pick(LOGIN_METHODS, "r4")
    category = _pick(MAIN_CATEGORIES[:3], "tix")
    price = _pick(PRICE_RANGES[:3], "hash(tix, $seed)")
    purpose = _pick((MARKETING_PURPOSE, "analytics"), "r4")
    location = _uuid_expr("hash(tix, $seed, 21)", "hash(tix, r6 % $locs, 22)")
    return f"""
WITH b AS (
  SELECT i, hash(i, $seed, 1) AS r1, hash(i, $seed, 2) AS r2, hash(i, $seed, 3) AS r3,
         hash(i, $seed, 4) AS r4, hash(i, $seed, 5) AS r5, hash(i, $seed, 6) AS r6,
         (hash(i, $seed, 7) % $n_users) AS u,
         make_timestamp(($start_us + ((i - $first)::HUGEINT * $span_us) // $n
                         + (hash(i, $seed, 8) % 60000000))::BIGINT)::TIMESTAMPTZ AS ts
  FROM range($first, $first + $n) t(i)
), e AS (
  SELECT *, (u // $upt)::INTEGER AS tix, (r2 % 1000) AS kind, r3 % 100 AS pct FROM b
), typed AS (
  SELECT *, CASE
    WHEN kind < 300 THEN CASE WHEN pct < 40 THEN {_name("step_started")}
                              WHEN pct < 90 THEN {_name("step_completed")}
                              WHEN pct < 97 THEN {_name("step_skipped")}
                              ELSE {_name("step_abandoned")} END
    WHEN kind < 600 THEN CASE WHEN pct < 30 THEN {_name("email_sent")}
                              WHEN pct < 58 THEN {_name("email_delivered")}
                              WHEN pct < 78 THEN {_name("email_open")}
                              WHEN pct < 88 THEN {_name("email_click")}
                              WHEN pct < 93 THEN {_name("email_bounce")}
                              WHEN pct < 95 THEN {_name("email_complaint")}
                              ELSE {_name("email_unsubscribe")} END
    WHEN kind < 750 THEN {_name("login_oauth")}
    WHEN kind < 800 THEN {_name("visibility_check_completed")}
    WHEN kind < 820 THEN CASE WHEN pct < 55 THEN {_name("consent_granted")}
                              WHEN pct < 75 THEN {_name("consent_withdrawn")}
                              ELSE {_name("email_verified")} END
    WHEN kind < 830 THEN {_name("account_upserted")}
    WHEN kind < 850 THEN {_name("location_upserted")}
    ELSE {_name("login")} END AS event_type
  FROM e
)
SELECT
  {_event_id()} AS event_id,
  $tenants[tix + 1] AS tenant_id,
  $tenants[tix + 1] AS account_id,
  CASE WHEN kind >= 750 AND kind < 800 OR kind >= 830 AND kind < 850 THEN {location} END
    AS location_id,
  CASE WHEN kind >= 820 AND kind < 850 THEN NULL
       ELSE 'uk_' || lower(lpad(to_hex(hash(u, $seed, 10)), 16, '0')) END AS user_key,
  event_type,
  ts AS event_ts,
  ts::DATE AS event_date,
  CASE WHEN kind >= 850
       THEN json_object('ga4_client_id', 'h_' || lpad(to_hex(hash(u, $seed, 14)), 16, '0'))
  END::VARCHAR AS external_ids,
  CASE
    WHEN kind < 300 THEN json_object(
      'step_id', {step}, 'persona', {persona},
      'comm_prefs', json_object('tone', {tone}, 'address', {address},
                                'help_level', {help_level}),
      'duration_seconds', CASE WHEN pct >= 40 AND pct < 90 THEN 5 + r4 % 600 END)
    WHEN kind < 600 THEN json_object(
      '{EMAIL_KEY}', 'eh_' || lower(lpad(to_hex(hash(u, $seed, 15)), 16, '0')),
      'campaign_id', 'cmp-' || (r4 % 24),
      'copy_variant', 'copy-' || ['a', 'b', 'c'][(r5 % 3)::INTEGER + 1],
      'subject_variant', 'subj-' || (r6 % 2))
    WHEN kind < 750 THEN json_object(
      'provider', {provider}, 'success', pct < 92,
      'error_code', CASE WHEN pct >= 92
                    THEN ['access_denied', 'invalid_grant', 'timeout'][(r4 % 3)::INTEGER + 1] END)
    WHEN kind < 800 THEN json_object(
      'check_id', {_uuid_expr("r4", "r5")},
      'overall_score', 20 + r4 % 80, 'gbp_score', r5 % 101, 'social_score', r6 % 101,
      'web_score', r1 % 101, 'competitor_count', r3 % 25, 'processing_time_seconds', 3 + r6 % 90)
    WHEN kind < 820 THEN json_object(
      'user_key', 'uk_' || lower(lpad(to_hex(hash(u, $seed, 10)), 16, '0')),
      'purpose', {purpose},
      'decision', CASE WHEN pct < 55 OR pct >= 75 THEN 'granted' ELSE 'withdrawn' END)
    WHEN kind < 830 THEN json_object(
      'business_name', 'Demo Business ' || tix, 'main_category', {category},
      'price_range', {price},
      'is_active', r4 % 50 > 0)
    WHEN kind < 850 THEN json_object(
      'address', 'Musterstraße ' || (1 + r6 % $locs), 'city',
      ['Berlin', 'Hamburg', 'München', 'Köln'][(tix % 4)::INTEGER + 1], 'country', 'DE',
      'latitude', round(52.0 + (r6 % $locs) / 100.0, 6),
      'longitude', round(13.0 + tix % 100 / 100.0, 6), 'price_range', {price},
      'gbp_place_id', 'ChIJ' || lpad(to_hex(hash(tix, r6 % $locs)), 16, '0'))
    ELSE json_object('method', {method}, 'success', pct < 95)
  END::VARCHAR AS properties,
  CASE WHEN kind >= 300 AND kind < 600 THEN 'bulk' ELSE 'api' END AS source,
  ts + INTERVAL 2 SECOND AS ingested_at
FROM typed
"""


def _event_id() -> str:
    hx = "lpad(to_hex(epoch_ms(ts)::UBIGINT), 12, '0')"
    return (
        f"lower(substr({hx}, 1, 8) || '-' || substr({hx}, 9, 4) || '-7' || "
        "substr(lpad(to_hex(r1), 16, '0'), 1, 3) || '-8' || substr(lpad(to_hex(r2), 16, '0'), 1, 3)"
        " || '-' || lpad(to_hex(i::UBIGINT), 12, '0'))"
    )


def _utc_us(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    delta = instant.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _connect(spec: EventSpec) -> tuple[duckdb.DuckDBPyConnection, dict[str, object]]:
    if spec.n <= 0 or not spec.tenant_ids:
        raise ValueError("need at least one event and one tenant")
    start_us, end_us = _utc_us(spec.start), _utc_us(spec.end)
    if end_us <= start_us:
        raise ValueError("end must be after start")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    params: dict[str, object] = {
        "seed": spec.seed,
        "first": spec.first_index,
        "n": spec.n,
        "n_users": len(spec.tenant_ids) * spec.users_per_tenant,
        "upt": spec.users_per_tenant,
        "locs": spec.locations_per_tenant,
        "start_us": start_us,
        "span_us": end_us - start_us - 60_000_000,
        "tenants": list(spec.tenant_ids),
    }
    return con, params


def _cast(reader: pa.RecordBatchReader, schema: pa.Schema) -> pa.RecordBatchReader:
    def cast() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield batch.cast(schema)

    return pa.RecordBatchReader.from_batches(schema, cast())


def event_batches(spec: EventSpec) -> pa.RecordBatchReader:
    """The generated client events as record batches in the raw event table's schema."""
    con, params = _connect(spec)
    sql = f"SELECT * FROM ({_query()}) WHERE event_type NOT IN ({render_sql('{{ outbox }}')})"
    return _cast(con.sql(sql, params=params).to_arrow_reader(_BATCH_ROWS), RAW_EVENTS_SCHEMA)


def domain_batches(spec: EventSpec) -> pa.RecordBatchReader:
    """The generated database changes as the relay writes them (raw domain-event schema)."""
    con, params = _connect(spec)
    sql = f"""
SELECT event_id, tenant_id,
       CASE WHEN event_type IN ({render_sql("{{ types:account }}")}) THEN 'account'
            WHEN event_type IN ({render_sql("{{ types:location }}")}) THEN 'location'
            ELSE 'consent' END AS aggregate_type,
       coalesce(location_id, CASE WHEN event_type IN ({render_sql("{{ types:account }}")})
                                  THEN tenant_id ELSE event_id END) AS aggregate_id,
       event_type, event_ts AS occurred_at, event_date, properties AS payload,
       ingested_at AS relayed_at
FROM ({_query()}) WHERE event_type IN ({render_sql("{{ outbox }}")})"""
    return _cast(con.sql(sql, params=params).to_arrow_reader(_BATCH_ROWS), DOMAIN_EVENTS_SCHEMA)


def _append(path: Path, reader: pa.RecordBatchReader, schema: pa.Schema) -> None:
    path.mkdir(parents=True, exist_ok=True)
    new = open_table(path) is None
    write_deltalake(
        str(path),
        reader,
        mode="append",
        partition_by=list(RAW_EVENTS_PARTITION_BY),
        configuration=table_config(schema, _IDENTIFYING) if new else None,
        writer_properties=writer_properties(schema, _IDENTIFYING),
    )


def generate_events(home: Path, spec: EventSpec) -> int:
    """Append the generated events to `$home/lake/raw/events` and `raw/domain_events` (one
    commit each); returns the count."""
    _append(table_path(home, "raw", RAW_EVENTS), event_batches(spec), RAW_EVENTS_SCHEMA)
    _append(table_path(home, "raw", DOMAIN_EVENTS), domain_batches(spec), DOMAIN_EVENTS_SCHEMA)
    return spec.n
