"""Partner matching and credits: partners, credit lots, balances, the ledger, lead assignments.

- `crm.leads` gains `category`, `latitude` and `longitude` (rounded to 3 decimals, personal
  data: redacted in the audit trail) and a btree on `(tenant_id, latitude, longitude)` that
  the routing's bounding box uses.
- `decisions.partners`: locations that accept leads, with their limits.
- `decisions.credit_balances`: one row per partner, CHECK (balance >= 0).
- `decisions.credit_lots`: purchased credits with their expiry, spent oldest-first.
- `decisions.lead_assignments`: offers of leads to partners; at most one that is not declined
  per lead (partial unique index), and a partner gets a lead at most once. An erasure of the
  lead sets `lead_id` to NULL (the offer stays as the partner's record and the ledger's).
- `decisions.credit_entries`: the append-only ledger (the application may only insert).

Revision ID: 0740
Revises: 0730
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0740"
down_revision: str | None = "0730"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
REDACTED = (("crm.leads", "latitude"), ("crm.leads", "longitude"))


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _key() -> list[sa.Column[Any]]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def _fk(table: str, column: str, target: str, ondelete: str | None = "CASCADE") -> Any:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=f"fk_{table}_tenant_id_{column}_{target.split('.')[1]}"[:63],
        ondelete=ondelete,
    )


def _protect(table: str, grants: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table}"
        f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )
    op.execute(f"GRANT {grants} ON {table} TO {APP}")
    op.execute(f"SELECT audit.enable('{table}'::regclass)")


def _leads_upgrade() -> None:
    op.add_column("leads", sa.Column("category", sa.String(60)), schema="crm")
    op.add_column("leads", sa.Column("latitude", sa.Numeric(6, 3)), schema="crm")
    op.add_column("leads", sa.Column("longitude", sa.Numeric(6, 3)), schema="crm")
    op.create_check_constraint(
        "ck_leads_coordinates_pair",
        "leads",
        "(latitude IS NULL) = (longitude IS NULL)",
        schema="crm",
    )
    op.create_check_constraint(
        "ck_leads_coordinates_range",
        "leads",
        "latitude IS NULL OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)",
        schema="crm",
    )
    op.create_index(
        "ix_leads_tenant_coordinates",
        "leads",
        ["tenant_id", "latitude", "longitude"],
        schema="crm",
        postgresql_where=sa.text("latitude IS NOT NULL"),
    )
    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name) VALUES "
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
    )


def upgrade() -> None:
    _leads_upgrade()
    op.create_table(
        "partners",
        *_key(),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("accepts_leads", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("categories", ARRAY(sa.String(60)), server_default="{}", nullable=False),
        sa.Column("radius_km", sa.Numeric(7, 2), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column(
            "capacity_period",
            _enum(("week", "month"), "capacity_period"),
            server_default="week",
            nullable=False,
        ),
        sa.Column("price_credits", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_partners"),
        _fk("partners", "location_id", "identity.locations"),
        sa.UniqueConstraint("tenant_id", "location_id", name="uq_partners_tenant_id_location_id"),
        sa.CheckConstraint("radius_km > 0 AND radius_km <= 1000", name="ck_partners_radius_range"),
        sa.CheckConstraint("capacity >= 0", name="ck_partners_capacity_non_negative"),
        sa.CheckConstraint("price_credits > 0", name="ck_partners_price_positive"),
        schema="decisions",
    )
    _protect("decisions.partners", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "credit_balances",
        *_key(),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_credit_balances"),
        _fk("credit_balances", "partner_id", "decisions.partners"),
        sa.UniqueConstraint(
            "tenant_id", "partner_id", name="uq_credit_balances_tenant_id_partner_id"
        ),
        sa.CheckConstraint("balance >= 0", name="ck_credit_balances_balance_non_negative"),
        schema="decisions",
    )
    _protect("decisions.credit_balances", "SELECT, INSERT, UPDATE")

    op.create_table(
        "credit_lots",
        *_key(),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_credit_lots"),
        _fk("credit_lots", "partner_id", "decisions.partners"),
        sa.CheckConstraint("amount > 0", name="ck_credit_lots_amount_positive"),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount", name="ck_credit_lots_remaining_range"
        ),
        schema="decisions",
    )
    op.create_index(
        "ix_credit_lots_tenant_partner_open",
        "credit_lots",
        ["tenant_id", "partner_id", "expires_at"],
        schema="decisions",
        postgresql_where=sa.text("remaining > 0"),
    )
    _protect("decisions.credit_lots", "SELECT, INSERT, UPDATE")

    op.create_table(
        "lead_assignments",
        *_key(),
        sa.Column("lead_id", sa.Uuid()),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            _enum(("offered", "accepted", "declined", "converted", "lost"), "assignment_status"),
            server_default="offered",
            nullable=False,
        ),
        sa.Column("distance_km", sa.Numeric(7, 2), nullable=False),
        sa.Column("price_credits", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("decline_reason", sa.String(200)),
        sa.Column("rating", sa.SmallInteger()),
        sa.Column("rating_reason", sa.String(60)),
        sa.Column("rated_at", sa.DateTime(timezone=True)),
        sa.Column("actor", sa.String(120), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_lead_assignments"),
        _fk("lead_assignments", "lead_id", "crm.leads", None),  # an erasure detaches it
        _fk("lead_assignments", "partner_id", "decisions.partners"),
        sa.UniqueConstraint(
            "tenant_id",
            "lead_id",
            "partner_id",
            name="uq_lead_assignments_tenant_id_lead_id_partner_id",
        ),
        sa.CheckConstraint("price_credits > 0", name="ck_lead_assignments_price_positive"),
        sa.CheckConstraint("distance_km >= 0", name="ck_lead_assignments_distance_non_negative"),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_lead_assignments_rating_range"
        ),
        schema="decisions",
    )
    op.create_index(
        "uq_lead_assignments_tenant_lead_active",
        "lead_assignments",
        ["tenant_id", "lead_id"],
        unique=True,
        schema="decisions",
        postgresql_where=sa.text("status <> 'declined'"),
    )
    op.create_index(
        "ix_lead_assignments_tenant_partner_offered",
        "lead_assignments",
        ["tenant_id", "partner_id", "offered_at"],
        schema="decisions",
    )
    _protect("decisions.lead_assignments", "SELECT, INSERT, UPDATE")

    op.create_table(
        "credit_entries",
        *_key(),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            _enum(("purchase", "consumption", "refund", "expiry"), "credit_entry_kind"),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid()),
        sa.Column("actor", sa.String(120), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_credit_entries"),
        _fk("credit_entries", "partner_id", "decisions.partners"),
        _fk("credit_entries", "lot_id", "decisions.credit_lots"),
        _fk("credit_entries", "assignment_id", "decisions.lead_assignments", None),
        sa.CheckConstraint(
            "(kind IN ('purchase', 'refund') AND amount > 0)"
            " OR (kind IN ('consumption', 'expiry') AND amount < 0)",
            name="ck_credit_entries_amount_sign_of_kind",
        ),
        sa.CheckConstraint(
            "balance_after >= 0", name="ck_credit_entries_balance_after_non_negative"
        ),
        schema="decisions",
    )
    op.create_index(
        "ix_credit_entries_tenant_partner_created",
        "credit_entries",
        ["tenant_id", "partner_id", "created_at"],
        schema="decisions",
    )
    op.create_index(
        "ix_credit_entries_tenant_assignment",
        "credit_entries",
        ["tenant_id", "assignment_id"],
        schema="decisions",
        postgresql_where=sa.text("assignment_id IS NOT NULL"),
    )
    op.create_index(
        "ix_credit_entries_tenant_lot",
        "credit_entries",
        ["tenant_id", "lot_id"],
        schema="decisions",
    )
    # Append-only: the application may add entries, never change or remove one.
    _protect("decisions.credit_entries", "SELECT, INSERT")


def downgrade() -> None:
    for table in (
        "credit_entries",
        "lead_assignments",
        "credit_lots",
        "credit_balances",
        "partners",
    ):
        op.execute(f"DROP TABLE decisions.{table}")
    op.execute(
        "DELETE FROM audit.redacted_columns WHERE (table_name, column_name) IN ("
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
        + ")"
    )
    op.drop_index("ix_leads_tenant_coordinates", table_name="leads", schema="crm")
    op.drop_constraint("ck_leads_coordinates_range", "leads", schema="crm", type_="check")
    op.drop_constraint("ck_leads_coordinates_pair", "leads", schema="crm", type_="check")
    for name in ("longitude", "latitude", "category"):
        op.drop_column("leads", name, schema="crm")
