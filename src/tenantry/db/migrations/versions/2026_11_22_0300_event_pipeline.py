"""Event pipeline: inbox, transactional outbox, projection and relay positions.

Tenant tables get the same row level security policy as every other tenant table. They are
deliberately not audited: they are high-volume technical logs (every ingested event, every
outbox entry) whose business meaning is already audited on the source rows. The relay's
positions are platform state without a tenant and are visible to the owner role only.

Revision ID: 0300
Revises: 0200
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0300"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
TENANT_TABLES = ("events.inbox", "events.outbox", "events.projection_positions")


class _Xid8(sa.types.UserDefinedType[int]):
    cache_ok = True

    def get_col_spec(self, **_kw: object) -> str:
        return "xid8"


def _timestamps() -> list[sa.Column[object]]:
    return [
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
    ]


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS events")
    op.create_table(
        "inbox",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("txid", _Xid8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("event_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("user_key", sa.String(length=64), nullable=True),
        sa.Column(
            "external_ids",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "properties",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=50), server_default="api", nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_inbox_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_inbox_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_inbox")),
        schema="events",
    )
    op.create_index("ix_inbox_tenant_user", "inbox", ["tenant_id", "user_id"], schema="events")
    op.create_index(
        "ix_inbox_tenant_txid_seq", "inbox", ["tenant_id", "txid", "seq"], schema="events"
    )
    # The relay reads across tenants in (txid, seq) order.
    op.execute("CREATE INDEX ix_inbox_relay_order ON events.inbox (txid, seq)")
    op.create_table(
        "outbox",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("txid", _Xid8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("aggregate_type", sa.String(length=50), nullable=False),
        sa.Column("aggregate_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column(
            "payload",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_outbox_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_outbox")),
        schema="events",
    )
    op.create_index(
        "ix_outbox_tenant_aggregate",
        "outbox",
        ["tenant_id", "aggregate_type", "aggregate_id"],
        schema="events",
    )
    op.execute("CREATE INDEX ix_outbox_relay_order ON events.outbox (txid, seq)")
    op.create_table(
        "projection_positions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("projection", sa.String(length=80), nullable=False),
        sa.Column("last_txid", _Xid8(), server_default=sa.text("'0'::xid8"), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("events", sa.BigInteger(), server_default="0", nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["identity.tenants.id"],
            name=op.f("fk_projection_positions_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "projection", name=op.f("pk_projection_positions")),
        schema="events",
    )
    op.create_table(
        "relay_positions",
        sa.Column("stream", sa.String(length=50), nullable=False),
        sa.Column("last_txid", _Xid8(), server_default=sa.text("'0'::xid8"), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("batches", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows", sa.BigInteger(), server_default="0", nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_relay_positions")),
        schema="events",
    )

    op.execute(f"GRANT USAGE ON SCHEMA events TO {APP}")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table}"
            f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP}")
    op.execute(f"GRANT USAGE ON SEQUENCE events.inbox_seq_seq, events.outbox_seq_seq TO {APP}")
    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name)"
        " VALUES ('events.inbox', 'user_key') ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM audit.redacted_columns WHERE table_name = 'events.inbox'"
        " AND column_name = 'user_key'"
    )
    for table in TENANT_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {APP}")
    op.execute(f"REVOKE ALL ON SEQUENCE events.inbox_seq_seq, events.outbox_seq_seq FROM {APP}")
    op.drop_table("relay_positions", schema="events")
    op.drop_table("projection_positions", schema="events")
    op.drop_index("ix_outbox_tenant_aggregate", table_name="outbox", schema="events")
    op.execute("DROP INDEX events.ix_outbox_relay_order")
    op.drop_table("outbox", schema="events")
    op.execute("DROP INDEX events.ix_inbox_relay_order")
    op.drop_index("ix_inbox_tenant_txid_seq", table_name="inbox", schema="events")
    op.drop_index("ix_inbox_tenant_user", table_name="inbox", schema="events")
    op.drop_table("inbox", schema="events")
