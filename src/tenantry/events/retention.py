"""Pruning the inbox and the outbox once their rows have served.

An outbox row may go once the relay has moved it; an inbox row once the relay has moved it,
the tenant's identity projection has read it, and it is older than the deduplication window
(`keep_days`): an event id arriving again after that is accepted again, so the window must be
longer than any client's retry horizon. Rows not yet consumed are never pruned. Platform work
(all tenants, as the owner role).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.events.identity import PROJECTION

__all__ = ["prune_events"]


def prune_events(db: Database, *, keep_days: int = 30) -> dict[str, int]:
    """Delete consumed inbox and outbox rows older than `keep_days`; counts per table."""
    if keep_days < 0:
        raise ValidationError("--keep-days must not be negative")
    with db.platform_uow(actor="system:event-retention") as uow:
        cutoff = uow.clock.now() - timedelta(days=keep_days)
        outbox = uow.session.execute(
            sa.text(
                "DELETE FROM events.outbox o USING events.relay_positions r"
                " WHERE r.stream = 'outbox' AND (o.txid, o.seq) <= (r.last_txid, r.last_seq)"
                " AND o.occurred_at <= :cutoff"
            ),
            {"cutoff": cutoff},
        )
        inbox = uow.session.execute(
            sa.text(
                "DELETE FROM events.inbox i USING events.relay_positions r"
                " WHERE r.stream = 'inbox' AND (i.txid, i.seq) <= (r.last_txid, r.last_seq)"
                " AND i.ingested_at <= :cutoff AND EXISTS ("
                "  SELECT 1 FROM events.projection_positions p WHERE p.tenant_id = i.tenant_id"
                "  AND p.projection = :projection"
                "  AND (i.txid, i.seq) <= (p.last_txid, p.last_seq))"
            ),
            {"cutoff": cutoff, "projection": PROJECTION},
        )
        uow.commit()
    return {
        "events.outbox": int(outbox.rowcount),  # type: ignore[attr-defined]
        "events.inbox": int(inbox.rowcount),  # type: ignore[attr-defined]
    }
