"""Schema `decisions`: experiments, their arms, the bandit's posteriors and the decision log.

An experiment runs in one slot (a place in the product where one of its arms is shown); at
most one experiment per tenant and slot is live (running or paused) at a time, a partial
unique index enforces it. `posteriors` hold the Beta counts (successes, failures) per arm and
context cell. `decisions` is the log: one row per logged choice with the propensity of the
chosen arm, later its outcome. A decision row is pseudonymous personal data: it names its
subject by the keyed pseudonym (`user_key`) only, and leaves with the subject on erasure.
Models do no I/O.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base, TenantOwned, pii, str_enum, tenant_fk, tenant_root_fk

__all__ = [
    "ArmStatus",
    "Decision",
    "Experiment",
    "ExperimentArm",
    "ExperimentStatus",
    "Posterior",
]

SCHEMA = {"schema": "decisions"}
_CONFIG = "configuration (experiment definition, no personal data)"
_FIGURES = "business data (codes, flags, figures)"


class ExperimentStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class ArmStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class Experiment(TenantOwned, Base):
    """One experiment in one slot: its arms' policy settings, eligibility and guardrails."""

    __tablename__ = "experiments"
    __table_args__ = (
        tenant_root_fk(),
        sa.Index(
            "ix_experiments_tenant_slot_live",
            "tenant_id",
            "slot",
            unique=True,
            postgresql_where=sa.text("status <> 'stopped'"),
        ),
        sa.CheckConstraint("floor >= 0 AND floor <= 1", name="floor_range"),
        sa.CheckConstraint("min_events >= 0", name="min_events_positive"),
        sa.CheckConstraint("ttl_seconds > 0", name="ttl_positive"),
        SCHEMA,
    )

    slot: Mapped[str] = mapped_column(sa.String(80), info={"category": _CONFIG})
    name: Mapped[str] = mapped_column(sa.String(200), info={"category": _CONFIG})
    status: Mapped[ExperimentStatus] = mapped_column(
        str_enum(ExperimentStatus, "experiment_status"), server_default="running"
    )
    default_arm: Mapped[str] = mapped_column(sa.String(80), info={"category": _CONFIG})
    floor: Mapped[float] = mapped_column(sa.Float, server_default="0")
    min_events: Mapped[int] = mapped_column(sa.Integer, server_default="30")
    ttl_seconds: Mapped[int] = mapped_column(sa.Integer, server_default="604800")
    context_attributes: Mapped[list[Any]] = mapped_column(
        JSONB, server_default=sa.text("'[]'::jsonb"), info={"category": _CONFIG}
    )
    eligibility: Mapped[dict[str, Any]] = mapped_column(
        server_default=sa.text("'{}'::jsonb"), info={"category": _CONFIG}
    )
    guardrails: Mapped[list[Any]] = mapped_column(
        JSONB, server_default=sa.text("'[]'::jsonb"), info={"category": _CONFIG}
    )
    rules: Mapped[dict[str, Any]] = mapped_column(
        server_default=sa.text("'{}'::jsonb"), info={"category": _CONFIG}
    )
    # Bumped by every change that affects a decision (status, an arm paused or resumed), so
    # the in-process cache of definitions knows when to reload.
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    started_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    stopped_at: Mapped[datetime | None]


class ExperimentArm(TenantOwned, Base):
    """One arm of an experiment; a paused arm is never chosen (a guardrail may pause it)."""

    __tablename__ = "experiment_arms"
    __table_args__ = (
        tenant_fk("experiment_id", "decisions.experiments", ondelete="CASCADE"),
        sa.UniqueConstraint("tenant_id", "experiment_id", "key"),
        SCHEMA,
    )

    experiment_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(sa.String(80), info={"category": _CONFIG})
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    status: Mapped[ArmStatus] = mapped_column(
        str_enum(ArmStatus, "arm_status"), server_default="active"
    )
    paused_reason: Mapped[str | None] = mapped_column(sa.String(300), info={"category": _CONFIG})
    paused_at: Mapped[datetime | None]


class Posterior(TenantOwned, Base):
    """The Beta counts of one arm in one context cell (`Context.key`)."""

    __tablename__ = "posteriors"
    __table_args__ = (
        tenant_fk("experiment_id", "decisions.experiments", ondelete="CASCADE"),
        sa.UniqueConstraint("tenant_id", "experiment_id", "cell", "arm"),
        SCHEMA,
    )

    experiment_id: Mapped[uuid.UUID]
    arm: Mapped[str] = mapped_column(sa.String(80), info={"category": _CONFIG})
    cell: Mapped[str] = mapped_column(
        sa.String(200), info={"category": "context cell (persona, preferences, onboarding day)"}
    )
    successes: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    failures: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class Decision(TenantOwned, Base):
    """One logged choice: the arm, its propensity, the context; later its outcome."""

    __tablename__ = "decisions"
    __table_args__ = (
        tenant_fk("experiment_id", "decisions.experiments", ondelete="CASCADE"),
        sa.Index("ix_decisions_tenant_experiment_arm", "tenant_id", "experiment_id", "arm"),
        sa.Index(
            "ix_decisions_tenant_user_key",
            "tenant_id",
            "user_key",
            postgresql_where=sa.text("user_key IS NOT NULL"),
        ),
        sa.CheckConstraint("propensity > 0 AND propensity <= 1", name="propensity_range"),
        SCHEMA,
    )

    experiment_id: Mapped[uuid.UUID]
    arm: Mapped[str] = mapped_column(sa.String(80), info={"category": _CONFIG})
    user_key: Mapped[str | None] = mapped_column(sa.String(64), info=pii("keyed_hash"))
    cell: Mapped[str] = mapped_column(
        sa.String(200), info={"category": "context cell (persona, preferences, onboarding day)"}
    )
    context: Mapped[dict[str, Any]] = mapped_column(
        server_default=sa.text("'{}'::jsonb"),
        info={"category": "decision context (whitelisted attributes only, seed 001)"},
    )
    propensity: Mapped[float] = mapped_column(sa.Float)
    policy: Mapped[str] = mapped_column(sa.String(20), info={"category": _FIGURES})
    decided_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    outcome: Mapped[bool | None]
    outcome_at: Mapped[datetime | None]
    outcome_source: Mapped[str | None] = mapped_column(sa.String(20), info={"category": _FIGURES})
    # Guardrail metrics seen for this decision (unsubscribe, bounce, complaint, abandon).
    signals: Mapped[list[Any]] = mapped_column(
        JSONB,
        server_default=sa.text("'[]'::jsonb"),
        info={"category": "outcome signals (metric names, no personal data)"},
    )
