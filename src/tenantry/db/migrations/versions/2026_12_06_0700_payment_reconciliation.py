"""Payment reconciliation: notifications as full records, matching decisions, payer aliases.

- `commerce.payment_notifications` gains what every source reports (source, bank, date of the
  payment, fee, payer e-mail, reference), its trust verdict (verified, unsigned, forged,
  unknown_key, with the signing domain and a reason), the sealed raw message with its SHA-256
  (a re-delivered message is recognised by it), and the matcher's decision (score, runner-up,
  reasons, kind of part paid, who decided and when). Status `rejected` joins the enum.
- `commerce.match_decisions`: every decision on a notification, automatic or by a reviewer,
  with its score and reasons (append-only for the application).
- `commerce.payments`: the unique provider reference no longer counts cancelled payments, so
  a payment taken back can be recorded again on the right booking.
- Retention: notifications are kept as the payments they document (8 years from the end of
  the year), then deleted.
- `commerce.payer_aliases`: payers confirmed for a customer (a friend who paid), found by a
  keyed hash of the normalised name; the name itself is sealed under the customer's subject.

Revision ID: 0700
Revises: 0620
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0700"
down_revision: str | None = "0620"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
T = "commerce.payment_notifications"
SOURCES = ("email", "webhook", "bank_statement")
TRUST = ("verified", "unsigned", "forged", "unknown_key")
PARTS = ("deposit", "balance", "full")
STATUS_OLD = ("unmatched", "matched", "needs_review", "ignored")
STATUS_NEW = (*STATUS_OLD, "rejected")
ACTIONS = ("auto_matched", "queued", "matched", "reassigned", "rejected")
REDACTED = (
    (T, "payer_email"),
    (T, "reference"),
    (T, "raw_message"),
    ("commerce.payer_aliases", "payer_name"),
    ("commerce.payer_aliases", "payer_key"),
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _values(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _status_check(values: tuple[str, ...]) -> None:
    op.execute(f"ALTER TABLE {T} DROP CONSTRAINT ck_payment_notifications_match_status")
    op.execute(
        f"ALTER TABLE {T} ADD CONSTRAINT ck_payment_notifications_match_status"
        f" CHECK (match_status::text = ANY ((ARRAY[{_values(values)}])::text[]))"
    )


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def _tenant_fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=f"fk_{table}_tenant_id_{column}_{target.split('.')[1]}"[:63],
        ondelete=ondelete,
    )


def _rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table}"
        f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )


def _notification_columns() -> None:
    add: list[sa.Column[Any]] = [
        sa.Column(
            "source", _enum(SOURCES, "notification_source"), server_default="email", nullable=False
        ),
        sa.Column("bank", sa.String(60)),
        sa.Column("occurred_at", sa.DateTime(timezone=True)),
        sa.Column("fee_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("payer_email", sa.LargeBinary()),
        sa.Column("reference", sa.LargeBinary()),
        sa.Column("raw_message", sa.LargeBinary()),
        sa.Column("raw_sha256", sa.String(64)),
        sa.Column(
            "trust", _enum(TRUST, "notification_trust"), server_default="unsigned", nullable=False
        ),
        sa.Column("trust_reason", sa.String(200)),
        sa.Column("signing_domain", sa.String(253)),
        sa.Column("runner_up_confidence", sa.Numeric(4, 3)),
        sa.Column("match_kind", _enum(PARTS, "matched_part")),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.String(120)),
    ]
    for column in add:
        op.add_column("payment_notifications", column, schema="commerce")
    op.execute(
        f"ALTER TABLE {T} ADD CONSTRAINT ck_payment_notifications_fee_non_negative"
        " CHECK (fee_cents >= 0)"
    )
    op.execute(
        f"ALTER TABLE {T} ADD CONSTRAINT ck_payment_notifications_runner_up_range"
        " CHECK (runner_up_confidence IS NULL OR runner_up_confidence BETWEEN 0 AND 1)"
    )
    op.create_index(
        "uq_payment_notifications_tenant_raw_sha256",
        "payment_notifications",
        ["tenant_id", "raw_sha256"],
        unique=True,
        schema="commerce",
        postgresql_where=sa.text("raw_sha256 IS NOT NULL"),
    )
    op.create_index(
        "ix_payment_notifications_tenant_booking",
        "payment_notifications",
        ["tenant_id", "matched_booking_id"],
        schema="commerce",
        postgresql_where=sa.text("matched_booking_id IS NOT NULL"),
    )
    _status_check(STATUS_NEW)


def _decisions() -> None:
    op.create_table(
        "match_decisions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid()),
        sa.Column("action", _enum(ACTIONS, "match_action"), nullable=False),
        sa.Column("confidence", sa.Numeric(4, 3)),
        sa.Column("runner_up_confidence", sa.Numeric(4, 3)),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("decided_by", sa.String(120), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_match_decisions"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_match_decisions_tenant_id_tenants"
        ),
        _tenant_fk("match_decisions", "notification_id", T, "CASCADE"),
        _tenant_fk("match_decisions", "booking_id", "commerce.bookings"),
        sa.CheckConstraint(
            "confidence IS NULL OR confidence BETWEEN 0 AND 1",
            name="ck_match_decisions_confidence_range",
        ),
        schema="commerce",
    )
    op.create_index(
        "ix_match_decisions_tenant_notification_decided",
        "match_decisions",
        ["tenant_id", "notification_id", "decided_at"],
        schema="commerce",
    )
    op.create_index(
        "ix_match_decisions_tenant_booking",
        "match_decisions",
        ["tenant_id", "booking_id"],
        schema="commerce",
        postgresql_where=sa.text("booking_id IS NOT NULL"),
    )
    _rls("commerce.match_decisions")
    op.execute(f"GRANT SELECT, INSERT ON commerce.match_decisions TO {APP}")
    op.execute("SELECT audit.enable('commerce.match_decisions'::regclass)")


def _aliases() -> None:
    op.create_table(
        "payer_aliases",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("payer_key", sa.LargeBinary(), nullable=False),
        sa.Column("payer_name", sa.LargeBinary()),
        sa.Column("notification_id", sa.Uuid()),
        sa.Column("confirmed_by", sa.String(120), nullable=False),
        sa.Column("subject_id", sa.Uuid()),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_payer_aliases"),
        _tenant_fk("payer_aliases", "customer_id", "crm.customers", "CASCADE"),
        _tenant_fk("payer_aliases", "notification_id", T, "SET NULL"),
        _tenant_fk("payer_aliases", "subject_id", "privacy.subjects"),
        sa.UniqueConstraint(
            "tenant_id", "payer_key", "customer_id", name="uq_payer_aliases_tenant_key_customer"
        ),
        schema="commerce",
    )
    op.create_index(
        "ix_payer_aliases_tenant_customer",
        "payer_aliases",
        ["tenant_id", "customer_id"],
        schema="commerce",
    )
    op.create_index(
        "ix_payer_aliases_tenant_subject",
        "payer_aliases",
        ["tenant_id", "subject_id"],
        schema="commerce",
        postgresql_where=sa.text("subject_id IS NOT NULL"),
    )
    _rls("commerce.payer_aliases")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON commerce.payer_aliases TO {APP}")
    op.execute("SELECT audit.enable('commerce.payer_aliases'::regclass)")


def _payment_reference(condition: str) -> None:
    op.drop_index("uq_payments_tenant_provider_ref", "payments", schema="commerce")
    op.create_index(
        "uq_payments_tenant_provider_ref",
        "payments",
        ["tenant_id", "provider", "provider_ref"],
        unique=True,
        schema="commerce",
        postgresql_where=sa.text(condition),
    )


RETENTION = (
    "INSERT INTO privacy.retention_defaults (dataset, purpose, period_months, period_days,"
    " start_event, action, legal_basis, reference) VALUES ('commerce.payment_notifications',"
    " 'supporting documents of payments (payment notifications)', 96, 0,"
    " 'end_of_calendar_year', 'delete', 'legal_obligation',"
    " 'HGB s. 257(1) no. 4; AO s. 147(1) no. 4: 8 years, as the payments they document')"
)


def upgrade() -> None:
    # A payment taken back (matched to the wrong booking) frees its reference.
    _payment_reference("provider_ref IS NOT NULL AND status <> 'cancelled'")
    _notification_columns()
    _decisions()
    _aliases()
    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name) VALUES "
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
    )
    op.execute(RETENTION)


def downgrade() -> None:
    op.execute(
        "DELETE FROM privacy.retention_policies WHERE dataset = 'commerce.payment_notifications'"
    )
    op.execute(
        "DELETE FROM privacy.retention_defaults WHERE dataset = 'commerce.payment_notifications'"
    )
    op.execute(
        "DELETE FROM audit.redacted_columns WHERE (table_name, column_name) IN ("
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
        + ")"
    )
    op.execute("DROP TABLE commerce.payer_aliases")
    _payment_reference("provider_ref IS NOT NULL")
    op.execute("DROP TABLE commerce.match_decisions")
    op.execute(f"UPDATE {T} SET match_status = 'ignored' WHERE match_status = 'rejected'")
    _status_check(STATUS_OLD)
    op.drop_index(
        "ix_payment_notifications_tenant_booking", "payment_notifications", schema="commerce"
    )
    op.drop_index(
        "uq_payment_notifications_tenant_raw_sha256", "payment_notifications", schema="commerce"
    )
    op.execute(f"ALTER TABLE {T} DROP CONSTRAINT ck_payment_notifications_runner_up_range")
    op.execute(f"ALTER TABLE {T} DROP CONSTRAINT ck_payment_notifications_fee_non_negative")
    for column in (
        "decided_by",
        "decided_at",
        "reasons",
        "match_kind",
        "runner_up_confidence",
        "signing_domain",
        "trust_reason",
        "trust",
        "raw_sha256",
        "raw_message",
        "reference",
        "payer_email",
        "fee_cents",
        "occurred_at",
        "bank",
        "source",
    ):
        op.drop_column("payment_notifications", column, schema="commerce")
