"""Lead scoring: the tenant's versioned models and the explanation of every score.

- `decisions.lead_models`: one row per trained model version (kind rules | logistic, the
  outcomes it learnt from, feature names, coefficients, intercept, scaler, metrics). The
  application may read and insert, never change or delete a version (append-only); audited.
- `crm.lead_score_history` gains `explanation` (JSONB): the base and the points of each
  feature, which add up to the score. Feature names and points only, no personal data.
- `crm.leads` gains `score_explanation`: the current score's explanation, read with the lead.

Revision ID: 0730
Revises: 0725
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0730"
down_revision: str | None = "0725"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
TABLE = "decisions.lead_models"


def upgrade() -> None:
    op.add_column("lead_score_history", sa.Column("explanation", JSONB()), schema="crm")
    op.add_column("leads", sa.Column("score_explanation", JSONB()), schema="crm")
    op.create_table(
        "lead_models",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "rules",
                "logistic",
                name="lead_model_kind",
                native_enum=False,
                create_constraint=True,
                length=8,
            ),
            nullable=False,
        ),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_outcomes", sa.Integer(), nullable=False),
        sa.Column("n_won", sa.Integer(), nullable=False),
        sa.Column("feature_names", JSONB(), nullable=False),
        sa.Column("coefficients", JSONB(), nullable=False),
        sa.Column("intercept", sa.Float(), nullable=False),
        sa.Column("scaler", JSONB(), nullable=False),
        sa.Column("metrics", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_lead_models"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_lead_models_tenant_id_tenants"
        ),
        sa.UniqueConstraint("tenant_id", "version", name="uq_lead_models_tenant_id_version"),
        sa.CheckConstraint("version >= 1", name="ck_lead_models_version_positive"),
        sa.CheckConstraint(
            "n_outcomes >= 0 AND n_won BETWEEN 0 AND n_outcomes", name="ck_lead_models_outcomes"
        ),
        schema="decisions",
    )
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {TABLE}"
        f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )
    op.execute(f"GRANT SELECT, INSERT ON {TABLE} TO {APP}")
    op.execute(f"SELECT audit.enable('{TABLE}'::regclass)")


def downgrade() -> None:
    op.drop_table("lead_models", schema="decisions")
    op.drop_column("leads", "score_explanation", schema="crm")
    op.drop_column("lead_score_history", "explanation", schema="crm")
