"""The relay: moves the inbox and the outbox into the raw lake layer, in order, exactly once.

One stream per source table (`inbox` -> `raw/events`, `outbox` -> `raw/domain_events`), each
with a position `(txid, seq)` and a batch counter in `events.relay_positions`. A batch is read
below the transaction horizon (see `tenantry.events.stream`), appended to Delta in one commit
that records the batch number as a Delta application transaction and the batch's end position
as commit metadata, and then the position is advanced in PostgreSQL. If the process dies
between the two commits, the next run finds the Delta commit ahead of PostgreSQL and takes the
position from it instead of writing the batch again. The position row is locked for the
batch, so two relays never interleave; writers of the inbox and outbox are never blocked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_PARTITION_BY, RAW_EVENTS_SCHEMA, table_path
from tenantry.lake.writer import (
    DOMAIN_EVENTS,
    DOMAIN_EVENTS_SCHEMA,
    append,
    commit_metadata,
    committed_version,
)

__all__ = ["STREAMS", "RelayReport", "Stream", "relay_forever", "relay_once"]

_HORIZON = (
    "(txid, seq) > (%(txid)s::text::xid8, %(seq)s)"
    " AND txid < pg_snapshot_xmin(pg_current_snapshot())"
)


@dataclass(frozen=True)
class Stream:
    name: str
    table: str  # lake table under raw/
    schema: pa.Schema
    select: str  # columns in schema order, then txid::text, seq

    @property
    def app_id(self) -> str:
        return f"tenantry-relay:{self.name}"


STREAMS = (
    Stream(
        "inbox",
        RAW_EVENTS,
        RAW_EVENTS_SCHEMA,
        "SELECT id::text, tenant_id::text, account_id::text, location_id::text, user_key,"
        " event_type, event_ts, (event_ts AT TIME ZONE 'UTC')::date, external_ids::text,"
        " properties::text, source, ingested_at, txid::text, seq FROM events.inbox",
    ),
    Stream(
        "outbox",
        DOMAIN_EVENTS,
        DOMAIN_EVENTS_SCHEMA,
        "SELECT id::text, tenant_id::text, aggregate_type, aggregate_id::text, event_type,"
        " occurred_at, (occurred_at AT TIME ZONE 'UTC')::date, payload::text, now(),"
        " txid::text, seq FROM events.outbox",
    ),
)


@dataclass
class RelayReport:
    rows: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _cursor(uow: UnitOfWork) -> Any:
    conn = uow.session.connection().connection.driver_connection
    assert conn is not None
    return conn.cursor()


def _to_arrow(stream: Stream, rows: list[tuple[Any, ...]]) -> pa.Table:
    width = len(stream.schema)
    columns = list(zip(*(r[:width] for r in rows), strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, stream.schema, strict=True)],
        schema=stream.schema,
    )


def _relay_batch(
    db: Database, home: Path, stream: Stream, batch_size: int, report: RelayReport
) -> int:
    """One batch of one stream; returns the number of rows moved (0: nothing to do)."""
    path = table_path(home, "raw", stream.table)
    with db.platform_uow(actor="system:relay") as uow, _cursor(uow) as cur:
        cur.execute(
            "INSERT INTO events.relay_positions (stream) VALUES (%s) ON CONFLICT DO NOTHING",
            (stream.name,),
        )
        cur.execute(
            "SELECT last_txid::text, last_seq, batches FROM events.relay_positions"
            " WHERE stream = %s FOR UPDATE",
            (stream.name,),
        )
        txid, seq, batches = cur.fetchone()
        done = committed_version(path, stream.app_id)
        if done is not None and done > batches:
            # The lake has a batch PostgreSQL did not record (crash between the commits).
            info = commit_metadata(path, "tenantry.relay.batch", str(done))
            cur.execute(
                "UPDATE events.relay_positions SET last_txid = %s::text::xid8, last_seq = %s,"
                " batches = %s, rows = rows + %s, updated_at = now() WHERE stream = %s",
                (
                    info["tenantry.relay.end_txid"],
                    int(info["tenantry.relay.end_seq"]),
                    done,
                    int(info["tenantry.relay.rows"]),
                    stream.name,
                ),
            )
            uow.commit()
            report.recovered[stream.name] = report.recovered.get(stream.name, 0) + 1
            report.rows[stream.name] += int(info["tenantry.relay.rows"])
            return -1
        cur.execute(
            f"{stream.select} WHERE {_HORIZON} ORDER BY txid, seq LIMIT %(limit)s",
            {"txid": txid, "seq": seq, "limit": batch_size},
        )
        rows = cur.fetchall()
        if not rows:
            return 0
        end_txid, end_seq = rows[-1][-2], rows[-1][-1]
        version = batches + 1
        append(
            path,
            _to_arrow(stream, rows),
            partition_by=RAW_EVENTS_PARTITION_BY,
            app_id=stream.app_id,
            version=version,
            metadata={
                "tenantry.relay.stream": stream.name,
                "tenantry.relay.batch": str(version),
                "tenantry.relay.end_txid": str(end_txid),
                "tenantry.relay.end_seq": str(end_seq),
                "tenantry.relay.rows": str(len(rows)),
            },
        )
        _after_lake_commit(stream.name, version)
        cur.execute(
            "UPDATE events.relay_positions SET last_txid = %s::text::xid8, last_seq = %s,"
            " batches = %s, rows = rows + %s, updated_at = now() WHERE stream = %s",
            (end_txid, end_seq, version, len(rows), stream.name),
        )
        uow.commit()
    report.batches[stream.name] = report.batches.get(stream.name, 0) + 1
    return len(rows)


# Test hook: called between the lake commit and the PostgreSQL commit (crash window).
_after_lake_commit: Callable[[str, int], None] = lambda _stream, _version: None  # noqa: E731


def relay_once(db: Database, home: Path, *, batch_size: int = 50_000) -> RelayReport:
    """Move everything that is safe to move now, stream by stream, batch by batch."""
    started = time.perf_counter()
    report = RelayReport()
    for stream in STREAMS:
        report.rows.setdefault(stream.name, 0)
        while True:
            moved = _relay_batch(db, home, stream, batch_size, report)
            if moved < 0:  # recovered a batch from the lake; carry on from there
                continue
            report.rows[stream.name] += moved
            if moved < batch_size:
                break
    report.seconds = time.perf_counter() - started
    return report


def relay_forever(
    db: Database,
    home: Path,
    *,
    batch_size: int = 50_000,
    interval: float = 1.0,
    on_report: Callable[[RelayReport], None] | None = None,
    until: Callable[[], bool] | None = None,
) -> None:
    """Relay in a loop, sleeping `interval` seconds whenever a pass moved nothing."""
    while until is None or not until():
        report = relay_once(db, home, batch_size=batch_size)
        if on_report is not None:
            on_report(report)
        if not any(report.rows.values()):
            time.sleep(interval)
