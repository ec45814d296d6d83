"""Succession in the ledger: newer evidence of a source supersedes the older.

A source is a location's collector and URI without its query (which can name a moving window,
`since=`). When a source is fetched again, by a new check or a recheck, the current evidence of
every earlier retrieval of that source is marked superseded, by the new row stating the same
fact where there is one, so a location's current evidence is one set per source and stays
small however many checks ran. Statements and recommendations resting on superseded evidence
become stale, and their checks too, only when the content changed (another SHA-256): the same
bytes mean the old statements still hold, even on evidence superseded by a later fetch.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.models import (
    Evidence,
    Recommendation,
    RecommendationEvidence,
    Statement,
    StatementEvidence,
    VisibilityCheck,
)
from tenantry.models import Retrieval as RetrievalRow
from tenantry.models.enums import StatementStatus

__all__ = ["latest_retrieval", "succeed"]


def _base(uri: str) -> str:
    return uri[:2000].split("?", 1)[0]


def _source_of(column: Any) -> sa.ColumnElement[str]:
    return sa.func.split_part(column, "?", 1, type_=sa.String)


def _same_source(tenant: uuid.UUID, location_id: uuid.UUID, collector: str, uri: str) -> Any:
    return sa.and_(
        RetrievalRow.tenant_id == tenant,
        RetrievalRow.location_id == location_id,
        RetrievalRow.collector == collector,
        _source_of(RetrievalRow.uri) == _base(uri),
        RetrievalRow.error.is_(None),
    )


def latest_retrieval(
    uow: UnitOfWork, location_id: uuid.UUID, collector: str, uri: str
) -> RetrievalRow | None:
    """The newest successful retrieval of a source so far."""
    same = _same_source(uow.require_tenant(), location_id, collector, uri)
    row: RetrievalRow | None = uow.session.scalar(
        sa.select(RetrievalRow).where(same).order_by(RetrievalRow.retrieved_at.desc()).limit(1)
    )
    return row


def succeed(
    uow: UnitOfWork, fresh: RetrievalRow, new: list[Evidence], *, changed: bool
) -> tuple[int, int]:
    """Supersede the current evidence of the source's earlier retrievals by `fresh`'s; when the
    content `changed`, mark what rests on it stale. Returns (superseded, statements stale)."""
    tenant, now = uow.require_tenant(), uow.clock.now()
    by_key = {e.fact_key: e.id for e in new}
    earlier = sa.select(RetrievalRow.id).where(
        _same_source(tenant, fresh.location_id, fresh.collector, fresh.uri),
        RetrievalRow.id != fresh.id,
    )
    old = list(
        uow.session.scalars(
            sa.select(Evidence).where(
                Evidence.tenant_id == tenant,
                Evidence.retrieval_id.in_(earlier),
                Evidence.superseded_at.is_(None),
            )
        )
    )
    for e in old:
        e.superseded_at = now
        e.superseded_by = by_key.get(e.fact_key)
    uow.flush()
    if not changed:
        return len(old), 0
    # Statements may rest on evidence superseded before (by a fetch of the same bytes): every
    # earlier row of the source whose content differs from the new one is out of date.
    outdated = sa.select(Evidence.id).where(
        Evidence.tenant_id == tenant,
        Evidence.retrieval_id.in_(earlier),
        Evidence.content_hash != fresh.content_hash,
    )
    return len(old), _stale(uow, outdated)


def _stale(uow: UnitOfWork, evidence_ids: Any) -> int:
    tenant, now = uow.require_tenant(), uow.clock.now()
    cited = sa.select(StatementEvidence.statement_id).where(
        StatementEvidence.tenant_id == tenant, StatementEvidence.evidence_id.in_(evidence_ids)
    )
    stale = uow.session.execute(
        sa.update(Statement)
        .where(
            Statement.tenant_id == tenant,
            Statement.id.in_(cited),
            Statement.status == StatementStatus.PUBLISHED,
        )
        .values(status=StatementStatus.STALE, stale_at=now)
        .returning(Statement.visibility_check_id)
    ).all()
    recs = sa.select(RecommendationEvidence.recommendation_id).where(
        RecommendationEvidence.tenant_id == tenant,
        RecommendationEvidence.evidence_id.in_(evidence_ids),
    )
    uow.session.execute(
        sa.update(Recommendation)
        .where(
            Recommendation.tenant_id == tenant,
            Recommendation.id.in_(recs),
            Recommendation.stale_at.is_(None),
        )
        .values(stale_at=now)
    )
    checks = {row[0] for row in stale}
    if checks:
        uow.session.execute(
            sa.update(VisibilityCheck)
            .where(VisibilityCheck.tenant_id == tenant, VisibilityCheck.id.in_(checks))
            .values(stale_at=now)
        )
    return len(stale)
