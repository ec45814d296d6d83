"""Schema `decisions`, lead scoring part: the tenant's versioned lead scoring models.

One row per trained model version: its kind (`rules` below the minimum of outcomes,
`logistic` above), the outcomes it learnt from, the feature names in vector order, the
coefficients, intercept and standardisation (mean and scale per feature) and the training
metrics. Rows are written once and never changed (append-only for the application); the
highest version is the tenant's current model. No personal data: feature names and numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base, TenantOwned, str_enum, tenant_root_fk
from tenantry.models.enums import LeadModelKind

__all__ = ["LeadModel"]

_PARAMETERS = "model parameters (feature names and figures, no personal data)"


class LeadModel(TenantOwned, Base):
    """A version of the tenant's lead scoring model (rules or logistic regression)."""

    __tablename__ = "lead_models"
    __table_args__ = (
        tenant_root_fk(),
        sa.UniqueConstraint("tenant_id", "version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint("n_outcomes >= 0 AND n_won BETWEEN 0 AND n_outcomes", name="outcomes"),
        {"schema": "decisions"},
    )

    version: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[LeadModelKind] = mapped_column(str_enum(LeadModelKind, "lead_model_kind"))
    trained_at: Mapped[datetime]
    n_outcomes: Mapped[int] = mapped_column(sa.Integer)
    n_won: Mapped[int] = mapped_column(sa.Integer)
    feature_names: Mapped[list[str]] = mapped_column(JSONB, info={"category": _PARAMETERS})
    coefficients: Mapped[list[float]] = mapped_column(JSONB, info={"category": _PARAMETERS})
    intercept: Mapped[float] = mapped_column(sa.Float)
    scaler: Mapped[dict[str, Any]] = mapped_column(JSONB, info={"category": _PARAMETERS})
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, info={"category": _PARAMETERS})
