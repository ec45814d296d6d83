"""Schema `commerce`: service catalog, bookings with their items, payments, invoices, and the
payment notifications parsed from provider e-mails (seed 004).

Money is integer cents with an ISO 4217 currency. One booking has several payments (deposit,
balance, tip, refund); the booking lifecycle lives in `tenantry.domain.bookings`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import (
    Base,
    SoftDeleteMixin,
    SubjectLinked,
    TenantOwned,
    pii,
    str_enum,
    subject_ref,
    tenant_fk,
    tenant_root_fk,
)
from tenantry.models.enums import (
    BookingKind,
    BookingStatus,
    InvoiceKind,
    InvoiceStatus,
    MatchAction,
    MatchedPart,
    MatchStatus,
    NotificationSource,
    NotificationTrust,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    ServiceKind,
)
from tenantry.models.sealed import SealedField, sealed_column

__all__ = [
    "Booking",
    "BookingItem",
    "Invoice",
    "MatchDecision",
    "PayerAlias",
    "Payment",
    "PaymentNotification",
    "Service",
]

SCHEMA = {"schema": "commerce"}
_CURRENCY = "currency ~ '^[A-Z]{3}$'"


class Service(TenantOwned, SoftDeleteMixin, Base):
    """A sellable item: service package, menu item, workshop service, catering package."""

    __tablename__ = "services"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        sa.CheckConstraint("price_cents >= 0", name="price_non_negative"),
        sa.CheckConstraint(_CURRENCY, name="currency_iso4217"),
        sa.CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="vat_rate_range"),
        sa.CheckConstraint(
            "duration_minutes IS NULL OR duration_minutes > 0", name="duration_positive"
        ),
        sa.CheckConstraint(
            "buffer_before_minutes BETWEEN 0 AND 1440 AND buffer_after_minutes BETWEEN 0 AND 1440",
            name="buffers_range",
        ),
        sa.Index("ix_services_tenant_location_kind", "tenant_id", "location_id", "kind"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID | None]
    kind: Mapped[ServiceKind] = mapped_column(str_enum(ServiceKind, "service_kind"))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.String(100))
    price_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), server_default="EUR")
    vat_rate_bp: Mapped[int] = mapped_column(sa.Integer, server_default="1900")
    duration_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    is_active: Mapped[bool] = mapped_column(server_default=sa.true())
    # Time a booking of it holds its resources before and after (set-up, cleaning): scheduling.
    buffer_before_minutes: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    buffer_after_minutes: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class Booking(SubjectLinked, TenantOwned, SoftDeleteMixin, Base):
    """An appointment, table reservation, catering event or partner booking."""

    __tablename__ = "bookings"
    __subject_parents__ = (("customer_id", "crm.customers"), ("lead_id", "crm.leads"))
    __table_args__ = (
        *subject_ref("bookings"),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("customer_id", "crm.customers"),
        tenant_fk("lead_id", "crm.leads"),
        tenant_fk("vehicle_id", "crm.vehicles"),
        sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("guest_count IS NULL OR guest_count > 0", name="guest_count_positive"),
        sa.CheckConstraint("total_cents >= 0", name="total_non_negative"),
        sa.CheckConstraint(
            "deposit_cents >= 0 AND deposit_cents <= total_cents", name="deposit_within_total"
        ),
        sa.CheckConstraint(_CURRENCY, name="currency_iso4217"),
        sa.CheckConstraint(
            "status <> 'cancelled' OR cancelled_at IS NOT NULL", name="cancelled_has_time"
        ),
        # Bookings by date and status (seed 004), per location (KPIs), per customer.
        sa.Index("ix_bookings_tenant_starts_status", "tenant_id", "starts_at", "status"),
        sa.Index("ix_bookings_tenant_location_starts", "tenant_id", "location_id", "starts_at"),
        sa.Index("ix_bookings_tenant_status", "tenant_id", "status"),
        sa.Index("ix_bookings_tenant_customer", "tenant_id", "customer_id"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    lead_id: Mapped[uuid.UUID | None]
    vehicle_id: Mapped[uuid.UUID | None]
    kind: Mapped[BookingKind] = mapped_column(str_enum(BookingKind, "booking_kind"))
    status: Mapped[BookingStatus] = mapped_column(
        str_enum(BookingStatus, "booking_status"), server_default=BookingStatus.INQUIRY.value
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    guest_count: Mapped[int | None] = mapped_column(sa.Integer)
    event_address = SealedField("address", 300)
    event_address_sealed: Mapped[bytes | None] = sealed_column("event_address", "address")
    notes = SealedField("free_text")
    notes_sealed: Mapped[bytes | None] = sealed_column("notes", "free_text")
    total_cents: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    deposit_cents: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    currency: Mapped[str] = mapped_column(sa.String(3), server_default="EUR")
    confirmed_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(sa.String(200))


class BookingItem(TenantOwned, Base):
    """A line of a booking: a service at a quantity and unit price."""

    __tablename__ = "booking_items"
    __table_args__ = (
        tenant_fk("booking_id", "commerce.bookings", ondelete="CASCADE"),
        tenant_fk("service_id", "commerce.services"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price_cents >= 0", name="unit_price_non_negative"),
        sa.Index("ix_booking_items_tenant_booking", "tenant_id", "booking_id"),
        SCHEMA,
    )

    booking_id: Mapped[uuid.UUID]
    service_id: Mapped[uuid.UUID | None]
    description: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_price_cents: Mapped[int] = mapped_column(sa.BigInteger)


class Payment(SubjectLinked, TenantOwned, Base):
    """Money received for (or refunded from) a booking."""

    __tablename__ = "payments"
    __subject_parents__ = (("customer_id", "crm.customers"), ("booking_id", "commerce.bookings"))
    __table_args__ = (
        *subject_ref("payments"),
        tenant_fk("booking_id", "commerce.bookings"),
        tenant_fk("customer_id", "crm.customers"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint(_CURRENCY, name="currency_iso4217"),
        sa.CheckConstraint(
            "status <> 'succeeded' OR paid_at IS NOT NULL", name="succeeded_has_time"
        ),
        tenant_fk("refund_of_payment_id", "commerce.payments"),
        sa.CheckConstraint(
            "refund_of_payment_id IS NULL OR kind = 'refund'", name="refund_reference_is_refund"
        ),
        sa.Index(
            "ix_payments_tenant_refund_of",
            "tenant_id",
            "refund_of_payment_id",
            postgresql_where=sa.text("refund_of_payment_id IS NOT NULL"),
        ),
        sa.Index("ix_payments_tenant_booking", "tenant_id", "booking_id"),
        sa.Index("ix_payments_tenant_status_created", "tenant_id", "status", "created_at"),
        sa.Index(
            "uq_payments_tenant_provider_ref",
            "tenant_id",
            "provider",
            "provider_ref",
            unique=True,
            # A payment taken back (matched to the wrong booking) frees its reference.
            postgresql_where=sa.text("provider_ref IS NOT NULL AND status <> 'cancelled'"),
        ),
        SCHEMA,
    )

    booking_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None]
    kind: Mapped[PaymentKind] = mapped_column(str_enum(PaymentKind, "payment_kind"))
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus, "payment_status"), server_default=PaymentStatus.PENDING.value
    )
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), server_default="EUR")
    provider: Mapped[str | None] = mapped_column(sa.String(40))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255))
    payer_name = SealedField("name", 200)
    payer_name_sealed: Mapped[bytes | None] = sealed_column("payer_name", "name")
    paid_at: Mapped[datetime | None]
    # A refund names the payment it gives money back from (tenantry.payments.refunds).
    refund_of_payment_id: Mapped[uuid.UUID | None]
    refund_reason: Mapped[str | None] = mapped_column(sa.String(200))


class Invoice(SubjectLinked, TenantOwned, Base):
    """An invoice (an accounting voucher: retained 8 years under German law since 2025)."""

    __tablename__ = "invoices"
    __subject_parents__ = (("customer_id", "crm.customers"), ("booking_id", "commerce.bookings"))
    __table_args__ = (
        *subject_ref("invoices"),
        tenant_fk("booking_id", "commerce.bookings"),
        tenant_fk("customer_id", "crm.customers"),
        sa.UniqueConstraint("tenant_id", "number"),
        sa.CheckConstraint("net_cents >= 0 AND tax_cents >= 0", name="amounts_non_negative"),
        sa.CheckConstraint("gross_cents = net_cents + tax_cents", name="gross_is_net_plus_tax"),
        sa.CheckConstraint("due_on IS NULL OR due_on >= issued_on", name="due_after_issue"),
        sa.CheckConstraint(_CURRENCY, name="currency_iso4217"),
        sa.Index("ix_invoices_tenant_booking", "tenant_id", "booking_id"),
        sa.Index("ix_invoices_tenant_issued", "tenant_id", "issued_on"),
        tenant_fk("credits_invoice_id", "commerce.invoices"),
        sa.CheckConstraint(
            "(kind = 'credit_note') = (credits_invoice_id IS NOT NULL)",
            name="credit_note_references_invoice",
        ),
        sa.Index(
            "ix_invoices_tenant_credits",
            "tenant_id",
            "credits_invoice_id",
            postgresql_where=sa.text("credits_invoice_id IS NOT NULL"),
        ),
        SCHEMA,
    )

    booking_id: Mapped[uuid.UUID | None]
    customer_id: Mapped[uuid.UUID]
    number: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[InvoiceStatus] = mapped_column(
        str_enum(InvoiceStatus, "invoice_status"), server_default=InvoiceStatus.DRAFT.value
    )
    issued_on: Mapped[date] = mapped_column(sa.Date)
    due_on: Mapped[date | None] = mapped_column(sa.Date)
    net_cents: Mapped[int] = mapped_column(sa.BigInteger)
    tax_cents: Mapped[int] = mapped_column(sa.BigInteger)
    gross_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), server_default="EUR")
    billing_name = SealedField("name", 200)
    billing_name_sealed: Mapped[bytes | None] = sealed_column("billing_name", "name")
    billing_address = SealedField("address", 400)
    billing_address_sealed: Mapped[bytes | None] = sealed_column("billing_address", "address")
    # Issued by tenantry.payments.invoices: the kind (a credit note names the invoice it
    # corrects) and the seller as it was on the day of issue. Immutable once issued.
    kind: Mapped[InvoiceKind] = mapped_column(
        str_enum(InvoiceKind, "invoice_kind"), server_default=InvoiceKind.INVOICE.value
    )
    credits_invoice_id: Mapped[uuid.UUID | None]
    seller_name: Mapped[str | None] = mapped_column(sa.String(200))
    seller_vat_id: Mapped[str | None] = mapped_column(sa.String(20))
    seller_register: Mapped[str | None] = mapped_column(sa.String(100))
    seller_address: Mapped[str | None] = mapped_column(sa.String(400))
    reason: Mapped[str | None] = mapped_column(sa.String(200))


class PaymentNotification(SubjectLinked, TenantOwned, Base):
    """A payment detected in a provider e-mail (Stripe, Venmo, Zelle, bank), to be matched."""

    __tablename__ = "payment_notifications"
    __subject_parents__ = (("matched_booking_id", "commerce.bookings"),)
    __table_args__ = (
        *subject_ref("payment_notifications"),
        tenant_root_fk(),
        tenant_fk("matched_booking_id", "commerce.bookings"),
        tenant_fk("matched_payment_id", "commerce.payments"),
        sa.UniqueConstraint("tenant_id", "provider", "transaction_id"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint(_CURRENCY, name="currency_iso4217"),
        sa.CheckConstraint(
            "match_confidence IS NULL OR match_confidence BETWEEN 0 AND 1", name="confidence_range"
        ),
        sa.CheckConstraint(
            "match_status <> 'matched' OR matched_booking_id IS NOT NULL",
            name="matched_has_booking",
        ),
        sa.CheckConstraint("fee_cents >= 0", name="fee_non_negative"),
        sa.CheckConstraint(
            "runner_up_confidence IS NULL OR runner_up_confidence BETWEEN 0 AND 1",
            name="runner_up_range",
        ),
        sa.Index(
            "ix_payment_notifications_tenant_status_received",
            "tenant_id",
            "match_status",
            "received_at",
        ),
        sa.Index(
            "uq_payment_notifications_tenant_raw_sha256",
            "tenant_id",
            "raw_sha256",
            unique=True,
            postgresql_where=sa.text("raw_sha256 IS NOT NULL"),
        ),
        sa.Index(
            "ix_payment_notifications_tenant_booking",
            "tenant_id",
            "matched_booking_id",
            postgresql_where=sa.text("matched_booking_id IS NOT NULL"),
        ),
        SCHEMA,
    )

    provider: Mapped[str] = mapped_column(sa.String(40))
    transaction_id: Mapped[str] = mapped_column(sa.String(255))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), server_default="EUR")
    sender_name = SealedField("name", 200)
    sender_name_sealed: Mapped[bytes | None] = sealed_column("sender_name", "name")
    sender_phone = SealedField("phone", 40)
    sender_phone_sealed: Mapped[bytes | None] = sealed_column("sender_phone", "phone")
    memo = SealedField("free_text", 500)
    memo_sealed: Mapped[bytes | None] = sealed_column("memo", "free_text")
    received_at: Mapped[datetime]
    match_status: Mapped[MatchStatus] = mapped_column(
        str_enum(MatchStatus, "match_status"), server_default=MatchStatus.UNMATCHED.value
    )
    matched_booking_id: Mapped[uuid.UUID | None]
    matched_payment_id: Mapped[uuid.UUID | None]
    match_confidence: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 3))
    source: Mapped[NotificationSource] = mapped_column(
        str_enum(NotificationSource, "notification_source"),
        server_default=NotificationSource.EMAIL.value,
    )
    bank: Mapped[str | None] = mapped_column(sa.String(60))
    occurred_at: Mapped[datetime | None]
    fee_cents: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    payer_email = SealedField("email", 320)
    payer_email_sealed: Mapped[bytes | None] = sealed_column("payer_email", "email")
    reference = SealedField("free_text", 500)
    reference_sealed: Mapped[bytes | None] = sealed_column("reference", "free_text")
    raw_message = SealedField("free_text")
    raw_message_sealed: Mapped[bytes | None] = sealed_column("raw_message", "free_text")
    # SHA-256 of the raw bytes: recognises a re-delivered message (not a pseudonym of a person).
    raw_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    trust: Mapped[NotificationTrust] = mapped_column(
        str_enum(NotificationTrust, "notification_trust"),
        server_default=NotificationTrust.UNSIGNED.value,
    )
    trust_reason: Mapped[str | None] = mapped_column(sa.String(200))
    signing_domain: Mapped[str | None] = mapped_column(sa.String(253))
    runner_up_confidence: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 3))
    match_kind: Mapped[MatchedPart | None] = mapped_column(str_enum(MatchedPart, "matched_part"))
    reasons: Mapped[list[Any]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(120))


class MatchDecision(TenantOwned, Base):
    """One decision on a notification, by the matcher or a reviewer, with its score and reasons."""

    __tablename__ = "match_decisions"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("notification_id", "commerce.payment_notifications", ondelete="CASCADE"),
        tenant_fk("booking_id", "commerce.bookings"),
        sa.CheckConstraint(
            "confidence IS NULL OR confidence BETWEEN 0 AND 1", name="confidence_range"
        ),
        sa.Index(
            "ix_match_decisions_tenant_notification_decided",
            "tenant_id",
            "notification_id",
            "decided_at",
        ),
        sa.Index(
            "ix_match_decisions_tenant_booking",
            "tenant_id",
            "booking_id",
            postgresql_where=sa.text("booking_id IS NOT NULL"),
        ),
        SCHEMA,
    )

    notification_id: Mapped[uuid.UUID]
    booking_id: Mapped[uuid.UUID | None]
    action: Mapped[MatchAction] = mapped_column(str_enum(MatchAction, "match_action"))
    confidence: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 3))
    runner_up_confidence: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 3))
    reasons: Mapped[list[Any]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    decided_by: Mapped[str] = mapped_column(sa.String(120))
    decided_at: Mapped[datetime]


class PayerAlias(SubjectLinked, TenantOwned, Base):
    """A payer confirmed for a customer (a friend who paid), found by a keyed hash of the name."""

    __tablename__ = "payer_aliases"
    __subject_parents__ = (("customer_id", "crm.customers"),)
    __table_args__ = (
        *subject_ref("payer_aliases"),
        tenant_fk("customer_id", "crm.customers", ondelete="CASCADE"),
        tenant_fk("notification_id", "commerce.payment_notifications", ondelete="SET NULL"),
        sa.UniqueConstraint(
            "tenant_id", "payer_key", "customer_id", name="uq_payer_aliases_tenant_key_customer"
        ),
        sa.Index("ix_payer_aliases_tenant_customer", "tenant_id", "customer_id"),
        SCHEMA,
    )

    customer_id: Mapped[uuid.UUID]
    payer_key: Mapped[bytes] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    payer_name = SealedField("name", 200)
    payer_name_sealed: Mapped[bytes | None] = sealed_column("payer_name", "name")
    notification_id: Mapped[uuid.UUID | None]
    confirmed_by: Mapped[str] = mapped_column(sa.String(120))
