"""The transactional outbox: services record a domain change in the change's own transaction.

A payload names ids, states and figures only, never personal data: the lake receives it as
is. Writing an entry takes no lock beyond the row insert, so writers never wait for each other;
ordering comes from `(txid, seq)` (see `tenantry.events.stream`).
"""

from __future__ import annotations

import uuid
from typing import Any

from tenantry.db.uow import UnitOfWork
from tenantry.models import OutboxEntry

__all__ = ["record_change"]


def record_change(
    uow: UnitOfWork,
    aggregate_type: str,
    aggregate_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
) -> OutboxEntry:
    """Append an outbox entry for the unit of work's tenant (flushed with the change)."""
    entry = OutboxEntry(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        event_type=event_type,
        payload=payload,
        occurred_at=uow.clock.now(),
    )
    uow.session.add(entry)
    return entry
