"""A small generated raw lake and helpers to append hand-made raw events and read lake tables.

These tests need no PostgreSQL: the pipeline reads and writes only Delta tables."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_PARTITION_BY, RAW_EVENTS_SCHEMA, table_path
from tenantry.lake.vocabulary import OUTBOX
from tenantry.lake.writer import DOMAIN_EVENTS, DOMAIN_EVENTS_SCHEMA
from tenantry.pipeline.catalog import model, model_path
from tenantry.pipeline.lakeio import register
from tenantry.pipeline.synthetic import EventSpec, generate_events, synthetic_tenant_ids

END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=20)
TENANTS = synthetic_tenant_ids(3, seed=9)


def raw_event(
    tenant: str,
    user_key: str | None,
    event_type: str,
    ts: datetime,
    properties: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "tenant_id": tenant,
        "account_id": tenant,
        "location_id": extra.get("location_id"),
        "user_key": user_key,
        "event_type": event_type,
        "event_ts": ts,
        "event_date": ts.date(),
        "external_ids": None,
        "properties": json.dumps(properties or {}),
        "source": extra.get("source", "api"),
        "ingested_at": ts + timedelta(seconds=1),
    }


def _domain_row(row: dict[str, Any]) -> dict[str, Any]:
    """A raw-shaped row of an outbox type as the relay writes it: the subject in the payload."""
    payload = json.loads(row["properties"])
    if row["user_key"] is not None:
        payload["user_key"] = row["user_key"]
    return {
        "event_id": row["event_id"],
        "tenant_id": row["tenant_id"],
        "aggregate_type": row["event_type"].split("_")[0],
        "aggregate_id": row["location_id"] or row["tenant_id"],
        "event_type": row["event_type"],
        "occurred_at": row["event_ts"],
        "event_date": row["event_date"],
        "payload": json.dumps(payload),
        "relayed_at": row["ingested_at"],
    }


def append_raw(home: Path, rows: list[dict[str, Any]]) -> None:
    """Append hand-made events: client types to raw/events, database-change (outbox) types to
    raw/domain_events, where the relay puts each."""
    events = [r for r in rows if r["event_type"] not in OUTBOX]
    domain = [_domain_row(r) for r in rows if r["event_type"] in OUTBOX]
    for table, schema, part in (
        (RAW_EVENTS, RAW_EVENTS_SCHEMA, events),
        (DOMAIN_EVENTS, DOMAIN_EVENTS_SCHEMA, domain),
    ):
        if part:
            write_deltalake(
                str(table_path(home, "raw", table)),
                pa.Table.from_pylist(part, schema=schema),
                mode="append",
                partition_by=list(RAW_EVENTS_PARTITION_BY),
            )


def read(home: Path, name: str, where: str = "true", order: str = "1") -> list[tuple[Any, ...]]:
    m = model(name)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register(con, "t", model_path(home, m), m.schema, partition_by=m.partition_by)
    return con.execute(f"SELECT * FROM t WHERE {where} ORDER BY {order}").fetchall()


def raw_rows(home: Path) -> list[dict[str, Any]]:
    """Every raw event, client events and relayed database changes alike."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register(con, "raw", table_path(home, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
    register(con, "domain", table_path(home, "raw", DOMAIN_EVENTS), DOMAIN_EVENTS_SCHEMA)
    return (
        con.sql(
            "SELECT tenant_id, user_key, event_type, epoch_us(event_ts) AS us, properties FROM raw"
            " UNION ALL SELECT tenant_id, payload->>'user_key', event_type, epoch_us(occurred_at),"
            " payload FROM domain"
        )
        .to_arrow_table()
        .to_pylist()
    )


@pytest.fixture(scope="session")
def generated_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4,000 generated events over 20 days for 3 tenants x 20 users, written once."""
    home = tmp_path_factory.mktemp("raw-template")
    generate_events(home, EventSpec(TENANTS, 4000, START, END, users_per_tenant=20, seed=9))
    return home


@pytest.fixture
def lake(generated_raw: Path, tmp_path: Path) -> Path:
    """A fresh home holding a copy of the generated raw table and nothing else."""
    shutil.copytree(generated_raw / "lake" / "raw", tmp_path / "lake" / "raw")
    return tmp_path


@pytest.fixture
def day() -> Callable[[int], date]:
    return lambda n: (END + timedelta(days=n)).date()
