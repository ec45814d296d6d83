"""Payment inbound: webhook endpoint secrets and IMAP mailbox cursors.

- `commerce.webhook_endpoints`: a tenant's signing secrets at a payment provider (Stripe),
  sealed (`secret`, redacted in the audit trail); `revoked_at` retires one.
- `commerce.mailbox_cursors`: per tenant and watched mailbox, its UIDVALIDITY and the last UID
  handed on.

Both are written by the operator's commands (as the owner); the application only reads them.

Revision ID: 0720
Revises: 0710
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0720"
down_revision: str | None = "0710"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
TABLES = ("commerce.webhook_endpoints", "commerce.mailbox_cursors")
REDACTED = (("commerce.webhook_endpoints", "secret"),)


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def _rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table}"
        f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "provider",
            sa.Enum("stripe", name="webhook_provider", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("label", sa.String(100)),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_endpoints"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_webhook_endpoints_tenant_id_tenants"
        ),
        schema="commerce",
    )
    op.create_index(
        "ix_webhook_endpoints_tenant_provider_active",
        "webhook_endpoints",
        ["tenant_id", "provider"],
        schema="commerce",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "mailbox_cursors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mailbox", sa.String(500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), server_default="0", nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_mailbox_cursors"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_mailbox_cursors_tenant_id_tenants"
        ),
        sa.UniqueConstraint("tenant_id", "mailbox", name="uq_mailbox_cursors_tenant_id_mailbox"),
        schema="commerce",
    )
    for table in TABLES:
        _rls(table)
        op.execute(f"GRANT SELECT ON {table} TO {APP}")  # the owner's commands write them
        op.execute(f"SELECT audit.enable('{table}'::regclass)")
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
