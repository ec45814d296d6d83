"""Sealed staff accounts: `identity.users` e-mail and name as ciphertext under a platform key.

Staff accounts belong to no single tenant, so they are sealed under platform-wide keys
(`privacy.platform_keys`, wrapped by the master key) and found by a blind index of the
e-mail (`email_bidx`, unique). Like 0101, this refuses a database whose users still hold
plaintext from a pre-release schema.

Revision ID: 0102
Revises: 0101
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0102"
down_revision: str | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _refuse_plaintext() -> None:
    if op.get_bind().execute(sa.text("SELECT EXISTS (SELECT 1 FROM identity.users)")).scalar():
        raise RuntimeError(
            "identity.users holds personal data from a pre-release schema in plaintext; "
            "this migration does not convert it: export it, drop the database and re-seed"
        )


def upgrade() -> None:
    _refuse_plaintext()
    op.create_table(
        "platform_keys",
        sa.Column(
            "purpose",
            sa.Enum(
                "wrapping",
                "indexing",
                name="key_purpose",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "retired", name="key_status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=100), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("version > 0", name=op.f("ck_platform_keys_version_positive")),
        sa.PrimaryKeyConstraint("purpose", "version", name=op.f("pk_platform_keys")),
        schema="privacy",
    )
    op.create_index(
        "uq_platform_keys_active",
        "platform_keys",
        ["purpose"],
        unique=True,
        schema="privacy",
        postgresql_where=sa.text("status = 'active'"),
    )
    # The application creates the first platform keys on first use; it never changes them.
    op.execute("GRANT SELECT, INSERT ON privacy.platform_keys TO tenantry_app")
    op.drop_constraint("uq_users_email", "users", schema="identity", type_="unique")
    op.execute(
        "ALTER TABLE identity.users ALTER COLUMN email TYPE bytea USING NULL,"
        " ALTER COLUMN display_name TYPE bytea USING NULL,"
        " ADD COLUMN email_bidx bytea NOT NULL"
    )
    op.create_unique_constraint("uq_users_email_bidx", "users", ["email_bidx"], schema="identity")
    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name)"
        " VALUES ('identity.users', 'email_bidx'), ('privacy.platform_keys', 'wrapped_key')"
    )


def downgrade() -> None:
    _refuse_plaintext()
    op.execute(
        "DELETE FROM audit.redacted_columns"
        " WHERE (table_name, column_name) IN"
        " (('identity.users', 'email_bidx'), ('privacy.platform_keys', 'wrapped_key'))"
    )
    op.drop_constraint("uq_users_email_bidx", "users", schema="identity", type_="unique")
    op.execute(
        "ALTER TABLE identity.users DROP COLUMN email_bidx,"
        " ALTER COLUMN email TYPE varchar(320) USING NULL,"
        " ALTER COLUMN display_name TYPE varchar(200) USING NULL"
    )
    op.create_unique_constraint("uq_users_email", "users", ["email"], schema="identity")
    op.drop_index("uq_platform_keys_active", table_name="platform_keys", schema="privacy")
    op.drop_table("platform_keys", schema="privacy")
