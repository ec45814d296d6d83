"""Bulk batches: a bulk load is recorded as one chained audit entry per table, not per row.

Inside `bulk_batch(...)` the owner's transaction names a batch in the transaction-local
setting `tenantry.audit_bulk_batch`; the insert trigger (migration 0410) then writes, instead
of a chained entry per row, one leaf per row into `audit.bulk_rows`: SHA-256 of the UTF-8 text
of `to_jsonb(row)` as stored (`LEAF_SQL`). On leaving the block this module reads each table's
leaves in row-id order, computes their Merkle root (`tenantry.audit.merkle`) and has
`audit.seal_bulk_batch` append the table's `B` entry to the tenant's chain. A batch left
unsealed (an exception in the block) makes the commit fail, so loaded rows are never
unaudited. Only `tenantry_owner` may do this; for `tenantry_app` the trigger refuses.

A table whose rows are dropped a whole month at a time (chat: `engage.chat_messages`, by the
90-day upkeep) is loaded with time-ordered ids (`time_ids=`): every row's id is a UUIDv7
whose timestamp is its partition key (`sent_at`) to the millisecond, as the application's
chat ids are. The entry's source then ends in `@ids:<column>` (`TIME_IDS_TAG`), which the
chain covers, and the root binds each leaf to its row id (`merkle.bound_leaf`), so a row's
month is known, and committed, even when the row is gone: verify accepts it as gone once a
recorded drop of that month for the tenant followed (`bulk_verify`). A source given by the
caller may not carry the tag itself.

This module writes through the caller's connection and never commits or rolls back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from tenantry.audit.merkle import bound_leaf, merkle_root
from tenantry.errors import ValidationError
from tenantry.ids import uuid7

__all__ = [
    "BATCH_SETTING",
    "LEAF_SQL",
    "TIME_IDS_TAG",
    "BulkBatch",
    "SealedTable",
    "bulk_batch",
    "leaf_sql",
    "time_ids_column",
]

BATCH_SETTING = "tenantry.audit_bulk_batch"

# Ends the source of a batch whose row ids are UUIDv7 of a column (`@ids:sent_at`).
TIME_IDS_TAG = "@ids:"
_TIME_IDS = re.compile(re.escape(TIME_IDS_TAG) + r"([a-z_][a-z0-9_]{0,62})\Z")

# The leaf of a row `t` as SQL: the trigger computes it from the transition table, verify from
# the table (minus columns added after the load; none at load time). Same function, same bytes.
LEAF_SQL = "sha256(convert_to(({row} - {extra}::text[])::text, 'UTF8'))"

# A source names where rows came from (e.g. `migrate:carbot:leads`): never personal data.
_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,199}")


def time_ids_column(source: str) -> str | None:
    """The column whose time a batch's row ids carry (`TIME_IDS_TAG`), or None."""
    found = _TIME_IDS.search(source)
    return found[1] if found else None


def leaf_sql(row: str, extra: str = "'{}'") -> str:
    """The leaf expression over the jsonb `row`, without the columns in the text[] `extra`."""
    return LEAF_SQL.format(row=row, extra=extra)


@dataclass(frozen=True)
class SealedTable:
    """The chained entry of one table of a batch."""

    table: str
    rows: int
    root: bytes
    seq: int


@dataclass
class BulkBatch:
    id: uuid.UUID
    tenant_id: uuid.UUID
    source: str
    sealed: list[SealedTable] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.sealed)


def _set(conn: psycopg.Connection, value: str) -> None:
    conn.execute("SELECT set_config(%s, %s, true)", (BATCH_SETTING, value))


def _seal(conn: psycopg.Connection, batch: BulkBatch) -> None:
    tables = conn.execute(
        "SELECT tenant_id, table_name FROM audit.bulk_batches WHERE batch_id = %s"
        " ORDER BY table_name",
        (batch.id,),
    ).fetchall()
    foreign = sorted({str(t) for t, _ in tables if t != batch.tenant_id})
    if foreign:
        raise ValidationError(
            f"bulk batch {batch.id} of tenant {batch.tenant_id} holds rows of other tenants"
            f" ({', '.join(foreign)}); load one tenant per batch"
        )
    for _, table in tables:
        bound = time_ids_column(batch.source) is not None
        with conn.cursor(binary=True) as cur:
            cur.execute(
                "SELECT leaf, row_id FROM audit.bulk_rows"
                " WHERE tenant_id = %s AND batch_id = %s AND table_name = %s ORDER BY row_id",
                (batch.tenant_id, batch.id, table),
            )
            leaves = [bound_leaf(leaf, row_id) if bound else leaf for leaf, row_id in cur]
        root = merkle_root(leaves)
        sealed = conn.execute(
            "SELECT audit.seal_bulk_batch(%s, %s, %s, %s, %s)",
            (batch.tenant_id, batch.id, table, batch.source, root),
        ).fetchone()
        assert sealed is not None
        batch.sealed.append(SealedTable(table, len(leaves), root, int(sealed[0])))


@contextmanager
def bulk_batch(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    source: str,
    *,
    batch_id: uuid.UUID | None = None,
    time_ids: str | None = None,
) -> Iterator[BulkBatch]:
    """Record the rows inserted into audited tables inside the block as one bulk batch.

    `conn` is a `tenantry_owner` connection inside a transaction (not autocommit) that the
    caller commits after the block. Every row inserted in the block must belong to
    `tenant_id`. On a normal exit every table the block inserted into gets its sealed `B`
    entry (`BulkBatch.sealed`); on an exception nothing is sealed and the commit would fail.

    `time_ids`: every row inserted in the block has a UUIDv7 id whose timestamp is this
    column's value to the millisecond (the caller made them so; verify reports a row whose id
    does not carry it); the source records it (`TIME_IDS_TAG`) and the root binds the ids.
    """
    if conn.autocommit:
        raise ValidationError("a bulk batch needs a transaction: the connection is in autocommit")
    if not _SOURCE.fullmatch(source):
        raise ValidationError(
            "a bulk batch source is 1-200 characters of letters, digits and _.:/@+-"
        )
    if TIME_IDS_TAG in source:
        raise ValidationError(f"a bulk batch source may not claim time ids ({TIME_IDS_TAG})")
    if time_ids is not None:
        source = f"{source}{TIME_IDS_TAG}{time_ids}"
        if not _TIME_IDS.search(source):
            raise ValidationError(f"{time_ids!r} is not a column name")
    batch = BulkBatch(batch_id or uuid7(), tenant_id, source)
    _set(conn, str(batch.id))
    try:
        yield batch
    except BaseException:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            _set(conn, "")
        raise
    _set(conn, "")
    _seal(conn, batch)
