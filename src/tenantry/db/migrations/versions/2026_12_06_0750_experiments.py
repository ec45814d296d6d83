"""Experiments: definitions, arms, the bandit's posteriors and the decision log.

- `decisions.experiments`: one per slot among the live ones (running or paused; a partial
  unique index), with floor, minimum events, context attributes, eligibility, guardrails,
  decision TTL and personalization rules.
- `decisions.experiment_arms`: the arms, each active or paused (with reason and time).
- `decisions.posteriors`: Beta counts per experiment, context cell and arm.
- `decisions.decisions`: the decision log (pseudonymous: the subject's keyed pseudonym only).

Revision ID: 0750
Revises: 0740
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0750"
down_revision: str | None = "0740"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
TABLES = (
    "decisions.experiments",
    "decisions.experiment_arms",
    "decisions.posteriors",
    "decisions.decisions",
)
REDACTED = (("decisions.decisions", "user_key"),)
# The decision log is a high-volume technical log, like the event inbox: not audited row by
# row (every decision would otherwise take the tenant's audit chain head). Changes to what
# decides (definitions, arms and their pauses, posteriors) are audited.
DECISION_LOG = "decisions.decisions"


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(v) for v in values),
    )


def _jsonb(name: str, default: str) -> sa.Column[Any]:
    return sa.Column(name, JSONB(), server_default=sa.text(f"'{default}'::jsonb"), nullable=False)


def _experiment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "experiment_id"],
        ["decisions.experiments.tenant_id", "decisions.experiments.id"],
        name=f"fk_{table}_tenant_id_experiment_id_experiments",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "status",
            _enum(("running", "paused", "stopped"), "experiment_status"),
            server_default="running",
            nullable=False,
        ),
        sa.Column("default_arm", sa.String(80), nullable=False),
        sa.Column("floor", sa.Float(), server_default="0", nullable=False),
        sa.Column("min_events", sa.Integer(), server_default="30", nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), server_default="604800", nullable=False),
        _jsonb("context_attributes", "[]"),
        _jsonb("eligibility", "{}"),
        _jsonb("guardrails", "[]"),
        _jsonb("rules", "{}"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_experiments"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_experiments_tenant_id_tenants"
        ),
        sa.CheckConstraint("floor >= 0 AND floor <= 1", name="ck_experiments_floor_range"),
        sa.CheckConstraint("min_events >= 0", name="ck_experiments_min_events_positive"),
        sa.CheckConstraint("ttl_seconds > 0", name="ck_experiments_ttl_positive"),
        schema="decisions",
    )
    op.create_index(
        "ix_experiments_tenant_slot_live",
        "experiments",
        ["tenant_id", "slot"],
        unique=True,
        schema="decisions",
        postgresql_where=sa.text("status <> 'stopped'"),
    )
    op.create_table(
        "experiment_arms",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column(
            "status",
            _enum(("active", "paused"), "arm_status"),
            server_default="active",
            nullable=False,
        ),
        sa.Column("paused_reason", sa.String(300)),
        sa.Column("paused_at", sa.DateTime(timezone=True)),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_experiment_arms"),
        _experiment_fk("experiment_arms"),
        sa.UniqueConstraint(
            "tenant_id",
            "experiment_id",
            "key",
            name="uq_experiment_arms_tenant_id_experiment_id_key",
        ),
        schema="decisions",
    )
    op.create_table(
        "posteriors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("arm", sa.String(80), nullable=False),
        sa.Column("cell", sa.String(200), nullable=False),
        sa.Column("successes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failures", sa.BigInteger(), server_default="0", nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_posteriors"),
        _experiment_fk("posteriors"),
        sa.UniqueConstraint(
            "tenant_id",
            "experiment_id",
            "cell",
            "arm",
            name="uq_posteriors_tenant_id_experiment_id_cell_arm",
        ),
        schema="decisions",
    )
    op.create_table(
        "decisions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("arm", sa.String(80), nullable=False),
        sa.Column("user_key", sa.String(64)),
        sa.Column("cell", sa.String(200), nullable=False),
        _jsonb("context", "{}"),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("policy", sa.String(20), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Boolean()),
        sa.Column("outcome_at", sa.DateTime(timezone=True)),
        sa.Column("outcome_source", sa.String(20)),
        _jsonb("signals", "[]"),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_decisions"),
        _experiment_fk("decisions"),
        sa.CheckConstraint(
            "propensity > 0 AND propensity <= 1", name="ck_decisions_propensity_range"
        ),
        schema="decisions",
    )
    op.create_index(
        "ix_decisions_tenant_experiment_arm",
        "decisions",
        ["tenant_id", "experiment_id", "arm"],
        schema="decisions",
    )
    op.create_index(
        "ix_decisions_tenant_user_key",
        "decisions",
        ["tenant_id", "user_key"],
        schema="decisions",
        postgresql_where=sa.text("user_key IS NOT NULL"),
    )
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table}"
            f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )
        if table != DECISION_LOG:
            op.execute(f"SELECT audit.enable('{table}'::regclass)")
        # DELETE: the erasure removes a subject's decisions; definitions can be tidied away.
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP}")
    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name) VALUES "
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM audit.redacted_columns WHERE (table_name, column_name) IN ("
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
        + ")"
    )
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
