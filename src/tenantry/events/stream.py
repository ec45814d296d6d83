"""Reading the inbox and outbox in order, without gaps, and without locking writers.

Rows are ordered by `(txid, seq)`: the writing transaction's id, then the insertion sequence.
A reader only takes rows whose transaction id lies below `pg_snapshot_xmin` of its snapshot:
every transaction below that horizon has ended, and every transaction still to come gets a
larger id. So once a position is passed, no row can ever appear behind it, however late a
transaction commits. The price: one long-running transaction holds the reader back until it
ends (it never makes the reader skip anything).

A projection keeps its position per tenant in `events.projection_positions`; `locked_position`
creates it at the start and locks it for the reading transaction, so two readers of one
tenant's projection take turns. `next_batch` reads the rows after it, `advance` moves it past
a batch (in the same transaction as what the projection wrote).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenantry.models import ProjectionPosition

__all__ = ["SAFE_HORIZON", "advance", "after_position", "locked_position", "next_batch"]

SAFE_HORIZON = "txid < pg_snapshot_xmin(pg_current_snapshot())"


def after_position(alias: str = "") -> str:
    """SQL condition: rows after `(:last_txid, :last_seq)` and below the horizon."""
    p = f"{alias}." if alias else ""
    return (
        f"({p}txid, {p}seq) > (CAST(CAST(:last_txid AS text) AS xid8), :last_seq)"
        f" AND {p}{SAFE_HORIZON}"
    )


def locked_position(session: Session, tenant_id: uuid.UUID, projection: str) -> ProjectionPosition:
    """The tenant's position of `projection`, created at the start, locked until the
    transaction ends."""
    session.execute(
        sa.text(
            "INSERT INTO events.projection_positions (tenant_id, projection)"
            " VALUES (:t, :p) ON CONFLICT DO NOTHING"
        ),
        {"t": tenant_id, "p": projection},
    )
    return session.execute(
        sa.select(ProjectionPosition)
        .where(
            ProjectionPosition.tenant_id == tenant_id,
            ProjectionPosition.projection == projection,
        )
        .with_for_update()
    ).scalar_one()


def next_batch(
    session: Session,
    stream: Literal["events.inbox", "events.outbox"],
    columns: str,
    position: ProjectionPosition,
    limit: int,
) -> Sequence[sa.Row[Any]]:
    """The next `limit` rows of the position's tenant after it, in order; `columns` (SQL)
    are selected beside `txid` (as text) and `seq`."""
    return session.execute(
        sa.text(
            f"SELECT txid::text AS txid, seq, {columns} FROM {stream}"
            f" WHERE tenant_id = :t AND {after_position()} ORDER BY txid, seq LIMIT :n"
        ),
        {
            "t": position.tenant_id,
            "last_txid": position.last_txid,
            "last_seq": position.last_seq,
            "n": limit,
        },
    ).all()


def advance(position: ProjectionPosition, rows: Sequence[sa.Row[Any]]) -> None:
    """Move the position past a non-empty batch `next_batch` returned."""
    position.last_txid, position.last_seq = int(rows[-1].txid), rows[-1].seq
    position.events += len(rows)
