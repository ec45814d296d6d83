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
        "source": extra.get("source", "app"),
        "ingested_at": ts + timedelta(seconds=1),
    }


def append_raw(home: Path, rows: list[dict[str, Any]]) -> None:
    write_deltalake(
        str(table_path(home, "raw", RAW_EVENTS)),
        pa.Table.from_pylist(rows, schema=RAW_EVENTS_SCHEMA),
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
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register(con, "raw", table_path(home, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
    return (
        con.sql(
            "SELECT tenant_id, user_key, event_type, epoch_us(event_ts) AS us, properties FROM raw"
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
