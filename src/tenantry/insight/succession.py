"""Succession in the ledger: newer evidence of a source supersedes the older.

A source is a location's collector and URI without its query (which can name a moving window,
`since=`). When a source is fetched again, by a new check or a recheck, the current evidence of
that source is marked superseded, by the new row stating the same fact where there is one, so
a location's current evidence is one set per source and stays small however many checks ran.
Statements and recommendations resting on earlier evidence of the source become stale, and
their checks too, only when the content changed (another SHA-256 than the one the current
evidence was drawn from): the same bytes mean the old statements still hold.

Set-based: one statement supersedes for every source of a fetch, one more marks what went
stale, whatever the number of sources.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.models import Evidence
from tenantry.models import Retrieval as RetrievalRow

__all__ = ["Source", "Succession", "current_sources", "source_of", "succeed"]

Source = tuple[str, str]  # (collector, URI without its query)


def source_of(collector: str, uri: str) -> Source:
    return collector, uri[:2000].split("?", 1)[0]


def current_sources(uow: UnitOfWork, location_id: uuid.UUID) -> dict[Source, RetrievalRow]:
    """The retrieval behind each source's current evidence at a location."""
    tenant = uow.require_tenant()
    behind_current = sa.select(Evidence.retrieval_id).where(
        Evidence.tenant_id == tenant,
        Evidence.location_id == location_id,
        Evidence.superseded_at.is_(None),
    )
    rows = uow.session.scalars(
        sa.select(RetrievalRow)
        .where(RetrievalRow.tenant_id == tenant, RetrievalRow.id.in_(behind_current))
        .order_by(RetrievalRow.retrieved_at)
    )
    return {source_of(r.collector, r.uri): r for r in rows}  # the newest wins


@dataclass(frozen=True)
class Succession:
    superseded: int
    changed: int  # sources whose bytes differ from the current evidence's
    unchanged: int
    statements_stale: int


_SUPERSEDE = sa.text(
    """
WITH fresh AS (
    SELECT * FROM unnest(CAST(:fresh AS uuid[]), CAST(:previous AS uuid[])) AS f(id, previous)
)
UPDATE insight.evidence old
   SET superseded_at = :now,
       updated_at = :now,
       superseded_by = (SELECT n.id FROM insight.evidence n
                         WHERE n.tenant_id = old.tenant_id AND n.retrieval_id = f.id
                           AND n.fact_key = old.fact_key
                         ORDER BY n.id LIMIT 1)
  FROM fresh f
 WHERE old.tenant_id = :tenant AND old.location_id = :location
   AND old.superseded_at IS NULL AND old.retrieval_id = f.previous
"""
)

_STALE = sa.text(
    """
WITH outdated AS (
    SELECT e.id FROM insight.evidence e
     WHERE e.tenant_id = :tenant AND e.location_id = :location
       AND e.retrieval_id IN (
           SELECT r.id FROM insight.retrievals r
            WHERE r.tenant_id = :tenant AND r.location_id = :location
              AND (r.collector, split_part(r.uri, '?', 1)) IN (
                  SELECT * FROM unnest(CAST(:collectors AS text[]), CAST(:bases AS text[])))
              AND NOT r.id = ANY(CAST(:fresh AS uuid[])))
       AND NOT e.content_hash = ANY(CAST(:hashes AS text[]))
), stale AS (
    UPDATE insight.statements s SET status = 'stale', stale_at = :now, updated_at = :now
     WHERE s.tenant_id = :tenant AND s.status = 'published'
       AND s.id IN (SELECT l.statement_id FROM insight.statement_evidence l
                     WHERE l.tenant_id = :tenant AND l.evidence_id IN (SELECT id FROM outdated))
    RETURNING s.visibility_check_id
), recs AS (
    UPDATE insight.recommendations r SET stale_at = :now, updated_at = :now
     WHERE r.tenant_id = :tenant AND r.stale_at IS NULL
       AND r.id IN (SELECT l.recommendation_id FROM insight.recommendation_evidence l
                     WHERE l.tenant_id = :tenant AND l.evidence_id IN (SELECT id FROM outdated))
    RETURNING r.visibility_check_id
), checks AS (
    UPDATE insight.visibility_checks c SET stale_at = :now, updated_at = :now
     WHERE c.tenant_id = :tenant
       AND c.id IN (SELECT visibility_check_id FROM stale
                    UNION SELECT visibility_check_id FROM recs)
    RETURNING c.id
)
SELECT (SELECT count(*) FROM stale) AS statements, (SELECT count(*) FROM checks) AS checks
"""
)


def succeed(
    uow: UnitOfWork,
    location_id: uuid.UUID,
    fresh: Sequence[RetrievalRow],
    current: dict[Source, RetrievalRow],
) -> Succession:
    """Let the successful `fresh` retrievals succeed the `current` ones of their sources (as
    `current_sources` found them before `fresh` was recorded)."""
    pairs = [
        (row, current[source_of(row.collector, row.uri)])
        for row in fresh
        if row.error is None and source_of(row.collector, row.uri) in current
    ]
    if not pairs:
        return Succession(0, 0, 0, 0)
    tenant, now = uow.require_tenant(), uow.clock.now()
    uow.flush()
    superseded = uow.session.execute(
        _SUPERSEDE,
        {
            "fresh": [row.id for row, _ in pairs],
            "previous": [before.id for _, before in pairs],
            "now": now,
            "tenant": tenant,
            "location": location_id,
        },
    ).rowcount  # type: ignore[attr-defined]
    changed = [row for row, before in pairs if row.content_hash != before.content_hash]
    stale = 0
    if changed:
        stale = uow.session.execute(
            _STALE,
            {
                "tenant": tenant,
                "location": location_id,
                "collectors": [source_of(r.collector, r.uri)[0] for r in changed],
                "bases": [source_of(r.collector, r.uri)[1] for r in changed],
                "fresh": [r.id for r in fresh],
                "hashes": [r.content_hash for r in changed],
            }
            | {"now": now},
        ).one()[0]
    return Succession(int(superseded), len(changed), len(pairs) - len(changed), int(stale))
