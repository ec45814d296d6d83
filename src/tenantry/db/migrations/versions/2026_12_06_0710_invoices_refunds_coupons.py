"""Billing: issued invoices with lines and gapless numbers, credit notes, refunds, review coupons.

- `commerce.invoices` gains `kind` (invoice | credit_note), `credits_invoice_id` (a credit note
  names the invoice it corrects) and the seller as it was on the day of issue.
- `commerce.invoice_lines`: the lines of an invoice or credit note (a credit line names the
  invoice line it credits).
- `commerce.invoice_counters`: one row per tenant, series and year. The issuing transaction
  increments it (`INSERT ... ON CONFLICT DO UPDATE`), holding its row lock to the commit, so
  numbers are gapless: a rolled-back issue gives its number back. A trigger lets the counter
  only move up by one; the application may not delete it.
- GoBD: a trigger refuses, for every role, any change to an issued invoice or its lines but
  the status step issued -> paid and the replacement of the buyer's personal data by an
  erasure (the figures, number, dates, lines and seller stay). Deleting an issued invoice or
  its lines is refused, except by the retention job (the owner, with `tenantry.retention`).
  Lines can be added only while their invoice is a draft (the issuing transaction).
- `commerce.payments` gains `refund_of_payment_id` and `refund_reason`; a trigger refuses a
  refund beyond what its payment has left (it locks that payment), of a tip or of a refund,
  or on another booking. `payment_method` gains `coupon`.
- `commerce.coupons`: review coupons, stored by a keyed hash of their code; a trigger lets a
  coupon change only once, from issued to redeemed.

Revision ID: 0710
Revises: 0700
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0710"
down_revision: str | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
KINDS = ("invoice", "credit_note")
METHODS = ("card", "sepa", "cash", "paypal", "stripe", "zelle", "venmo", "bank_transfer")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> Any:
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


def _method_check(values: tuple[str, ...]) -> None:
    op.execute("ALTER TABLE commerce.payments DROP CONSTRAINT ck_payments_payment_method")
    listed = ", ".join(f"'{v}'" for v in values)
    op.execute(
        "ALTER TABLE commerce.payments ADD CONSTRAINT ck_payments_payment_method"
        f" CHECK (method IN ({listed}))"
    )


# Columns of an issued invoice that may still change: its status (issued -> paid, checked
# below), the buyer's personal data (replaced by an erasure, GDPR Art. 17) and its subject.
FUNCTIONS = """
CREATE FUNCTION commerce.invoice_immutable() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    v_status text;
    v_row record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_row := NEW;
    ELSE
        v_row := OLD;
    END IF;
    IF TG_TABLE_NAME = 'invoices' THEN
        v_status := v_row.status;
    ELSE
        SELECT i.status INTO v_status FROM commerce.invoices i
         WHERE i.tenant_id = v_row.tenant_id AND i.id = v_row.invoice_id;
    END IF;
    -- A draft may change; a line whose invoice is gone (a cascade) or not visible goes on to
    -- the foreign key and row level security.
    IF v_status IS NULL OR v_status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RAISE EXCEPTION 'an issued invoice cannot gain lines (GoBD): correct it with a credit note'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF current_setting('tenantry.retention', true) = 'on'
           AND current_user <> 'tenantry_app' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'an issued invoice is kept as issued (GoBD): it cannot be deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_TABLE_NAME = 'invoices' THEN
        IF (to_jsonb(NEW) - 'status' - 'billing_name' - 'billing_address' - 'subject_id'
            - 'updated_at')
         = (to_jsonb(OLD) - 'status' - 'billing_name' - 'billing_address' - 'subject_id'
            - 'updated_at')
           AND (to_jsonb(NEW) ->> 'status' = v_status
                OR (v_status = 'issued' AND to_jsonb(NEW) ->> 'status' = 'paid')) THEN
            RETURN NEW;
        END IF;
    ELSIF to_jsonb(NEW) - 'updated_at' = to_jsonb(OLD) - 'updated_at' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'an issued invoice cannot change (GoBD): correct it with a credit note'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION commerce.invoice_counter_forward() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (to_jsonb(NEW) - 'last_value' - 'updated_at') = (to_jsonb(OLD) - 'last_value' - 'updated_at')
       AND NEW.last_value = OLD.last_value + 1 THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'an invoice number counter only moves forward by one'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION commerce.refund_within_payment() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    v_paid record;
    v_refunded bigint;
BEGIN
    SELECT p.amount_cents, p.kind, p.booking_id, p.status INTO v_paid FROM commerce.payments p
     WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.refund_of_payment_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key refuses it
    END IF;
    IF v_paid.kind IN ('refund', 'tip') OR v_paid.status <> 'succeeded'
       OR v_paid.booking_id <> NEW.booking_id THEN
        RAISE EXCEPTION 'only a succeeded payment toward the booking can be refunded'
            USING ERRCODE = 'check_violation', TABLE = 'payments',
                  CONSTRAINT = 'ck_payments_refund_of_a_payment';
    END IF;
    SELECT coalesce(sum(r.amount_cents), 0) INTO v_refunded FROM commerce.payments r
     WHERE r.tenant_id = NEW.tenant_id AND r.refund_of_payment_id = NEW.refund_of_payment_id
       AND r.status = 'succeeded' AND r.id <> NEW.id;
    IF NEW.status = 'succeeded' AND v_refunded + NEW.amount_cents > v_paid.amount_cents THEN
        RAISE EXCEPTION 'the refund exceeds what is left of the payment'
            USING ERRCODE = 'check_violation', TABLE = 'payments',
                  CONSTRAINT = 'ck_payments_refund_within_payment';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION commerce.coupon_single_use() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF OLD.status = 'issued' AND NEW.status = 'redeemed'
       AND (to_jsonb(NEW) - 'status' - 'redeemed_booking_id' - 'redeemed_payment_id'
            - 'redeemed_cents' - 'redeemed_at' - 'updated_at' - 'subject_id')
         = (to_jsonb(OLD) - 'status' - 'redeemed_booking_id' - 'redeemed_payment_id'
            - 'redeemed_cents' - 'redeemed_at' - 'updated_at' - 'subject_id') THEN
        RETURN NEW;
    END IF;
    IF (to_jsonb(NEW) - 'updated_at' - 'subject_id') = (to_jsonb(OLD) - 'updated_at' - 'subject_id')
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a coupon is issued once and redeemed once; it cannot change otherwise'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER invoice_immutable BEFORE UPDATE OR DELETE ON commerce.invoices
    FOR EACH ROW EXECUTE FUNCTION commerce.invoice_immutable();
CREATE TRIGGER invoice_immutable BEFORE INSERT OR UPDATE OR DELETE ON commerce.invoice_lines
    FOR EACH ROW EXECUTE FUNCTION commerce.invoice_immutable();
CREATE TRIGGER counter_forward BEFORE UPDATE OR DELETE ON commerce.invoice_counters
    FOR EACH ROW EXECUTE FUNCTION commerce.invoice_counter_forward();
CREATE TRIGGER refund_within_payment BEFORE INSERT ON commerce.payments
    FOR EACH ROW WHEN (NEW.refund_of_payment_id IS NOT NULL)
    EXECUTE FUNCTION commerce.refund_within_payment();
CREATE TRIGGER coupon_single_use BEFORE UPDATE ON commerce.coupons
    FOR EACH ROW EXECUTE FUNCTION commerce.coupon_single_use();
"""


def upgrade() -> None:
    _method_check((*METHODS, "coupon"))
    op.add_column("payments", sa.Column("refund_of_payment_id", sa.Uuid()), schema="commerce")
    op.add_column("payments", sa.Column("refund_reason", sa.String(200)), schema="commerce")
    op.create_foreign_key(
        "fk_payments_tenant_id_refund_of_payment_id_payments",
        "payments",
        "payments",
        ["tenant_id", "refund_of_payment_id"],
        ["tenant_id", "id"],
        source_schema="commerce",
        referent_schema="commerce",
    )
    op.create_check_constraint(
        "ck_payments_refund_reference_is_refund",
        "payments",
        "refund_of_payment_id IS NULL OR kind = 'refund'",
        schema="commerce",
    )
    op.create_index(
        "ix_payments_tenant_refund_of",
        "payments",
        ["tenant_id", "refund_of_payment_id"],
        schema="commerce",
        postgresql_where=sa.text("refund_of_payment_id IS NOT NULL"),
    )

    op.add_column(
        "invoices",
        sa.Column("kind", _enum(KINDS, "invoice_kind"), server_default="invoice", nullable=False),
        schema="commerce",
    )
    for name, length in (
        ("seller_name", 200),
        ("seller_vat_id", 20),
        ("seller_register", 100),
        ("seller_address", 400),
        ("reason", 200),
    ):
        op.add_column("invoices", sa.Column(name, sa.String(length)), schema="commerce")
    op.add_column("invoices", sa.Column("credits_invoice_id", sa.Uuid()), schema="commerce")
    op.create_foreign_key(
        "fk_invoices_tenant_id_credits_invoice_id_invoices",
        "invoices",
        "invoices",
        ["tenant_id", "credits_invoice_id"],
        ["tenant_id", "id"],
        source_schema="commerce",
        referent_schema="commerce",
    )
    op.create_check_constraint(
        "ck_invoices_credit_note_references_invoice",
        "invoices",
        "(kind = 'credit_note') = (credits_invoice_id IS NOT NULL)",
        schema="commerce",
    )
    op.create_index(
        "ix_invoices_tenant_credits",
        "invoices",
        ["tenant_id", "credits_invoice_id"],
        schema="commerce",
        postgresql_where=sa.text("credits_invoice_id IS NOT NULL"),
    )

    op.create_table(
        "invoice_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("service_id", sa.Uuid()),
        sa.Column("credits_line_id", sa.Uuid()),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("gross_cents", sa.BigInteger(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_invoice_lines"),
        _fk("invoice_lines", "invoice_id", "commerce.invoices", "CASCADE"),
        _fk("invoice_lines", "service_id", "commerce.services"),
        _fk("invoice_lines", "credits_line_id", "commerce.invoice_lines"),
        sa.UniqueConstraint(
            "tenant_id",
            "invoice_id",
            "position",
            name="uq_invoice_lines_tenant_id_invoice_id_position",
        ),
        sa.CheckConstraint("quantity > 0", name="ck_invoice_lines_quantity_positive"),
        sa.CheckConstraint(
            "net_cents >= 0 AND tax_cents >= 0 AND unit_price_cents >= 0",
            name="ck_invoice_lines_amounts_non_negative",
        ),
        sa.CheckConstraint(
            "gross_cents = net_cents + tax_cents", name="ck_invoice_lines_gross_is_net_plus_tax"
        ),
        sa.CheckConstraint(
            "vat_rate_bp BETWEEN 0 AND 10000", name="ck_invoice_lines_vat_rate_range"
        ),
        schema="commerce",
    )
    op.create_index(
        "ix_invoice_lines_tenant_credits",
        "invoice_lines",
        ["tenant_id", "credits_line_id"],
        schema="commerce",
        postgresql_where=sa.text("credits_line_id IS NOT NULL"),
    )
    _protect("commerce.invoice_lines", "SELECT, INSERT, UPDATE, DELETE")

    op.create_table(
        "invoice_counters",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("series", _enum(KINDS, "invoice_series"), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_invoice_counters"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_invoice_counters_tenant_id_tenants"
        ),
        sa.UniqueConstraint(
            "tenant_id", "series", "year", name="uq_invoice_counters_tenant_id_series_year"
        ),
        sa.CheckConstraint("last_value >= 1", name="ck_invoice_counters_last_value_positive"),
        sa.CheckConstraint("year BETWEEN 2000 AND 2999", name="ck_invoice_counters_year_range"),
        schema="commerce",
    )
    _protect("commerce.invoice_counters", "SELECT, INSERT, UPDATE")

    op.create_table(
        "coupons",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "status",
            _enum(("issued", "redeemed"), "coupon_status"),
            server_default="issued",
            nullable=False,
        ),
        sa.Column("issued_by", sa.String(120), nullable=False),
        sa.Column("redeemed_booking_id", sa.Uuid()),
        sa.Column("redeemed_payment_id", sa.Uuid()),
        sa.Column("redeemed_cents", sa.BigInteger()),
        sa.Column("redeemed_at", sa.DateTime(timezone=True)),
        sa.Column("subject_id", sa.Uuid()),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_coupons"),
        _fk("coupons", "subject_id", "privacy.subjects"),
        _fk("coupons", "review_id", "engage.reviews", "CASCADE"),
        _fk("coupons", "customer_id", "crm.customers"),
        _fk("coupons", "booking_id", "commerce.bookings"),
        _fk("coupons", "redeemed_booking_id", "commerce.bookings"),
        _fk("coupons", "redeemed_payment_id", "commerce.payments"),
        sa.UniqueConstraint("tenant_id", "review_id", name="uq_coupons_tenant_id_review_id"),
        sa.UniqueConstraint("tenant_id", "code_hash", name="uq_coupons_tenant_id_code_hash"),
        sa.CheckConstraint("amount_cents BETWEEN 1 AND 10000", name="ck_coupons_amount_range"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_coupons_currency_iso4217"),
        sa.CheckConstraint(
            "(status = 'redeemed') = (redeemed_at IS NOT NULL AND redeemed_booking_id IS NOT NULL"
            " AND redeemed_cents IS NOT NULL)",
            name="ck_coupons_redeemed_has_redemption",
        ),
        sa.CheckConstraint(
            "redeemed_cents IS NULL OR redeemed_cents BETWEEN 1 AND amount_cents",
            name="ck_coupons_redeemed_cents_range",
        ),
        schema="commerce",
    )
    op.create_index(
        "ix_coupons_tenant_customer", "coupons", ["tenant_id", "customer_id"], schema="commerce"
    )
    op.create_index(
        "ix_coupons_tenant_subject",
        "coupons",
        ["tenant_id", "subject_id"],
        schema="commerce",
        postgresql_where=sa.text("subject_id IS NOT NULL"),
    )
    _protect("commerce.coupons", "SELECT, INSERT, UPDATE, DELETE")

    op.execute(FUNCTIONS)
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute("DROP TRIGGER coupon_single_use ON commerce.coupons")
    op.execute("DROP TRIGGER refund_within_payment ON commerce.payments")
    op.execute("DROP TRIGGER counter_forward ON commerce.invoice_counters")
    op.execute("DROP TRIGGER invoice_immutable ON commerce.invoice_lines")
    op.execute("DROP TRIGGER invoice_immutable ON commerce.invoices")
    for function in (
        "coupon_single_use",
        "refund_within_payment",
        "invoice_counter_forward",
        "invoice_immutable",
    ):
        op.execute(f"DROP FUNCTION commerce.{function}()")
    op.execute("DROP TABLE commerce.coupons")
    op.execute("DROP TABLE commerce.invoice_counters")
    op.execute("DROP TABLE commerce.invoice_lines")
    op.drop_index("ix_invoices_tenant_credits", table_name="invoices", schema="commerce")
    op.drop_constraint(
        "ck_invoices_credit_note_references_invoice", "invoices", schema="commerce", type_="check"
    )
    op.drop_constraint(
        "fk_invoices_tenant_id_credits_invoice_id_invoices",
        "invoices",
        schema="commerce",
        type_="foreignkey",
    )
    for name in (
        "credits_invoice_id",
        "reason",
        "seller_address",
        "seller_register",
        "seller_vat_id",
        "seller_name",
        "kind",
    ):
        op.drop_column("invoices", name, schema="commerce")
    op.drop_index("ix_payments_tenant_refund_of", table_name="payments", schema="commerce")
    op.drop_constraint(
        "ck_payments_refund_reference_is_refund", "payments", schema="commerce", type_="check"
    )
    op.drop_constraint(
        "fk_payments_tenant_id_refund_of_payment_id_payments",
        "payments",
        schema="commerce",
        type_="foreignkey",
    )
    op.drop_column("payments", "refund_reason", schema="commerce")
    op.drop_column("payments", "refund_of_payment_id", schema="commerce")
    # Every tenant's coupon payments (row level security would show the owner none of them).
    op.execute("ALTER TABLE commerce.payments NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE commerce.payments SET method = 'cash' WHERE method = 'coupon'")
    op.execute("ALTER TABLE commerce.payments FORCE ROW LEVEL SECURITY")
    _method_check(METHODS)
