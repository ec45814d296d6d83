"""Logical replication from a legacy source: slot, snapshot, publication, and reading changes.

This module owns the SQL a change-data-capture follower runs on the *source*: it checks that the
source can decode (`check_source`, `replica_identity_problems`), creates a publication and a
logical slot whose exported snapshot the full load reads from, reads committed transactions
from the slot with the built-in `pgoutput` plugin through PostgreSQL's SQL functions (psycopg 3
has no replication-protocol stream), and moves the slot forward once the caller has applied
them. It never writes to the target and never maps a row: the applier does that.

Exactly once: the caller stores each applied transaction's `end_lsn` in the same target
transaction as its rows. On start it reads with `after_lsn=<stored>` (the slot may still hold
what was applied: `pg_replication_slot_advance` is durable only at the source's next
checkpoint) and calls `advance` after each commit on the target.

The publication must exist before the slot is created: pgoutput looks it up as of the WAL it
decodes. Driver errors become the project's errors, one line each, never with a password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from tenantry.db.errors import translate_driver_error
from tenantry.db.provider import reason
from tenantry.errors import (
    ConfigurationError,
    ConflictError,
    DatabaseUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    TenantryError,
    ValidationError,
)
from tenantry.migrate.pgoutput import Decoder, Transaction, lsn_from_text, lsn_to_text

__all__ = [
    "Lag",
    "SlotSnapshot",
    "advance",
    "check_source",
    "connect_source",
    "create_slot_with_snapshot",
    "current_lsn",
    "drop_publication",
    "drop_slot",
    "ensure_publication",
    "export_snapshot",
    "import_snapshot",
    "lag",
    "read_changes",
    "replica_identity_problems",
    "set_replica_identity_full",
    "slot_exists",
    "source_now",
    "stream_changes",
]

Conn = psycopg.Connection[Any]
Table = tuple[str, str]  # (schema, table)

_SLOT_NAME = re.compile(r"[a-z0-9_]{1,63}")
_SNAPSHOT_NAME = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
_UNAVAILABLE = {"57P01", "57P02", "57P03", "3D000"}


def _error(exc: psycopg.Error, doing: str) -> TenantryError:
    """One line about what failed while doing what (server messages here name objects only)."""
    state = exc.sqlstate or ""
    message = f"cannot {doing} on the source: {reason(exc)}"
    if state.startswith(("08", "28")) or state in _UNAVAILABLE or not state:
        return DatabaseUnavailableError(message, sqlstate=state)
    if state == "42501":
        return PermissionDeniedError(message, sqlstate=state)
    if state in {"42710", "55006", "40001", "40P01"}:
        return ConflictError(message, sqlstate=state)
    if state == "42704" or state == "42P01":
        return NotFoundError(message, sqlstate=state)
    if state.startswith(("53", "55", "42")):
        return ConfigurationError(message, sqlstate=state)
    return translate_driver_error(exc)


def _slot_name(slot: str) -> str:
    if not _SLOT_NAME.fullmatch(slot):
        raise ValidationError(
            f"a replication slot name may hold only a-z, 0-9 and _ (at most 63): {slot!r}"
        )
    return slot


def _ident_list(name: str) -> str:
    """A publication name as pgoutput's `publication_names` option parses it."""
    return '"' + name.replace('"', '""') + '"'


def connect_source(conninfo: str, *, application_name: str = "tenantry-migrate") -> Conn:
    """An autocommit connection to the source (what the other functions here expect)."""
    try:
        return psycopg.connect(conninfo, autocommit=True, application_name=application_name)
    except psycopg.Error as exc:
        raise _error(exc, "connect") from None


def check_source(conn: Conn, *, slot: str | None = None) -> list[str]:
    """Why the source cannot feed change-data capture, one sentence each (empty: it can).

    With `slot`, an existing slot of that name needs no free one.
    """
    try:
        row = conn.execute(
            "SELECT current_setting('wal_level'), current_setting('server_version_num')::int,"
            " current_setting('max_replication_slots')::int,"
            " (SELECT count(*) FROM pg_replication_slots)::int,"
            " (SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s)::int,"
            " current_setting('max_wal_senders')::int,"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int,"
            " r.rolsuper, r.rolreplication, current_user,"
            " has_database_privilege(current_database(), 'CREATE')"
            " FROM pg_roles r WHERE r.rolname = current_user",
            (slot or "",),
        ).fetchone()
    except psycopg.Error as exc:
        raise _error(exc, "inspect the replication settings") from None
    assert row is not None
    wal_level, version, max_slots, slots, ours, max_senders, senders = row[:7]
    superuser, replication, role, may_create = row[7:]
    problems = []
    if version < 110000:
        problems.append(
            f"the source runs PostgreSQL {version // 10000}; change-data capture needs 11 or later"
        )
    if wal_level != "logical":
        problems.append(
            f"the source's wal_level is {wal_level!r}, logical decoding needs 'logical' "
            "(ALTER SYSTEM SET wal_level = logical, then restart the server)"
        )
    if not ours and slots >= max_slots:
        problems.append(
            f"the source has no free replication slot ({slots} of max_replication_slots "
            f"= {max_slots} in use); raise max_replication_slots or drop an unused slot"
        )
    if senders >= max_senders:
        problems.append(
            f"the source has no free WAL sender ({senders} of max_wal_senders = {max_senders} "
            "in use); raise max_wal_senders"
        )
    if not (superuser or replication):
        problems.append(
            f"the source role {role} lacks the REPLICATION attribute "
            f"(ALTER ROLE {role} REPLICATION, run by an administrator)"
        )
    if not (superuser or may_create):
        problems.append(
            f"the source role {role} may not create a publication in this database "
            "(it needs the CREATE privilege on the database)"
        )
    return problems


@dataclass
class SlotSnapshot:
    """A new logical slot and the snapshot of the data as of its start.

    `holder` is the replication connection that created both: the snapshot stays importable
    only while it stays open and idle. Call `release()` once every reader has imported it.
    """

    slot: str
    consistent_lsn: int
    snapshot_name: str
    holder: Conn

    def release(self) -> None:
        self.holder.close()

    def __enter__(self) -> SlotSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def create_slot_with_snapshot(conninfo: str, slot: str, *, temporary: bool = False) -> SlotSnapshot:
    """Create a pgoutput slot and export the snapshot its first change follows."""
    _slot_name(slot)
    try:
        holder = psycopg.connect(
            conninfo, autocommit=True, replication="database", application_name="tenantry-migrate"
        )
    except psycopg.Error as exc:
        raise _error(exc, "open a replication connection") from None
    try:
        version = holder.info.server_version
        temp = " TEMPORARY" if temporary else ""
        option = "(SNAPSHOT 'export')" if version >= 150000 else "EXPORT_SNAPSHOT"
        command = f"CREATE_REPLICATION_SLOT {slot}{temp} LOGICAL pgoutput {option}"
        # Replication commands take the simple query protocol only.
        result = holder.pgconn.exec_(command.encode())
        if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
            raise psycopg.errors.error_from_result(result, encoding=holder.info.encoding)
        lsn = lsn_from_text((result.get_value(0, 1) or b"").decode())
        name = (result.get_value(0, 2) or b"").decode()
    except psycopg.Error as exc:
        holder.close()
        raise _error(exc, f"create the replication slot {slot}") from None
    except BaseException:
        holder.close()
        raise
    return SlotSnapshot(slot, lsn, name, holder)


def import_snapshot(conn: Conn, snapshot_name: str) -> None:
    """Begin a REPEATABLE READ transaction on `conn` that sees the data as of the snapshot."""
    if not _SNAPSHOT_NAME.fullmatch(snapshot_name):
        raise ValidationError(f"not a snapshot name: {snapshot_name!r}")
    try:
        _begin_repeatable_read(conn)
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_name)))
    except psycopg.Error as exc:
        raise _error(exc, "import the load's snapshot") from None


def export_snapshot(conn: Conn) -> str:
    """Begin a REPEATABLE READ transaction on `conn` and export its snapshot (no slot).

    Importable while `conn` keeps that transaction open.
    """
    try:
        _begin_repeatable_read(conn)
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    except psycopg.Error as exc:
        raise _error(exc, "export a snapshot") from None
    assert row is not None
    return str(row[0])


def _begin_repeatable_read(conn: Conn) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValidationError("a snapshot needs a connection with no transaction open")
    if conn.autocommit:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    else:  # psycopg begins the transaction before the first statement
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def replica_identity_problems(conn: Conn, tables: Sequence[Table]) -> list[str]:
    """Tables whose updates and deletes the change stream could not identify, one line each.

    Once such a table is in a publication, PostgreSQL also refuses the legacy application's
    updates and deletes of it, so `ensure_publication` checks this first.
    """
    try:
        rows = conn.execute(
            "SELECT t.s, t.r, c.relreplident::text, c.relkind::text,"
            " EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),"
            " EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)"
            " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(s, r, n)"
            " LEFT JOIN pg_namespace n ON n.nspname = t.s"
            " LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.r"
            " ORDER BY t.n",
            ([s for s, _ in tables], [t for _, t in tables]),
        ).fetchall()
    except psycopg.Error as exc:
        raise _error(exc, "inspect the tables' replica identity") from None
    problems = []
    for schema, table, ident, kind, has_pk, has_index in rows:
        name = f"{schema}.{table}"
        if ident is None:
            problems.append(f"the source has no table {name}")
        elif kind not in ("r", "p"):
            problems.append(f"{name} is not a table, it cannot be published")
        elif ident == "n":
            problems.append(
                f"{name} has REPLICA IDENTITY NOTHING: its updates and deletes cannot be "
                "identified (set REPLICA IDENTITY FULL or DEFAULT with a primary key)"
            )
        elif ident == "d" and not has_pk:
            problems.append(
                f"{name} has no primary key: its updates and deletes cannot be identified "
                "(add a primary key or set REPLICA IDENTITY FULL)"
            )
        elif ident == "i" and not has_index:
            problems.append(f"{name} names a replica identity index that no longer exists")
    return problems


def set_replica_identity_full(conn: Conn, tables: Sequence[Table]) -> None:
    """ALTER TABLE ... REPLICA IDENTITY FULL (needs the tables' owner)."""
    try:
        for schema, table in tables:
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} REPLICA IDENTITY FULL").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
    except psycopg.Error as exc:
        raise _error(exc, "set REPLICA IDENTITY FULL") from None


def ensure_publication(
    conn: Conn, name: str, tables: Sequence[Table], *, check_identity: bool = True
) -> None:
    """Create the publication of exactly these tables, or set its tables if it exists."""
    if not tables:
        raise ValidationError("a publication needs at least one table")
    if check_identity:
        problems = replica_identity_problems(conn, tables)
        if problems:
            raise ConfigurationError("; ".join(problems))
    listed = sql.SQL(", ").join(
        sql.SQL("{}.{}").format(sql.Identifier(s), sql.Identifier(t)) for s, t in tables
    )
    try:
        found = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone()
        if found:
            statement = sql.SQL("ALTER PUBLICATION {} SET TABLE {}")
            conn.execute(statement.format(sql.Identifier(name), listed))
        else:
            # Changes of a partition arrive under the partitioned table a mapping names.
            via_root = conn.info.server_version >= 130000
            options = sql.SQL(" WITH (publish_via_partition_root = true)" if via_root else "")
            statement = sql.SQL("CREATE PUBLICATION {} FOR TABLE {}{}")
            conn.execute(statement.format(sql.Identifier(name), listed, options))
    except psycopg.Error as exc:
        raise _error(exc, f"publish the tables as {name}") from None


def drop_publication(conn: Conn, name: str) -> None:
    try:
        conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise _error(exc, f"drop the publication {name}") from None


def slot_exists(conn: Conn, slot: str) -> bool:
    try:
        row = conn.execute(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
    except psycopg.Error as exc:
        raise _error(exc, "look up replication slots") from None
    return row is not None


def drop_slot(conn: Conn, slot: str) -> None:
    """Drop the slot if it exists (fails with ConflictError while a reader holds it)."""
    try:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = %s",
            (slot,),
        )
    except psycopg.Error as exc:
        raise _error(exc, f"drop the replication slot {slot}") from None


def stream_changes(
    conn: Conn,
    slot: str,
    publication: str,
    decoder: Decoder,
    *,
    upto_lsn: int | None = None,
    max_changes: int | None = None,
    after_lsn: int | None = None,
) -> Iterator[Transaction]:
    """The slot's committed transactions, in commit order, without consuming them.

    Each call starts again at the slot's confirmed position. `upto_lsn`: only transactions
    committed before it; without `max_changes`, every one of them, so the caller may advance
    to `upto_lsn` after applying them all. `max_changes` stops after the transaction that
    reaches that many messages. `after_lsn` skips transactions with `end_lsn <= after_lsn`
    (already applied). Consume the iterator fully or close it before using `conn` again.
    """
    _slot_name(slot)
    decoder.reset()
    query = (
        "SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes("
        "%s, %s::pg_lsn, %s, 'proto_version', '1', 'publication_names', %s)"
    )
    upto = lsn_to_text(upto_lsn) if upto_lsn is not None else None
    params = (slot, upto, max_changes, _ident_list(publication))
    try:
        for lsn, data in conn.cursor().stream(query, params):
            tx = decoder.feed(data, lsn_from_text(lsn))
            if tx is not None and (after_lsn is None or tx.end_lsn > after_lsn):
                yield tx
    except psycopg.Error as exc:
        raise _error(exc, f"read changes from the replication slot {slot}") from None
    finally:
        decoder.reset()  # a transaction cut off by the limit comes again next time


def read_changes(
    conn: Conn,
    slot: str,
    publication: str,
    decoder: Decoder,
    *,
    upto_lsn: int | None = None,
    max_changes: int | None = None,
    after_lsn: int | None = None,
) -> list[Transaction]:
    """`stream_changes` as a list."""
    return list(
        stream_changes(
            conn,
            slot,
            publication,
            decoder,
            upto_lsn=upto_lsn,
            max_changes=max_changes,
            after_lsn=after_lsn,
        )
    )


def advance(conn: Conn, slot: str, lsn: int) -> int:
    """Confirm everything before `lsn` (a transaction's `end_lsn`): the slot's new position.

    The slot never moves back, nor past what the source has flushed.
    """
    try:
        found = conn.execute(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (_slot_name(slot),),
        ).fetchone()
        if found is not None and found[0] is not None and lsn_from_text(found[0]) >= lsn:
            return lsn_from_text(found[0])  # PostgreSQL refuses to move a slot back
        row = conn.execute(
            "SELECT end_lsn::text FROM pg_replication_slot_advance(%s, %s::pg_lsn)",
            (slot, lsn_to_text(lsn)),
        ).fetchone()
    except psycopg.Error as exc:
        raise _error(exc, f"advance the replication slot {slot}") from None
    assert row is not None
    return lsn_from_text(row[0])


def current_lsn(conn: Conn) -> int:
    """How far the source's WAL is flushed: what a read can decode up to now."""
    try:
        row = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
    except psycopg.Error as exc:
        raise _error(exc, "read the WAL position") from None
    assert row is not None
    return lsn_from_text(row[0])


@dataclass(frozen=True)
class Lag:
    """How far the slot trails the source's WAL. Seconds come from commit times (caller)."""

    bytes: int
    current_lsn: int
    confirmed_lsn: int
    active: bool  # a reader holds the slot right now
    wal_status: str | None  # reserved, extended, unreserved or lost (None before 13)


def lag(conn: Conn, slot: str) -> Lag:
    """The bytes of WAL between the source's current position and the slot's confirmed one."""
    try:
        status = "wal_status" if conn.info.server_version >= 130000 else "NULL"
        row = conn.execute(
            sql.SQL(
                "SELECT pg_current_wal_lsn()::text, confirmed_flush_lsn::text, active, {}"
                " FROM pg_replication_slots WHERE slot_name = %s"
            ).format(sql.SQL(status)),
            (slot,),
        ).fetchone()
    except psycopg.Error as exc:
        raise _error(exc, f"read the lag of the replication slot {slot}") from None
    if row is None or row[1] is None:
        raise NotFoundError(f"the source has no logical replication slot {slot}")
    current, confirmed = lsn_from_text(row[0]), lsn_from_text(row[1])
    return Lag(max(0, current - confirmed), current, confirmed, bool(row[2]), row[3])


def source_now(conn: Conn) -> datetime:
    """The source server's clock, to set against commit times."""
    try:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    except psycopg.Error as exc:
        raise _error(exc, "read the clock") from None
    assert row is not None
    value: datetime = row[0]
    return value
