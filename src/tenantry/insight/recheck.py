"""Freshness: fetch a location's sources again and supersede evidence whose content changed.

For each source fetched anew, the newest earlier retrieval of the same collector and URI
(without its query, which can name a moving window) is the one compared: the same SHA-256 means
the evidence still holds (the new retrieval is kept as proof it was looked at); a different one
appends the new evidence, marks the current evidence of every earlier retrieval of that source
superseded (by the new row stating the same fact, where there is one), and marks every
statement and recommendation resting on it stale, and their checks too. A source that cannot
be fetched now supersedes nothing: a failure is not a change of content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.insight import ledger
from tenantry.insight.runner import CheckRunner, target_of
from tenantry.models import (
    Evidence,
    Location,
    Recommendation,
    RecommendationEvidence,
    Statement,
    StatementEvidence,
    VisibilityCheck,
)
from tenantry.models import Retrieval as RetrievalRow
from tenantry.models.enums import StatementStatus

__all__ = ["RecheckReport", "recheck"]


@dataclass
class RecheckReport:
    locations: int = 0
    fetched: int = 0
    unchanged: int = 0
    changed: int = 0
    superseded: int = 0
    statements_stale: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def _base(uri: str) -> str:
    """A source is its URI without the query (which can name a moving window, `since=`)."""
    return uri[:2000].split("?", 1)[0]


def _source_of(column: Any) -> sa.ColumnElement[str]:
    return sa.func.split_part(column, "?", 1, type_=sa.String)


def _locations(
    db: Database, tenant_id: uuid.UUID, location_id: uuid.UUID | None, check_id: uuid.UUID | None
) -> list[uuid.UUID]:
    with db.tenant_uow(tenant_id) as uow:
        if check_id is not None:
            check = uow.session.get(VisibilityCheck, (tenant_id, check_id))
            return [check.location_id] if check is not None else []
        if location_id is not None:
            return [location_id]
        return list(
            uow.session.scalars(
                sa.select(sa.distinct(Evidence.location_id)).where(
                    Evidence.tenant_id == tenant_id,
                    Evidence.superseded_at.is_(None),
                    Evidence.location_id.is_not(None),
                )
            )
        )


def recheck(
    db: Database,
    runner: CheckRunner,
    tenant_id: uuid.UUID,
    *,
    location_id: uuid.UUID | None = None,
    check_id: uuid.UUID | None = None,
) -> RecheckReport:
    """Recheck one location, the location of one check, or every location with evidence."""
    report = RecheckReport()
    for loc in _locations(db, tenant_id, location_id, check_id):
        with db.tenant_uow(tenant_id, actor="insight:recheck") as uow:
            location = uow.session.get(Location, (tenant_id, loc))
            if location is None:
                continue
            target = target_of(uow, location)
        report.locations += 1
        collected, failures = runner.collect(target)
        report.failures += failures
        with db.tenant_uow(tenant_id, actor="insight:recheck") as uow:
            for c in collected:
                for retrieval, facts in c.retrievals:
                    if not retrieval.ok:
                        continue
                    report.fetched += 1
                    before = uow.session.scalar(
                        sa.select(RetrievalRow)
                        .where(
                            RetrievalRow.tenant_id == tenant_id,
                            RetrievalRow.location_id == loc,
                            RetrievalRow.collector == retrieval.collector,
                            _source_of(RetrievalRow.uri) == _base(retrieval.uri),
                            RetrievalRow.error.is_(None),
                        )
                        .order_by(RetrievalRow.retrieved_at.desc())
                        .limit(1)
                    )
                    same = before is not None and before.content_hash == retrieval.sha256
                    recorded = ledger.record(
                        uow,
                        location_id=loc,
                        check_id=None,
                        retrievals=[(retrieval, [] if same else facts)],
                    )
                    if same or before is None:
                        report.unchanged += int(same)
                        continue
                    report.changed += 1
                    superseded, stale = _supersede(
                        uow, before, recorded.retrievals[0].id, recorded.evidence
                    )
                    report.superseded += superseded
                    report.statements_stale += stale
            ledger.apply_connection_updates(
                uow, [u for c in collected for u in c.connection_updates], uow.clock.now()
            )
            uow.commit()
    return report


def _supersede(
    uow: UnitOfWork, before: RetrievalRow, fresh: uuid.UUID, new: list[Evidence]
) -> tuple[int, int]:
    """Supersede the current evidence of every earlier retrieval of the same source."""
    tenant, now = uow.require_tenant(), uow.clock.now()
    by_key = {e.fact_key: e.id for e in new}
    same_source = sa.select(RetrievalRow.id).where(
        RetrievalRow.tenant_id == tenant,
        RetrievalRow.location_id == before.location_id,
        RetrievalRow.collector == before.collector,
        _source_of(RetrievalRow.uri) == _base(before.uri),
        RetrievalRow.id != fresh,
    )
    old = list(
        uow.session.scalars(
            sa.select(Evidence).where(
                Evidence.tenant_id == tenant,
                Evidence.retrieval_id.in_(same_source),
                Evidence.superseded_at.is_(None),
            )
        )
    )
    for e in old:
        e.superseded_at = now
        e.superseded_by = by_key.get(e.fact_key)
    uow.flush()
    ids = [e.id for e in old]
    if not ids:
        return 0, 0
    cited = sa.select(StatementEvidence.statement_id).where(
        StatementEvidence.tenant_id == tenant, StatementEvidence.evidence_id.in_(ids)
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
        RecommendationEvidence.tenant_id == tenant, RecommendationEvidence.evidence_id.in_(ids)
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
    return len(ids), len(stale)
