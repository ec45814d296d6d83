"""What a run looks like from outside: `migrate status` and `migrate quarantine` as data."""

from __future__ import annotations

from typing import Any

import psycopg

from tenantry.migrate import replication, state
from tenantry.migrate.pgoutput import Decoder

__all__ = ["merges", "quarantine_rows", "status_of"]


def status_of(conn: psycopg.Connection, name: str, source_url: str | None = None) -> dict[str, Any]:
    """The run as `migrate status` shows it; with the source's URL the lag is measured live
    (bytes the slot still holds, seconds since the oldest of them was committed)."""
    run = state.require_run(conn, name)
    last = conn.execute(
        "SELECT verified_at, equal, report->'differences_total' FROM migrate.verifications"
        " WHERE run = %s ORDER BY verified_at DESC LIMIT 1",
        (name,),
    ).fetchone()
    lag: dict[str, Any] | None = None
    if source_url is not None and run.slot is not None:
        with replication.connect_source(source_url) as repl:
            now = replication.lag(repl, run.slot)
            pending = replication.read_changes(
                repl,
                run.slot,
                run.publication or run.slot,
                Decoder(),
                max_changes=1,
                after_lsn=run.applied_lsn,
            )
            seconds = 0.0
            if pending:
                age = replication.source_now(repl) - pending[0].commit_time
                seconds = max(0.0, age.total_seconds())
        lag = {"bytes": now.bytes, "seconds": round(seconds, 3)}
    return {
        "run": run.name,
        "mapping": run.mapping,
        "source": run.source_id,
        "phase": run.phase,
        "slot": run.slot,
        "applied_lsn": None if run.applied_lsn is None else state.lsn_text(run.applied_lsn),
        "lag": lag,
        "load_started_at": _iso(run.load_started_at),
        "load_finished_at": _iso(run.load_finished_at),
        "cutover_at": _iso(run.cutover_at),
        "rollback_until": _iso(run.rollback_until),
        "counts": state.outcome_counts(conn, name),
        "last_verify": None
        if last is None
        else {"at": last[0].isoformat(), "equal": bool(last[1]), "differences": last[2]},
    }


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def quarantine_rows(
    conn: psycopg.Connection, name: str, entity: str | None, limit: int
) -> list[dict[str, Any]]:
    state.require_run(conn, name)
    rows = conn.execute(
        "SELECT entity, source_key, reason, loaded_at FROM migrate.id_map"
        " WHERE run = %s AND outcome = 'quarantined' AND (%s::text IS NULL OR entity = %s)"
        " ORDER BY entity, source_key LIMIT %s",
        (name, entity, entity, limit),
    )
    return [
        {"entity": e, "source_key": k, "reason": r, "at": at.isoformat()} for e, k, r, at in rows
    ]


def merges(conn: psycopg.Connection, name: str, limit: int) -> list[dict[str, Any]]:
    """Consolidated records: the record, its members and which columns each supplied."""
    state.require_run(conn, name)
    rows = conn.execute(
        "SELECT m.canonical_table, m.canonical_id, m.entity, m.source_key, m.outcome,"
        " coalesce(array_agg(l.column_name ORDER BY l.column_name)"
        " FILTER (WHERE l.column_name IS NOT NULL), '{}')"
        " FROM migrate.id_map m"
        " LEFT JOIN migrate.lineage l ON l.run = m.run AND l.canonical_id = m.canonical_id"
        " AND l.entity = m.entity AND l.source_key = m.source_key"
        " WHERE m.run = %s AND m.canonical_id IN (SELECT canonical_id FROM migrate.id_map"
        " WHERE run = %s AND outcome = 'merged' ORDER BY canonical_id LIMIT %s)"
        " AND m.outcome IN ('loaded', 'merged')"
        " GROUP BY 1, 2, 3, 4, 5 ORDER BY 2, 5 DESC, 3, 4",
        (name, name, limit),
    )
    records: dict[str, dict[str, Any]] = {}
    for table, cid, entity, key, outcome, columns in rows:
        record = records.setdefault(str(cid), {"table": table, "id": str(cid), "members": []})
        record["members"].append(
            {"entity": entity, "source_key": key, "outcome": outcome, "supplied": list(columns)}
        )
    return list(records.values())
