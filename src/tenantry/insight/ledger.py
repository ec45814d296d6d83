"""Writes the evidence ledger: what a check retrieved, and every fact drawn from it.

Each retrieval becomes one `insight.retrievals` row (the bytes sealed as base64, their SHA-256,
or the reason nothing came back); each fact becomes one append-only `insight.evidence` row
citing that retrieval's hash, with its extractor and a confidence computed by the documented
model (`tenantry.insight.confidence`), never typed in. An excerpt is sealed: it may quote a
person. Also applies what collectors learnt about connections (refreshed tokens, sync status).

This module writes; it does not fetch, score or analyse.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.insight.collectors.tokens import REJECTED_ERROR, REVOKED_ERROR
from tenantry.insight.confidence import CONFIDENCE_MODEL_VERSION, Observation, confidences
from tenantry.insight.facts import ConnectionUpdate, EvidenceItem, Fact, Retrieval
from tenantry.models import Connection, Evidence
from tenantry.models import Retrieval as RetrievalRow
from tenantry.models.enums import SyncStatus

__all__ = ["Recorded", "apply_connection_updates", "current_items", "item_of", "record"]

_EXCERPT_CHARS = 2000


@dataclass(frozen=True)
class Recorded:
    """The rows one batch of retrievals produced."""

    retrievals: list[RetrievalRow]
    evidence: list[Evidence]


def _retrieval_row(
    uow: UnitOfWork, location_id: uuid.UUID, check_id: uuid.UUID | None, r: Retrieval
) -> RetrievalRow:
    return RetrievalRow(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        location_id=location_id,
        visibility_check_id=check_id,
        collector=r.collector[:40],
        source=r.source,
        uri=r.uri[:2000],
        status_code=r.status_code if r.status_code is not None and r.status_code < 32768 else None,
        content_type=(r.content_type or None) and r.content_type[:200],
        error=(r.error or None) and r.error[:500],
        content_hash=r.sha256,
        body=base64.b64encode(r.body).decode("ascii") if r.body else None,
        body_bytes=len(r.body),
        truncated=r.truncated,
        retrieved_at=r.retrieved_at,
        elapsed_ms=max(0, r.elapsed_ms),
    )


def record(
    uow: UnitOfWork,
    *,
    location_id: uuid.UUID,
    check_id: uuid.UUID | None,
    retrievals: Sequence[tuple[Retrieval, Sequence[Fact]]],
    context: Sequence[EvidenceItem] = (),
) -> Recorded:
    """Append the retrievals and their facts. Confidence weighs each fact against the others
    of the batch and against `context` (current evidence of the location from other sources)."""
    now = uow.clock.now()
    rows = [_retrieval_row(uow, location_id, check_id, r) for r, _facts in retrievals]
    uow.session.add_all(rows)
    uow.flush()
    pairs = [(row, r, f) for row, (r, facts) in zip(rows, retrievals, strict=True) for f in facts]
    observed = [Observation(f.key, f.value, r.source, r.retrieved_at) for _row, r, f in pairs]
    observed += [Observation(e.key, e.value, e.source, e.retrieved_at) for e in context]
    scores = confidences(observed, now)
    evidence = [
        Evidence(
            tenant_id=uow.require_tenant(),
            id=uow.ids(),
            location_id=location_id,
            visibility_check_id=check_id,
            retrieval_id=row.id,
            fact_key=f.key[:120],
            value=f.value,  # never personal: a personal fact's person is in its excerpt
            claim=f.claim[:2000],
            source=r.source,
            source_url=r.uri[:2000],
            excerpt=f.excerpt[:_EXCERPT_CHARS] if f.excerpt else None,
            personal=f.personal,
            retrieved_at=r.retrieved_at,
            confidence=Decimal(str(round(score, 3))),
            content_hash=r.sha256,
            extractor=f.extractor[:60],
            extractor_version=f.extractor_version[:20],
            model_version=CONFIDENCE_MODEL_VERSION[:60],
        )
        for (row, r, f), score in zip(pairs, scores, strict=False)
    ]
    uow.session.add_all(evidence)
    uow.flush()
    return Recorded(rows, evidence)


def item_of(e: Evidence) -> EvidenceItem:
    """What analysers see of a ledger row: never the (sealed) excerpt."""
    value = e.value if isinstance(e.value, str | int | float | bool) else None
    return EvidenceItem(
        id=e.id,
        key=e.fact_key or "",
        value=value,
        claim=e.claim,
        source=e.source,
        confidence=float(e.confidence),
        retrieved_at=e.retrieved_at,
    )


def current_items(uow: UnitOfWork, location_id: uuid.UUID) -> list[EvidenceItem]:
    """A location's evidence not superseded, as analysers see it (sealed columns unread)."""
    rows = uow.session.execute(
        sa.select(
            Evidence.id,
            Evidence.fact_key,
            Evidence.value,
            Evidence.claim,
            Evidence.source,
            Evidence.confidence,
            Evidence.retrieved_at,
        )
        .where(
            Evidence.tenant_id == uow.require_tenant(),
            Evidence.location_id == location_id,
            Evidence.superseded_at.is_(None),
        )
        .order_by(Evidence.retrieved_at, Evidence.id)
    )
    return [
        EvidenceItem(
            id=r.id,
            key=r.fact_key or "",
            value=r.value if isinstance(r.value, str | int | float | bool) else None,
            claim=r.claim,
            source=r.source,
            confidence=float(r.confidence),
            retrieved_at=r.retrieved_at,
        )
        for r in rows
    ]


def apply_connection_updates(
    uow: UnitOfWork, updates: Sequence[ConnectionUpdate], now: datetime
) -> None:
    """Make a connection's tokens, `sync_status`, `last_synced_at` and `last_error` true."""
    for update in updates:
        conn = uow.session.get(Connection, (uow.require_tenant(), update.connection_id))
        if conn is None:
            continue
        if update.access_token:
            conn.access_token = update.access_token
            conn.token_expires_at = update.token_expires_at
        if update.refresh_token:
            conn.refresh_token = update.refresh_token
        if update.ok:  # a warning (a token soon to expire) may come with it
            conn.sync_status = SyncStatus.OK
            conn.last_synced_at = now
            conn.last_error = update.error[:500] if update.error else None
        else:
            revoked = update.error in (REVOKED_ERROR, REJECTED_ERROR)
            conn.sync_status = SyncStatus.REVOKED if revoked else SyncStatus.ERROR
            conn.last_error = (update.error or "sync failed")[:500]
    uow.flush()
