"""Schema `privacy`: keys, data subjects, the consent journal, double opt-in tokens, retention
policies and legal holds.

Key material is only ever stored wrapped: tenant keys under the master key, subject keys under
the tenant's active wrapping key. Blind indexes and pseudonyms are keyed HMACs (see
`tenantry.privacy.crypto`), never bare hashes. The consent journal is append-only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import (
    Base,
    TenantOwned,
    TimestampMixin,
    pii,
    str_enum,
    tenant_fk,
    tenant_root_fk,
)
from tenantry.models.enums import (
    ConsentDecision,
    ConsentPurpose,
    DsarKind,
    DsarStatus,
    HoldScope,
    KeyPurpose,
    KeyStatus,
    LegalBasis,
    RetentionAction,
    RetentionStart,
    SubjectKind,
)

__all__ = [
    "ConsentEntry",
    "DoiToken",
    "DsarRequest",
    "ErasureReceipt",
    "LegalHold",
    "RetentionDefault",
    "RetentionPolicy",
    "Subject",
    "SubjectKey",
    "TenantKey",
]

SCHEMA = {"schema": "privacy"}
_PERIOD = "period_months >= 0 AND period_days >= 0 AND period_months + period_days > 0"


class TenantKey(TimestampMixin, Base):
    """A tenant's key, wrapped by the master key. Wrapping keys rotate; the indexing key (blind
    indexes, pseudonyms) stays, so lookups survive rotation."""

    __tablename__ = "tenant_keys"
    __table_args__ = (
        tenant_root_fk(),
        sa.Index(
            "uq_tenant_keys_tenant_active",
            "tenant_id",
            "purpose",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
        ),
        sa.CheckConstraint("version > 0", name="version_positive"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    purpose: Mapped[KeyPurpose] = mapped_column(
        str_enum(KeyPurpose, "key_purpose"), primary_key=True
    )
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status: Mapped[KeyStatus] = mapped_column(str_enum(KeyStatus, "key_status"))
    wrapped_key: Mapped[bytes] = mapped_column(sa.LargeBinary, info=pii("key_material"))
    master_key_id: Mapped[str] = mapped_column(sa.String(100))
    retired_at: Mapped[datetime | None]


class PlatformKey(TimestampMixin, Base):
    """A platform-wide key, wrapped by the master key: seals the staff accounts in
    `identity.users`, which belong to no single tenant."""

    __tablename__ = "platform_keys"
    __table_args__ = (
        sa.Index(
            "uq_platform_keys_active",
            "purpose",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
        ),
        sa.CheckConstraint("version > 0", name="version_positive"),
        SCHEMA,
    )

    purpose: Mapped[KeyPurpose] = mapped_column(
        str_enum(KeyPurpose, "key_purpose"), primary_key=True
    )
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status: Mapped[KeyStatus] = mapped_column(str_enum(KeyStatus, "key_status"))
    wrapped_key: Mapped[bytes] = mapped_column(sa.LargeBinary, info=pii("key_material"))
    master_key_id: Mapped[str] = mapped_column(sa.String(100))
    retired_at: Mapped[datetime | None]


class Subject(TenantOwned, Base):
    """A data subject of a tenant (a customer, lead or subscriber), found by blind index."""

    __tablename__ = "subjects"
    __table_args__ = (
        tenant_root_fk(),
        sa.Index(
            "uq_subjects_tenant_email_bidx",
            "tenant_id",
            "email_bidx",
            unique=True,
            postgresql_where=sa.text("email_bidx IS NOT NULL AND erased_at IS NULL"),
        ),
        sa.Index(
            "ix_subjects_tenant_phone_bidx",
            "tenant_id",
            "phone_bidx",
            postgresql_where=sa.text("phone_bidx IS NOT NULL"),
        ),
        sa.Index(
            "ix_subjects_tenant_phone_last4_bidx",
            "tenant_id",
            "phone_last4_bidx",
            postgresql_where=sa.text("phone_last4_bidx IS NOT NULL"),
        ),
        sa.Index("uq_subjects_tenant_pseudonym", "tenant_id", "pseudonym", unique=True),
        SCHEMA,
    )

    kind: Mapped[SubjectKind] = mapped_column(
        str_enum(SubjectKind, "subject_kind"), server_default=SubjectKind.PERSON.value
    )
    email_bidx: Mapped[bytes | None] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    phone_bidx: Mapped[bytes | None] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    phone_last4_bidx: Mapped[bytes | None] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    pseudonym: Mapped[str] = mapped_column(sa.String(64), info=pii("keyed_hash"))
    erased_at: Mapped[datetime | None]


class SubjectKey(TimestampMixin, Base):
    """A subject's data key, wrapped by a tenant wrapping key. Destroying it crypto-shreds
    every ciphertext written under it."""

    __tablename__ = "subject_keys"
    __table_args__ = (
        tenant_fk("subject_id", "privacy.subjects"),
        sa.CheckConstraint(
            "(wrapped_key IS NULL) = (destroyed_at IS NOT NULL)", name="destroyed_has_no_key"
        ),
        sa.Index("ix_subject_keys_tenant_wrapping_version", "tenant_id", "wrapping_version"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary, info=pii("key_material"))
    wrapping_version: Mapped[int] = mapped_column(sa.Integer)
    destroyed_at: Mapped[datetime | None]


class ConsentEntry(TenantOwned, Base):
    """One consent decision, appended to the journal; never updated or deleted by the app."""

    __tablename__ = "consent_journal"
    __table_args__ = (
        tenant_fk("subject_id", "privacy.subjects"),
        sa.CheckConstraint("notice_hash ~ '^[0-9a-f]{64}$'", name="notice_hash_sha256_hex"),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > recorded_at", name="expires_after_record"
        ),
        sa.Index(
            "ix_consent_journal_tenant_subject_purpose_recorded",
            "tenant_id",
            "subject_id",
            "purpose",
            "recorded_at",
        ),
        SCHEMA,
    )

    subject_id: Mapped[uuid.UUID]
    purpose: Mapped[ConsentPurpose] = mapped_column(str_enum(ConsentPurpose, "consent_purpose"))
    legal_basis: Mapped[LegalBasis] = mapped_column(str_enum(LegalBasis, "legal_basis"))
    decision: Mapped[ConsentDecision] = mapped_column(str_enum(ConsentDecision, "consent_decision"))
    source: Mapped[str] = mapped_column(sa.String(60))
    notice_version: Mapped[str] = mapped_column(sa.String(40))
    notice_hash: Mapped[str] = mapped_column(sa.String(64))
    recorded_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    doi_token_id: Mapped[uuid.UUID | None]


class DoiToken(TenantOwned, Base):
    """A double opt-in confirmation token: only its SHA-256 is stored; single use; 7-day TTL."""

    __tablename__ = "doi_tokens"
    __table_args__ = (
        tenant_fk("subject_id", "privacy.subjects", ondelete="CASCADE"),
        sa.UniqueConstraint("tenant_id", "token_hash"),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),
        sa.CheckConstraint("length(token_hash) = 32", name="token_hash_sha256"),
        sa.Index(
            "ix_doi_tokens_tenant_pending_expiry",
            "tenant_id",
            "expires_at",
            postgresql_where=sa.text("confirmed_at IS NULL"),
        ),
        SCHEMA,
    )

    subject_id: Mapped[uuid.UUID]
    purpose: Mapped[ConsentPurpose] = mapped_column(str_enum(ConsentPurpose, "consent_purpose"))
    address_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    notice_version: Mapped[str] = mapped_column(sa.String(40))
    notice_hash: Mapped[str] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]


class RetentionDefault(TimestampMixin, Base):
    """Shipped retention rules (German commercial law since 2025-01-01, seed 001's table).

    Global reference data: no tenant_id; tenants override them in `retention_policies`.
    """

    __tablename__ = "retention_defaults"
    __table_args__ = (
        sa.CheckConstraint(_PERIOD, name="period_positive"),
        SCHEMA,
    )

    dataset: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(120))
    period_months: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    period_days: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    start_event: Mapped[RetentionStart] = mapped_column(str_enum(RetentionStart, "retention_start"))
    action: Mapped[RetentionAction] = mapped_column(str_enum(RetentionAction, "retention_action"))
    legal_basis: Mapped[LegalBasis] = mapped_column(str_enum(LegalBasis, "legal_basis"))
    reference: Mapped[str] = mapped_column(sa.String(200))


class RetentionPolicy(TimestampMixin, Base):
    """A tenant's override of a default retention rule."""

    __tablename__ = "retention_policies"
    __table_args__ = (
        tenant_root_fk(),
        sa.ForeignKeyConstraint(["dataset"], ["privacy.retention_defaults.dataset"]),
        sa.CheckConstraint(_PERIOD, name="period_positive"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    period_months: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    period_days: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    action: Mapped[RetentionAction] = mapped_column(str_enum(RetentionAction, "retention_action"))
    reason: Mapped[str] = mapped_column(sa.String(200))


class LegalHold(TenantOwned, Base):
    """Blocks deletion and anonymisation of a dataset, a row, or everything of a customer."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        tenant_root_fk(),
        sa.CheckConstraint(
            "(scope = 'dataset') = (target_id IS NULL)", name="target_matches_scope"
        ),
        sa.Index(
            "ix_legal_holds_tenant_active",
            "tenant_id",
            "dataset",
            postgresql_where=sa.text("released_at IS NULL"),
        ),
        SCHEMA,
    )

    scope: Mapped[HoldScope] = mapped_column(str_enum(HoldScope, "hold_scope"))
    dataset: Mapped[str | None] = mapped_column(sa.String(80))
    target_id: Mapped[uuid.UUID | None]
    reason: Mapped[str] = mapped_column(sa.String(300))
    placed_by: Mapped[str] = mapped_column(sa.String(120))
    placed_at: Mapped[datetime]
    released_at: Mapped[datetime | None]


class DsarRequest(TenantOwned, Base):
    """A data-subject request with its GDPR Art. 12(3) deadline (one month, extendable by two).

    The requester is identified by a keyed blind index of the e-mail, never the address.
    """

    __tablename__ = "dsar_requests"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("subject_id", "privacy.subjects"),
        sa.CheckConstraint("due_at > received_at", name="due_after_received"),
        sa.CheckConstraint(
            "extended_due_at IS NULL"
            " OR (extended_due_at > due_at AND extension_reason IS NOT NULL)",
            name="extension_has_reason",
        ),
        sa.CheckConstraint(
            "status NOT IN ('completed', 'rejected') OR closed_at IS NOT NULL",
            name="closed_has_time",
        ),
        sa.Index(
            "ix_dsar_requests_tenant_open_due",
            "tenant_id",
            "due_at",
            postgresql_where=sa.text("status NOT IN ('completed', 'rejected')"),
        ),
        SCHEMA,
    )

    kind: Mapped[DsarKind] = mapped_column(str_enum(DsarKind, "dsar_kind"))
    status: Mapped[DsarStatus] = mapped_column(
        str_enum(DsarStatus, "dsar_status"), server_default=DsarStatus.RECEIVED.value
    )
    requester_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    subject_id: Mapped[uuid.UUID | None]
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    extended_due_at: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(sa.String(300))
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(300))


class ErasureReceipt(TenantOwned, Base):
    """Proof of an erasure, without personal data: what was deleted, pseudonymised, kept."""

    __tablename__ = "erasure_receipts"
    __table_args__ = (
        tenant_fk("request_id", "privacy.dsar_requests"),
        sa.CheckConstraint("receipt_hash ~ '^[0-9a-f]{64}$'", name="receipt_hash_sha256_hex"),
        sa.Index("ix_erasure_receipts_tenant_erased_lookup", "tenant_id", "erased_lookup"),
        SCHEMA,
    )

    request_id: Mapped[uuid.UUID]
    erased_lookup: Mapped[bytes] = mapped_column(sa.LargeBinary)
    replacement: Mapped[str] = mapped_column(sa.String(40))
    performed_at: Mapped[datetime]
    summary: Mapped[dict[str, Any]] = mapped_column()
    keys_destroyed: Mapped[int] = mapped_column(sa.Integer)
    scan_hits: Mapped[int] = mapped_column(sa.Integer)
    receipt_hash: Mapped[str] = mapped_column(sa.String(64))
