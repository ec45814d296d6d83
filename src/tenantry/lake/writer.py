"""Appending to lake tables: idempotent commits and no statistics on identifying columns.

Each append carries a Delta application transaction (`txn` action: app id and version) and the
writer's own metadata in the commit, so a writer that crashed after the Delta commit but before
recording it elsewhere can find out what it had written. Delta statistics (min/max in the
transaction log) are collected only on the non-identifying columns named per table
(`delta.dataSkippingStatsColumns`); Parquet column statistics are switched off for the
identifying ones, so no pseudonym or keyed hash sits in a log entry or a file footer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import (
    BloomFilterProperties,
    ColumnProperties,
    CommitProperties,
    DeltaTable,
    Transaction,
    WriterProperties,
    write_deltalake,
)

__all__ = [
    "DOMAIN_EVENTS",
    "DOMAIN_EVENTS_SCHEMA",
    "IDENTIFYING_COLUMNS",
    "append",
    "commit_metadata",
    "committed_version",
    "table_configuration",
]

DOMAIN_EVENTS = "domain_events"
_TS = pa.timestamp("us", tz="UTC")
DOMAIN_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("tenant_id", pa.string(), nullable=False),
        pa.field("aggregate_type", pa.string(), nullable=False),
        pa.field("aggregate_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("occurred_at", _TS, nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),  # partition column
        pa.field("payload", pa.string()),  # JSON object without personal data
        pa.field("relayed_at", _TS, nullable=False),
    ]
)

# Columns that can identify a person (pseudonyms, keyed hashes, free JSON): never in statistics.
IDENTIFYING_COLUMNS = frozenset(
    {"user_key", "email_key", "email_hash", "external_ids", "properties", "payload"}
)


def table_configuration(schema: pa.Schema, partition_by: Sequence[str]) -> dict[str, str | None]:
    """Delta table properties: statistics only on non-identifying, non-partition columns."""
    stats = [
        f.name for f in schema if f.name not in IDENTIFYING_COLUMNS and f.name not in partition_by
    ]
    return {"delta.dataSkippingStatsColumns": ",".join(stats)}


_KEYS = ("user_key", "email_key")  # looked up by equality on erasure


def _writer_properties(schema: pa.Schema) -> WriterProperties:
    """No Parquet statistics on identifying columns; a Bloom filter on the pseudonym keys, so an
    erasure can skip row groups without reading them (a filter holds hashes, not values)."""
    off = ColumnProperties(statistics_enabled="NONE")
    bloom = ColumnProperties(
        statistics_enabled="NONE",
        bloom_filter_properties=BloomFilterProperties(True, fpp=0.01),
    )
    return WriterProperties(
        column_properties={
            f.name: bloom if f.name in _KEYS else off
            for f in schema
            if f.name in IDENTIFYING_COLUMNS
        }
    )


def committed_version(path: Path, app_id: str) -> int | None:
    """The last version committed under `app_id`, or None (also if the table does not exist)."""
    if not DeltaTable.is_deltatable(str(path)):
        return None
    return DeltaTable(str(path)).transaction_version(app_id)


def commit_metadata(path: Path, key: str, value: str, *, depth: int = 200) -> dict[str, Any]:
    """The commit info of the newest commit whose metadata has `key` == `value`."""
    for commit in DeltaTable(str(path)).history(limit=depth):
        if str(commit.get(key)) == value:
            return commit
    raise LookupError(f"no commit with {key}={value} in the last {depth} commits")


def append(
    path: Path,
    data: pa.Table,
    *,
    partition_by: Sequence[str],
    app_id: str,
    version: int,
    metadata: Mapping[str, str],
) -> None:
    """Append `data` in one commit that records `(app_id, version)` and `metadata`."""
    path.mkdir(parents=True, exist_ok=True)
    exists = DeltaTable.is_deltatable(str(path))
    write_deltalake(
        str(path),
        data,
        mode="append",
        partition_by=list(partition_by),
        configuration=None if exists else table_configuration(data.schema, partition_by),
        writer_properties=_writer_properties(data.schema),
        commit_properties=CommitProperties(
            custom_metadata=dict(metadata),
            app_transactions=[Transaction(app_id, version)],
        ),
    )
