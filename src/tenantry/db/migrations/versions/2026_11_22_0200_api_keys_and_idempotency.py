"""HTTP API tables: `identity.api_keys` and `events.idempotency_keys`, with row level security.

API keys are audited (creating and revoking a credential is a security event); idempotency
records are high-volume technical rows that expire after a day and are not audited.

Revision ID: 0200
Revises: 0102
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0200"
down_revision: str | None = "0102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
ROLES = ("owner", "admin", "manager", "staff", "analyst", "dpo", "platform_admin")


def _protect(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table}"
        f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP}")


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS events")
    op.execute(f"GRANT USAGE ON SCHEMA events TO {APP}")
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(*ROLES, name="api_role", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("location_ids", postgresql.ARRAY(sa.Uuid()), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "octet_length(secret_hash) = 32", name=op.f("ck_api_keys_secret_hash_length")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_api_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_api_keys")),
        schema="identity",
    )
    op.create_index(
        "ix_api_keys_secret_hash", "api_keys", ["secret_hash"], unique=True, schema="identity"
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("principal_ref", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("resource_kind", sa.String(length=40), nullable=True),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["identity.tenants.id"],
            name=op.f("fk_idempotency_keys_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "principal_ref", "key", name=op.f("pk_idempotency_keys")
        ),
        schema="events",
    )
    op.create_index(
        "ix_idempotency_keys_tenant_expires",
        "idempotency_keys",
        ["tenant_id", "expires_at"],
        schema="events",
    )
    _protect("identity.api_keys")
    _protect("events.idempotency_keys")
    op.execute("SELECT audit.enable('identity.api_keys'::regclass)")


def downgrade() -> None:
    op.execute("SELECT audit.disable('identity.api_keys'::regclass)")
    op.drop_table("idempotency_keys", schema="events")
    op.drop_table("api_keys", schema="identity")
