"""`tenantry migrate load`: the full load of a legacy source from one consistent snapshot.

Entities load in mapping order (parents first). Each is read in key order through a
server-side cursor inside one REPEATABLE READ snapshot of the source, transformed, resolved
(tenant and references through the id map) and written per tenant in one transaction with
its id-map rows. A rerun after a crash or kill -9 continues after the last committed key and
skips any key the id map already has, so no row is loaded twice. Every source row ends in the
id map as loaded, merged (consolidation) or quarantined with a reason. Consolidation groups are
loaded whole, after their members are read. Chat (`engage.chat_messages`) gets the month
partitions of its rows first and gets ids that carry its `sent_at` (`writer.time_id`), so its
bulk batch tells `audit verify` each row's month: the upkeep drops months whole and records
each drop, which accounts for the rows; chat older than 90 days is loaded like the rest and
goes with the next upkeep.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
import psycopg.errors
import psycopg.sql
from psycopg import sql as psql

from tenantry.db.engine import Database
from tenantry.db.provider import conninfo
from tenantry.db.uow import UnitOfWork
from tenantry.errors import TenantryError
from tenantry.migrate import consolidate, replication, state
from tenantry.migrate.convert import Context, LegacyKeyError, UnconvertibleError, open_fernet
from tenantry.migrate.mapping import Consolidation, Entity, Mapping
from tenantry.migrate.plan import check_fit
from tenantry.migrate.source import SourceTable, connect_source, introspect, source_id
from tenantry.migrate.state import IdMapRow, Placed
from tenantry.migrate.targets import TARGETS
from tenantry.migrate.transform import (
    Prepared,
    Reader,
    Rejected,
    Transformer,
    key_parts,
    user_sql,
)
from tenantry.migrate.writer import (
    Row,
    driver,
    ensure_partitions,
    time_id,
    write_rows,
    write_tenant,
    write_users,
)
from tenantry.models import Location

__all__ = ["LoadReport", "Progress", "load", "owner_connection", "resolve"]

# (entity, rows done in this run, rows in the entity)
Progress = Callable[[str, int, int], None]
BATCH = 5000
# Rows buffered per tenant before a write; rows read between two saved progress keys.
TENANT_FLUSH = 5000
CHECKPOINT = 100_000
# Entities with at least this many rows load in `jobs` worker processes.
PARALLEL_ROWS = 50_000


class MigrationError(TenantryError):
    """The migration could not go on."""


@dataclass
class LoadReport:
    run: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: int = 0
    seconds: float = 0.0
    already_loaded: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def owner_connection(db: Database) -> psycopg.Connection:
    """An autocommit connection of `tenantry_owner` for the run's bookkeeping."""
    return psycopg.connect(conninfo(db.owner_engine.url), autocommit=True)


def probe_legacy_keys(
    src: psycopg.Connection, mapping: Mapping, tables: dict[str, SourceTable], ctx: Context
) -> None:
    """Refuse to start, before anything is written, when a column holds legacy ciphertext and
    no key was given, or most of a sample does not open with the given keys (wrong keys)."""
    for entity in mapping.entities:
        if entity.source not in tables:
            continue
        for spec in entity.columns:
            if spec.legacy_cipher != "fernet" or not spec.reads_source:
                continue
            expr = (
                psql.SQL("t.{}::text").format(psql.Identifier(spec.source))
                if spec.source is not None
                else psql.SQL("({})::text").format(user_sql(spec.sql or "NULL"))
            )
            query = psql.SQL(
                "SELECT v FROM (SELECT {} AS v FROM {}.{} AS t) s WHERE v LIKE 'gAAAAA%%' LIMIT 40"
            ).format(expr, psql.Identifier(entity.schema), psql.Identifier(entity.table))
            values = [v for (v,) in src.execute(query, []).fetchall()]
            if not values:
                continue
            where = f"{entity.source} ({spec.target})"
            if not ctx.fernet_keys:
                raise LegacyKeyError(
                    f"{where} holds Fernet ciphertext: give its keys with --fernet-key or "
                    "TENANTRY_MIGRATE_FERNET_KEYS; nothing was written"
                )
            opened = 0
            for value in values:
                try:
                    open_fernet(value, ctx)
                    opened += 1
                except UnconvertibleError:
                    continue
            if opened * 2 < len(values):
                raise LegacyKeyError(
                    f"legacy ciphertext in {where} does not open with the supplied Fernet keys "
                    f"({opened} of {len(values)} sampled values); nothing was written"
                )


@dataclass
class Batch:
    size: int
    present: int
    last: list[str]
    prepared: list[Prepared] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass
class Resolved:
    """A prepared row with its tenant and references turned into canonical ids."""

    prepared: Prepared
    tenant: uuid.UUID
    values: dict[str, Any]
    refs: dict[str, list[str]]


MAIN_LOCATION = "main"


def fixed_defaults(
    conn: psycopg.Connection, entity: Entity, tenant: uuid.UUID | None
) -> dict[str, Any]:
    """For rows of a fixed tenant that need a location the mapping cannot name: the tenant's
    main location (slug `main`, created by the load)."""
    if tenant is None or "location_id" not in entity.canonical.required:
        return {}
    if entity.column("location_id") is not None:
        return {}
    row = conn.execute(
        "SELECT id FROM identity.locations WHERE tenant_id = %s AND slug = %s",
        (tenant, MAIN_LOCATION),
    ).fetchone()
    return {} if row is None else {"location_id": row[0]}


def resolve(
    conn: psycopg.Connection,
    run: str,
    entity: Entity,
    rows: Sequence[Prepared],
    fixed_tenant: uuid.UUID | None,
    defaults: dict[str, Any] | None = None,
) -> tuple[list[Resolved], list[Rejected]]:
    """Tenants and references of a batch, through the id map; `defaults` fill required
    columns the mapping leaves out (a fixed tenant's main location)."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        if row.tenant_ref:
            wanted.setdefault(row.tenant_ref[0], set()).add(row.tenant_ref[1])
        for ref_entity, key in row.refs.values():
            wanted.setdefault(ref_entity, set()).add(key)
    found: dict[str, dict[str, Placed]] = {
        name: state.placed(conn, run, name, keys) for name, keys in wanted.items()
    }
    required = entity.canonical.required
    ok: list[Resolved] = []
    bad: list[Rejected] = []
    for row in rows:
        tenant = fixed_tenant
        if row.tenant_ref is not None:
            ref_entity, key = row.tenant_ref
            hit = found.get(ref_entity, {}).get(key)
            if hit is None or hit.tenant is None:
                bad.append(Rejected(row.key, f"no tenant: {ref_entity} {key} was not loaded"))
                continue
            tenant = hit.tenant
        if tenant is None:
            bad.append(Rejected(row.key, "no tenant"))
            continue
        values = (defaults or {}) | dict(row.values)
        refs: dict[str, list[str]] = {}
        reason = None
        for column, (ref_entity, key) in row.refs.items():
            hit = found.get(ref_entity, {}).get(key)
            spec = entity.column(column)
            if hit is None or hit.canonical_id is None:
                if spec is not None and spec.missing == "null" and column not in required:
                    continue
                reason = f"{column}: {ref_entity} {key} was not loaded"
                break
            if hit.tenant != tenant:
                reason = f"{column}: {ref_entity} {key} belongs to another tenant"
                break
            values[column] = hit.canonical_id
            if hit.outcome == "merged":  # kept so that `unmerge` can move this row along
                refs[column] = [ref_entity, key]
        if reason is None:
            missing = sorted(c for c in required if c not in values)
            if missing:
                reason = f"no value for required {entity.target}.{missing[0]}"
        if reason is not None:
            bad.append(Rejected(row.key, reason))
            continue
        ok.append(Resolved(row, tenant, values, refs))
    return ok, bad


class Loader:
    """One load of one run; see the module docstring."""

    def __init__(
        self,
        db: Database,
        source_url: str,
        mapping: Mapping,
        *,
        run: str | None = None,
        fernet_keys: Sequence[str] = (),
        progress: Progress | None = None,
        batch: int = BATCH,
        cdc: bool = True,
        jobs: int = 2,
    ) -> None:
        self.cdc = cdc
        self.jobs = jobs
        self.bulk = True  # audit writes as bulk batches (change capture turns this off)
        self.db = db
        self.source_url = source_url
        self.mapping = mapping
        self.run = run or mapping.name
        self.ctx = Context(mapping.timezone, mapping.phone_region, tuple(fernet_keys))
        self.progress = progress
        self.batch = batch
        self.report = LoadReport(self.run)
        self.fixed: dict[str, uuid.UUID] = {}
        self.months: set[date] = set()  # month partitions known to exist (partitioned targets)

    def __call__(self) -> LoadReport:
        started = time.perf_counter()
        with (
            connect_source(self.source_url, autocommit=True) as src,
            owner_connection(self.db) as conn,
        ):
            tables = introspect(src)
            check_fit(self.mapping, tables, src)
            probe_legacy_keys(src, self.mapping, tables, self.ctx)
            earlier = state.get_run(conn, self.run)
            if self.cdc and (earlier is None or earlier.slot is None):
                with replication.connect_source(self.source_url) as admin:
                    problems = replication.check_source(admin, slot=slot_name(self.run))
                    published = sorted(
                        {(e.schema, e.table) for e in self.mapping.entities if e.source in tables}
                    )
                    problems += replication.replica_identity_problems(admin, published)
                if problems:
                    raise MigrationError(
                        f"the source cannot feed change-data capture ({problems[0]}); fix "
                        "that, or load a one-off copy that cannot be followed (--no-cdc); "
                        "nothing was written"
                    )
            run = state.start_run(conn, self.run, self.mapping.name, source_id(self.source_url))
            if run.phase != "loading":
                self.report.already_loaded = True
                self.report.counts = state.outcome_counts(conn, self.run)
                return self.report
            self._snapshot(src, conn, run, tables)
            done = state.progress_of(conn, self.run)
            handled: set[str] = set()
            for entity in self.mapping.entities:
                if entity.name in handled or entity.source not in tables:
                    continue
                group = self.mapping.consolidation_of(entity.name)
                if group is not None:
                    members = [self.mapping.entity(n) for n in group.entities]
                    present = [m for m in members if m.source in tables]
                    handled.update(m.name for m in members)
                    if not all(done.get(m.name, (None, False))[1] for m in present):
                        self._load_group(src, conn, group, present, tables)
                    continue
                handled.add(entity.name)
                last, finished = done.get(entity.name, (None, False))
                if finished:
                    continue
                table = tables[entity.source]
                if self._parallel(src, entity, last, done):
                    self._load_parallel(src, conn, entity, table, done)
                else:
                    self._load_entity(src, conn, entity, table, last)
            src.execute("COMMIT")
            state.update_run(conn, self.run, phase="loaded", load_finished_at=_now(conn))
            self.report.counts = state.outcome_counts(conn, self.run)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _parallel(
        self,
        src: psycopg.Connection,
        entity: Entity,
        last: Sequence[str] | None,
        done: dict[str, tuple[list[str] | None, bool]],
    ) -> bool:
        """Large entities of tenant-owned tables load in worker processes; a load that began
        one way continues that way."""
        if self.jobs < 2 or entity.canonical.platform_scoped:
            return False
        if entity.target == "identity.tenants" or last is not None:
            return False
        if any(k.startswith(f"{entity.name}#") for k in done):
            return True
        return _count(src, entity) >= PARALLEL_ROWS

    def _snapshot(
        self,
        src: psycopg.Connection,
        conn: psycopg.Connection,
        run: state.Run,
        tables: dict[str, SourceTable],
    ) -> None:
        """Open the snapshot every entity is read in.

        A first load creates the replication slot (and publication) that `follow` reads, and
        reads exactly the data as of the slot's start, so no change is lost or applied twice
        in meaning. A resumed load, or a source without logical replication, reads a fresh
        snapshot: changes since the slot's start come again through `follow`, and applying
        them is idempotent.
        """
        if run.slot is None and self.cdc:
            slot = slot_name(self.run)
            with replication.connect_source(self.source_url) as admin:
                published = sorted(
                    {(e.schema, e.table) for e in self.mapping.entities if e.source in tables}
                )
                replication.ensure_publication(admin, slot, published)
            snap = replication.create_slot_with_snapshot(self.source_url, slot)
            try:
                replication.import_snapshot(src, snap.snapshot_name)
            finally:
                snap.release()
            state.update_run(
                conn,
                self.run,
                slot=slot,
                publication=slot,
                start_lsn=snap.consistent_lsn,
                applied_lsn=snap.consistent_lsn,
            )
            return
        src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    # -- tenants ---------------------------------------------------------------------------

    def _fixed_tenant(self, entity: Entity) -> uuid.UUID | None:
        rule = entity.tenant
        if rule.kind != "fixed" or rule.slug is None:
            return None
        if rule.slug in self.fixed:
            return self.fixed[rule.slug]
        values = {
            "slug": rule.slug,
            "legal_name": rule.name or rule.slug,
            "vertical": rule.vertical or self.mapping.vertical,
        }
        with self.db.platform_uow(actor=f"migrate:{self.run}") as uow:
            existing = uow.repos.tenants.by_slug(rule.slug)
        tenant_id = existing.id if existing is not None else self.db.ids()
        if existing is None:
            write_tenant(self.db, Row(tenant_id, values, "", ""), self.run, set(), id_map=False)
        # Also after a crash between the two transactions: the main location exists.
        with self.db.platform_uow(tenant_id=tenant_id, actor=f"migrate:{self.run}") as uow:
            found = (
                driver(uow)
                .execute(
                    "SELECT 1 FROM identity.locations WHERE tenant_id = %s AND slug = %s",
                    (tenant_id, MAIN_LOCATION),
                )
                .fetchone()
            )
            if found is None:
                uow.session.add(
                    Location(
                        tenant_id=tenant_id,
                        id=self.db.ids(),
                        name=values["legal_name"],
                        slug=MAIN_LOCATION,
                        vertical=values["vertical"],
                    )
                )
                uow.commit()
        self.fixed[rule.slug] = tenant_id
        return tenant_id

    # -- one entity --------------------------------------------------------------------------

    def _rows(
        self,
        src: psycopg.Connection,
        reader: Reader,
        after: Sequence[str] | None,
        part: tuple[int, int] | None = None,
    ) -> Iterator[list[tuple[Any, ...]]]:
        with src.cursor(name=f"migrate_{reader.entity.name}") as cur:
            cur.itersize = self.batch
            cur.execute(reader.scan(after, part), list(after or []))
            while True:
                rows = cur.fetchmany(self.batch)
                if not rows:
                    return
                yield rows

    def _batches(
        self,
        src: psycopg.Connection,
        conn: psycopg.Connection,
        entity: Entity,
        table: SourceTable,
        after: Sequence[str] | None,
        part: tuple[int, int] | None = None,
    ) -> Iterator[Batch]:
        """The entity's rows in batches: transformed, minus the keys the id map has."""
        reader = Reader(entity, table)
        transform = Transformer(self.mapping, entity, reader, self.ctx)
        # An entity this run has not touched yet has no key to skip (the scan never returns a
        # key twice); after a crash every batch is checked against the id map.
        started = state.has_rows(conn, self.run, entity.name)
        for rows in self._rows(src, reader, after, part):
            keys = [reader.key_of(r) for r in rows]
            present = state.existing_keys(conn, self.run, entity.name, keys) if started else set()
            batch = Batch(len(rows), len(present), key_parts(keys[-1], len(reader.key)))
            for row, key in zip(rows, keys, strict=True):
                if key in present:
                    continue
                out = transform(row)
                if isinstance(out, Rejected):
                    batch.rejected.append(out)
                else:
                    batch.prepared.append(out)
            self.report.rows += batch.size - batch.present
            yield batch

    def _load_entity(
        self,
        src: psycopg.Connection,
        conn: psycopg.Connection,
        entity: Entity,
        table: SourceTable,
        after: Sequence[str] | None,
        part: tuple[int, int] | None = None,
        counter: Any = None,
    ) -> None:
        """Rows are buffered per tenant and written in large per-tenant transactions; the
        progress key is saved only when every buffer before it has been written. With `part`
        only that partition is loaded (by a worker process) and its own progress is kept."""
        name = entity.name if part is None else f"{entity.name}#{part[0]}/{part[1]}"
        total = _count(src, entity) if part is None else 0
        done = 0
        fixed = self._fixed_tenant(entity)
        taken_slugs: set[str] = set()
        if entity.target == "identity.tenants":
            taken_slugs = {r[0] for r in conn.execute("SELECT slug FROM identity.tenants")}
        buffers: dict[uuid.UUID, list[Row]] = {}
        unsaved = 0
        for batch in self._batches(src, conn, entity, table, after, part):
            prepared, rejected = batch.prepared, batch.rejected
            if entity.target == "identity.tenants":
                for item in prepared:
                    tid = self.db.ids()
                    write_tenant(
                        self.db,
                        Row(tid, item.values, entity.name, item.key, source_deleted=item.deleted),
                        self.run,
                        taken_slugs,
                    )
            else:
                defaults = fixed_defaults(conn, entity, fixed)
                ok, bad = resolve(conn, self.run, entity, prepared, fixed, defaults)
                rejected.extend(bad)
                for r in ok:
                    buffer = buffers.setdefault(r.tenant, [])
                    buffer.append(
                        Row(
                            time_id(entity.canonical, r.values) or self.db.ids(),
                            r.values,
                            entity.name,
                            r.prepared.key,
                            refs=r.refs,
                            source_deleted=r.prepared.deleted,
                        )
                    )
                    if len(buffer) >= TENANT_FLUSH:
                        self._write(conn, entity, r.tenant, buffers.pop(r.tenant))
            self._quarantine(conn, entity, rejected)
            unsaved += batch.size - batch.present
            done += batch.size
            if unsaved >= CHECKPOINT:
                for tenant in list(buffers):
                    self._write(conn, entity, tenant, buffers.pop(tenant))
                state.save_progress(conn, self.run, name, batch.last, unsaved)
                unsaved = 0
            if counter is not None:
                with counter.get_lock():
                    counter.value += batch.size
            elif self.progress:
                self.progress(entity.name, done, total)
        for tenant in list(buffers):
            self._write(conn, entity, tenant, buffers.pop(tenant))
        state.save_progress(conn, self.run, name, None, unsaved, done=True)

    def _load_parallel(
        self,
        src: psycopg.Connection,
        conn: psycopg.Connection,
        entity: Entity,
        table: SourceTable,
        done: dict[str, tuple[list[str] | None, bool]],
    ) -> None:
        """Load a large entity in `jobs` worker processes, one hash partition of its keys
        each, all reading the same snapshot (exported by `src`). While a worker waits for
        PostgreSQL another transforms and seals, so both cores work."""
        snapshot = src.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        self._fixed_tenant(entity)  # created once, before the workers start
        ctx = multiprocessing.get_context("fork")
        counters = [ctx.Value("q", 0) for _ in range(self.jobs)]
        workers = []
        for i in range(self.jobs):
            part = (i, self.jobs)
            last, finished = done.get(f"{entity.name}#{i}/{self.jobs}", (None, False))
            if finished:
                continue
            process = ctx.Process(
                target=self._worker, args=(entity, table, snapshot, last, part, counters[i])
            )
            process.start()
            workers.append(process)
        total = _count(src, entity)
        while any(p.is_alive() for p in workers):
            if self.progress:
                self.progress(entity.name, sum(c.value for c in counters), total)
            time.sleep(0.2)
        failed = [p.exitcode for p in workers if p.exitcode != 0]
        if failed:
            raise MigrationError(
                f"a worker loading {entity.name} failed (exit {failed[0]}); "
                "run `tenantry migrate load` again to continue"
            )
        if self.progress:
            self.progress(entity.name, total, total)
        self.report.rows += sum(c.value for c in counters)
        state.save_progress(conn, self.run, entity.name, None, 0, done=True)

    def _worker(
        self,
        entity: Entity,
        table: SourceTable,
        snapshot: str,
        after: Sequence[str] | None,
        part: tuple[int, int],
        counter: Any,
    ) -> None:
        """One partition in a forked process; it never touches the parent's connections and
        leaves with `os._exit`, so nothing of the parent is closed or flushed twice."""
        code = 1
        try:
            self.db.app_engine.dispose(close=False)
            self.db.owner_engine.dispose(close=False)
            with (
                connect_source(self.source_url, autocommit=True) as src,
                owner_connection(self.db) as conn,
            ):
                replication.import_snapshot(src, snapshot)
                self._load_entity(src, conn, entity, table, after, part, counter)
                src.execute("COMMIT")
            code = 0
        except BaseException as exc:  # the parent reports the failure; say why on stderr
            sys.stderr.write(f"tenantry: worker {part[0]} of {entity.name}: {exc}\n")
        finally:
            sys.stderr.flush()
            os._exit(code)

    def _write(
        self, conn: psycopg.Connection, entity: Entity, tenant: uuid.UUID, items: list[Row]
    ) -> None:
        """One tenant's rows in one transaction; when the database refuses one of them (a
        check, a unique key), the half that holds it is retried until the refused rows are
        found alone and quarantined; the others load."""
        target = entity.canonical
        if target.partition_key is not None:
            ensure_partitions(
                conn, target, (r.values.get(target.partition_key) for r in items), self.months
            )
        parts = [items]
        refused: list[Rejected] = []
        while parts:
            part = parts.pop()
            try:
                checks = self._write_tenant(entity, tenant, part)
                refused.extend(Rejected(key, reason) for key, reason in checks.items())
            except _REFUSED as exc:
                if len(part) == 1:
                    refused.append(Rejected(part[0].source_key, _refusal(entity.target, exc)))
                else:
                    mid = len(part) // 2
                    parts.extend([part[mid:], part[:mid]])
        self._quarantine(conn, entity, refused)

    def _write_tenant(
        self, entity: Entity, tenant: uuid.UUID, items: Sequence[Row]
    ) -> dict[str, str]:
        target = entity.canonical
        refused: dict[str, str] = {}
        with self.db.platform_uow(tenant_id=tenant, actor=f"migrate:{self.run}") as uow:
            if target.name == "identity.locations":
                _unique_slugs(uow, tenant, items)
            if target.platform_scoped:
                write_users(uow, items, self.run)
            else:
                # Chat is bulk audited too: its ids carry `sent_at`, so the upkeep's recorded
                # drop of a month accounts for the batch's rows in `audit verify`.
                refused = write_rows(uow, target, items, self.run, uow.clock.now(), bulk=self.bulk)
            uow.commit()
        return refused

    def _quarantine(
        self, conn: psycopg.Connection, entity: Entity, rows: Sequence[Rejected]
    ) -> None:
        state.copy_id_map(
            conn,
            self.run,
            [
                IdMapRow(entity.name, r.key, "quarantined", entity.target, reason=r.reason)
                for r in rows
                if not r.skip  # another entity accounts for rows a derived entity leaves out
            ],
        )

    # -- consolidation groups ------------------------------------------------------------------

    def _load_group(
        self,
        src: psycopg.Connection,
        conn: psycopg.Connection,
        group: Consolidation,
        members: Sequence[Entity],
        tables: dict[str, SourceTable],
    ) -> None:
        """Read every member entity, cluster per tenant, write one record per cluster."""
        resolved: list[tuple[Entity, Resolved]] = []
        for entity in members:
            fixed = self._fixed_tenant(entity)
            for batch in self._batches(src, conn, entity, tables[entity.source], None):
                defaults = fixed_defaults(conn, entity, fixed)
                ok, bad = resolve(conn, self.run, entity, batch.prepared, fixed, defaults)
                resolved.extend((entity, r) for r in ok)
                self._quarantine(conn, entity, [*batch.rejected, *bad])
        target = TARGETS[group.target]
        every = consolidate.cluster(
            [(e.name, r.prepared.key, r.values) for e, r in resolved],
            group,
            [r.tenant for _e, r in resolved],
            self.mapping.phone_region,
        )
        by_tenant: dict[uuid.UUID, list[list[int]]] = {}
        for found in every:
            by_tenant.setdefault(resolved[found[0]][1].tenant, []).append(found)
        for tenant, clusters in by_tenant.items():
            items = resolved
            rows: list[Row] = []
            extra: list[IdMapRow] = []
            lineage: list[tuple[uuid.UUID, str, str, str]] = []
            for members_idx in clusters:
                row_id = self.db.ids()
                merged = consolidate.survive(
                    [
                        (items[i][0].name, items[i][1].prepared.key, items[i][1].values)
                        for i in members_idx
                    ],
                    group,
                    self.mapping.entities,
                )
                first_entity, first = items[members_idx[0]]
                rows.append(
                    Row(
                        row_id,
                        merged.values,
                        first_entity.name,
                        first.prepared.key,
                        refs=first.refs,
                        source_deleted=all(items[i][1].prepared.deleted for i in members_idx),
                    )
                )
                for i in members_idx[1:]:
                    e, r = items[i]
                    extra.append(
                        IdMapRow(
                            e.name,
                            r.prepared.key,
                            "merged",
                            group.target,
                            tenant,
                            row_id,
                            refs=r.refs or None,
                            source_deleted=r.prepared.deleted,
                        )
                    )
                if len(members_idx) > 1:
                    lineage.extend(
                        (row_id, col, ent, key) for col, (ent, key) in merged.lineage.items()
                    )
            with self.db.platform_uow(tenant_id=tenant, actor=f"migrate:{self.run}") as uow:
                if group.target == "identity.locations":
                    _unique_slugs(uow, tenant, rows)
                refused = write_rows(uow, target, rows, self.run, uow.clock.now())
                # A record the database refuses takes the rows merged into it along.
                gone = {r.id: reason for r in rows if (reason := refused.get(r.source_key))}
                placed = [m for m in extra if m.canonical_id not in gone]
                state.copy_id_map(driver(uow), self.run, placed)
                kept = [entry for entry in lineage if entry[0] not in gone]
                consolidate.copy_lineage(driver(uow), self.run, group.target, kept)
                uow.commit()
            for written in rows:
                if written.source_key in refused:
                    self._quarantine(
                        conn,
                        self.mapping.entity(written.entity),
                        [Rejected(written.source_key, refused[written.source_key])],
                    )
            for m in extra:
                if m.canonical_id in gone:
                    self._quarantine(
                        conn,
                        self.mapping.entity(m.entity),
                        [Rejected(m.source_key, gone[m.canonical_id])],
                    )
        for entity in members:
            state.save_progress(conn, self.run, entity.name, None, 0, done=True)


_REFUSED = (psycopg.errors.IntegrityError, psycopg.errors.DataError)


def _refusal(table: str, exc: psycopg.Error) -> str:
    """Why the database refused a row, by constraint or condition, without any value."""
    diag = exc.diag
    if diag.constraint_name:
        return f"{table} refuses the row: constraint {diag.constraint_name}"
    return f"{table} refuses the row: {diag.sqlstate} {type(exc).__name__}"


def load(
    db: Database,
    source_url: str,
    mapping: Mapping,
    *,
    run: str | None = None,
    fernet_keys: Sequence[str] = (),
    progress: Progress | None = None,
    batch: int = BATCH,
    cdc: bool = True,
    jobs: int = 2,
) -> LoadReport:
    """Load `source_url` into `db` with `mapping` (see the module docstring); `cdc=False`
    skips the replication slot (a one-off copy that will not be followed)."""
    return Loader(
        db,
        source_url,
        mapping,
        run=run,
        fernet_keys=fernet_keys,
        progress=progress,
        batch=batch,
        cdc=cdc,
        jobs=jobs,
    )()


def slot_name(run: str) -> str:
    """The replication slot (and publication) of a run on the source."""
    return f"tenantry_{run}"[:63]


def _count(src: psycopg.Connection, entity: Entity) -> int:
    row = src.execute(
        psycopg.sql.SQL("SELECT count(*) FROM {}.{}").format(
            psycopg.sql.Identifier(entity.schema), psycopg.sql.Identifier(entity.table)
        )
    ).fetchone()
    return int(row[0]) if row else 0


def _now(conn: psycopg.Connection) -> Any:
    row = conn.execute("SELECT now()").fetchone()
    return row[0] if row else None


def _unique_slugs(uow: UnitOfWork, tenant: uuid.UUID, rows: Sequence[Row]) -> None:
    """Location slugs are unique per tenant: a taken one gets a numeric suffix."""
    taken = {
        r[0]
        for r in driver(uow).execute(
            "SELECT slug FROM identity.locations WHERE tenant_id = %s", (tenant,)
        )
    }
    for row in rows:
        base = str(row.values.get("slug") or "location")[:90]
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        row.values["slug"] = slug
