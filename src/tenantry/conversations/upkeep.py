"""Upkeep of the chat partitions: create the months ahead, drop the months past 90 days.

Runs as the owner (it creates and drops tables) on one connection and transaction; the caller
commits. Idempotent: a second run at the same time creates and drops nothing.

- `engage.ensure_chat_partitions` (migration 0620) creates this month and `months_ahead` more,
  each with row level security forced and the tenant policy.
- A month partition whose whole range ends before `now - 90 days` is detached and dropped.
  Rows under an active legal hold (on the dataset `engage.chat_messages`, on the row, or on
  the thread's customer) are first put back through the parent, where they land in the
  DEFAULT partition, since no month partition covers their range any more.
- Rows of the DEFAULT partition older than the cutoff and not held are deleted through the
  parent (the audit trigger records each).
- Every tenant that lost rows gets one `engage.message_purges` row per month (counts only, no
  content); its insert is the audit entry of the drop in that tenant's hash chain.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from tenantry.domain.conversations import CHAT_RETENTION_DAYS

__all__ = ["DroppedMonth", "UpkeepReport", "chat_partitions", "upkeep_chat_partitions"]

ACTOR = "system:chat-upkeep"
DEFAULT = "chat_messages_default"
_MONTHLY = re.compile(r"chat_messages_y(\d{4})m(\d{2})")
_HELD = """
    EXISTS (SELECT 1 FROM privacy.legal_holds h
             WHERE h.tenant_id = m.tenant_id AND h.released_at IS NULL
               AND ((h.scope = 'dataset' AND h.dataset = 'engage.chat_messages')
                    OR (h.scope = 'row' AND h.target_id = m.id)
                    OR (h.scope = 'customer' AND h.target_id = (
                        SELECT th.customer_id FROM engage.threads th
                         WHERE th.tenant_id = m.tenant_id AND th.id = m.thread_id))))
"""


@dataclass(frozen=True)
class DroppedMonth:
    month: date
    partition: str
    rows: int  # rows that went
    kept: int  # rows kept for a legal hold


@dataclass
class UpkeepReport:
    now: datetime
    cutoff: datetime
    created: int = 0
    dropped: list[DroppedMonth] = field(default_factory=list)
    default_deleted: int = 0

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.dropped) + self.default_deleted


def _month_start(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def chat_partitions(conn: psycopg.Connection) -> list[str]:
    """The month partitions of `engage.chat_messages`, oldest first (DEFAULT not included)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'engage.chat_messages'::regclass"
    ).fetchall()
    return sorted(str(r[0]) for r in rows if _MONTHLY.fullmatch(str(r[0])))


def _purged(
    conn: psycopg.Connection,
    new_id: Callable[[], uuid.UUID],
    counts: dict[uuid.UUID, tuple[int, int]],
    month: date,
    partition: str,
    now: datetime,
) -> None:
    for tenant, (gone, kept) in sorted(counts.items()):
        conn.execute(
            "INSERT INTO engage.message_purges (tenant_id, id, month, partition_name,"
            " rows_dropped, rows_kept, purged_at, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (tenant, new_id(), month, partition, gone, kept, now, now, now),
        )


def _drop_month(
    conn: psycopg.Connection, name: str, month: date, new_id: Callable[[], uuid.UUID], now: datetime
) -> DroppedMonth:
    table = sql.Identifier("engage", name)
    per_tenant: dict[uuid.UUID, int] = dict(
        conn.execute(
            sql.SQL("SELECT tenant_id, count(*) FROM {} GROUP BY tenant_id").format(table)
        ).fetchall()
    )
    held = conn.execute(
        sql.SQL("SELECT m.tenant_id, m.id FROM {} m WHERE " + _HELD).format(table)
    ).fetchall()
    conn.execute(sql.SQL("ALTER TABLE engage.chat_messages DETACH PARTITION {}").format(table))
    if held:
        conn.execute(
            sql.SQL("INSERT INTO engage.chat_messages SELECT * FROM {} WHERE id = ANY(%s)").format(
                table
            ),
            ([r[1] for r in held],),
        )
    conn.execute(sql.SQL("DROP TABLE {}").format(table))
    kept: dict[uuid.UUID, int] = {}
    for tenant, _id in held:
        kept[tenant] = kept.get(tenant, 0) + 1
    counts = {t: (n - kept.get(t, 0), kept.get(t, 0)) for t, n in per_tenant.items()}
    _purged(conn, new_id, counts, month, name, now)
    gone = sum(g for g, _k in counts.values())
    return DroppedMonth(month, name, gone, sum(kept.values()))


def _purge_default(
    conn: psycopg.Connection, cutoff: datetime, new_id: Callable[[], uuid.UUID], now: datetime
) -> int:
    deleted = conn.execute(
        "DELETE FROM engage.chat_messages m"
        " WHERE m.tableoid = 'engage.chat_messages_default'::regclass AND m.sent_at < %s"
        " AND NOT " + _HELD + " RETURNING m.tenant_id, m.sent_at",
        (cutoff,),
    ).fetchall()
    by_month: dict[date, dict[uuid.UUID, tuple[int, int]]] = {}
    for tenant, sent_at in deleted:
        counts = by_month.setdefault(_month_start(sent_at), {})
        counts[tenant] = (counts.get(tenant, (0, 0))[0] + 1, 0)
    for month, counts in sorted(by_month.items()):
        _purged(conn, new_id, counts, month, DEFAULT, now)
    return len(deleted)


def upkeep_chat_partitions(
    conn: psycopg.Connection,
    new_id: Callable[[], uuid.UUID],
    *,
    now: datetime,
    months_ahead: int = 3,
    keep_days: int = CHAT_RETENTION_DAYS,
) -> UpkeepReport:
    """Create the months ahead, drop what is past `keep_days`; the caller commits."""
    if now.tzinfo is None:
        raise ValueError("upkeep needs a timezone-aware time")
    if months_ahead < 0 or keep_days < 1:
        raise ValueError("months ahead must be >= 0 and the period at least a day")
    cutoff = now - timedelta(days=keep_days)
    report = UpkeepReport(now=now, cutoff=cutoff)
    conn.execute("SELECT set_config('tenantry.actor', %s, true)", (ACTOR,))
    row = conn.execute(
        "SELECT engage.ensure_chat_partitions(%s, %s)", (_month_start(now), months_ahead + 1)
    ).fetchone()
    report.created = int(row[0]) if row else 0
    for name in chat_partitions(conn):
        match = _MONTHLY.fullmatch(name)
        assert match is not None
        month = date(int(match[1]), int(match[2]), 1)
        end = datetime(*_next_month(month).timetuple()[:3], tzinfo=UTC)
        if end <= cutoff:
            report.dropped.append(_drop_month(conn, name, month, new_id, now))
    report.default_deleted = _purge_default(conn, cutoff, new_id, now)
    return report
