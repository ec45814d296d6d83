"""Partition upkeep of `audit.log`: create months ahead, drop months past retention.

Both run as the owner through the SQL functions of migration 0100. Dropping is the only way
entries leave the trail: `audit.drop_partitions_before` records, per chain, the last entry
that goes (so verification starts after it) and is the only code that sets the
`tenantry.audit_maintenance` flag the guard trigger checks. The retention period comes from
the caller (today `Settings.audit_retention_months`; the privacy kernel's retention policies
once they exist).
"""

from __future__ import annotations

from datetime import date

import psycopg

__all__ = ["drop_partitions_before", "ensure_partitions", "retention_cutoff"]


def ensure_partitions(conn: psycopg.Connection, *, today: date, months_ahead: int = 3) -> int:
    """Create the monthly partitions from this month to `months_ahead` later; returns how many
    were new. Entries never fail for a missing month: they land in the DEFAULT partition."""
    row = conn.execute(
        "SELECT audit.ensure_partitions(%s, %s)", (today.replace(day=1), months_ahead + 1)
    ).fetchone()
    return int(row[0]) if row else 0


def retention_cutoff(today: date, keep_months: int) -> date:
    """The first day of the oldest month still kept."""
    index = today.year * 12 + (today.month - 1) - keep_months + 1
    return date(index // 12, index % 12 + 1, 1)


def drop_partitions_before(conn: psycopg.Connection, cutoff: date) -> int:
    """Remove entries recorded before `cutoff` (a first of month); returns partitions dropped."""
    if cutoff.day != 1:
        raise ValueError("retention cuts whole months")
    row = conn.execute("SELECT audit.drop_partitions_before(%s)", (cutoff,)).fetchone()
    return int(row[0]) if row else 0
