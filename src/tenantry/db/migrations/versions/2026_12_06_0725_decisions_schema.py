"""The `decisions` schema: lead scoring models, partner matching and credits, experiments.

The schema only; the tables come with the migrations that follow, one per area.

Revision ID: 0725
Revises: 0720
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0725"
down_revision: str | None = "0720"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS decisions")
    op.execute(f"GRANT USAGE ON SCHEMA decisions TO {APP}")


def downgrade() -> None:
    op.execute("DROP SCHEMA decisions")
