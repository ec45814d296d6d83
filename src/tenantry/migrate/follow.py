"""`tenantry migrate follow`: change data capture from the source into the canonical model.

Changes come from the run's logical replication slot (pgoutput, created at the load's
snapshot) in commit order. A batch of transactions names the source keys that changed; the
applier reads those rows' current state from the source (in one REPEATABLE READ snapshot taken
after the batch was read, so SQL expressions and joins of the mapping are evaluated exactly as
the load evaluated them), transforms them like the load and brings the canonical rows to that
state: insert, update only the columns whose meaning changed, soft delete (or quarantine); chat
(`engage.chat_messages`, partitioned by month) is deleted with its source row, found by
(tenant_id, id) in whichever partition its `sent_at` put it.
Applying is idempotent, so a batch applied again after a crash changes nothing; the position
(`applied_lsn`) is stored after each batch and the slot advanced, so every change is applied
exactly once in effect. A session advisory lock on the target serialises appliers (`follow`
and `verify`'s catch-up) of one run.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql

from tenantry.db.engine import Database
from tenantry.errors import ConfigurationError
from tenantry.migrate import replication, state
from tenantry.migrate.load import Loader, Resolved, fixed_defaults, owner_connection, resolve
from tenantry.migrate.mapping import Entity, Mapping
from tenantry.migrate.pgoutput import Decoder, Transaction
from tenantry.migrate.source import SourceTable, connect_source, introspect
from tenantry.migrate.state import Placed
from tenantry.migrate.transform import Prepared, Reader, Rejected, Transformer, key_text
from tenantry.migrate.verify import canonical_equal
from tenantry.migrate.writer import (
    Row,
    driver,
    ensure_partitions,
    time_id,
    update_rows,
    write_tenant,
)
from tenantry.privacy.sealing import open_value
from tenantry.privacy.vault import keyring

__all__ = ["Applier", "FollowReport", "applier_lock", "catch_up", "consistent_point", "follow"]


@dataclass
class FollowReport:
    transactions: int = 0
    changes: int = 0
    applied_lsn: int | None = None
    lag_bytes: int = 0
    lag_seconds: list[float] = field(default_factory=list)  # per applied batch
    seconds: float = 0.0


def _lock_key(run: str) -> int:
    return zlib.crc32(f"tenantry-migrate:{run}".encode()) - 2**31


@contextmanager
def applier_lock(db: Database, run: str) -> Iterator[psycopg.Connection]:
    """Hold the run's applier lock (a session advisory lock on the target) for a block."""
    with owner_connection(db) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_lock_key(run),))
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(run),))


class Applier:
    """Brings canonical rows to the current state of changed source keys."""

    def __init__(
        self,
        db: Database,
        source_url: str,
        mapping: Mapping,
        run: str,
        tables: dict[str, SourceTable],
        fernet_keys: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.mapping = mapping
        self.run = run
        self.tables = tables
        self.loader = Loader(db, source_url, mapping, run=run, fernet_keys=fernet_keys)
        self.loader.bulk = False  # a change's few rows: one audit entry each
        self.readers = {
            e.name: Reader(e, tables[e.source]) for e in mapping.entities if e.source in tables
        }
        self.by_table: dict[tuple[str, str], list[Entity]] = {}
        for entity in mapping.entities:
            if entity.source in tables:
                self.by_table.setdefault((entity.schema, entity.table), []).append(entity)

    def keys_of(self, transactions: Sequence[Transaction]) -> dict[str, set[str]]:
        """The source keys each entity must look at again."""
        keys: dict[str, set[str]] = {}
        for tx in transactions:
            for change in tx.changes:
                for entity in self.by_table.get((change.schema, change.table), []):
                    reader = self.readers[entity.name]
                    wanted = keys.setdefault(entity.name, set())
                    if change.op == "truncate":
                        wanted.update(self._placed_keys(entity))
                        continue
                    for tuple_ in (change.old, change.new):
                        if tuple_ and all(k in tuple_ for k in reader.key):
                            parts = [tuple_[k] for k in reader.key]
                            if all(isinstance(p, str) for p in parts):
                                wanted.add(key_text(parts))  # type: ignore[arg-type]
        return keys

    def _placed_keys(self, entity: Entity) -> set[str]:
        with owner_connection(self.db) as conn:
            rows = conn.execute(
                "SELECT source_key FROM migrate.id_map WHERE run = %s AND entity = %s",
                (self.run, entity.name),
            )
            return {r[0] for r in rows}

    def apply(
        self, src: psycopg.Connection, conn: psycopg.Connection, keys: dict[str, set[str]]
    ) -> int:
        """Apply every entity's changed keys, parents first; `src` is in a snapshot."""
        applied = 0
        for entity in self.mapping.entities:
            wanted = keys.get(entity.name)
            if wanted:
                applied += self._apply_entity(src, conn, entity, sorted(wanted))
        return applied

    def _apply_entity(
        self, src: psycopg.Connection, conn: psycopg.Connection, entity: Entity, keys: list[str]
    ) -> int:
        reader = self.readers[entity.name]
        transform = Transformer(self.mapping, entity, reader, self.loader.ctx)
        rows = {reader.key_of(r): r for r in src.execute(reader.by_keys(), (keys,)).fetchall()}
        placed = state.placed(conn, self.run, entity.name, keys)
        fixed = self.loader._fixed_tenant(entity)
        prepared: list[Prepared] = []
        rejected: list[Rejected] = []
        skipped: list[str] = []
        for row in rows.values():
            out = transform(row)
            if isinstance(out, Rejected):
                if out.skip:
                    skipped.append(out.key)
                else:
                    rejected.append(out)
            else:
                prepared.append(out)
        ok, bad = resolve(
            conn, self.run, entity, prepared, fixed, fixed_defaults(conn, entity, fixed)
        )
        rejected.extend(bad)
        gone = [k for k in keys if k not in rows]
        self._deleted(conn, entity, gone, placed)
        # A row the entity's filter now leaves to another entity (a message whose thread became
        # e-mail) moved: that entity loads it, and its row here goes (id map: deleted).
        self._deleted(conn, entity, skipped, placed, moved=True)
        self._rejected(conn, entity, rejected, placed)
        self._upsert(conn, entity, ok, placed)
        return len(keys)

    # -- the three kinds of outcome ------------------------------------------------------------

    def _forget(self, conn: psycopg.Connection, entity: Entity, keys: Sequence[str]) -> None:
        if keys:
            conn.execute(
                "DELETE FROM migrate.id_map WHERE run = %s AND entity = %s"
                " AND source_key = ANY(%s)",
                (self.run, entity.name, list(keys)),
            )

    def _retire(
        self,
        entity: Entity,
        rows: Sequence[tuple[str, Placed, str, str | None]],
        *,
        moved: bool = False,
    ) -> None:
        """Canonical rows of source rows that are gone (or no longer valid), as (key, where it
        went, new outcome, reason): soft deleted where the table keeps deleted rows, deleted
        where it keeps nothing after the source (chat) or the row `moved` to another entity's
        table, else left in place (correspondence keeps its legal period); the id map says
        why. One transaction per tenant.

        A chat row is found by (tenant_id, id) alone: its primary key also holds `sent_at`,
        which may have changed in the source since, so the delete probes every partition's
        primary-key index by its leading columns instead of naming one partition."""
        target = entity.canonical
        remove = not target.kept_after_source_delete or (moved and not target.soft_delete)
        by_tenant: dict[uuid.UUID | None, list[tuple[str, Placed, str, str | None]]] = {}
        for row in rows:
            by_tenant.setdefault(row[1].tenant, []).append(row)
        for tenant, items in by_tenant.items():
            with self.db.platform_uow(tenant_id=tenant, actor=f"migrate:{self.run}") as uow:
                conn = driver(uow)
                gone = [
                    p.canonical_id
                    for _k, p, _o, _r in items
                    if p.outcome == "loaded" and target.soft_delete and tenant is not None
                ]
                doomed = [
                    p.canonical_id
                    for _k, p, _o, _r in items
                    if p.outcome == "loaded" and remove and tenant is not None
                ]
                schema, table = target.name.split(".")
                if gone:
                    conn.execute(
                        sql.SQL(
                            "UPDATE {}.{} SET deleted_at = coalesce(deleted_at, now())"
                            " WHERE tenant_id = %s AND id = ANY(%s) AND deleted_at IS NULL"
                        ).format(sql.Identifier(schema), sql.Identifier(table)),
                        (tenant, gone),
                    )
                if doomed and not target.soft_delete:
                    conn.execute(
                        sql.SQL("DELETE FROM {}.{} WHERE tenant_id = %s AND id = ANY(%s)").format(
                            sql.Identifier(schema), sql.Identifier(table)
                        ),
                        (tenant, doomed),
                    )
                for key, _placed, outcome, reason in items:
                    conn.execute(
                        "UPDATE migrate.id_map SET outcome = %s, reason = %s, canonical_id ="
                        " CASE WHEN %s = 'quarantined' THEN NULL ELSE canonical_id END"
                        " WHERE run = %s AND entity = %s AND source_key = %s",
                        (outcome, reason, outcome, self.run, entity.name, key),
                    )
                uow.commit()

    def _deleted(
        self,
        conn: psycopg.Connection,
        entity: Entity,
        keys: Sequence[str],
        placed: dict[str, Placed],
        *,
        moved: bool = False,
    ) -> None:
        quarantined = [k for k in keys if k in placed and placed[k].outcome == "quarantined"]
        self._forget(conn, entity, quarantined)
        self._retire(
            entity,
            [
                (key, placed[key], "deleted", None)
                for key in keys
                if key in placed and placed[key].outcome in ("loaded", "merged")
            ],
            moved=moved,
        )

    def _rejected(
        self,
        conn: psycopg.Connection,
        entity: Entity,
        rows: Sequence[Rejected],
        placed: dict[str, Placed],
    ) -> None:
        fresh: list[Rejected] = []
        retired: list[tuple[str, Placed, str, str | None]] = []
        for row in rows:
            hit = placed.get(row.key)
            if hit is None:
                fresh.append(row)
            elif hit.outcome in ("quarantined", "deleted"):
                self._forget(conn, entity, [row.key])
                fresh.append(row)
            else:
                retired.append((row.key, hit, "quarantined", row.reason))
        self._retire(entity, retired)
        self.loader._quarantine(conn, entity, fresh)

    def _upsert(
        self,
        conn: psycopg.Connection,
        entity: Entity,
        rows: Sequence[Resolved],
        placed: dict[str, Placed],
    ) -> None:
        inserts: dict[uuid.UUID, list[Row]] = {}
        updates: dict[uuid.UUID, list[tuple[Resolved, Placed]]] = {}
        for r in rows:
            hit = placed.get(r.prepared.key)
            if hit is None or hit.outcome in ("quarantined", "deleted"):
                if hit is not None:
                    self._forget(conn, entity, [r.prepared.key])
                row = Row(
                    time_id(entity.canonical, r.values) or self.db.ids(),
                    r.values,
                    entity.name,
                    r.prepared.key,
                    refs=r.refs,
                    source_deleted=r.prepared.deleted,
                )
                inserts.setdefault(r.tenant, []).append(row)
            else:
                updates.setdefault(r.tenant, []).append((r, hit))
        for tenant, items in inserts.items():
            if entity.target == "identity.tenants":
                for row in items:
                    write_tenant(self.db, row, self.run, set(_slugs(conn)))
            else:
                self.loader._write(conn, entity, tenant, items)
        for tenant, pairs in updates.items():
            self._update(conn, entity, tenant, pairs)

    def _update(
        self,
        state_conn: psycopg.Connection,
        entity: Entity,
        tenant: uuid.UUID,
        pairs: Sequence[tuple[Resolved, Placed]],
    ) -> None:
        target = entity.canonical
        if target.platform_scoped:
            return  # staff accounts are created by the load and then managed in tenantry
        schema, table = target.name.split(".")
        if target.partition_key is not None:  # a changed `sent_at` moves the row to its month
            ensure_partitions(
                state_conn,
                target,
                (r.values.get(target.partition_key) for r, _p in pairs),
                self.loader.months,
            )
        owned = _lineage(state_conn, self.run, [p.canonical_id for _r, p in pairs])
        refused: dict[uuid.UUID, str] = {}
        with self.db.platform_uow(tenant_id=tenant, actor=f"migrate:{self.run}") as uow:
            conn = driver(uow)
            ring = keyring(uow) if target.name != "identity.tenants" else None
            columns = [s.target for s in entity.columns if s.target in target.by_name]
            if target.soft_delete:
                columns.append("deleted_at")
            ids = [p.canonical_id for _r, p in pairs]
            id_column = "id"
            tenant_filter = "" if target.name == "identity.tenants" else "tenant_id = %s AND "
            current = {
                r[0]: r
                for r in conn.execute(
                    sql.SQL("SELECT {}, {} FROM {}.{} WHERE {}{} = ANY(%s)").format(
                        sql.Identifier(id_column),
                        sql.SQL(", ").join(
                            sql.Identifier(c)
                            for c in [*columns, "subject_id"]
                            if c in target.by_name
                        ),
                        sql.Identifier(schema),
                        sql.Identifier(table),
                        sql.SQL(tenant_filter),
                        sql.Identifier(id_column),
                    ),
                    ([tenant, ids] if tenant_filter else [ids]),
                )
            }
            names = [c for c in [*columns, "subject_id"] if c in target.by_name]
            if ring is not None and "subject_id" in names:
                ring.preload_subject_keys(
                    {r[1 + names.index("subject_id")] for r in current.values()} - {None}
                )
            changes: list[tuple[uuid.UUID, dict[str, Any]]] = []
            for r, hit in pairs:
                old = current.get(hit.canonical_id)
                if old is None or hit.canonical_id is None:
                    continue
                before = dict(zip(names, old[1:], strict=True))
                subject = before.get("subject_id")
                for column in target.sealed:
                    if column in before and ring is not None:
                        before[column] = open_value(
                            ring, target.name, column, hit.canonical_id, subject, before[column]
                        )
                wanted = {c: r.values.get(c) for c in columns if c != "deleted_at"}
                if target.soft_delete:
                    deleted = r.prepared.deleted or r.values.get("deleted_at") is not None
                    if deleted != (before.get("deleted_at") is not None):
                        wanted["deleted_at"] = (
                            r.values.get("deleted_at") or datetime.now(UTC) if deleted else None
                        )
                    else:
                        wanted.pop("deleted_at", None)
                mine = owned.get(hit.canonical_id)
                if mine is not None:
                    wanted = {
                        c: v
                        for c, v in wanted.items()
                        if mine.get(c) == (entity.name, r.prepared.key)
                    }
                diff = {c: v for c, v in wanted.items() if not canonical_equal(before.get(c), v)}
                if diff:
                    changes.append((hit.canonical_id, diff))
            if target.name == "identity.tenants":
                for row_id, diff in changes:
                    conn.execute(
                        sql.SQL("UPDATE identity.tenants SET {} WHERE id = %s").format(
                            sql.SQL(", ").join(
                                sql.SQL("{} = %s").format(sql.Identifier(c)) for c in diff
                            )
                        ),
                        [*diff.values(), row_id],
                    )
            else:
                refused = self._update_each(uow, entity, target, changes)
            uow.commit()
        if target.name != "identity.tenants" and refused:
            by_id = {p.canonical_id: (r.prepared.key, p) for r, p in pairs}
            self._retire(
                entity,
                [(by_id[i][0], by_id[i][1], "quarantined", why) for i, why in refused.items()],
            )

    def _update_each(
        self,
        uow: Any,
        entity: Entity,
        target: Any,
        changes: Sequence[tuple[uuid.UUID, dict[str, Any]]],
    ) -> dict[uuid.UUID, str]:
        """Update the rows; one the database refuses (a check: a lost lead needs a reason) is
        left as it was and returned with why, to be quarantined, as the load would have."""
        touch = entity.column("updated_at") is None
        try:
            with driver(uow).transaction():
                update_rows(uow, target, changes, touch=touch)
            return {}
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError):
            pass
        refused: dict[uuid.UUID, str] = {}
        for change in changes:
            try:
                with driver(uow).transaction():
                    update_rows(uow, target, [change], touch=touch)
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
                name = exc.diag.constraint_name or exc.diag.sqlstate
                refused[change[0]] = f"{target.name} refuses the row: constraint {name}"
        return refused


def _slugs(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT slug FROM identity.tenants")]


def _lineage(
    conn: psycopg.Connection, run: str, ids: Sequence[uuid.UUID | None]
) -> dict[uuid.UUID, dict[str, tuple[str, str]]]:
    out: dict[uuid.UUID, dict[str, tuple[str, str]]] = {}
    for cid, column, entity, key in conn.execute(
        "SELECT canonical_id, column_name, entity, source_key FROM migrate.lineage"
        " WHERE run = %s AND canonical_id = ANY(%s)",
        (run, [i for i in ids if i is not None]),
    ):
        out.setdefault(cid, {})[column] = (entity, key)
    return out


def _require_slot(run: state.Run) -> tuple[str, str]:
    if run.slot is None or run.publication is None:
        raise ConfigurationError(
            f"run {run.name} was loaded without change-data capture (the source had no logical "
            "replication then); set wal_level = logical on the source and load again"
        )
    return run.slot, run.publication


# Changes a follow batch applies at most (a backlog is worked off in batches of this size).
MAX_CHANGES = 20_000


def _messages(txs: Sequence[Transaction]) -> int:
    return sum(len(tx.changes) + 2 for tx in txs)


def catch_up(
    applier: Applier,
    repl: psycopg.Connection,
    src: psycopg.Connection,
    conn: psycopg.Connection,
    run: state.Run,
    upto: int,
    report: FollowReport,
    *,
    bounded: bool = True,
) -> None:
    """Apply the changes committed before `upto` (all of them when `bounded`, else a batch of
    at most about MAX_CHANGES), reading rows in `src`'s snapshot (open), then store the
    position and advance the slot. The caller holds the applier lock."""
    slot, publication = _require_slot(run)
    txs = replication.read_changes(
        repl,
        slot,
        publication,
        Decoder(),
        upto_lsn=upto,
        after_lsn=run.applied_lsn,
        max_changes=None if bounded else MAX_CHANGES,
    )
    if not bounded and txs and _messages(txs) >= MAX_CHANGES:
        upto = txs[-1].end_lsn  # a capped batch: only up to its last transaction
    if txs:
        report.changes += applier.apply(src, conn, applier.keys_of(txs))
        report.transactions += len(txs)
        now = replication.source_now(repl)
        report.lag_seconds.append(max(0.0, (now - txs[0].commit_time).total_seconds()))
        state.update_run(conn, run.name, applied_commit_at=txs[-1].commit_time)
    position = max(upto, run.applied_lsn or 0)
    state.update_run(conn, run.name, applied_lsn=position)
    replication.advance(repl, slot, position)
    run.applied_lsn = position
    report.applied_lsn = position


def follow(
    db: Database,
    source_url: str,
    mapping: Mapping,
    *,
    run: str | None = None,
    fernet_keys: Sequence[str] = (),
    until_caught_up: bool = False,
    seconds: float | None = None,
    poll: float = 0.2,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[FollowReport], None] | None = None,
) -> FollowReport:
    """Apply changes until caught up (`until_caught_up`), for `seconds`, or until `stop()`."""
    name = run or mapping.name
    report = FollowReport()
    started = time.perf_counter()
    with (
        replication.connect_source(source_url) as repl,
        connect_source(source_url, autocommit=True) as src,
        owner_connection(db) as conn,
    ):
        current = state.require_run(conn, name)
        _require_slot(current)
        if current.phase == "loading":
            raise ConfigurationError(f"run {name} is still loading; finish `migrate load` first")
        tables = introspect(src)
        applier = Applier(db, source_url, mapping, name, tables, fernet_keys)
        if current.phase == "loaded":
            state.update_run(conn, name, phase="following")
        lock = (_lock_key(name),)
        while True:
            conn.execute("SELECT pg_advisory_lock(%s)", lock)
            try:
                current = state.require_run(conn, name)
                upto = replication.current_lsn(repl)
                src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    before = report.transactions
                    catch_up(applier, repl, src, conn, current, upto, report, bounded=False)
                finally:
                    src.execute("COMMIT")
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", lock)
            report.lag_bytes = replication.lag(repl, current.slot or "").bytes
            if on_batch is not None:
                on_batch(report)
            idle = report.transactions == before
            if until_caught_up and idle:
                break
            if seconds is not None and time.perf_counter() - started >= seconds:
                break
            if stop is not None and stop():
                break
            if idle:
                time.sleep(poll)
    report.seconds = time.perf_counter() - started
    return report


def consistent_point(
    db: Database,
    source_url: str,
    mapping: Mapping,
    run: str,
    fernet_keys: Sequence[str] = (),
) -> Callable[[psycopg.Connection, psycopg.Connection], int | None]:
    """For `verify`: open a source snapshot at a known position and bring the target to
    exactly that position first (the caller holds the applier lock for the whole verify).

    A temporary replication slot exports the snapshot and its position P; every change of the
    run's slot before P is applied reading rows in that snapshot, so target and snapshot show
    the same moment however much the source keeps changing.
    """

    def at(src: psycopg.Connection, conn: psycopg.Connection) -> int | None:
        current = state.require_run(conn, run)
        if current.slot is None:
            src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return None
        snap = replication.create_slot_with_snapshot(
            source_url, f"{current.slot}_verify"[:63], temporary=True
        )
        try:
            replication.import_snapshot(src, snap.snapshot_name)
        finally:
            snap.release()
        tables = introspect(src)
        applier = Applier(db, source_url, mapping, run, tables, fernet_keys)
        with replication.connect_source(source_url) as repl:
            catch_up(applier, repl, src, conn, current, snap.consistent_lsn, FollowReport())
        return snap.consistent_lsn

    return at
