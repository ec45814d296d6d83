"""The contract of the raw layer: where the raw event table lives and its Arrow schema.

The event relay writes this table; the pipeline reads it. Neither may add a column that holds
personal data in plaintext: subjects appear only as `user_key`, a keyed pseudonym under the
tenant's key, and personal online identifiers (GA4 client and user ids) only as keyed HMACs.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

__all__ = [
    "LAYERS",
    "RAW_EVENTS",
    "RAW_EVENTS_PARTITION_BY",
    "RAW_EVENTS_SCHEMA",
    "layer_path",
    "table_path",
]

LAYERS = ("raw", "curated", "ml")
RAW_EVENTS = "events"

_TS = pa.timestamp("us", tz="UTC")

RAW_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),  # UUIDv7, unique
        pa.field("tenant_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string()),  # the business account (seed 001)
        pa.field("location_id", pa.string()),
        pa.field("user_key", pa.string()),  # keyed pseudonym of user_id, never the id itself
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_ts", _TS, nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),  # partition column
        pa.field("external_ids", pa.string()),  # JSON object; personal ids as keyed HMACs
        pa.field("properties", pa.string()),  # JSON object, validated per event type
        pa.field("source", pa.string()),
        pa.field("ingested_at", _TS, nullable=False),
    ]
)
RAW_EVENTS_PARTITION_BY = ("event_date",)


def layer_path(home: Path, layer: str) -> Path:
    if layer not in LAYERS:
        raise ValueError(f"unknown lake layer {layer!r}")
    return home / "lake" / layer


def table_path(home: Path, layer: str, name: str) -> Path:
    return layer_path(home, layer) / name
