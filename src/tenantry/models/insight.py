"""Schema `insight`: visibility checks, the evidence ledger, statements and recommendations
backed by evidence, analysis runs, analytics snapshots and benchmarks (seed 000 tiers 3 and 4).

A check's collectors store each fetch as a `retrievals` row (the bytes, sealed, and their
SHA-256); every fact drawn from it is an append-only `evidence` row with a source, a retrieval
time, a computed confidence in [0, 1], the content hash and the extractor. An analysis run
(`analysis_runs`, with its provider, model and prompt version) publishes `statements` and
`recommendations`, each linked to the evidence it rests on; the database refuses to publish one
without evidence of its own check. `benchmarks` and `prompts` are platform-wide and so carry no
`tenant_id`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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
    StatementKind,
    StatementStatus,
    Vertical,
    VisibilityCheckStatus,
)
from tenantry.models.sealed import SealedField, sealed_column

__all__ = [
    "AnalysisRun",
    "AnalyticsSnapshot",
    "Benchmark",
    "Evidence",
    "Prompt",
    "Recommendation",
    "RecommendationEvidence",
    "Retrieval",
    "Statement",
    "StatementEvidence",
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
        sa.Index(
            "ix_visibility_checks_queued",
            "tenant_id",
            "requested_at",
            postgresql_where=sa.text("status = 'queued'"),
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
    requested_by: Mapped[str | None] = mapped_column(sa.String(120))
    doi_token_id: Mapped[uuid.UUID | None]  # the visitor's opt-in (no key: tokens are purged)
    confirmed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(sa.SmallInteger, server_default="0")
    analyser: Mapped[str | None] = mapped_column(sa.String(60))
    rubric_version: Mapped[str | None] = mapped_column(sa.String(40))
    failures: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=sa.text("'[]'::jsonb")
    )
    error: Mapped[str | None] = mapped_column(sa.String(500))
    stale_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class Retrieval(TenantOwned, Base):
    """One fetch of a collector: what was asked, when, and the bytes that came back (sealed:
    a page can name a person) with their SHA-256, or why nothing came back. Append-only."""

    __tablename__ = "retrievals"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("visibility_check_id", "insight.visibility_checks"),
        sa.CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'", name="content_hash_sha256_hex"),
        sa.CheckConstraint("body_bytes >= 0", name="body_bytes_non_negative"),
        sa.Index("ix_retrievals_tenant_check", "tenant_id", "visibility_check_id"),
        sa.Index("ix_retrievals_tenant_location_uri", "tenant_id", "location_id", "uri"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    visibility_check_id: Mapped[uuid.UUID | None]
    collector: Mapped[str] = mapped_column(sa.String(40))
    source: Mapped[EvidenceSource] = mapped_column(str_enum(EvidenceSource, "evidence_source"))
    uri: Mapped[str] = mapped_column(sa.String(2000))
    status_code: Mapped[int | None] = mapped_column(sa.SmallInteger)
    content_type: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    body = SealedField("free_text")  # base64 of the bytes kept
    body_sealed: Mapped[bytes | None] = sealed_column("body", "free_text")
    body_bytes: Mapped[int] = mapped_column(sa.Integer)
    truncated: Mapped[bool] = mapped_column(server_default=sa.false())
    retrieved_at: Mapped[datetime]
    elapsed_ms: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class Evidence(TenantOwned, Base):
    """The evidence ledger: a claim, where it came from, when, and how sure we are."""

    __tablename__ = "evidence"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("visibility_check_id", "insight.visibility_checks"),
        tenant_fk("retrieval_id", "insight.retrievals"),
        tenant_fk("superseded_by", "insight.evidence"),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence_range"),
        sa.CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'", name="content_hash_sha256_hex"),
        sa.Index("ix_evidence_tenant_check", "tenant_id", "visibility_check_id"),
        sa.Index(
            "ix_evidence_tenant_location_retrieved", "tenant_id", "location_id", "retrieved_at"
        ),
        sa.Index(
            "ix_evidence_tenant_location_current",
            "tenant_id",
            "location_id",
            postgresql_where=sa.text("superseded_at IS NULL"),
        ),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID | None]
    visibility_check_id: Mapped[uuid.UUID | None]
    retrieval_id: Mapped[uuid.UUID | None]
    fact_key: Mapped[str | None] = mapped_column(sa.String(120))
    value: Mapped[Any | None] = mapped_column(JSONB)
    claim: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[EvidenceSource] = mapped_column(str_enum(EvidenceSource, "evidence_source"))
    source_url: Mapped[str | None] = mapped_column(sa.String(2000))
    excerpt = SealedField("free_text")  # may quote a person (a sole trader's name)
    excerpt_sealed: Mapped[bytes | None] = sealed_column("excerpt", "free_text")
    personal: Mapped[bool] = mapped_column(server_default=sa.false())
    retrieved_at: Mapped[datetime]
    confidence: Mapped[Decimal] = mapped_column(sa.Numeric(4, 3))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    extractor: Mapped[str | None] = mapped_column(sa.String(60))
    extractor_version: Mapped[str | None] = mapped_column(sa.String(20))
    model_version: Mapped[str | None] = mapped_column(sa.String(60))  # the confidence model's
    superseded_at: Mapped[datetime | None]
    superseded_by: Mapped[uuid.UUID | None]


class Prompt(Base):
    """A prompt template an analyser sent, by the SHA-256 of its text (platform-wide)."""

    __tablename__ = "prompts"
    __table_args__ = (
        sa.CheckConstraint("version ~ '^[0-9a-f]{64}$'", name="version_sha256_hex"),
        SCHEMA,
    )

    version: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class AnalysisRun(TenantOwned, Base):
    """One analyser run over a check's evidence: provider, model, prompt version, the evidence
    it was given, what it returned, tokens and latency, and what was published or rejected."""

    __tablename__ = "analysis_runs"
    __table_args__ = (
        tenant_fk("visibility_check_id", "insight.visibility_checks"),
        sa.ForeignKeyConstraint(["prompt_version"], ["insight.prompts.version"]),
        sa.CheckConstraint("published >= 0 AND rejected >= 0", name="counts_non_negative"),
        sa.Index("ix_analysis_runs_tenant_check", "tenant_id", "visibility_check_id"),
        SCHEMA,
    )

    visibility_check_id: Mapped[uuid.UUID]
    provider: Mapped[str] = mapped_column(sa.String(60))
    model: Mapped[str] = mapped_column(sa.String(200))
    prompt_version: Mapped[str | None] = mapped_column(sa.String(64))
    input_evidence_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(sa.Uuid()), server_default="{}"
    )
    output: Mapped[Any | None] = mapped_column(JSONB)
    tokens_in: Mapped[int | None] = mapped_column(sa.Integer)
    tokens_out: Mapped[int | None] = mapped_column(sa.Integer)
    latency_ms: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    published: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    rejected: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    rejections: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=sa.text("'[]'::jsonb")
    )
    error: Mapped[str | None] = mapped_column(sa.String(500))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Statement(TenantOwned, Base):
    """A published conclusion of a check (SWOT item, persona, recommendation, summary); the
    database refuses one that cites no evidence of its own check."""

    __tablename__ = "statements"
    __table_args__ = (
        tenant_fk("visibility_check_id", "insight.visibility_checks"),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("analysis_run_id", "insight.analysis_runs"),
        sa.Index("ix_statements_tenant_check", "tenant_id", "visibility_check_id"),
        SCHEMA,
    )

    visibility_check_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    analysis_run_id: Mapped[uuid.UUID]
    kind: Mapped[StatementKind] = mapped_column(str_enum(StatementKind, "statement_kind"))
    text: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    status: Mapped[StatementStatus] = mapped_column(
        str_enum(StatementStatus, "statement_status"),
        server_default=StatementStatus.PUBLISHED.value,
    )
    published_at: Mapped[datetime]
    stale_at: Mapped[datetime | None]


class StatementEvidence(TimestampMixin, Base):
    """Links a statement to each piece of evidence it cites."""

    __tablename__ = "statement_evidence"
    __table_args__ = (
        tenant_fk("statement_id", "insight.statements", ondelete="CASCADE"),
        tenant_fk("evidence_id", "insight.evidence", ondelete="CASCADE"),
        sa.Index("ix_statement_evidence_tenant_evidence", "tenant_id", "evidence_id"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    evidence_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


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
    stale_at: Mapped[datetime | None]


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
    """A cross-tenant reference figure: a metric's percentiles for a vertical, a category
    ('' for all) and a region (a city), published only where enough tenants contribute."""

    __tablename__ = "benchmarks"
    __table_args__ = (
        sa.UniqueConstraint("vertical", "category", "region", "metric", "period_start"),
        sa.CheckConstraint("sample_size > 0", name="sample_size_positive"),
        sa.CheckConstraint("tenant_count >= 5", name="at_least_five_tenants"),
        sa.CheckConstraint("p25 <= p50 AND p50 <= p75", name="percentiles_ordered"),
        SCHEMA,
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    vertical: Mapped[Vertical] = mapped_column(str_enum(Vertical, "vertical"))
    category: Mapped[str] = mapped_column(sa.String(80), server_default="")
    region: Mapped[str] = mapped_column(sa.String(100))
    metric: Mapped[str] = mapped_column(sa.String(80))
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    p25: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    p50: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    p75: Mapped[Decimal] = mapped_column(sa.Numeric(18, 4))
    sample_size: Mapped[int] = mapped_column(sa.Integer)
    tenant_count: Mapped[int] = mapped_column(sa.Integer)
