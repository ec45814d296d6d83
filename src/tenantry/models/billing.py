"""Schema `commerce`, billing part: invoice lines, the gapless number counters, review coupons.

An invoice (`commerce.invoices`, in `models.commerce`) holds its lines here; a credit note's
lines name the invoice lines they credit. `invoice_counters` holds one row per tenant, series
(invoice or credit note) and year: the issuing transaction increments it under a row lock, so
a number is used only when that transaction commits. Review coupons (seed 004) are stored by a
keyed hash of their code, never the code itself. Rules live in `tenantry.payments`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import (
    Base,
    SubjectLinked,
    TenantOwned,
    str_enum,
    subject_ref,
    tenant_fk,
    tenant_root_fk,
)
from tenantry.models.enums import CouponStatus, InvoiceKind

__all__ = ["COUPON_ABSOLUTE_CAP_CENTS", "Coupon", "InvoiceCounter", "InvoiceLine"]

SCHEMA = {"schema": "commerce"}

# Seed 004: a review coupon is worth at most 100 in the booking's currency (and 10 %).
COUPON_ABSOLUTE_CAP_CENTS = 10_000


class InvoiceLine(TenantOwned, Base):
    """A line of an invoice or credit note: gross unit price, VAT rate and the split."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        tenant_fk("invoice_id", "commerce.invoices", ondelete="CASCADE"),
        tenant_fk("service_id", "commerce.services"),
        tenant_fk("credits_line_id", "commerce.invoice_lines"),
        sa.UniqueConstraint("tenant_id", "invoice_id", "position"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "net_cents >= 0 AND tax_cents >= 0 AND unit_price_cents >= 0",
            name="amounts_non_negative",
        ),
        sa.CheckConstraint("gross_cents = net_cents + tax_cents", name="gross_is_net_plus_tax"),
        sa.CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="vat_rate_range"),
        sa.Index(
            "ix_invoice_lines_tenant_credits",
            "tenant_id",
            "credits_line_id",
            postgresql_where=sa.text("credits_line_id IS NOT NULL"),
        ),
        SCHEMA,
    )

    invoice_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    service_id: Mapped[uuid.UUID | None]
    credits_line_id: Mapped[uuid.UUID | None]
    description: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_price_cents: Mapped[int] = mapped_column(sa.BigInteger)
    vat_rate_bp: Mapped[int] = mapped_column(sa.Integer)
    net_cents: Mapped[int] = mapped_column(sa.BigInteger)
    tax_cents: Mapped[int] = mapped_column(sa.BigInteger)
    gross_cents: Mapped[int] = mapped_column(sa.BigInteger)


class InvoiceCounter(TenantOwned, Base):
    """The last number used in a tenant's series for a year (gapless: see the module doc)."""

    __tablename__ = "invoice_counters"
    __table_args__ = (
        tenant_root_fk(),
        sa.UniqueConstraint("tenant_id", "series", "year"),
        sa.CheckConstraint("last_value >= 1", name="last_value_positive"),
        sa.CheckConstraint("year BETWEEN 2000 AND 2999", name="year_range"),
        SCHEMA,
    )

    series: Mapped[InvoiceKind] = mapped_column(str_enum(InvoiceKind, "invoice_series"))
    year: Mapped[int] = mapped_column(sa.SmallInteger)
    last_value: Mapped[int] = mapped_column(sa.BigInteger)


class Coupon(SubjectLinked, TenantOwned, Base):
    """A coupon compensating an existing customer's complaint (a review), redeemable once."""

    __tablename__ = "coupons"
    __subject_parents__ = (("customer_id", "crm.customers"),)
    __table_args__ = (
        *subject_ref("coupons"),
        tenant_fk("review_id", "engage.reviews", ondelete="CASCADE"),
        tenant_fk("customer_id", "crm.customers"),
        tenant_fk("booking_id", "commerce.bookings"),
        tenant_fk("redeemed_booking_id", "commerce.bookings"),
        tenant_fk("redeemed_payment_id", "commerce.payments"),
        sa.UniqueConstraint("tenant_id", "review_id"),
        sa.UniqueConstraint("tenant_id", "code_hash"),
        sa.CheckConstraint(
            f"amount_cents BETWEEN 1 AND {COUPON_ABSOLUTE_CAP_CENTS}", name="amount_range"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso4217"),
        sa.CheckConstraint(
            "(status = 'redeemed') = (redeemed_at IS NOT NULL AND redeemed_booking_id IS NOT NULL"
            " AND redeemed_cents IS NOT NULL)",
            name="redeemed_has_redemption",
        ),
        sa.CheckConstraint(
            "redeemed_cents IS NULL OR redeemed_cents BETWEEN 1 AND amount_cents",
            name="redeemed_cents_range",
        ),
        sa.Index("ix_coupons_tenant_customer", "tenant_id", "customer_id"),
        SCHEMA,
    )

    review_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    booking_id: Mapped[uuid.UUID]
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    code_hash: Mapped[bytes] = mapped_column(
        sa.LargeBinary, info={"category": "credential hash (keyed HMAC of a random coupon code)"}
    )
    status: Mapped[CouponStatus] = mapped_column(
        str_enum(CouponStatus, "coupon_status"), server_default=CouponStatus.ISSUED.value
    )
    issued_by: Mapped[str] = mapped_column(sa.String(120))
    redeemed_booking_id: Mapped[uuid.UUID | None]
    redeemed_payment_id: Mapped[uuid.UUID | None]
    redeemed_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    redeemed_at: Mapped[datetime | None]
