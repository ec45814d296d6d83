"""Schema `decisions`, partner part: partners that take leads, their credits, lead assignments.

A partner is a location (`identity.locations`) that accepts leads: the categories it serves,
its radius, its capacity per week or month and its price in credits per lead. Credits are
bought in lots that expire (`credit_lots`, consumed oldest-first); every movement is a signed
row of the append-only `credit_entries`; `credit_balances` holds one row per partner whose
CHECK keeps the balance at zero or above. A lead assignment is an offer of a lead to a partner
and its answer (offered -> accepted | declined; accepted -> converted | lost) with the
partner's rating of the lead. Rules live in `tenantry.decisions`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base, TenantOwned, str_enum, tenant_fk

__all__ = [
    "AssignmentStatus",
    "CapacityPeriod",
    "CreditBalance",
    "CreditEntry",
    "CreditEntryKind",
    "CreditLot",
    "LeadAssignment",
    "Partner",
]

SCHEMA = {"schema": "decisions"}


class CapacityPeriod(StrEnum):
    """The period a partner's lead capacity counts over (UTC calendar week or month)."""

    WEEK = "week"
    MONTH = "month"


class CreditEntryKind(StrEnum):
    """A movement of credits: purchase and refund add, consumption and expiry take."""

    PURCHASE = "purchase"
    CONSUMPTION = "consumption"
    REFUND = "refund"
    EXPIRY = "expiry"


class AssignmentStatus(StrEnum):
    """A lead offered to a partner: offered -> accepted | declined; accepted -> converted | lost."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CONVERTED = "converted"
    LOST = "lost"


class Partner(TenantOwned, Base):
    """A location that accepts leads, with the limits routing reads."""

    __tablename__ = "partners"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations", ondelete="CASCADE"),
        sa.UniqueConstraint("tenant_id", "location_id"),
        sa.CheckConstraint("radius_km > 0 AND radius_km <= 1000", name="radius_range"),
        sa.CheckConstraint("capacity >= 0", name="capacity_non_negative"),
        sa.CheckConstraint("price_credits > 0", name="price_positive"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    accepts_leads: Mapped[bool] = mapped_column(server_default=sa.true())
    categories: Mapped[list[str]] = mapped_column(ARRAY(sa.String(60)), server_default="{}")
    radius_km: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    capacity: Mapped[int] = mapped_column(sa.Integer)
    capacity_period: Mapped[CapacityPeriod] = mapped_column(
        str_enum(CapacityPeriod, "capacity_period"), server_default=CapacityPeriod.WEEK.value
    )
    price_credits: Mapped[int] = mapped_column(sa.Integer)
    paused: Mapped[bool] = mapped_column(server_default=sa.false())


class CreditBalance(TenantOwned, Base):
    """A partner's spendable credits: changed under its row lock with the entry that explains it."""

    __tablename__ = "credit_balances"
    __table_args__ = (
        tenant_fk("partner_id", "decisions.partners", ondelete="CASCADE"),
        sa.UniqueConstraint("tenant_id", "partner_id"),
        sa.CheckConstraint("balance >= 0", name="balance_non_negative"),
        SCHEMA,
    )

    partner_id: Mapped[uuid.UUID]
    balance: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class CreditLot(TenantOwned, Base):
    """Credits bought together, spent oldest-first until they run out or expire."""

    __tablename__ = "credit_lots"
    __table_args__ = (
        tenant_fk("partner_id", "decisions.partners", ondelete="CASCADE"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_range"),
        sa.Index(
            "ix_credit_lots_tenant_partner_open",
            "tenant_id",
            "partner_id",
            "expires_at",
            postgresql_where=sa.text("remaining > 0"),
        ),
        SCHEMA,
    )

    partner_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    remaining: Mapped[int] = mapped_column(sa.BigInteger)
    purchased_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LeadAssignment(TenantOwned, Base):
    """A lead offered to a partner by a routing run, and the partner's answer and rating."""

    __tablename__ = "lead_assignments"
    __table_args__ = (
        # An erasure of the lead detaches its assignments (lead_id set to NULL), which stay
        # as the partner's record and the credits ledger's reference.
        tenant_fk("lead_id", "crm.leads"),
        tenant_fk("partner_id", "decisions.partners", ondelete="CASCADE"),
        # A partner gets a lead once: after a decline, never again.
        sa.UniqueConstraint("tenant_id", "lead_id", "partner_id"),
        # At most one live assignment per lead (a declined one returns it to the pool).
        sa.Index(
            "uq_lead_assignments_tenant_lead_active",
            "tenant_id",
            "lead_id",
            unique=True,
            postgresql_where=sa.text("status <> 'declined'"),
        ),
        sa.Index(
            "ix_lead_assignments_tenant_partner_offered", "tenant_id", "partner_id", "offered_at"
        ),
        sa.CheckConstraint("price_credits > 0", name="price_positive"),
        sa.CheckConstraint("distance_km >= 0", name="distance_non_negative"),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        SCHEMA,
    )

    lead_id: Mapped[uuid.UUID | None]
    partner_id: Mapped[uuid.UUID]
    run_id: Mapped[uuid.UUID]
    status: Mapped[AssignmentStatus] = mapped_column(
        str_enum(AssignmentStatus, "assignment_status"),
        server_default=AssignmentStatus.OFFERED.value,
    )
    distance_km: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    price_credits: Mapped[int] = mapped_column(sa.Integer)
    cost: Mapped[float] = mapped_column(sa.Float)
    offered_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_reason: Mapped[str | None] = mapped_column(sa.String(60))
    rated_at: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(sa.String(120))


class CreditEntry(TenantOwned, Base):
    """One movement of a partner's credits (append-only: never updated, never deleted)."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        tenant_fk("partner_id", "decisions.partners", ondelete="CASCADE"),
        tenant_fk("lot_id", "decisions.credit_lots", ondelete="CASCADE"),
        tenant_fk("assignment_id", "decisions.lead_assignments"),
        sa.CheckConstraint(
            "(kind IN ('purchase', 'refund') AND amount > 0)"
            " OR (kind IN ('consumption', 'expiry') AND amount < 0)",
            name="amount_sign_of_kind",
        ),
        sa.CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        sa.Index(
            "ix_credit_entries_tenant_partner_created", "tenant_id", "partner_id", "created_at"
        ),
        sa.Index(
            "ix_credit_entries_tenant_assignment",
            "tenant_id",
            "assignment_id",
            postgresql_where=sa.text("assignment_id IS NOT NULL"),
        ),
        sa.Index("ix_credit_entries_tenant_lot", "tenant_id", "lot_id"),
        SCHEMA,
    )

    partner_id: Mapped[uuid.UUID]
    kind: Mapped[CreditEntryKind] = mapped_column(str_enum(CreditEntryKind, "credit_entry_kind"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    balance_after: Mapped[int] = mapped_column(sa.BigInteger)
    lot_id: Mapped[uuid.UUID]
    assignment_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(sa.String(120))
