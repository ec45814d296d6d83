"""`tenantry migrate plan`: does a mapping fit a source, and what would a load do?

`check_fit` lists every way a mapping does not fit the source's catalog (missing tables,
key columns, mapped columns, SQL expressions the source refuses); the load refuses to start
while there is one. `make_plan` adds what a user wants to see before loading: what maps where,
row counts, the columns no mapping uses, the personal-data columns and what happens to them,
card data that is never imported, and the expected duplicates of each consolidation group.
Reads the source only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from tenantry.errors import TenantryError
from tenantry.migrate import consolidate
from tenantry.migrate.convert import Context
from tenantry.migrate.mapping import Entity, Mapping, MappingError, looks_like_card_data
from tenantry.migrate.source import SourceTable
from tenantry.migrate.transform import Reader, Rejected, Transformer

__all__ = ["EntityPlan", "Plan", "check_fit", "make_plan", "personal_hint"]

_PERSONAL = re.compile(
    r"(e_?mail|phone|telefon|mobil|handy|fax|name|vorname|nachname|address|adresse|stras|street|"
    r"plz|zip|postal|city|ort|birth|geburt|iban|bic|account|konto|token|secret|password|"
    r"passwort|ip_?addr|license|kennzeichen|plate|vin|note|notiz|message|nachricht|chat|"
    r"verlauf|comment|kommentar|body|text|fahrzeug|lat|lng|longitude|latitude)",
    re.IGNORECASE,
)


def personal_hint(column: str) -> bool:
    """Whether a column's name suggests personal data (a hint for the plan, not a rule)."""
    return bool(_PERSONAL.search(column))


@dataclass
class EntityPlan:
    name: str
    source: str
    target: str
    present: bool
    rows: int = 0
    columns: list[tuple[str, str]] = field(default_factory=list)  # (target column, origin)
    sealed: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    personal_unmapped: dict[str, str] = field(default_factory=dict)
    card_data: list[str] = field(default_factory=list)


@dataclass
class Plan:
    mapping: str
    source: str
    entities: list[EntityPlan] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)
    unmapped_tables: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "mapping": self.mapping,
            "source": self.source,
            "fits": self.fits,
            "problems": self.problems,
            "entities": [e.__dict__ for e in self.entities],
            "expected_duplicates": self.duplicates,
            "unmapped_tables": self.unmapped_tables,
        }


def _entity_problems(entity: Entity, tables: dict[str, SourceTable]) -> list[str]:
    table = tables.get(entity.source)
    if table is None:
        return (
            [] if entity.optional else [f"entity {entity.name}: table {entity.source} is missing"]
        )
    problems = []
    key = entity.key or table.primary_key
    if not key:
        problems.append(
            f"entity {entity.name}: {entity.source} has no primary key; give the entity a `key`"
        )
    for column in [*key, *sorted(entity.source_columns())]:
        if column not in table.columns:
            problems.append(f"entity {entity.name}: column {entity.source}.{column} is missing")
    for column in table.columns:
        mapped = {c.source for c in entity.columns}
        if column in mapped and looks_like_card_data(column):
            problems.append(f"entity {entity.name}: {column} holds card data and is never imported")
    return problems


def _expression_problems(conn: psycopg.Connection, entity: Entity, table: SourceTable) -> list[str]:
    """SQL the source refuses (an expression naming a missing column or table)."""
    try:
        reader = Reader(entity, table)
    except ValueError as exc:
        return [f"entity {entity.name}: {exc}"]
    try:
        with conn.transaction():
            conn.execute(sql.SQL("EXPLAIN ") + reader.scan(), [])
    except psycopg.Error as exc:
        message = (exc.diag.message_primary if exc.diag else None) or type(exc).__name__
        return [f"entity {entity.name}: the source refuses the mapping's SQL: {message}"]
    return []


def check_fit(
    mapping: Mapping, tables: dict[str, SourceTable], conn: psycopg.Connection | None = None
) -> None:
    """Raise `MappingError` listing every misfit (nothing is written before this passes)."""
    problems = fit_problems(mapping, tables, conn)
    if problems:
        raise MappingError(
            f"the mapping {mapping.name} does not fit the source: " + "; ".join(problems),
            problems=problems,
        )


def fit_problems(
    mapping: Mapping, tables: dict[str, SourceTable], conn: psycopg.Connection | None = None
) -> list[str]:
    problems: list[str] = []
    for entity in mapping.entities:
        found = _entity_problems(entity, tables)
        problems.extend(found)
        if not found and conn is not None and entity.source in tables:
            problems.extend(_expression_problems(conn, entity, tables[entity.source]))
    return problems


def _referenced(entity: Entity, column: str, table: SourceTable) -> bool:
    if column in entity.source_columns() or column in (entity.key or table.primary_key):
        return True
    pattern = re.compile(rf"\b{re.escape(column)}\b")
    texts = [c.sql or "" for c in entity.columns] + [entity.where or ""]
    texts += [e.sql for e in entity.exclusions] + [
        entity.tenant.sql or "",
        entity.soft_delete or "",
    ]
    return any(pattern.search(t) for t in texts)


def make_plan(
    conn: psycopg.Connection,
    mapping: Mapping,
    tables: dict[str, SourceTable],
    source: str,
    ctx: Context | None = None,
) -> Plan:
    plan = Plan(mapping.name, source)
    plan.problems = fit_problems(mapping, tables, conn)
    mapped_tables = {e.source for e in mapping.entities}
    for entity in mapping.entities:
        table = tables.get(entity.source)
        ep = EntityPlan(entity.name, entity.source, entity.target, table is not None)
        plan.entities.append(ep)
        if table is None:
            continue
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(entity.schema), sql.Identifier(entity.table)
            )
        ).fetchone()
        ep.rows = int(row[0]) if row else 0
        if not conn.autocommit:
            conn.rollback()
        sealed = entity.canonical.sealed
        for spec in entity.columns:
            origin = spec.source or ("sql" if spec.sql else ("ref" if spec.ref else "constant"))
            if spec.ref:
                origin = f"{spec.source or 'sql'} -> {spec.ref}"
            ep.columns.append((spec.target, origin))
            if spec.target in sealed:
                ep.sealed.append(spec.target)
        # Columns of tables mapped several times count as used when any entity uses them.
        users = [e for e in mapping.entities if e.source == entity.source]
        for column in table.columns:
            if looks_like_card_data(column):
                ep.card_data.append(column)
                continue
            if any(_referenced(e, column, table) for e in users):
                continue
            ep.unused.append(column)
            if column in entity.personal:
                ep.personal_unmapped[column] = entity.personal[column]
            elif personal_hint(column):
                ep.personal_unmapped[column] = "not imported (looks personal)"
    if not plan.problems:
        plan.duplicates = expected_duplicates(conn, mapping, tables, ctx or Context())
    plan.unmapped_tables = sorted(
        t
        for t, info in tables.items()
        if t not in mapped_tables
        and info.schema not in ("auth", "storage", "realtime", "supabase_functions", "extensions")
    )
    return plan


def expected_duplicates(
    conn: psycopg.Connection,
    mapping: Mapping,
    tables: dict[str, SourceTable],
    ctx: Context,
    limit: int = 200_000,
) -> dict[str, int]:
    """Per consolidation group: how many source rows the load would merge into another.

    The group's rows are transformed as the load transforms them and clustered by the same
    engine; the tenant reference stands in for the tenant (nothing is resolved yet). Groups of
    more than `limit` rows are not estimated.
    """
    out: dict[str, int] = {}
    for group in mapping.consolidations:
        members: list[consolidate.Member] = []
        tenants: list[str] = []
        for name in group.entities:
            entity = mapping.entity(name)
            table = tables.get(entity.source)
            if table is None:
                continue
            reader = Reader(entity, table)
            transform = Transformer(mapping, entity, reader, ctx)
            try:
                with conn.transaction():
                    scan = reader.scan() + sql.SQL(" LIMIT {}").format(limit)
                    for row in conn.execute(scan, []):
                        out_row = transform(row)
                        if isinstance(out_row, Rejected):
                            continue
                        members.append((name, out_row.key, out_row.values))
                        tenants.append(out_row.tenant_ref[1] if out_row.tenant_ref else "fixed")
            except TenantryError:  # e.g. legacy ciphertext and no key given: no estimate
                members = []
                break
        if not members or len(members) >= limit:
            continue
        try:
            clusters = consolidate.cluster(members, group, tenants, mapping.phone_region)
        except TenantryError:
            continue
        out[f"{group.target} ({', '.join(group.entities)})"] = sum(len(c) - 1 for c in clusters)
    return out
