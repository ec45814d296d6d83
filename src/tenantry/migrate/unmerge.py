"""`tenantry migrate unmerge`: take one source row back out of a consolidated record.

The row becomes a canonical record of its own again, built from its current source row exactly
as the load builds one; the record it was merged into takes the values its other members
supply (survivorship run again over them) with new lineage; rows whose source reference named
the unmerged row (a booking of that customer) follow it to its new record. One transaction per
tenant; the id map then says `loaded` for the row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from tenantry.db.engine import Database
from tenantry.errors import ConflictError, NotFoundError, ValidationError
from tenantry.migrate import consolidate, state
from tenantry.migrate.convert import Context
from tenantry.migrate.load import Resolved, fixed_defaults, owner_connection, resolve
from tenantry.migrate.mapping import Entity, Mapping
from tenantry.migrate.source import connect_source, introspect
from tenantry.migrate.transform import Reader, Rejected, Transformer
from tenantry.migrate.writer import Row, driver, update_rows, write_rows

__all__ = ["UnmergeReport", "unmerge"]


@dataclass
class UnmergeReport:
    entity: str
    source_key: str
    record: uuid.UUID  # the record it was merged into
    new_record: uuid.UUID
    columns_recomputed: list[str] = field(default_factory=list)
    references_moved: int = 0


def _current(
    src: psycopg.Connection,
    conn: psycopg.Connection,
    run: str,
    mapping: Mapping,
    entity: Entity,
    keys: Sequence[str],
    ctx: Context,
    tables: dict[str, object],
) -> dict[str, Resolved]:
    """The source rows of `keys`, transformed and resolved as the load does."""
    reader = Reader(entity, tables[entity.source])  # type: ignore[arg-type]
    transform = Transformer(mapping, entity, reader, ctx)
    prepared = []
    for row in src.execute(reader.by_keys(), (list(keys),)).fetchall():
        out = transform(row)
        if not isinstance(out, Rejected):
            prepared.append(out)
    tenant = None
    if entity.tenant.kind == "fixed":
        found = conn.execute(
            "SELECT id FROM identity.tenants WHERE slug = %s", (entity.tenant.slug,)
        ).fetchone()
        tenant = None if found is None else found[0]
    ok, _bad = resolve(conn, run, entity, prepared, tenant, fixed_defaults(conn, entity, tenant))
    return {r.prepared.key: r for r in ok}


def unmerge(
    db: Database,
    url: str,
    mapping: Mapping,
    entity_name: str,
    key: str,
    *,
    run: str | None = None,
    fernet_keys: Sequence[str] = (),
) -> UnmergeReport:
    name = run or mapping.name
    entity = mapping.entity(entity_name)
    group = mapping.consolidation_of(entity.name)
    if group is None:
        raise ValidationError(f"entity {entity.name} is not consolidated; nothing to unmerge")
    ctx = Context(mapping.timezone, mapping.phone_region, tuple(fernet_keys))
    with (
        connect_source(url, autocommit=True) as src,
        owner_connection(db) as conn,
    ):
        state.require_run(conn, name)
        hit = state.placed(conn, name, entity.name, [key]).get(key)
        if hit is None:
            raise NotFoundError(f"{entity.name} {key} is not in the id map of run {name}")
        if hit.outcome != "merged" or hit.canonical_id is None or hit.tenant is None:
            raise ConflictError(
                f"{entity.name} {key} is {hit.outcome}, not merged; the record others were "
                "merged into stays (unmerge the others)"
            )
        record, tenant = hit.canonical_id, hit.tenant
        members = conn.execute(
            "SELECT entity, source_key FROM migrate.id_map WHERE run = %s AND canonical_id = %s"
            " AND outcome IN ('loaded', 'merged') AND NOT (entity = %s AND source_key = %s)"
            " ORDER BY outcome, entity, source_key",
            (name, record, entity.name, key),
        ).fetchall()
        tables = introspect(src)
        src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        mine = _current(src, conn, name, mapping, entity, [key], ctx, tables)  # type: ignore[arg-type]
        if key not in mine:
            raise ConflictError(f"{entity.name} {key} no longer transforms (see quarantine)")
        rest: list[consolidate.Member] = []
        for member_entity, member_key in members:
            e = mapping.entity(member_entity)
            found = _current(src, conn, name, mapping, e, [member_key], ctx, tables)  # type: ignore[arg-type]
            if member_key in found:
                rest.append((e.name, member_key, found[member_key].values))
        src.execute("COMMIT")
        owned = conn.execute(
            "SELECT column_name FROM migrate.lineage WHERE run = %s AND canonical_id = %s"
            " AND entity = %s AND source_key = %s",
            (name, record, entity.name, key),
        ).fetchall()
        children = conn.execute(
            "SELECT m.canonical_table, m.canonical_id, e.key FROM migrate.id_map m,"
            " jsonb_each(m.refs) e WHERE m.run = %s AND m.canonical_tenant = %s"
            " AND e.value = %s::jsonb",
            (name, tenant, json.dumps([entity.name, key])),
        ).fetchall()
    target = entity.canonical
    new_id = db.ids()
    survivor = consolidate.survive(rest, group, mapping.entities) if rest else None
    recomputed = sorted({c for (c,) in owned})
    report = UnmergeReport(entity.name, key, record, new_id, recomputed, len(children))
    with db.platform_uow(tenant_id=tenant, actor=f"migrate:{name}:unmerge") as uow:
        conn2 = driver(uow)
        conn2.execute(
            "DELETE FROM migrate.id_map WHERE run = %s AND entity = %s AND source_key = %s",
            (name, entity.name, key),
        )
        if recomputed:  # first: a unique value the row takes along must leave the record
            kept = survivor.values if survivor is not None else {}
            values = {
                c: kept.get(c)
                for c in recomputed
                if kept.get(c) is not None or target.by_name[c].nullable
            }
            carried = any(mapping.entity(e).column("updated_at") for e in group.entities)
            update_rows(uow, target, [(record, values)], touch=not carried)
        r = mine[key]
        row = Row(
            new_id, r.values, entity.name, key, refs=r.refs, source_deleted=r.prepared.deleted
        )
        write_rows(uow, target, [row], name, uow.clock.now())
        conn2.execute(
            "DELETE FROM migrate.lineage WHERE run = %s AND canonical_id = %s", (name, record)
        )
        if survivor is not None and len(rest) > 1:
            consolidate.copy_lineage(
                conn2,
                name,
                target.name,
                [(record, c, e, k) for c, (e, k) in survivor.lineage.items()],
            )
        for table, child, column in children:
            schema, rel = table.split(".")
            conn2.execute(
                sql.SQL("UPDATE {}.{} SET {} = %s WHERE tenant_id = %s AND id = %s").format(
                    sql.Identifier(schema), sql.Identifier(rel), sql.Identifier(column)
                ),
                (new_id, tenant, child),
            )
        uow.commit()
    return report
