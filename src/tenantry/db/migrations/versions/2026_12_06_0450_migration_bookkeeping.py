"""Migration toolkit bookkeeping: schema `migrate` (runs, id map, lineage, progress, verifies).

Platform metadata of `tenantry migrate`: owned by `tenantry_owner`, nothing granted to
`tenantry_app`, no tenant rows (a canonical row's tenant is named `canonical_tenant`).

Revision ID: 0450
Revises: 0410
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0450"
down_revision: str | None = "0410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run"], ["migrate.runs.name"], name=f"fk_{table}_run_runs", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.execute("CREATE SCHEMA migrate")
    op.execute("REVOKE ALL ON SCHEMA migrate FROM PUBLIC")
    op.create_table(
        "runs",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),
        sa.Column("slot", sa.Text()),
        sa.Column("publication", sa.Text()),
        sa.Column("start_lsn", sa.BigInteger()),
        sa.Column("applied_lsn", sa.BigInteger()),
        sa.Column("applied_commit_at", sa.DateTime(timezone=True)),
        sa.Column("load_started_at", sa.DateTime(timezone=True)),
        sa.Column("load_finished_at", sa.DateTime(timezone=True)),
        sa.Column("cutover_at", sa.DateTime(timezone=True)),
        sa.Column("rollback_until", sa.DateTime(timezone=True)),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "phase IN ('loading', 'loaded', 'following', 'cut_over', 'rolled_back')",
            name="ck_runs_phase_known",
        ),
        sa.PrimaryKeyConstraint("name", name="pk_runs"),
        schema="migrate",
    )
    op.create_table(
        "id_map",
        sa.Column("run", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("canonical_table", sa.Text(), nullable=False),
        sa.Column("canonical_tenant", sa.Uuid()),
        sa.Column("canonical_id", sa.Uuid()),
        sa.Column("reason", sa.Text()),
        sa.Column("refs", postgresql.JSONB()),
        sa.Column("source_deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('loaded', 'merged', 'quarantined', 'deleted')",
            name="ck_id_map_outcome_known",
        ),
        sa.CheckConstraint(
            "(outcome = 'quarantined') = (reason IS NOT NULL)",
            name="ck_id_map_quarantine_has_reason",
        ),
        sa.CheckConstraint(
            "outcome IN ('quarantined', 'deleted') OR canonical_id IS NOT NULL",
            name="ck_id_map_placed_has_id",
        ),
        _run_fk("id_map"),
        sa.PrimaryKeyConstraint("run", "entity", "source_key", name="pk_id_map"),
        schema="migrate",
    )
    op.create_index(
        "ix_id_map_canonical", "id_map", ["canonical_table", "canonical_id"], schema="migrate"
    )
    op.create_index(
        "ix_id_map_run_outcome",
        "id_map",
        ["run", "outcome"],
        schema="migrate",
        postgresql_where=sa.text("outcome <> 'loaded'"),
    )
    op.create_table(
        "lineage",
        sa.Column("run", sa.Text(), nullable=False),
        sa.Column("canonical_table", sa.Text(), nullable=False),
        sa.Column("canonical_id", sa.Uuid(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        _run_fk("lineage"),
        sa.PrimaryKeyConstraint(
            "run", "canonical_table", "canonical_id", "column_name", name="pk_lineage"
        ),
        schema="migrate",
    )
    op.create_table(
        "progress",
        sa.Column("run", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("last_key", postgresql.ARRAY(sa.Text())),
        sa.Column("done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("rows", sa.BigInteger(), server_default="0", nullable=False),
        _run_fk("progress"),
        sa.PrimaryKeyConstraint("run", "entity", name="pk_progress"),
        schema="migrate",
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run", sa.Text(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("source_lsn", sa.BigInteger()),
        sa.Column("equal", sa.Boolean(), nullable=False),
        sa.Column("report", postgresql.JSONB(), nullable=False),
        _run_fk("verifications"),
        sa.PrimaryKeyConstraint("id", name="pk_verifications"),
        schema="migrate",
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA migrate CASCADE")
