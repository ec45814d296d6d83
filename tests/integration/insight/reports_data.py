"""Ledger rows as a completed check leaves them, written through the ORM in a tenant unit of
work: a retrieval per fetch (the bytes sealed, as base64), evidence per fact with the
retrieval's hash, an analysis run, and statements and recommendations citing the evidence.

The tests of KPIs, snapshots, benchmarks, provenance and verification build on this; nothing
here decides what they assert.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.models import (
    AnalysisRun,
    Evidence,
    Recommendation,
    RecommendationEvidence,
    Retrieval,
    Statement,
    StatementEvidence,
    VisibilityCheck,
)
from tenantry.models.enums import EvidenceSource, VisibilityCheckStatus


@dataclass(frozen=True)
class FactRow:
    key: str
    value: object
    claim: str
    confidence: str = "0.900"
    extractor: str = "html-meta"
    excerpt: str | None = None


@dataclass(frozen=True)
class Fetch:
    source: EvidenceSource
    collector: str
    uri: str
    body: bytes
    facts: tuple[FactRow, ...]
    age: timedelta = timedelta(hours=1)  # how long before `now` it was retrieved


@dataclass
class Seeded:
    check_id: uuid.UUID
    location_id: uuid.UUID
    run_id: uuid.UUID | None = None
    retrievals: list[uuid.UUID] = field(default_factory=list)
    evidence: list[uuid.UUID] = field(default_factory=list)
    statements: list[uuid.UUID] = field(default_factory=list)
    recommendations: list[uuid.UUID] = field(default_factory=list)


WEBSITE = Fetch(
    EvidenceSource.WEBSITE,
    "website",
    "https://www.example.com/",
    b"<html><head><title>Trattoria Example</title></head><body>Open daily</body></html>",
    (
        FactRow("web.https", True, "The website is served over HTTPS.", "0.950"),
        FactRow("web.title_present", True, "The home page has a title.", "0.900"),
        FactRow(
            "web.owner_named",
            True,
            "The imprint names the owner.",
            "0.800",
            excerpt="Inhaberin: Erika Mustermann",
        ),
    ),
)
GBP = Fetch(
    EvidenceSource.GBP,
    "gbp",
    "https://mybusinessbusinessinformation.googleapis.com/v1/locations/123",
    b'{"title": "Trattoria Example", "rating": 4.6, "reviewCount": 128}',
    (
        FactRow("gbp.rating", 4.6, "The Google profile is rated 4.6.", "0.900", "gbp-api"),
        FactRow("gbp.review_count", 128, "The Google profile has 128 reviews.", "0.900", "gbp-api"),
    ),
)
FACEBOOK = Fetch(
    EvidenceSource.FACEBOOK,
    "facebook",
    "https://graph.facebook.com/v21.0/456?fields=followers_count",
    b'{"followers_count": 2300, "id": "456"}',
    (
        FactRow(
            "facebook.followers",
            2300,
            "The Facebook page has 2300 followers.",
            "0.850",
            "graph-api",
        ),
    ),
)


def seed_check(
    db: Database,
    tenant_id: uuid.UUID,
    location_id: uuid.UUID,
    now: datetime,
    fetches: tuple[Fetch, ...] = (WEBSITE, GBP, FACEBOOK),
    *,
    status: VisibilityCheckStatus = VisibilityCheckStatus.COMPLETED,
    published: int | None = None,
    rejected: int = 0,
    requested_by: str = "role:owner",
    analyse: bool = True,
) -> Seeded:
    """One check of `location_id`, requested an hour before `now`, with its ledger rows."""
    with db.tenant_uow(tenant_id, actor="test:reports") as uow:
        s = uow.session
        check = VisibilityCheck(
            tenant_id=tenant_id,
            id=uow.ids(),
            location_id=location_id,
            status=status,
            requested_at=now - timedelta(hours=1),
            started_at=now - timedelta(minutes=59),
            completed_at=now - timedelta(minutes=58)
            if status is VisibilityCheckStatus.COMPLETED
            else None,
            requested_by=requested_by,
            analyser="rules",
            rubric_version="2026-12",
            overall_score=72 if status is VisibilityCheckStatus.COMPLETED else None,
        )
        s.add(check)
        s.flush()
        seeded = Seeded(check.id, location_id)
        evidence: list[Evidence] = []
        for fetch in fetches:
            at = now - fetch.age
            retrieval = Retrieval(
                tenant_id=tenant_id,
                id=uow.ids(),
                location_id=location_id,
                visibility_check_id=check.id,
                collector=fetch.collector,
                source=fetch.source,
                uri=fetch.uri,
                status_code=200,
                content_type="text/html"
                if fetch.source is EvidenceSource.WEBSITE
                else "application/json",
                content_hash=hashlib.sha256(fetch.body).hexdigest(),
                body=base64.b64encode(fetch.body).decode(),
                body_bytes=len(fetch.body),
                retrieved_at=at,
                elapsed_ms=40,
            )
            s.add(retrieval)
            s.flush()
            seeded.retrievals.append(retrieval.id)
            for fact in fetch.facts:
                row = Evidence(
                    tenant_id=tenant_id,
                    id=uow.ids(),
                    location_id=location_id,
                    visibility_check_id=check.id,
                    retrieval_id=retrieval.id,
                    fact_key=fact.key,
                    value=fact.value,
                    claim=fact.claim,
                    source=fetch.source,
                    source_url=fetch.uri,
                    excerpt=fact.excerpt,
                    personal=fact.excerpt is not None,
                    retrieved_at=at,
                    confidence=Decimal(fact.confidence),
                    content_hash=retrieval.content_hash,
                    extractor=fact.extractor,
                    extractor_version="1.0",
                    model_version="confidence-v1",
                )
                evidence.append(row)
        s.add_all(evidence)
        s.flush()
        seeded.evidence = [e.id for e in evidence]
        if analyse and evidence:
            _analyse(uow, check, evidence, seeded, now, published, rejected)
        uow.commit()
    return seeded


def _analyse(
    uow: UnitOfWork,
    check: VisibilityCheck,
    evidence: list[Evidence],
    seeded: Seeded,
    now: datetime,
    published: int | None,
    rejected: int,
) -> None:
    s = uow.session
    by_key = {e.fact_key: e for e in evidence}
    texts = [
        ("strength", "The business is well rated on Google.", ["gbp.rating", "gbp.review_count"]),
        ("strength", "The website is secure.", ["web.https"]),
        ("weakness", "Few followers on social media.", ["facebook.followers"]),
    ]
    texts = [(k, t, [by_key[c] for c in cites if c in by_key]) for k, t, cites in texts]
    texts = [(k, t, cites) for k, t, cites in texts if cites]
    run = AnalysisRun(
        tenant_id=check.tenant_id,
        id=uow.ids(),
        visibility_check_id=check.id,
        provider="rules",
        model="rubric-2026-12",
        input_evidence_ids=[e.id for e in evidence],
        output={"statements": len(texts)},
        latency_ms=3,
        published=len(texts) if published is None else published,
        rejected=rejected,
        started_at=now - timedelta(minutes=58, seconds=30),
        finished_at=now - timedelta(minutes=58),
    )
    s.add(run)
    s.flush()
    seeded.run_id = run.id
    for kind, text, cites in texts:
        statement = Statement(
            tenant_id=check.tenant_id,
            id=uow.ids(),
            visibility_check_id=check.id,
            location_id=check.location_id,
            analysis_run_id=run.id,
            kind=kind,
            text=text,
            published_at=now - timedelta(minutes=58),
        )
        s.add(statement)
        s.flush()
        s.add_all(
            StatementEvidence(
                tenant_id=check.tenant_id, statement_id=statement.id, evidence_id=e.id
            )
            for e in cites
        )
        seeded.statements.append(statement.id)
    if "facebook.followers" in by_key:
        rec = Recommendation(
            tenant_id=check.tenant_id,
            id=uow.ids(),
            location_id=check.location_id,
            visibility_check_id=check.id,
            title="Post weekly on Facebook",
            body="Regular posts grow the audience.",
            category="social",
            priority=2,
            expected_impact="+10 social score",
        )
        s.add(rec)
        s.flush()
        s.add(
            RecommendationEvidence(
                tenant_id=check.tenant_id,
                recommendation_id=rec.id,
                evidence_id=by_key["facebook.followers"].id,
            )
        )
        seeded.recommendations.append(rec.id)
    s.flush()
