"""Reading records without a unit of work: one statement, one round trip, rows as dicts.

The API's read endpoints (`GET /v1/<kind>/{id}` and the filtered lists) are the hot path of
the system. They read exactly what `get_record` and `list_records` read: both build their
statement from the kind's `RecordKind` (tenant, soft delete, location scope, permission,
filters, keyset order), here with bind parameters. The statement is compiled once per shape
of query and read through `AsyncReader`; its rows carry the data subject's key (`LEFT JOIN
LATERAL privacy.subject_keys`), so the sealed columns can be opened without a second query.
`FetchedKeys` opens them by the rules of `open_value`: a destroyed subject key, or a value
written under an older key version, opens as None. One deliberate difference: a row whose
subject has no key row at all (which only a damaged database has) also reads as None here,
where the unit of work reports the key as not found.

A shape is the kind, whether it reads by id, which filter columns are set, whether the caller
has a location scope, whether a cursor is given and the page size; its SQL text depends on no
other value. The page size is written into the SQL (`tenantry.db.paging` says why).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.orm import ColumnProperty

from tenantry.db.aio import AsyncReader
from tenantry.db.engine import Database
from tenantry.db.paging import page_limit
from tenantry.errors import NotFoundError
from tenantry.models import SubjectKey
from tenantry.models.enums import KeyPurpose
from tenantry.models.sealed import sealed_fields
from tenantry.privacy.crypto import DecryptionError, key_version_of
from tenantry.privacy.keys import cached_tenant_keys
from tenantry.privacy.sealing import FetchedKeys
from tenantry.privacy.vault import keyring, vault_of
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, SCOPE_TYPE, RecordKind

__all__ = ["ReadQuery", "read_page", "read_query", "read_records", "subject_key_lateral"]

_DIALECT = psycopg_dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class ReadQuery:
    """A compiled read: its SQL and how to turn a result row into a record dict."""

    sql: str
    table: str
    names: tuple[str, ...]  # output name of each table column, in select order
    sealed: tuple[tuple[int, str], ...]  # (position, column name) of each sealed column
    id_at: int
    subject_at: int | None  # position of subject_id, if the table has one
    key_at: int | None  # first of (version, wrapping_version, wrapped_key), if joined


def _output_names(model: Any) -> tuple[list[str], dict[str, str]]:
    """Table columns in order and the attribute name a response schema reads for each."""
    table = model.__table__
    names: dict[str, str] = {}
    for prop in sa.inspect(model).iterate_properties:
        if isinstance(prop, ColumnProperty) and len(prop.columns) == 1:
            names[prop.columns[0].name] = prop.key
    for field in sealed_fields(model).values():
        names[table.c[field.name].name] = field.name
    return [c.name for c in table.columns], names


@functools.lru_cache(maxsize=1024)
def read_query(
    kind_name: str,
    by_id: bool,
    filters: tuple[str, ...],
    scoped: bool,
    after: bool,
    limit: int | None = None,
) -> ReadQuery:
    """The statement for one shape of read (compiled once per process and shape).

    A list (not `by_id`) needs its `limit`: the rows to read, written into the SQL.
    """
    kind: RecordKind[Any] = KINDS[kind_name]
    model = kind.model
    table = model.__table__
    columns, names = _output_names(model)
    sealed_cols = {c.name for c in table.columns if c.info.get("sealed")}
    select_cols: list[Any] = [table.c[c] for c in columns]
    joined = kind.joins_subject_key
    key: Any = None
    if joined:
        key = subject_key_lateral(table, page_limit(1))
        select_cols += [key.c.version, key.c.wrapping_version, key.c.wrapped_key]
    stmt = sa.select(*select_cols).select_from(table)
    if joined:
        stmt = stmt.select_from(table.outerjoin(key, sa.true()))
    if not by_id and (limit is None or limit < 1):
        raise ValueError("a list needs a positive limit")
    stmt = kind.select(
        stmt,
        tenant=sa.bindparam("tenant", type_=sa.Uuid()),
        scope=sa.bindparam("scope", type_=SCOPE_TYPE) if scoped else None,
        id_=sa.bindparam("id", type_=sa.Uuid()) if by_id else None,
        equal={name: sa.bindparam(f"f_{name}", type_=table.c[name].type) for name in filters},
        after=sa.bindparam("after", type_=sa.Uuid()) if after else None,
        limit=None if by_id else limit,
    )
    compiled = stmt.compile(dialect=_DIALECT)
    return ReadQuery(
        sql=str(compiled),
        table=table.fullname,
        names=tuple(names[c] for c in columns),
        sealed=tuple((i, c) for i, c in enumerate(columns) if c in sealed_cols),
        id_at=columns.index("id"),
        subject_at=columns.index("subject_id") if "subject_id" in table.c else None,
        key_at=len(columns) if joined else None,
    )


def subject_key_lateral(table: Any, one: Any = 1) -> Any:
    """`LATERAL` select of the row's current subject key (version, wrapping version, wrapped
    key; NULL once destroyed), to open sealed columns with `FetchedKeys` in the same query."""
    return (
        sa.select(SubjectKey.version, SubjectKey.wrapping_version, SubjectKey.wrapped_key)
        .where(
            SubjectKey.tenant_id == table.c.tenant_id,
            SubjectKey.subject_id == table.c.subject_id,
        )
        .order_by(SubjectKey.version.desc())
        .limit(one)
        .lateral("subject_key")
    )


async def _wrapping_keys(
    db: Database, tenant_id: uuid.UUID, versions: set[int]
) -> dict[int, bytes]:
    """The tenant's unwrapped wrapping keys by version: from the process cache, else loaded."""
    if not versions:
        return {}
    vault = vault_of(db)
    keys = cached_tenant_keys(
        vault.key_cache, vault.master, tenant_id, KeyPurpose.WRAPPING, versions
    )
    missing = versions - keys.keys()
    if missing:

        def load() -> dict[int, bytes]:
            with db.tenant_uow(tenant_id, actor="api:keys") as uow:
                return {v: keyring(uow).tenant_key(KeyPurpose.WRAPPING, v) for v in missing}

        # In the thread pool the API sizes to its connection pool (a cold cache only).
        keys |= await anyio.to_thread.run_sync(load)
    return keys


async def _open(
    db: Database, tenant_id: uuid.UUID, query: ReadQuery, rows: list[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """The rows as dicts by output name, sealed columns opened."""
    records = [dict(zip(query.names, row, strict=False)) for row in rows]
    if not query.sealed or not rows:
        return records
    versions: set[int] = set()
    for row in rows:
        subject = row[query.subject_at] if query.subject_at is not None else None
        if subject is not None and query.key_at is not None:
            if row[query.key_at + 2] is not None:
                versions.add(row[query.key_at + 1])
        else:  # sealed under the records key of the version it names
            for i, _ in query.sealed:
                if row[i] is None:
                    continue
                try:
                    versions.add(key_version_of(row[i]))
                except DecryptionError:  # not a tenantry ciphertext: opens as None
                    continue
    wrapping = await _wrapping_keys(db, tenant_id, versions)
    keys = FetchedKeys(tenant_id, wrapping, vault_of(db).opened_keys)
    subject_at, key_at, table, id_at = query.subject_at, query.key_at, query.table, query.id_at
    for row, record in zip(rows, records, strict=True):
        subject = row[subject_at] if subject_at is not None else None
        if subject is not None and key_at is not None and row[key_at] is not None:
            keys.add_subject(subject, row[key_at], row[key_at + 1], row[key_at + 2])
        sealed = [(column, row[i]) for i, column in query.sealed]
        record.update(keys.open_row(table, row[id_at], subject, sealed))
    return records


async def read_records(
    reader: AsyncReader,
    db: Database,
    principal: Principal,
    actor: str,
    kind_name: str,
    *,
    id_: uuid.UUID | None = None,
    filters: Mapping[str, Any] | None = None,
    after: uuid.UUID | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Records of one kind in the principal's tenant and scope, personal data opened.

    With `id_`: that record or `NotFoundError` (also outside the scope). Otherwise up to
    `limit` records in id order after the cursor, filtered by equality on the given columns
    (None values are ignored).
    """
    query, rows = await _fetch(reader, principal, actor, kind_name, id_, filters, after, limit)
    if id_ is not None and not rows:
        raise NotFoundError(f"{KINDS[kind_name].label} not found")
    return await _open(db, principal.tenant_id, query, rows)


async def read_page(
    reader: AsyncReader,
    db: Database,
    principal: Principal,
    actor: str,
    kind_name: str,
    *,
    filters: Mapping[str, Any] | None = None,
    after: uuid.UUID | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], bool]:
    """`read_records` for one page: up to `limit` records and whether more follow.

    One row more than the page is read to tell; its personal data is not opened.
    """
    query, rows = await _fetch(reader, principal, actor, kind_name, None, filters, after, limit + 1)
    return await _open(db, principal.tenant_id, query, rows[:limit]), len(rows) > limit


async def _fetch(
    reader: AsyncReader,
    principal: Principal,
    actor: str,
    kind_name: str,
    id_: uuid.UUID | None,
    filters: Mapping[str, Any] | None,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[ReadQuery, list[tuple[Any, ...]]]:
    kind = KINDS[kind_name]
    kind.authorise(principal)
    set_filters = {k: v for k, v in (filters or {}).items() if v is not None}
    scoped = kind.scoped(principal)
    query = read_query(
        kind_name,
        id_ is not None,
        tuple(sorted(set_filters)),
        scoped,
        after is not None,
        None if id_ is not None else limit,
    )
    params: dict[str, Any] = {"tenant": principal.tenant_id}
    if scoped:
        params["scope"] = sorted(principal.location_ids or ())
    if id_ is not None:
        params["id"] = id_
    if after is not None:
        params["after"] = after
    for name, value in set_filters.items():
        params[f"f_{name}"] = value.value if isinstance(value, Enum) else value
    return query, await reader.fetch(principal.tenant_id, actor, query.sql, params)
