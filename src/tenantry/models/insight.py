"""Schema `insight`: visibility checks, the evidence ledger, recommendations backed by evidence,
analytics snapshots and benchmarks (seed 000 tiers 3 and 4).

Every AI statement is an `evidence` row with a source, a retrieval time, a confidence in [0, 1]
and a content hash; recommendations link to the evidence behind them. `benchmarks` are
cross-tenant reference figures and so carry no `tenant_id`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import (
    Base,
    TenantOwned,
    TimestampMixin,
    str_enum,
    tenant_fk,
    tenant_root_fk,
)
from tenantry.models.enums import (
    EvidenceSource,
    Persona,
    RecommendationStatus,
    SnapshotSource,
    Vertical,
    VisibilityCheckStatus,
)

__all__ = [
    "AnalyticsSnapshot",
    "Benchmark",
    "Evidence",
    "Recommendation",
    "RecommendationEvidence",
    "VisibilityCheck",
]

SCHEMA = {"schema": "insight"}


def _score(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        f"{column} IS NULL OR {column} BETWEEN 0 AND 100", name=f"{column}_range"
    )


class VisibilityCheck(TenantOwned, Base):
    """One run of the online visibility check for a location."""

    __tablename__ = "visibility_checks"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("lead_id", "crm.leads"),
        _score("overall_score"),
        _score("gbp_score"),
        _score("social_score"),
        _score("web_score"),
        sa.CheckConstraint(
            "competitor_count IS NULL OR competitor_count >= 0", name="competitors_non_negative"
        ),
        sa.CheckConstraint(
            "processing_time_ms IS NULL OR processing_time_ms >= 0",
            name="processing_time_non_negative",
        ),
        sa.Index(
            "ix_visibility_checks_tenant_location_requested",
            "tenant_id",
            "location_id",
            "requested_at",
        ),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    lead_id: Mapped[uuid.UUID | None]
    status: Mapped[VisibilityCheckStatus] = mapped_column(
        str_enum(VisibilityCheckStatus, "visibility_check_status"),
        server_default=VisibilityCheckStatus.QUEUED.value,
    )
    persona: Mapped[Persona | None] = mapped_column(str_enum(Persona, "persona"))
    overall_score: Mapped[int | None] = mapped_column(sa.SmallInteger)
    gbp_score: Mapped[int | None] = mapped_column(sa.SmallInteger)
    social_score: Mapped[int | None] = mapped_column(sa.SmallInteger)
    web_score: Mapped[int | None] = mapped_column(sa.SmallInteger)
    competitor_count: Mapped[int | None] = mapped_column(sa.Integer)
    processing_time_ms: Mapped[int | None] = mapped_column(sa.Integer)
    requested_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    results: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))


class Evidence(TenantOwned, Base):
    """The evidence ledger: a claim, where it came from, when, and how sure we are."""

    __tablename__ = "evidence"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("visibility_check_id", "insight.visibility_checks"),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence_range"),
        sa.CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'", name="content_hash_sha256_hex"),
        sa.Index("ix_evidence_tenant_check", "tenant_id", "visibility_check_id"),
        sa.Index(
            "ix_evidence_tenant_location_retrieved", "tenant_id", "location_id", "retrieved_at"
        ),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID | None]
    visibility_check_id: Mapped[uuid.UUID | None]
    claim: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[EvidenceSource] = mapped_column(str_enum(EvidenceSource, "evidence_source"))
    source_url: Mapped[str | None] = mapped_column(sa.String(1000))
    excerpt: Mapped[str | None] = mapped_column(sa.Text)
    retrieved_at: Mapped[datetime]
    confidence: Mapped[Decimal] = mapped_column(sa.Numeric(4, 3))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    model_version: Mapped[str | None] = mapped_column(sa.String(60))


class Recommendation(TenantOwned, Base):
    """An action suggested to the business, backed by evidence."""

    __tablename__ = "recommendations"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("visibility_check_id", "insight.visibility_checks"),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        sa.Index("ix_recommendations_tenant_location_status", "tenant_id", "location_id", "status"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    visibility_check_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    category: Mapped[str] = mapped_column(sa.String(60))
    priority: Mapped[int] = mapped_column(sa.SmallInteger, server_default="3")
    status: Mapped[RecommendationStatus] = mapped_column(
        str_enum(RecommendationStatus, "recommendation_status"),
        server_default=RecommendationStatus.OPEN.value,
    )
    expected_impact: Mapped[str | None] = mapped_column(sa.String(200))


class RecommendationEvidence(TimestampMixin, Base):
    """Links a recommendation to each piece of evidence behind it."""

    __tablename__ = "recommendation_evidence"
    __table_args__ = (
        tenant_fk("recommendation_id", "insight.recommendations", ondelete="CASCADE"),
        tenant_fk("evidence_id", "insight.evidence", ondelete="CASCADE"),
        sa.Index("ix_recommendation_evidence_tenant_evidence", "tenant_id", "evidence_id"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    recommendation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    evidence_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class AnalyticsSnapshot(TenantOwned, Base):
    """A daily metric of a location from one source (time series for trends)."""

    __tablename__ = "analytics_snapshots"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("evidence_id", "insight.evidence"),
        sa.UniqueConstraint("tenant_id", "location_id", "source", "metric", "captured_on"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    evidence_id: Mapped[uuid.UUID | None]
    source: Mapped[SnapshotSource] = mapped_column(str_enum(SnapshotSource, "snapshot_source"))
    metric: Mapped[str] = mapped_column(sa.String(80))
    value: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    captured_on: Mapped[date] = mapped_column(sa.Date)


class Benchmark(TimestampMixin, Base):
    """A cross-tenant reference figure: a metric's percentiles for a vertical and region."""

    __tablename__ = "benchmarks"
    __table_args__ = (
        sa.UniqueConstraint("vertical", "region", "metric", "period_start"),
        sa.CheckConstraint("sample_size > 0", name="sample_size_positive"),
        sa.CheckConstraint("p25 <= p50 AND p50 <= p75", name="percentiles_ordered"),
        SCHEMA,
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    vertical: Mapped[Vertical] = mapped_column(str_enum(Vertical, "vertical"))
    region: Mapped[str] = mapped_column(sa.String(100))
    metric: Mapped[str] = mapped_column(sa.String(80))
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    p25: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    p50: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    p75: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    sample_size: Mapped[int] = mapped_column(sa.Integer)
