"""The legacy source database: connecting, describing it safely, and reading its catalog.

A source URL may carry a password; nothing here prints one (`describe` names host, port and
database only, connection failures go through `db.provider.reason`). Introspection reads
`pg_catalog` only, so it works the same on Supabase, RDS or a laptop, and on schemas whose
tables were made by hand in a dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tenantry.db.provider import reason
from tenantry.errors import TenantryError

__all__ = [
    "SourceError",
    "SourceTable",
    "connect_source",
    "describe",
    "introspect",
    "source_id",
]


class SourceError(TenantryError):
    """The legacy source database cannot be used."""


def _params(url: str) -> dict[str, Any]:
    text = url.strip()
    if text.startswith("postgres+psycopg://") or text.startswith("postgresql+psycopg://"):
        text = "postgresql://" + text.split("://", 1)[1]
    try:
        return conninfo_to_dict(text)
    except psycopg.ProgrammingError as exc:
        raise SourceError("the source URL is not a valid PostgreSQL connection URL") from exc


def describe(url: str) -> str:
    """`host:port/database` of a source URL, without user or password."""
    try:
        params = _params(url)
    except SourceError:
        return "(invalid source URL)"
    host = str(params.get("host") or "localhost")
    if host.startswith("/"):
        host = "socket"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or params.get('user', '')}"


def source_id(url: str) -> str:
    """What identifies a source across runs (host, port, database)."""
    return describe(url)


def connect_source(url: str, *, autocommit: bool = False, **extra: object) -> psycopg.Connection:
    """A connection to the source, or one clear `SourceError` line."""
    params = _params(url) | extra
    params.setdefault("connect_timeout", 10)
    params.setdefault("application_name", "tenantry-migrate")
    try:
        return psycopg.connect(autocommit=autocommit, **params)
    except psycopg.Error as exc:
        raise SourceError(f"cannot connect to the source {describe(url)}: {reason(exc)}") from exc


@dataclass
class SourceTable:
    """A table of the source: its columns (name -> SQL type) in order and its primary key."""

    schema: str
    name: str
    columns: dict[str, str] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    required: set[str] = field(default_factory=set)  # NOT NULL without a default

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


_TABLES = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       a.attnotnull AND NOT a.atthasdef AND a.attidentity = ''
           AND a.attgenerated = ''
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND NOT c.relispartition
ORDER BY n.nspname, c.relname, a.attnum
"""

_KEYS = """
SELECT n.nspname, c.relname, array_agg(a.attname ORDER BY k.ord)
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary
GROUP BY n.nspname, c.relname
"""


def introspect(conn: psycopg.Connection) -> dict[str, SourceTable]:
    """Every table and view of the source by `schema.table`."""
    tables: dict[str, SourceTable] = {}
    for schema, name, column, sql_type, required in conn.execute(_TABLES):
        table = tables.setdefault(f"{schema}.{name}", SourceTable(schema, name))
        table.columns[column] = sql_type
        if required:
            table.required.add(column)
    for schema, name, key in conn.execute(_KEYS):
        if f"{schema}.{name}" in tables:
            tables[f"{schema}.{name}"].primary_key = tuple(key)
    return tables
