"""`tenantry migrate cutover` and `rollback`: switch the application over, and back if needed.

Cutover fences the source (a trigger on every mapped table refuses writes from anyone but
tenantry's write-back session), applies the remaining changes until the lag is zero, verifies
at that point and records the switch with a rollback window. When verification finds a
difference the fence is lifted again and nothing is recorded.

Rollback, within the window, writes what changed in tenantry after the cutover back into the
legacy tables through the mapping read backwards (only columns whose conversion can be
inverted: plain columns, numbers, cents, dates, enums, Fernet ciphertext under the first key
given), new canonical rows as new source rows, soft deletes as the source's own soft delete or a
delete, then lifts the fence so the old application can take over.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from psycopg import sql

from tenantry.db.engine import Database
from tenantry.errors import ConflictError
from tenantry.migrate import state
from tenantry.migrate.follow import applier_lock, consistent_point, follow
from tenantry.migrate.load import owner_connection
from tenantry.migrate.mapping import ColumnSpec, Entity, Mapping
from tenantry.migrate.source import connect_source, introspect
from tenantry.migrate.verify import VerifyReport, verify
from tenantry.privacy.sealing import open_platform_value, open_value
from tenantry.privacy.vault import keyring, platform_keys

__all__ = ["CutoverReport", "RollbackReport", "cutover", "fence", "rollback", "unfence"]

WRITEBACK = "tenantry.migrate_writeback"
_FENCE_FUNCTION = "tenantry_migrate_fence"

_FENCE_SQL = f"""
CREATE OR REPLACE FUNCTION public.{_FENCE_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('{WRITEBACK}', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'tenantry: % moved to tenantry (migration cutover); writes are fenced',
        TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME USING ERRCODE = 'read_only_sql_transaction';
END
$$
"""


def _tables(mapping: Mapping, present: set[str]) -> list[tuple[str, str]]:
    return sorted({(e.schema, e.table) for e in mapping.entities if e.source in present})


def fence(url: str, mapping: Mapping) -> list[str]:
    """Refuse writes to every mapped source table (except tenantry's write-back)."""
    with connect_source(url, autocommit=True) as conn:
        tables = _tables(mapping, set(introspect(conn)))
        with conn.transaction():
            conn.execute(_FENCE_SQL)
            for schema, table in tables:
                conn.execute(
                    sql.SQL(
                        "CREATE OR REPLACE TRIGGER tenantry_fence BEFORE INSERT OR UPDATE OR DELETE"
                        " ON {}.{} FOR EACH ROW EXECUTE FUNCTION public.{}()"
                    ).format(
                        sql.Identifier(schema),
                        sql.Identifier(table),
                        sql.Identifier(_FENCE_FUNCTION),
                    )
                )
    return [f"{s}.{t}" for s, t in tables]


def unfence(url: str, mapping: Mapping) -> None:
    """Lift the fence: the legacy application may write again."""
    with connect_source(url, autocommit=True) as conn:
        tables = _tables(mapping, set(introspect(conn)))
        with conn.transaction():
            for schema, table in tables:
                conn.execute(
                    sql.SQL("DROP TRIGGER IF EXISTS tenantry_fence ON {}.{}").format(
                        sql.Identifier(schema), sql.Identifier(table)
                    )
                )
            conn.execute(
                sql.SQL("DROP FUNCTION IF EXISTS public.{}()").format(
                    sql.Identifier(_FENCE_FUNCTION)
                )
            )


@dataclass
class CutoverReport:
    run: str
    fenced: list[str] = field(default_factory=list)
    verified: VerifyReport | None = None
    cutover_at: datetime | None = None
    rollback_until: datetime | None = None
    switched: bool = False


def cutover(
    db: Database,
    url: str,
    mapping: Mapping,
    *,
    run: str | None = None,
    fernet_keys: Sequence[str] = (),
    window: timedelta = timedelta(minutes=5),
) -> CutoverReport:
    """Fence, drain, verify, record (see the module docstring)."""
    name = run or mapping.name
    report = CutoverReport(name)
    with owner_connection(db) as conn:
        current = state.require_run(conn, name)
        if current.phase not in ("loaded", "following"):
            raise ConflictError(f"run {name} is {current.phase}; cutover needs a loaded run")
    report.fenced = fence(url, mapping)
    try:
        follow(db, url, mapping, run=name, fernet_keys=fernet_keys, until_caught_up=True)
        with applier_lock(db, name):
            at = consistent_point(db, url, mapping, name, fernet_keys)
            report.verified = verify(db, url, mapping, run=name, fernet_keys=fernet_keys, at=at)
    except BaseException:
        unfence(url, mapping)
        raise
    if not report.verified.equal:
        unfence(url, mapping)
        return report
    with owner_connection(db) as conn:
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        state.update_run(conn, name, phase="cut_over", cutover_at=now, rollback_until=now + window)
        report.cutover_at, report.rollback_until = now, now + window
    report.switched = True
    return report


# -- rollback -----------------------------------------------------------------------------------


@dataclass
class RollbackReport:
    run: str
    updated: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    skipped_columns: dict[str, list[str]] = field(default_factory=dict)


_INVERTIBLE = {None, "text", "int", "bool", "uuid", "date", "timestamp", "cents", "email",
               "phone", "lower", "upper", "enum", "euros_to_cents", "numeric_to_cents", "json",
               "array"}  # fmt: skip


def _column(spec: ColumnSpec) -> str | None:
    """The source column a value goes back to (None: it cannot be written back)."""
    if spec.path or spec.convert not in _INVERTIBLE:
        return None
    return spec.source or spec.write_back


def _writable(spec: ColumnSpec) -> bool:
    return _column(spec) is not None


def _backwards(spec: ColumnSpec, value: Any, fernet: Fernet | None, source_type: str) -> Any:
    """A canonical value as the legacy column holds it."""
    if value is None:
        return None
    if spec.convert == "enum":
        for legacy, canonical in spec.values.items():
            if canonical == value:
                return legacy
        return spec.default if spec.default == value else value
    if spec.convert in ("euros_to_cents", "numeric_to_cents"):
        return Decimal(int(value)) / 100
    if isinstance(value, list) and source_type.endswith("[]"):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if spec.legacy_cipher == "fernet" and fernet is not None:
        return fernet.encrypt(str(value).encode()).decode()
    if isinstance(value, Decimal) and "int" in source_type:
        return int(value)
    return value


def _canonical_rows(
    db: Database, run: str, entity: Entity, since: datetime
) -> list[tuple[uuid.UUID, uuid.UUID, dict[str, Any], str]]:
    """Canonical rows of the run's tenants in the entity's target changed, created or deleted
    since `since`: (tenant, id, opened values, what happened)."""
    target = entity.canonical
    schema, table = target.name.split(".")
    columns = [c for c in target.copy_columns if not c.endswith("_bidx")]
    out: list[tuple[uuid.UUID, uuid.UUID, dict[str, Any], str]] = []
    with owner_connection(db) as conn:
        time_columns = [c for c in ("created_at", "updated_at", "deleted_at") if c in columns]
        if not time_columns:
            return out
        rows = conn.execute(
            sql.SQL(
                "SELECT {} FROM {}.{} WHERE ({}) AND tenant_id IN (SELECT DISTINCT"
                " canonical_tenant FROM migrate.id_map WHERE run = %s)"
            ).format(
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(" OR ").join(
                    sql.SQL("{} > %s").format(sql.Identifier(c)) for c in time_columns
                ),
            ),
            [*([since] * len(time_columns)), run],
        ).fetchall()
    for r in rows:
        values = dict(zip(columns, r, strict=True))
        tenant = values.get("tenant_id") or values["id"]
        if values.get("deleted_at") and values["deleted_at"] > since:
            what = "deleted"
        elif values.get("created_at") and values["created_at"] > since:
            what = "created"
        else:
            what = "updated"
        out.append((tenant, values["id"], values, what))
    if target.sealed:
        by_tenant: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for tenant, _id, values, _what in out:
            by_tenant.setdefault(tenant, []).append(values)
        for tenant, items in by_tenant.items():
            with db.platform_uow(tenant_id=tenant, actor="migrate:rollback") as uow:
                ring = None if target.platform_scoped else keyring(uow)
                keys = platform_keys(uow) if target.platform_scoped else None
                for values in items:
                    for column in target.sealed:
                        if ring is not None:
                            values[column] = open_value(
                                ring,
                                target.name,
                                column,
                                values["id"],
                                values.get("subject_id"),
                                values.get(column),
                            )
                        elif keys is not None:
                            values[column] = open_platform_value(
                                keys, target.name, column, values["id"], values.get(column)
                            )
    return out


def rollback(
    db: Database,
    url: str,
    mapping: Mapping,
    *,
    run: str | None = None,
    fernet_keys: Sequence[str] = (),
) -> RollbackReport:
    """Write tenantry's changes since the cutover back to the source, then lift the fence."""
    name = run or mapping.name
    report = RollbackReport(name)
    with owner_connection(db) as conn:
        current = state.require_run(conn, name)
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        if current.phase != "cut_over" or current.cutover_at is None:
            raise ConflictError(f"run {name} is {current.phase}; only a cut-over run rolls back")
        if current.rollback_until is not None and now > current.rollback_until:
            raise ConflictError(
                f"the rollback window of run {name} closed at "
                f"{current.rollback_until.isoformat(timespec='seconds')}"
            )
        since = current.cutover_at
    fernet = Fernet(fernet_keys[0].strip()) if fernet_keys else None
    with connect_source(url, autocommit=True) as src, owner_connection(db) as conn:
        tables = introspect(src)
        written: set[tuple[str, uuid.UUID]] = set()
        failed: list[str] = []
        src.execute("BEGIN")
        src.execute(f"SET LOCAL {WRITEBACK} = 'on'")
        for entity in mapping.entities:
            if entity.source not in tables or not entity.canonical.tenant_owned:
                continue  # tenants and staff accounts are not written back
            table = tables[entity.source]
            key = entity.key or table.primary_key
            specs = [s for s in entity.columns if _writable(s) and _column(s) not in key]
            report.skipped_columns[entity.name] = [
                s.target for s in entity.columns if not _writable(s)
            ]
            for tenant, row_id, values, what in _canonical_rows(db, name, entity, since):
                if (entity.target, row_id) in written:
                    continue
                placed = conn.execute(
                    "SELECT source_key FROM migrate.id_map WHERE run = %s AND entity = %s"
                    " AND canonical_id = %s AND outcome = 'loaded'",
                    (name, entity.name, row_id),
                ).fetchone()
                if placed is None and what != "created":
                    continue
                if placed is None and not _owns_new_rows(mapping, entity):
                    continue
                assignments = _assignments(conn, name, entity, specs, values, fernet, table.columns)
                column = entity.tenant.column
                if entity.tenant.kind == "ref" and column and assignments.get(column) is None:
                    assignments[column] = _tenant_key(conn, name, entity.tenant.ref, tenant)
                try:
                    with src.transaction():
                        done = _write_back(
                            src, entity, key, table.columns, assignments, row_id, values, what,
                            placed, table.required,
                        )  # fmt: skip
                except psycopg.Error as exc:
                    diag = exc.diag
                    failed.append(
                        f"{entity.name} {row_id}: {diag.message_primary or type(exc).__name__}"
                    )
                    continue
                counts = {"insert": report.inserted, "update": report.updated}
                counts.get(done, report.deleted)[entity.name] = (
                    counts.get(done, report.deleted).get(entity.name, 0) + 1
                )
                written.add((entity.target, row_id))
        if failed:
            src.execute("ROLLBACK")
            raise ConflictError(
                f"rollback refused, nothing was written back and the source stays fenced: "
                f"{len(failed)} rows cannot be written to the legacy tables ("
                + "; ".join(failed[:5])
                + ")",
                failed=failed,
            )
        src.execute("COMMIT")
    unfence(url, mapping)
    with owner_connection(db) as conn:
        state.update_run(conn, name, phase="rolled_back", rolled_back_at=now)
    return report


def _write_back(
    src: psycopg.Connection,
    entity: Entity,
    key: Sequence[str],
    types: dict[str, str],
    assignments: dict[str, Any],
    row_id: uuid.UUID,
    values: dict[str, Any],
    what: str,
    placed: tuple[Any, ...] | None,
    required: set[str],
) -> str:
    """Write one canonical row back to its source row; returns insert, update or delete.

    A new row gets the zero value of its type (false, 0, empty, now) in every NOT NULL column
    without a default that the mapping does not carry (a consent flag stays false)."""
    ident = sql.SQL("{}.{}").format(sql.Identifier(entity.schema), sql.Identifier(entity.table))
    if placed is None:
        if len(key) == 1 and key[0] not in assignments and "uuid" in types[key[0]]:
            assignments[key[0]] = str(row_id)
        for column in sorted(required - set(assignments)):
            assignments[column] = _zero(types[column])
        src.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                ident,
                sql.SQL(", ").join(sql.Identifier(c) for c in assignments),
                sql.SQL(", ").join(sql.Placeholder() for _ in assignments),
            ),
            list(assignments.values()),
        )
        return "insert"
    where, params = _key_where(key, placed[0])
    if what == "deleted" and not entity.soft_delete:
        src.execute(sql.SQL("DELETE FROM {} WHERE ").format(ident) + where, params)
        return "delete"
    soft = entity.soft_delete
    if what == "deleted" and soft and not soft.startswith("sql:"):
        assignments[soft] = values.get("deleted_at")
    if assignments:
        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in assignments)
        src.execute(
            sql.SQL("UPDATE {} SET {} WHERE ").format(ident, sets) + where,
            [*assignments.values(), *params],
        )
    return "update"


def _zero(sql_type: str) -> Any:
    """The zero value of a legacy column's type."""
    if sql_type.endswith("[]"):
        return []
    if sql_type == "boolean":
        return False
    if sql_type in ("json", "jsonb"):
        return "{}"
    if sql_type.startswith(("timestamp", "date", "time")):
        return datetime.now(UTC)
    if sql_type.startswith(("integer", "bigint", "smallint", "numeric", "double", "real")):
        return 0
    if sql_type == "uuid":
        return str(uuid.uuid4())
    return ""


def _owns_new_rows(mapping: Mapping, entity: Entity) -> bool:
    """New canonical rows go back to the first entity of their target table."""
    first = next(e for e in mapping.entities if e.target == entity.target)
    return first.name == entity.name


def _source_key_of(
    conn: psycopg.Connection, run: str, entity: str | None, canonical: uuid.UUID, _t: Any
) -> str | None:
    if entity is None:
        return None
    row = conn.execute(
        "SELECT source_key FROM migrate.id_map WHERE run = %s AND entity = %s"
        " AND canonical_id = %s ORDER BY outcome LIMIT 1",
        (run, entity, canonical),
    ).fetchone()
    return None if row is None else str(row[0])


def _tenant_key(
    conn: psycopg.Connection, run: str, entity: str | None, tenant: uuid.UUID
) -> str | None:
    """A source key of `entity` that stands for the tenant: the row that became the tenant,
    else the first row of that entity in the tenant (a new customer's station)."""
    row = conn.execute(
        "SELECT source_key FROM migrate.id_map WHERE run = %s AND entity = %s"
        " AND canonical_tenant = %s AND outcome = 'loaded'"
        " ORDER BY canonical_id = %s DESC, source_key LIMIT 1",
        (run, entity, tenant, tenant),
    ).fetchone()
    return None if row is None else str(row[0])


def _assignments(
    conn: psycopg.Connection,
    run: str,
    entity: Entity,
    specs: Sequence[ColumnSpec],
    values: dict[str, Any],
    fernet: Fernet | None,
    source_types: dict[str, str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in specs:
        column = _column(spec)
        assert column is not None
        value = values.get(spec.target)
        if out.get(column) is not None:
            continue  # two targets read this column: the first with a value writes it
        if spec.ref is not None:
            if value is None:
                out[column] = None
                continue
            key = _source_key_of(conn, run, spec.ref, value, None)
            if key is not None:
                out[column] = key
            continue
        out[column] = _backwards(spec, value, fernet, source_types.get(column, ""))
    return out


def _key_where(key: Sequence[str], source_key: str) -> tuple[sql.Composable, list[Any]]:
    parts = [source_key] if len(key) == 1 else [str(p) for p in json.loads(source_key)]
    return (
        sql.SQL(" AND ").join(sql.SQL("{}::text = %s").format(sql.Identifier(k)) for k in key),
        parts,
    )
