"""The curated and ml tables the pipeline builds: names, Arrow schemas, partitioning, build order.

Each `Model` names the SQL file (in `pipeline/sql/`) that computes its staged rows, how its
rows are published (`fact`: replace the processed date partitions; `dim`: replace the table;
`snapshot`: replace the as-of-date partition) and which staged models it reads (`needs`).
`sql_text` hands out a model's SQL with the event types and names of
`tenantry.lake.vocabulary` filled in. This module holds declarations only; it reads nothing
but its own SQL files and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import pyarrow as pa

from tenantry.lake import vocabulary
from tenantry.lake.raw import table_path

__all__ = ["IDENTIFYING", "MODELS", "Model", "model", "model_path", "render_sql", "sql_text"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+(?::[a-z_]+)?)\s*\}\}")

Kind = Literal["fact", "dim", "snapshot"]

_TS = pa.timestamp("us", tz="UTC")
# Columns that identify (pseudonymously) a data subject: no statistics in Parquet footers or
# in the Delta log, so pseudonyms never appear outside the data pages that erasure rewrites.
IDENTIFYING = frozenset({"user_key", "email_hash"})


@dataclass(frozen=True)
class Model:
    name: str
    layer: Literal["curated", "ml"]
    kind: Kind
    schema: pa.Schema
    partition_by: str | None = None
    needs: tuple[str, ...] = ()
    # published only together with these models (they share incremental state)
    publish_with: tuple[str, ...] = ()
    internal: bool = False

    @property
    def sql_file(self) -> str:
        return f"{self.name}.sql"


def _s(*fields: tuple[str, pa.DataType] | tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(f[0], f[1], nullable=f[2] if len(f) > 2 else True) for f in fields])


_STR, _INT, _BIG, _BOOL, _DATE, _DBL = (
    pa.string(),
    pa.int32(),
    pa.int64(),
    pa.bool_(),
    pa.date32(),
    pa.float64(),
)

MODELS: tuple[Model, ...] = (
    Model(
        "fact_onboarding_steps",
        "curated",
        "fact",
        _s(
            ("event_id", _STR, False),
            ("tenant_id", _STR, False),
            ("user_key", _STR, False),
            ("account_id", _STR),
            ("step_id", _STR, False),
            ("event_type", _STR, False),
            ("persona", _STR),
            ("comm_prefs", _STR),
            ("duration_seconds", _INT),
            ("event_ts", _TS, False),
            ("date_key", _INT, False),
        ),
        "date_key",
    ),
    Model(
        "fact_visibility_check",
        "curated",
        "fact",
        _s(
            ("check_id", _STR, False),
            ("event_id", _STR, False),
            ("tenant_id", _STR, False),
            ("user_key", _STR),
            ("account_id", _STR, False),
            ("location_id", _STR),
            ("overall_score", _INT),
            ("gbp_score", _INT),
            ("social_score", _INT),
            ("web_score", _INT),
            ("competitor_count", _INT),
            ("processing_time_seconds", _INT),
            ("event_ts", _TS, False),
            ("date_key", _INT, False),
        ),
        "date_key",
    ),
    Model(
        "fact_email_events",
        "curated",
        "fact",
        _s(
            ("event_id", _STR, False),
            ("tenant_id", _STR, False),
            ("user_key", _STR),
            ("email_hash", _STR, False),
            ("campaign_id", _STR),
            ("event_type", _STR, False),
            ("copy_variant", _STR),
            ("subject_variant", _STR),
            ("event_ts", _TS, False),
            ("date_key", _INT, False),
        ),
        "date_key",
    ),
    Model(
        "fact_login_oauth",
        "curated",
        "fact",
        _s(
            ("event_id", _STR, False),
            ("tenant_id", _STR, False),
            ("user_key", _STR),
            ("provider", _STR, False),
            ("success", _BOOL, False),
            ("error_code", _STR),
            ("event_ts", _TS, False),
            ("date_key", _INT, False),
        ),
        "date_key",
    ),
    Model(
        "agg_user_daily",
        "curated",
        "fact",
        _s(
            ("tenant_id", _STR, False),
            ("user_key", _STR, False),
            ("date_key", _INT, False),
            ("steps_completed", _INT, False),
            ("step_duration_sum", _BIG, False),
            ("step_duration_n", _INT, False),
            ("email_opens", _INT, False),
            ("email_clicks", _INT, False),
            ("logins", _INT, False),
            ("vc_score_last", _INT),
            ("tone_last", _STR),
        ),
        "date_key",
        needs=(
            "fact_onboarding_steps",
            "fact_visibility_check",
            "fact_email_events",
            "fact_login_oauth",
        ),
        publish_with=("dim_user",),
        internal=True,
    ),
    Model(
        "dim_user",
        "curated",
        "dim",
        _s(
            ("tenant_id", _STR, False),
            ("user_key", _STR, False),
            ("email_hash", _STR),
            ("signup_date", _DATE, False),
            ("persona", _STR),
            ("communication_prefs", _STR),
            ("prefs_at", _TS),
            ("is_active", _BOOL, False),
            ("first_seen", _TS, False),
            ("last_seen", _TS, False),
            ("last_login", _TS),
            ("steps_completed", _BIG, False),
            ("marketing_consent", _BOOL),
            ("consent_at", _TS),
            ("email_verified", _BOOL, False),
            ("marketing_consent_expires_at", _TS),
        ),
        needs=("agg_user_daily",),
        publish_with=("agg_user_daily",),
    ),
    Model(
        "dim_location",
        "curated",
        "dim",
        _s(
            ("tenant_id", _STR, False),
            ("location_id", _STR, False),
            ("account_id", _STR),
            ("address", _STR),
            ("city", _STR),
            ("country", _STR),
            ("gbp_place_id", _STR),
            ("latitude", _DBL),
            ("longitude", _DBL),
            ("updated_at", _TS),
            ("price_range", _STR),
        ),
    ),
    Model(
        "dim_account",
        "curated",
        "dim",
        _s(
            ("tenant_id", _STR, False),
            ("account_id", _STR, False),
            ("business_name", _STR),
            ("main_category", _STR),
            ("price_range", _STR),
            ("created_date", _DATE, False),
            ("is_active", _BOOL, False),
            ("updated_at", _TS),
        ),
        needs=("dim_location",),
    ),
    Model(
        "dim_time",
        "curated",
        "dim",
        _s(
            ("date_key", _INT, False),
            ("date", _DATE, False),
            ("year", _INT, False),
            ("quarter", _INT, False),
            ("month", _INT, False),
            ("day", _INT, False),
            ("iso_week", _INT, False),
            ("weekday", _INT, False),
            ("is_weekend", _BOOL, False),
        ),
    ),
    Model(
        "segments",
        "ml",
        "snapshot",
        _s(
            ("tenant_id", _STR, False),
            ("user_key", _STR, False),
            ("segment_date", _DATE, False),
            ("onb_day", _INT, False),
            ("onb_day_bucket", _STR, False),
            ("engagement_level", _STR, False),
            ("consent_state", _STR, False),
            ("persona_current", _STR),
        ),
        "segment_date",
        needs=("dim_user",),
    ),
    Model(
        "ml_user_features",
        "ml",
        "snapshot",
        _s(
            ("tenant_id", _STR, False),
            ("user_key", _STR, False),
            ("feature_date", _DATE, False),
            ("as_of_ts", _TS, False),
            ("steps_completed_7d", _INT, False),
            ("email_opens_7d", _INT, False),
            ("email_clicks_7d", _INT, False),
            ("vc_score_delta_7d", _INT),
            ("steps_completed_30d", _INT, False),
            ("email_opens_30d", _INT, False),
            ("email_clicks_30d", _INT, False),
            ("login_count_30d", _INT, False),
            ("avg_step_duration_seconds", _DBL),
            ("preferred_comm_tone", _STR),
            ("last_activity_days_ago", _INT, False),
            ("updated_at", _TS, False),
        ),
        "feature_date",
        needs=("agg_user_daily",),
    ),
)


def model(name: str) -> Model:
    for m in MODELS:
        if m.name == name:
            return m
    raise KeyError(name)


def model_path(home: Path, m: Model) -> Path:
    return table_path(home, m.layer, m.name)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _fact_case(family: str) -> str:
    whens = " ".join(
        f"WHEN {_quoted([e.name])} THEN {_quoted([e.fact_type or e.name])}"
        for e in vocabulary.family(family).values()
    )
    return f"CASE event_type {whens} END"


def _event(name: str) -> vocabulary.EventType:
    for e in vocabulary.EVENT_TYPES:
        if e.name == name:
            return e
    raise KeyError(f"event type {name!r} is not in the vocabulary")


def _placeholder(match: re.Match[str]) -> str:
    kind, _, arg = match.group(1).partition(":")
    if kind == "ingested":
        return _quoted(vocabulary.INGESTED)
    if kind == "outbox":
        return _quoted(vocabulary.OUTBOX)
    if kind == "marketing_purpose":
        return _quoted([vocabulary.MARKETING_PURPOSE])
    if kind == "types" and vocabulary.family(arg):
        return _quoted(vocabulary.family(arg))
    if kind == "fact_type" and vocabulary.family(arg):
        return _fact_case(arg)
    if kind == "name":
        return _quoted([_event(arg).name])
    if kind == "fact":
        event = _event(arg)
        return _quoted([event.fact_type or event.name])
    raise KeyError(f"unknown SQL placeholder {match.group(0)!r}")


def render_sql(text: str) -> str:
    """Fill the `{{ ... }}` placeholders of a model's SQL with names from the vocabulary:
    `ingested`/`outbox` (every type of a channel), `types:FAMILY`, `fact_type:FAMILY` (a CASE
    from raw to fact event type), `name:EVENT`, `fact:EVENT`, `marketing_purpose`."""
    return _PLACEHOLDER.sub(_placeholder, text)


def sql_text(name: str) -> str:
    """A model's SQL with the vocabulary's names filled in."""
    return render_sql(resources.files("tenantry.pipeline").joinpath("sql", name).read_text("utf-8"))
