"""Verification of bulk batches: each `B` entry against its leaves, each leaf against its row.

For every bulk batch entry in the trail (op `B`, one per tenant, batch and table) the leaves in
`audit.bulk_rows` are streamed in row-id order and their Merkle root is recomputed here, in
Python (`tenantry.audit.merkle`), and held against the root and row count in the entry (the
entry itself is covered by the chain). Then, set-based in PostgreSQL, every loaded row is
found by the columns its table's audit insert trigger keys rows by (the arguments it passes to
`audit.record_rows`, which made the leaves' row ids; not the primary key, which for a
partitioned table also holds the partition key), hashed as the trigger hashed it
(`bulk.leaf_sql`, minus columns added to the table after the load) and compared with its
leaf; a row that differs or is gone is reported unless an audited UPDATE or DELETE of it came
later (or in the batch's own transaction): that entry accounts for the change.

A table dropped a month at a time (`RETENTION_DROPS`: chat, by `tenantry messages upkeep`) is
loaded with time-ordered ids (`bulk.TIME_IDS_TAG` in the source, naming its partition key): a
row's UUIDv7 id carries its `sent_at`, and the batch's root binds each leaf to its row id
(`merkle.bound_leaf`). Such a row may be gone when the audited record of a drop of its month
for its tenant (the insert entry of an `engage.message_purges` row) came after the batch in
the tenant's chain; a row still there must carry its `sent_at` in its id. A row gone from a
month without a recorded drop is reported as ever. Leaves whose entry retention removed are
not checked. Reads only; runs in the caller's snapshot with `search_path` pinned to
`pg_catalog`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tenantry.audit.bulk import TIME_IDS_TAG, leaf_sql, time_ids_column
from tenantry.audit.merkle import bound_leaf, merkle_root

__all__ = ["BULK_REASONS", "RETENTION_DROPS", "BatchProblem", "BatchReport", "verify_batches"]

BULK_REASONS = ("bulk leaves altered", "bulk row edited", "bulk row deleted")

# Rows named per table; beyond it one line says how many more differ.
_NAMED_ROWS = 100
_BATCH = 20_000

# Tables whose rows go a month at a time, and the audited table that records each drop: one
# row per tenant and month, its `month` the first day of the month dropped (migration 0620).
RETENTION_DROPS = {"engage.chat_messages": "engage.message_purges"}


@dataclass(frozen=True)
class BatchProblem:
    """A bulk batch (entry `seq` of the tenant's chain) that does not hold."""

    tenant_id: uuid.UUID
    seq: int
    reason: str
    detail: str


@dataclass
class BatchReport:
    batches: int
    rows: int
    problems: list[BatchProblem]


@dataclass(frozen=True)
class _Entry:
    tenant_id: uuid.UUID
    seq: int
    table: str
    batch_id: uuid.UUID
    rows: int
    root_hex: str
    time_ids: str | None


def _entries(conn: psycopg.Connection, tenant: uuid.UUID | None) -> list[_Entry]:
    where, params = (" AND tenant_id = %s", (tenant,)) if tenant else ("", ())
    rows = conn.execute(
        "SELECT tenant_id, seq, table_name, new_values FROM audit.log WHERE op = 'B'" + where,
        params,
    )
    out = []
    for t, seq, table, values in rows:
        v: dict[str, Any] = values if isinstance(values, dict) else {}
        try:
            batch = uuid.UUID(str(v.get("batch_id")))
            count = int(v.get("rows", -1))
        except (TypeError, ValueError):
            batch, count = uuid.UUID(int=0), -1
        source = v.get("source")
        timed = time_ids_column(source) if isinstance(source, str) else None
        out.append(_Entry(t, seq, table, batch, count, str(v.get("merkle_root")), timed))
    return out


def _leaf_groups(
    conn: psycopg.Connection, tenant: uuid.UUID | None
) -> Iterator[tuple[tuple[uuid.UUID, uuid.UUID, str], list[tuple[str, bytes]]]]:
    """The (row id, leaf) pairs of every (tenant, batch, table), in row-id order."""
    where, params = (" WHERE tenant_id = %s", (tenant,)) if tenant else ("", ())
    key: tuple[uuid.UUID, uuid.UUID, str] | None = None
    leaves: list[tuple[str, bytes]] = []
    with conn.cursor(name="audit_bulk_leaves", binary=True) as cur:
        cur.itersize = _BATCH
        cur.execute(
            "SELECT tenant_id, batch_id, table_name, row_id, leaf FROM audit.bulk_rows"
            + where
            + " ORDER BY tenant_id, batch_id, table_name, row_id",
            params,
        )
        for t, b, table, row_id, leaf in cur:
            if key != (t, b, table):
                if key is not None:
                    yield key, leaves
                key, leaves = (t, b, table), []
            leaves.append((row_id, bytes(leaf)))
    if key is not None:
        yield key, leaves


def _check_roots(
    conn: psycopg.Connection, entries: list[_Entry], tenant: uuid.UUID | None
) -> tuple[int, list[BatchProblem]]:
    by_key = {(e.tenant_id, e.batch_id, e.table): e for e in entries}
    seen: set[tuple[uuid.UUID, uuid.UUID, str]] = set()
    problems = []
    rows = 0
    for key, leaves in _leaf_groups(conn, tenant):
        entry = by_key.get(key)
        if entry is None:  # its entry went with retention, or it is not sealed
            continue
        seen.add(key)
        rows += len(leaves)
        if entry.time_ids is None:
            root = merkle_root(leaf for _r, leaf in leaves)
        else:
            root = merkle_root(bound_leaf(leaf, row_id) for row_id, leaf in leaves)
        if root.hex() != entry.root_hex or len(leaves) != entry.rows:
            problems.append(_altered(entry, len(leaves)))
    problems += [_altered(e, 0) for k, e in by_key.items() if k not in seen]
    return rows, problems


def _altered(entry: _Entry, found: int) -> BatchProblem:
    return BatchProblem(
        entry.tenant_id,
        entry.seq,
        "bulk leaves altered",
        f"{entry.table} batch {entry.batch_id}: {found} leaves do not give the Merkle root"
        f" of the entry's {entry.rows} rows",
    )


def _key_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The columns the table's audit insert trigger keys rows by: the leaves' row ids. A table
    whose trigger is gone falls back to what `audit.enable` would key it by (the primary key
    without tenant_id)."""
    found = conn.execute(
        "SELECT t.tgnargs, t.tgargs FROM pg_trigger t"
        " WHERE t.tgrelid = %s::regclass AND t.tgfoid = 'audit.record_rows'::regproc"
        " AND t.tgtype & 4 <> 0 AND NOT t.tgisinternal ORDER BY t.tgname LIMIT 1",
        (table,),
    ).fetchone()
    if found is not None:
        count, args = int(found[0]), bytes(found[1])
        return [a.decode() for a in args.split(b"\x00")[:count] if a]
    return [
        r[0]
        for r in conn.execute(
            "SELECT a.attname::text FROM pg_index i"
            " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            " WHERE i.indrelid = %s::regclass AND i.indisprimary AND a.attname <> 'tenant_id'"
            " ORDER BY k.ord",
            (table,),
        )
    ]


def _partition_column(conn: psycopg.Connection, table: str) -> str | None:
    """The single column a table is partitioned by, or None."""
    found = conn.execute(
        "SELECT a.attname::text FROM pg_partitioned_table p"
        " JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
        " WHERE p.partrelid = %s::regclass AND p.partnatts = 1",
        (table,),
    ).fetchone()
    return str(found[0]) if found else None


# The millisecond timestamp of a UUIDv7 row id (NULL for any other text).
_ID_MS = (
    "(CASE WHEN lv.row_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
    "[0-9a-f]{12}$' THEN ('x' || substr(lv.row_id, 1, 8) || substr(lv.row_id, 10, 4))"
    "::bit(48)::bigint END)"
)


def _row_query(
    table: str, keys: list[str], tenant: uuid.UUID | None, time_column: str | None
) -> sql.Composed:
    schema, name = table.split(".", 1)
    # Each key column's JSON text, as `audit.row_key` takes it from `to_jsonb(row)`.
    row_id = sql.SQL(" || ',' || ").join(
        sql.SQL("(to_jsonb(t.{}) #>> '{{}}')").format(sql.Identifier(k)) for k in keys
    )
    only = sql.SQL(" AND l.tenant_id = {}").format(sql.Literal(tenant)) if tenant else sql.SQL("")
    leaf = sql.SQL(leaf_sql("to_jsonb(t)", "lv.extra"))
    drops = RETENTION_DROPS.get(table)
    timed = (
        sql.SQL("substring(l.new_values ->> 'source' from {}) = {}").format(
            sql.Literal(re.escape(TIME_IDS_TAG) + "([a-z_][a-z0-9_]*)$"), sql.Literal(time_column)
        )
        if time_column and keys == ["id"]
        else sql.SQL("false")
    )
    # A gone row of a time-id batch whose month a later audited drop record names.
    dropped = (
        sql.SQL(
            "(lv.timed AND EXISTS (SELECT 1 FROM audit.log p WHERE p.tenant_id = lv.tenant_id"
            " AND p.table_name = {drops} AND p.op = 'I' AND p.seq > lv.seq"
            " AND left(p.new_values ->> 'month', 7)"
            " = to_char(to_timestamp({ms} / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM')))"
        ).format(drops=sql.Literal(drops), ms=sql.SQL(_ID_MS))
        if drops
        else sql.SQL("false")
    )
    # A row still there of a time-id batch must carry its time in its id.
    offtime = (
        sql.SQL(
            "(t.tenant_id IS NOT NULL AND lv.timed AND {ms} IS DISTINCT FROM"
            " floor(extract(epoch FROM t.{col}) * 1000)::bigint)"
        ).format(ms=sql.SQL(_ID_MS), col=sql.Identifier(time_column))
        if time_column
        else sql.SQL("false")
    )
    return sql.SQL(
        "WITH e AS ("
        " SELECT l.tenant_id, l.seq, l.txid, (l.new_values ->> 'batch_id')::uuid AS batch_id,"
        "  ARRAY(SELECT a.attname::text FROM pg_attribute a"
        "         WHERE a.attrelid = {regclass}::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        "        EXCEPT SELECT jsonb_array_elements_text(l.new_values -> 'columns')) AS extra,"
        "  coalesce({timed}, false) AS timed"
        " FROM audit.log l WHERE l.op = 'B' AND l.table_name = {name}{only}),"
        " lv AS ("
        " SELECT b.tenant_id, b.row_id, b.leaf, e.seq, e.txid, e.batch_id, e.extra, e.timed"
        " FROM audit.bulk_rows b JOIN e ON b.tenant_id = e.tenant_id AND b.batch_id = e.batch_id"
        " WHERE b.table_name = {name})"
        " SELECT lv.tenant_id, lv.seq, lv.batch_id, lv.row_id, t.tenant_id IS NULL,"
        "  coalesce({offtime}, false)"
        " FROM lv LEFT JOIN {table} t ON t.tenant_id = lv.tenant_id AND {row_id} = lv.row_id"
        " WHERE ((t.tenant_id IS NULL AND NOT coalesce({dropped}, false))"
        "  OR {leaf} <> lv.leaf OR {offtime})"
        " AND NOT EXISTS (SELECT 1 FROM audit.log c WHERE c.tenant_id = lv.tenant_id"
        "  AND c.table_name = {name} AND c.row_id = lv.row_id AND c.op IN ('U', 'D')"
        "  AND (c.seq > lv.seq OR c.txid = lv.txid))"
        " ORDER BY lv.tenant_id, lv.seq, lv.row_id LIMIT {limit}"
    ).format(
        regclass=sql.Literal(table),
        name=sql.Literal(table),
        only=only,
        timed=timed,
        dropped=dropped,
        offtime=offtime,
        table=sql.Identifier(schema, name),
        row_id=row_id,
        leaf=leaf,
        limit=sql.Literal(_NAMED_ROWS + 1),
    )


def _check_rows(
    conn: psycopg.Connection, entries: list[_Entry], tenant: uuid.UUID | None
) -> list[BatchProblem]:
    problems = []
    for table in sorted({e.table for e in entries}):
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        keys = _key_columns(conn, table) if exists and exists[0] else []
        time_column = _partition_column(conn, table) if keys else None
        if not keys:
            first = min((e for e in entries if e.table == table), key=lambda e: e.seq)
            problems.append(
                BatchProblem(
                    first.tenant_id,
                    first.seq,
                    "bulk row deleted",
                    f"{table} (bulk loaded) no longer exists or has no primary key",
                )
            )
            continue
        # The planner cannot estimate how many leaves the batch entries select and would probe
        # the table once per leaf on the text row id; hash joins scan each side once.
        saved = conn.execute("SELECT current_setting('enable_nestloop')").fetchone()
        conn.execute("SET LOCAL enable_nestloop = off")
        try:
            found = conn.execute(_row_query(table, keys, tenant, time_column)).fetchall()
        finally:
            conn.execute(
                "SELECT set_config('enable_nestloop', %s, true)", (saved[0] if saved else "on",)
            )
        for t, seq, batch, row_id, deleted, offtime in found[:_NAMED_ROWS]:
            if deleted:
                what = "is gone without an audit entry"
            elif offtime:
                what = f"has an id that does not carry its {time_column}"
            else:
                what = "differs from its leaf without an audit entry"
            reason = "bulk row deleted" if deleted else "bulk row edited"
            detail = f"{table} row {row_id} (batch {batch}) {what}"
            problems.append(BatchProblem(t, seq, reason, detail))
        if len(found) > _NAMED_ROWS:
            more = f"{table}: more rows differ than the {_NAMED_ROWS} named"
            problems.append(BatchProblem(found[-1][0], found[-1][1], "bulk row edited", more))
    return problems


def verify_batches(conn: psycopg.Connection, *, tenant: uuid.UUID | None = None) -> BatchReport:
    """Check every bulk batch (or one tenant's) inside the caller's transaction on `conn`.

    `conn` must see every tenant (the owner role); the caller pins `search_path`.
    """
    entries = _entries(conn, tenant)
    if not entries:
        return BatchReport(0, 0, [])
    rows, problems = _check_roots(conn, entries, tenant)
    problems += _check_rows(conn, entries, tenant)
    problems.sort(key=lambda p: (str(p.tenant_id), p.seq))
    return BatchReport(len(entries), rows, problems)
