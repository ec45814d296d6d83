"""The bookkeeping of a run in the target database (schema `migrate`), as SQL over psycopg.

Runs, the id map (one outcome per source row: loaded, merged or quarantined), load progress,
lineage and verify reports. Every writer of canonical rows inserts its id-map rows in the same
transaction as the rows themselves, which is what makes a rerun after a crash continue without
loading a row twice. Only `tenantry_owner` connections use this module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tenantry.errors import NotFoundError

__all__ = [
    "IdMapRow",
    "Placed",
    "Run",
    "copy_id_map",
    "existing_keys",
    "get_run",
    "placed",
    "require_run",
    "save_progress",
    "start_run",
]


@dataclass
class Run:
    name: str
    mapping: str
    source_id: str
    phase: str
    slot: str | None
    publication: str | None
    start_lsn: int | None
    applied_lsn: int | None
    applied_commit_at: datetime | None
    load_started_at: datetime | None
    load_finished_at: datetime | None
    cutover_at: datetime | None
    rollback_until: datetime | None
    rolled_back_at: datetime | None


_RUN_COLUMNS = (
    "name, mapping, source_id, phase, slot, publication, start_lsn, applied_lsn,"
    " applied_commit_at, load_started_at, load_finished_at, cutover_at, rollback_until,"
    " rolled_back_at"
)


def get_run(conn: psycopg.Connection, name: str) -> Run | None:
    row = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM migrate.runs WHERE name = %s", (name,)
    ).fetchone()
    return None if row is None else Run(*row)


def require_run(conn: psycopg.Connection, name: str) -> Run:
    run = get_run(conn, name)
    if run is None:
        raise NotFoundError(f"no migration run {name!r}: run `tenantry migrate load` first")
    return run


def start_run(conn: psycopg.Connection, name: str, mapping: str, source_id: str) -> Run:
    """The run (created in phase `loading` when new); a run of another source is refused."""
    conn.execute(
        "INSERT INTO migrate.runs (name, mapping, source_id, phase, load_started_at)"
        " VALUES (%s, %s, %s, 'loading', now()) ON CONFLICT (name) DO NOTHING",
        (name, mapping, source_id),
    )
    run = require_run(conn, name)
    if run.source_id != source_id or run.mapping != mapping:
        raise NotFoundError(
            f"migration run {name!r} moves {run.source_id} with mapping {run.mapping}; "
            "give this source another --run name"
        )
    return run


def update_run(conn: psycopg.Connection, name: str, **values: Any) -> None:
    sets = ", ".join(f"{k} = %({k})s" for k in values)
    conn.execute(
        f"UPDATE migrate.runs SET {sets}, updated_at = now() WHERE name = %(name)s",
        values | {"name": name},
    )


@dataclass(frozen=True)
class Placed:
    """Where a source row went."""

    outcome: str
    canonical_id: uuid.UUID | None
    tenant: uuid.UUID | None
    source_deleted: bool = False


def placed(
    conn: psycopg.Connection, run: str, entity: str, keys: Iterable[str]
) -> dict[str, Placed]:
    """The id-map rows of these source keys of one entity."""
    wanted = list(set(keys))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT source_key, outcome, canonical_id, canonical_tenant, source_deleted"
        " FROM migrate.id_map WHERE run = %s AND entity = %s AND source_key = ANY(%s)",
        (run, entity, wanted),
    )
    return {key: Placed(o, cid, tenant, bool(d)) for key, o, cid, tenant, d in rows}


def has_rows(conn: psycopg.Connection, run: str, entity: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM migrate.id_map WHERE run = %s AND entity = %s)",
        (run, entity),
    ).fetchone()
    return bool(row and row[0])


def existing_keys(conn: psycopg.Connection, run: str, entity: str, keys: Sequence[str]) -> set[str]:
    rows = conn.execute(
        "SELECT source_key FROM migrate.id_map WHERE run = %s AND entity = %s"
        " AND source_key = ANY(%s)",
        (run, entity, list(keys)),
    )
    return {r[0] for r in rows}


@dataclass
class IdMapRow:
    entity: str
    source_key: str
    outcome: str
    canonical_table: str
    tenant: uuid.UUID | None = None
    canonical_id: uuid.UUID | None = None
    reason: str | None = None
    refs: dict[str, Any] | None = None
    source_deleted: bool = False


def copy_id_map(conn: psycopg.Connection, run: str, rows: Sequence[IdMapRow]) -> None:
    if not rows:
        return
    with conn.cursor().copy(
        "COPY migrate.id_map (run, entity, source_key, outcome, canonical_table,"
        " canonical_tenant, canonical_id, reason, refs, source_deleted) FROM STDIN"
    ) as copy:
        for r in rows:
            copy.write_row(
                (
                    run,
                    r.entity,
                    r.source_key,
                    r.outcome,
                    r.canonical_table,
                    r.tenant,
                    r.canonical_id,
                    r.reason,
                    None if r.refs is None else Jsonb(r.refs),
                    r.source_deleted,
                )
            )


def save_progress(
    conn: psycopg.Connection,
    run: str,
    entity: str,
    last_key: Sequence[str] | None,
    rows: int,
    *,
    done: bool = False,
) -> None:
    conn.execute(
        "INSERT INTO migrate.progress (run, entity, last_key, rows, done)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run, entity) DO UPDATE"
        " SET last_key = coalesce(EXCLUDED.last_key, migrate.progress.last_key),"
        " rows = migrate.progress.rows + EXCLUDED.rows, done = EXCLUDED.done",
        (run, entity, None if last_key is None else list(last_key), rows, done),
    )


def progress_of(conn: psycopg.Connection, run: str) -> dict[str, tuple[list[str] | None, bool]]:
    rows = conn.execute(
        "SELECT entity, last_key, done FROM migrate.progress WHERE run = %s", (run,)
    )
    return {entity: (last, bool(done)) for entity, last, done in rows}


def outcome_counts(conn: psycopg.Connection, run: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        "SELECT entity, outcome, count(*) FROM migrate.id_map WHERE run = %s"
        " GROUP BY entity, outcome ORDER BY entity, outcome",
        (run,),
    )
    for entity, outcome, n in rows:
        counts.setdefault(entity, {})[outcome] = int(n)
    return counts


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL prints it (`16/B374D848`)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"
