"""Writing prepared rows of one tenant into a canonical table, sealed as tenantry seals them.

One call is one transaction of `tenantry_owner` bound to the tenant: the rows' data subjects
are found or created (by the blind index of their e-mail, else phone, or inherited from the
parent row, exactly the rules of the ORM sealer), every personal value is sealed under its
subject's key (or the tenant's records key), rows are written with COPY, and their id-map rows
go in the same transaction. Tenants themselves are created through `create_tenant`, so they get
their keys. A table partitioned by month (`engage.chat_messages`) gets the partitions of its
rows' months first (`ensure_partitions`, as the owner, in a transaction of its own); its rows
get time-ordered ids (`time_id`: a UUIDv7 of `sent_at`, as the application's chat ids are), and
their bulk batch says so (`bulk_batch(time_ids=...)`), so that `audit verify` knows a row's
month after the upkeep dropped it. Nothing here decides what a row means; `transform` did that.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.types.json import Jsonb

from tenantry.audit.bulk import bulk_batch
from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.ids import uuid7_from
from tenantry.migrate.state import IdMapRow, copy_id_map
from tenantry.migrate.targets import Target
from tenantry.models import Tenant
from tenantry.models.enums import LegalForm, Vertical
from tenantry.privacy.crypto import blind_index, field_aad, normalise_email, normalise_phone, seal
from tenantry.privacy.keys import KeyRing, PlatformKeys
from tenantry.privacy.sealing import normalise_identifier, seal_value
from tenantry.privacy.subjects import (
    email_index,
    find_or_insert_phone_subjects,
    find_or_insert_subjects,
    phone_index,
)
from tenantry.privacy.vault import keyring, platform_keys
from tenantry.services.platform import create_tenant

__all__ = [
    "Row",
    "driver",
    "ensure_partitions",
    "time_id",
    "update_rows",
    "write_rows",
    "write_tenant",
    "write_users",
]

# The function that makes the month partitions of a partitioned target (migration 0620); only
# the owner may call it.
_PARTITION_MAKERS = {"engage.chat_messages": "engage.ensure_chat_partitions"}


@dataclass
class Row:
    """A row ready to write: its id, values by column, and its id-map entry."""

    id: uuid.UUID
    values: dict[str, Any]
    entity: str
    source_key: str
    refs: dict[str, Any] = field(default_factory=dict)
    outcome: str = "loaded"
    source_deleted: bool = False


def driver(uow: UnitOfWork) -> Any:
    """The psycopg connection under a unit of work (its transaction begun and bound)."""
    return uow.session.connection().connection.driver_connection


def ensure_partitions(
    conn: Any, target: Target, moments: Iterable[Any], known: set[date] | None = None
) -> int:
    """Make the month partitions that rows with these partition-key values (`sent_at`) fall
    into, before they are written; without them the rows would land in the DEFAULT partition,
    and a month that has rows there can never get its own partition (nor be dropped whole).

    `conn` is an autocommit connection of the owner: each month is made in a short transaction
    of its own, never inside a transaction that holds rows of the table (creating a partition
    locks the parent). Months in `known` are taken as made and those made are added. Returns
    how many months were asked for."""
    maker = _PARTITION_MAKERS.get(target.name)
    if target.partition_key is None or maker is None:
        return 0
    months = {
        m.astimezone(UTC).date().replace(day=1) for m in moments if isinstance(m, datetime)
    } - (known or set())
    schema, name = maker.split(".")
    make = sql.SQL("SELECT {}.{}(%s, 1)").format(sql.Identifier(schema), sql.Identifier(name))
    for month in sorted(months):
        try:
            conn.execute(make, (month,))
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            conn.execute(make, (month,))  # a parallel worker made it first: now it exists
    if known is not None:
        known.update(months)
    return len(months)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_RANDOM = random.SystemRandom()


def _unix_ms(moment: Any) -> int | None:
    if not isinstance(moment, datetime):
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    ms = (aware - _EPOCH) // _MS
    return ms if 0 <= ms < 1 << 48 else None


def time_id(target: Target, values: dict[str, Any]) -> uuid.UUID | None:
    """A new id for a row of a table dropped by month (chat): a UUIDv7 whose timestamp is the
    row's partition key to the millisecond (random otherwise); None for other tables or a
    row without a usable time."""
    if target.partition_key is None or target.name not in _PARTITION_MAKERS:
        return None
    ms = _unix_ms(values.get(target.partition_key))
    return None if ms is None else uuid7_from(ms, _RANDOM)


def _time_ids(target: Target, rows: Sequence[Row]) -> str | None:
    """The partition key, when every row's id carries it (`time_id`); else None."""
    key = target.partition_key
    if key is None or target.name not in _PARTITION_MAKERS:
        return None
    for row in rows:
        ms = _unix_ms(row.values.get(key))
        if ms is None or row.id.version != 7 or row.id.int >> 80 != ms:
            return None
    return key


def _normalised(kind: str, value: str) -> str:
    if kind == "email":
        return normalise_email(value)
    if kind == "phone":
        return normalise_phone(value)
    return normalise_identifier(value)


def _subjects(
    uow: UnitOfWork, ring: KeyRing, target: Target, rows: Sequence[Row]
) -> dict[uuid.UUID, uuid.UUID]:
    """Each row's data subject, by the ORM sealer's rules (contact first, then parents)."""
    found: dict[uuid.UUID, uuid.UUID] = {}
    if not target.subject_linked:
        return found
    kinds = {name: target.sealed[name].kind for name in target.subject_from}
    by_email: dict[uuid.UUID, bytes] = {}
    contacts: list[tuple[str, str | None]] = []
    phone_only: dict[uuid.UUID, str] = {}
    for row in rows:
        email = next(
            (row.values.get(n) for n, k in kinds.items() if k == "email" and row.values.get(n)),
            None,
        )
        phone = next(
            (row.values.get(n) for n, k in kinds.items() if k == "phone" and row.values.get(n)),
            None,
        )
        if email:
            try:
                by_email[row.id] = email_index(ring, email)
                contacts.append((email, phone))
                continue
            except ValidationError:
                pass
        if phone:
            try:
                normalise_phone(phone)
                phone_only[row.id] = phone
            except ValidationError:
                pass
    if contacts:
        subjects = find_or_insert_subjects(uow, ring, contacts)
        for row_id, index in by_email.items():
            found[row_id] = subjects[index]
    if phone_only:
        by_phone = find_or_insert_phone_subjects(uow, ring, list(phone_only.values()))
        for row_id, phone in phone_only.items():
            found[row_id] = by_phone[phone_index(ring, phone)[0]]
    conn = driver(uow)
    for column, table in target.subject_parents:
        parents = {
            row.values[column] for row in rows if row.id not in found and row.values.get(column)
        }
        if not parents:
            continue
        schema, name = table.split(".")
        result = conn.execute(
            sql.SQL(
                "SELECT id, subject_id FROM {}.{} WHERE tenant_id = %s AND id = ANY(%s)"
            ).format(sql.Identifier(schema), sql.Identifier(name)),
            (ring.tenant_id, list(parents)),
        )
        subject_of = {pid: sid for pid, sid in result if sid is not None}
        for row in rows:
            parent = row.values.get(column)
            if row.id not in found and parent in subject_of:
                found[row.id] = subject_of[parent]
    return found


def _copy_value(value: Any) -> Any:
    if isinstance(value, (dict, list)) and not isinstance(value, str):
        return Jsonb(value) if isinstance(value, dict) else value
    return value


def write_rows(
    uow: UnitOfWork,
    target: Target,
    rows: Sequence[Row],
    run: str,
    now: datetime,
    *,
    bulk: bool = True,
) -> dict[str, str]:
    """COPY `rows` into `target` (sealing personal data) and their id-map rows, in `uow`.

    The rows are audited as one bulk batch (`bulk`, the load: a Merkle root that `audit verify`
    holds the rows against; chat rows whose ids carry their `sent_at` say so) or one chained
    entry each (change capture's few rows). Rows a
    CHECK constraint of the target would refuse stay out; their source keys are returned with
    the reason (to be quarantined).
    """
    if not rows:
        return {}
    ring = keyring(uow)
    tenant = ring.tenant_id
    subjects = _subjects(uow, ring, target, rows)
    sealed = target.sealed
    columns = target.by_name
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        values = dict(row.values)
        if row.source_deleted and target.soft_delete and values.get("deleted_at") is None:
            values["deleted_at"] = now
        subject = subjects.get(row.id)
        for name, fieldspec in sealed.items():
            plain = values.get(name)
            if plain is None:
                continue
            values[name] = seal_value(ring, target.name, name, row.id, subject, str(plain))
            if fieldspec.blind_index is not None:
                values[fieldspec.blind_index] = blind_index(
                    ring.field_index_key(name), _normalised(fieldspec.kind, str(plain))
                )
        present = ["tenant_id", "id"]
        data: list[Any] = [tenant, row.id]
        if target.subject_linked:
            present.append("subject_id")
            data.append(subject)
        for name in sorted(values):
            if name in columns and name not in ("tenant_id", "id", "subject_id"):
                present.append(name)
                data.append(_copy_value(values[name]))
        groups.setdefault(tuple(present), []).append(tuple(data))
    conn = driver(uow)
    if bulk:
        source = f"migrate:{run}:{target.name}"
        with bulk_batch(conn, tenant, source, time_ids=_time_ids(target, rows)):
            refused = _insert(conn, target, groups)
    else:  # a few rows (change capture): one audit entry each costs less than a batch
        refused = _insert(conn, target, groups)
    copy_id_map(
        conn,
        run,
        [
            IdMapRow(
                entity=r.entity,
                source_key=r.source_key,
                outcome=r.outcome,
                canonical_table=target.name,
                tenant=tenant,
                canonical_id=r.id,
                refs=r.refs or None,
                source_deleted=r.source_deleted,
            )
            for r in rows
            if r.id not in refused
        ],
    )
    return {r.source_key: refused[r.id] for r in rows if r.id in refused}


def _insert(
    conn: Any, target: Target, groups: dict[tuple[str, ...], list[tuple[Any, ...]]]
) -> dict[uuid.UUID, str]:
    """COPY straight into the table; when a CHECK constraint refuses a row, COPY into the
    stage instead, take out what the constraints refuse and insert the rest."""
    schema, table = target.name.split(".")
    try:
        with conn.transaction():
            _copy(
                conn, sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)), groups
            )
        return {}
    except psycopg.errors.CheckViolation:
        pass
    stage = _stage(conn, target)
    _copy(conn, sql.Identifier(stage), groups)
    refused = _refuse(conn, target, stage)
    conn.execute(
        sql.SQL("INSERT INTO {}.{} SELECT * FROM {}").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(stage)
        )
    )
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(stage)))
    return refused


def _copy(
    conn: Any, into: sql.Composable, groups: dict[tuple[str, ...], list[tuple[Any, ...]]]
) -> None:
    for present, data_rows in groups.items():
        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
            into, sql.SQL(", ").join(sql.Identifier(c) for c in present)
        )
        with conn.cursor().copy(stmt) as copy:
            for data in data_rows:
                copy.write_row(data)


def _stage(conn: Any, target: Target) -> str:
    """A session-local table shaped like `target` without its constraints (defaults kept)."""
    stage = "migrate_stage_" + target.name.replace(".", "_")
    schema, table = target.name.split(".")
    conn.execute(
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}.{} INCLUDING DEFAULTS)").format(
            sql.Identifier(stage), sql.Identifier(schema), sql.Identifier(table)
        )
    )
    return stage


_CHECKS = """
SELECT c.conname, pg_get_expr(c.conbin, c.conrelid)
FROM pg_catalog.pg_constraint c
WHERE c.conrelid = %s::regclass AND c.contype = 'c'
ORDER BY c.conname
"""


def _refuse(conn: Any, target: Target, stage: str) -> dict[uuid.UUID, str]:
    """Take the rows the target's CHECK constraints would refuse out of the stage: their ids
    with the reason, so one bad row quarantines alone instead of failing its batch."""
    refused: dict[uuid.UUID, str] = {}
    for name, expr in conn.execute(_CHECKS, (target.name,)).fetchall():
        deleted = conn.execute(
            sql.SQL("DELETE FROM {} WHERE ({}) IS FALSE RETURNING id").format(
                sql.Identifier(stage), sql.SQL(expr)
            )
        ).fetchall()
        for (row_id,) in deleted:
            refused[row_id] = f"{target.name} refuses the row: constraint {name}"
    return refused


_USER_COLUMNS = ("locale", "status", "is_platform_admin", "last_login_at", "created_at")


def write_users(uow: UnitOfWork, rows: Sequence[Row], run: str) -> None:
    """Staff accounts: one per e-mail across the platform (an account that exists already is
    reused), sealed under the platform keys, with a membership in the row's tenant."""
    platform = platform_keys(uow)
    version = platform.active_version()
    key = platform.data_key(version)
    tenant = uow.require_tenant()
    conn = driver(uow)
    placed: list[IdMapRow] = []
    for row in rows:
        email = str(row.values["email"])
        aad = field_aad("identity.users", "email", PlatformKeys.SCOPE, row.id)
        name = row.values.get("display_name")
        name_sealed = None
        if name:
            name_aad = field_aad("identity.users", "display_name", PlatformKeys.SCOPE, row.id)
            name_sealed = seal(key, str(name).encode(), name_aad, version=version)
        extra = [c for c in _USER_COLUMNS if row.values.get(c) is not None]
        stmt = sql.SQL(
            "INSERT INTO identity.users (id, email, email_bidx, display_name{}) VALUES ({})"
            " ON CONFLICT (email_bidx) DO UPDATE SET updated_at = identity.users.updated_at"
            " RETURNING id"
        ).format(
            sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier(c)) for c in extra),
            sql.SQL(", ").join(sql.Placeholder() for _ in range(4 + len(extra))),
        )
        email_index = blind_index(platform.field_index_key("email"), normalise_email(email))
        params = [row.id, seal(key, email.encode(), aad, version=version), email_index, name_sealed]
        found = conn.execute(stmt, [*params, *(row.values[c] for c in extra)]).fetchone()
        user_id = found[0]
        conn.execute(
            "INSERT INTO identity.memberships (tenant_id, id, user_id, role)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, user_id) DO NOTHING",
            (tenant, uow.ids(), user_id, row.values.get("role", "staff")),
        )
        outcome = "loaded" if user_id == row.id else "merged"
        placed.append(
            IdMapRow(row.entity, row.source_key, outcome, "identity.users", tenant, user_id)
        )
    copy_id_map(conn, run, placed)


def write_tenant(
    db: Database, row: Row, run: str, taken_slugs: set[str], *, id_map: bool = True
) -> uuid.UUID:
    """Create one tenant (with its keys) from a prepared row, with its id-map row."""
    values = dict(row.values)
    slug = _free_slug(str(values.pop("slug")), taken_slugs)
    with db.platform_uow(actor=f"migrate:{run}") as uow:
        tenant = create_tenant(
            uow,
            slug=slug,
            legal_name=str(values.pop("legal_name")),
            display_name=values.pop("display_name", None),
            vertical=Vertical(values.pop("vertical")),
            legal_form=LegalForm(values.pop("legal_form", "other")),
            tenant_id=row.id,
        )
        for name, value in values.items():
            if name in Tenant.__table__.c:
                setattr(tenant, name, value)
        if row.source_deleted and tenant.deleted_at is None:
            tenant.deleted_at = uow.clock.now()
        uow.flush()
        if id_map:
            copy_id_map(
                driver(uow),
                run,
                [
                    IdMapRow(
                        entity=row.entity,
                        source_key=row.source_key,
                        outcome="loaded",
                        canonical_table="identity.tenants",
                        tenant=tenant.id,
                        canonical_id=tenant.id,
                        source_deleted=row.source_deleted,
                    )
                ],
            )
        uow.commit()
    return row.id


def _free_slug(slug: str, taken: set[str]) -> str:
    base = slug[:56] if len(slug) >= 2 else f"t-{slug}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def update_rows(
    uow: UnitOfWork,
    target: Target,
    changes: Sequence[tuple[uuid.UUID, dict[str, Any]]],
    *,
    touch: bool = True,
) -> None:
    """Set changed columns of existing rows of the unit of work's tenant, resealing personal
    data under each row's own subject (audited like any other update). `touch` sets
    `updated_at` too (not when the mapping carries the source's own `updated_at`)."""
    if not changes:
        return
    ring = keyring(uow)
    conn = driver(uow)
    schema, table = target.name.split(".")
    subjects: dict[uuid.UUID, uuid.UUID | None] = {}
    if target.subject_linked:
        rows = conn.execute(
            sql.SQL(
                "SELECT id, subject_id FROM {}.{} WHERE tenant_id = %s AND id = ANY(%s)"
            ).format(sql.Identifier(schema), sql.Identifier(table)),
            (ring.tenant_id, [row_id for row_id, _ in changes]),
        )
        subjects = dict(rows.fetchall())
    for row_id, values in changes:
        assignments: dict[str, Any] = {}
        for name, value in values.items():
            field = target.sealed.get(name)
            if field is None:
                assignments[name] = _copy_value(value)
                continue
            text = None if value is None else str(value)
            assignments[name] = (
                None
                if text is None
                else seal_value(ring, target.name, name, row_id, subjects.get(row_id), text)
            )
            if field.blind_index is not None:
                assignments[field.blind_index] = (
                    None
                    if text is None
                    else blind_index(ring.field_index_key(name), _normalised(field.kind, text))
                )
        if not assignments:
            continue
        if touch and "updated_at" in target.by_name and "updated_at" not in assignments:
            assignments["updated_at"] = uow.clock.now()
        conn.execute(
            sql.SQL("UPDATE {}.{} SET {} WHERE tenant_id = %s AND id = %s").format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(
                    sql.SQL("{} = %s").format(sql.Identifier(c)) for c in assignments
                ),
            ),
            [*assignments.values(), ring.tenant_id, row_id],
        )
