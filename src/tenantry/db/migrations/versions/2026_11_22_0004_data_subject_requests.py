"""Data-subject requests and erasure receipts, with row level security.

Receipts are append-only for the application (no UPDATE or DELETE grant).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "dsar_requests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "access",
                "erasure",
                "rectification",
                "restriction",
                "portability",
                "objection",
                name="dsar_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "verified",
                "in_progress",
                "completed",
                "rejected",
                name="dsar_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="received",
            nullable=False,
        ),
        sa.Column("requester_bidx", sa.LargeBinary(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extended_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.String(length=300), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status NOT IN ('completed', 'rejected') OR closed_at IS NOT NULL",
            name=op.f("ck_dsar_requests_closed_has_time"),
        ),
        sa.CheckConstraint(
            "due_at > received_at", name=op.f("ck_dsar_requests_due_after_received")
        ),
        sa.CheckConstraint(
            "extended_due_at IS NULL OR (extended_due_at > due_at AND extension_reason IS NOT NULL)",
            name=op.f("ck_dsar_requests_extension_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "subject_id"],
            ["privacy.subjects.tenant_id", "privacy.subjects.id"],
            name=op.f("fk_dsar_requests_tenant_id_subject_id_subjects"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_dsar_requests_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_dsar_requests")),
        schema="privacy",
    )
    op.create_index(
        "ix_dsar_requests_tenant_open_due",
        "dsar_requests",
        ["tenant_id", "due_at"],
        unique=False,
        schema="privacy",
        postgresql_where=sa.text("status NOT IN ('completed', 'rejected')"),
    )
    op.create_table(
        "erasure_receipts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("erased_lookup", sa.LargeBinary(), nullable=False),
        sa.Column("replacement", sa.String(length=40), nullable=False),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("keys_destroyed", sa.Integer(), nullable=False),
        sa.Column("scan_hits", sa.Integer(), nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "receipt_hash ~ '^[0-9a-f]{64}$'",
            name=op.f("ck_erasure_receipts_receipt_hash_sha256_hex"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "request_id"],
            ["privacy.dsar_requests.tenant_id", "privacy.dsar_requests.id"],
            name=op.f("fk_erasure_receipts_tenant_id_request_id_dsar_requests"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erasure_receipts")),
        schema="privacy",
    )
    op.create_index(
        "ix_erasure_receipts_tenant_erased_lookup",
        "erasure_receipts",
        ["tenant_id", "erased_lookup"],
        unique=False,
        schema="privacy",
    )
    for table in ("privacy.dsar_requests", "privacy.erasure_receipts"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = {CURRENT_TENANT})"
            f" WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON privacy.dsar_requests TO {APP}")
    op.execute(f"GRANT SELECT, INSERT ON privacy.erasure_receipts TO {APP}")


def downgrade() -> None:
    op.drop_index(
        "ix_erasure_receipts_tenant_erased_lookup", table_name="erasure_receipts", schema="privacy"
    )
    op.drop_table("erasure_receipts", schema="privacy")
    op.drop_index(
        "ix_dsar_requests_tenant_open_due",
        table_name="dsar_requests",
        schema="privacy",
        postgresql_where=sa.text("status NOT IN ('completed', 'rejected')"),
    )
    op.drop_table("dsar_requests", schema="privacy")
