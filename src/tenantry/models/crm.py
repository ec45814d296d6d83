"""Schema `crm`: the tenant's end customers, their vehicles, and the lead pipeline.

Personal data columns carry `info={"pii": ...}`; the privacy kernel encrypts them. Indexes lead
with `tenant_id` and serve the queries the seeds name: the lead pipeline and dashboard, hot
prospects, customer lookup, and TÜV (periodic vehicle inspection) due dates.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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
    Channel,
    Direction,
    FuelType,
    InteractionKind,
    LeadSource,
    LeadStatus,
    Persona,
)
from tenantry.models.sealed import SealedField, sealed_column

__all__ = ["Customer", "Lead", "LeadInteraction", "LeadScoreHistory", "Vehicle"]

SCHEMA = {"schema": "crm"}
_OPEN_LEAD = "status IN ('new', 'contacted', 'qualified') AND deleted_at IS NULL"


class Customer(SubjectLinked, TenantOwned, SoftDeleteMixin, Base):
    """An end customer of the tenant (a diner, a car owner, a catering client)."""

    __tablename__ = "customers"
    __subject_from__ = ("email", "phone")
    __table_args__ = (
        *subject_ref("customers"),
        tenant_root_fk(),
        tenant_fk("home_location_id", "identity.locations"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_iso2"),
        sa.Index("ix_customers_tenant_home_location", "tenant_id", "home_location_id"),
        SCHEMA,
    )

    home_location_id: Mapped[uuid.UUID | None]
    first_name = SealedField("name", 100)
    first_name_sealed: Mapped[bytes | None] = sealed_column("first_name", "name")
    last_name = SealedField("name", 100)
    last_name_sealed: Mapped[bytes | None] = sealed_column("last_name", "name")
    company_name: Mapped[str | None] = mapped_column(sa.String(200))
    email = SealedField("email", 320)
    email_sealed: Mapped[bytes | None] = sealed_column("email", "email")
    phone = SealedField("phone", 40)
    phone_sealed: Mapped[bytes | None] = sealed_column("phone", "phone")
    street = SealedField("address", 200)
    street_sealed: Mapped[bytes | None] = sealed_column("street", "address")
    postal_code = SealedField("address", 20)
    postal_code_sealed: Mapped[bytes | None] = sealed_column("postal_code", "address")
    city = SealedField("address", 100)
    city_sealed: Mapped[bytes | None] = sealed_column("city", "address")
    country: Mapped[str] = mapped_column(sa.String(2), server_default="DE")
    language: Mapped[str] = mapped_column(sa.String(10), server_default="de")
    preferred_channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "channel"))
    source: Mapped[LeadSource | None] = mapped_column(str_enum(LeadSource, "lead_source"))
    notes = SealedField("free_text")
    notes_sealed: Mapped[bytes | None] = sealed_column("notes", "free_text")
    tags: Mapped[list[str]] = mapped_column(ARRAY(sa.String(60)), server_default="{}")
    first_seen_at: Mapped[datetime | None]


class Vehicle(SubjectLinked, TenantOwned, SoftDeleteMixin, Base):
    """A customer's vehicle (workshop vertical)."""

    __tablename__ = "vehicles"
    __subject_parents__ = (("customer_id", "crm.customers"),)
    __table_args__ = (
        *subject_ref("vehicles"),
        tenant_fk("customer_id", "crm.customers"),
        sa.CheckConstraint(
            "model_year IS NULL OR model_year BETWEEN 1900 AND 2100", name="model_year_range"
        ),
        sa.CheckConstraint("mileage_km IS NULL OR mileage_km >= 0", name="mileage_non_negative"),
        sa.Index("ix_vehicles_tenant_customer", "tenant_id", "customer_id"),
        sa.Index(
            "ix_vehicles_tenant_tuv_due",
            "tenant_id",
            "tuv_due_on",
            postgresql_where=sa.text("tuv_due_on IS NOT NULL AND is_active AND deleted_at IS NULL"),
        ),
        sa.Index(
            "ix_vehicles_tenant_plate_bidx",
            "tenant_id",
            "license_plate_bidx",
            postgresql_where=sa.text("license_plate_bidx IS NOT NULL"),
        ),
        SCHEMA,
    )

    customer_id: Mapped[uuid.UUID]
    make: Mapped[str] = mapped_column(sa.String(60))
    model: Mapped[str] = mapped_column(sa.String(60))
    model_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    fuel_type: Mapped[FuelType | None] = mapped_column(str_enum(FuelType, "fuel_type"))
    license_plate = SealedField("identifier", 20, blind_index="license_plate_bidx")
    license_plate_sealed: Mapped[bytes | None] = sealed_column("license_plate", "identifier")
    license_plate_bidx: Mapped[bytes | None] = mapped_column(sa.LargeBinary, info=pii("keyed_hash"))
    vin = SealedField("identifier", 17, exact_length=17)
    vin_sealed: Mapped[bytes | None] = sealed_column("vin", "identifier")
    mileage_km: Mapped[int | None] = mapped_column(sa.Integer)
    tuv_due_on: Mapped[date | None] = mapped_column(sa.Date)
    last_service_on: Mapped[date | None] = mapped_column(sa.Date)
    is_active: Mapped[bool] = mapped_column(server_default=sa.true())


class Lead(SubjectLinked, TenantOwned, SoftDeleteMixin, Base):
    """A prospective customer moving through new -> contacted -> qualified -> converted | lost."""

    __tablename__ = "leads"
    __subject_from__ = ("email", "phone")
    __subject_parents__ = (("customer_id", "crm.customers"),)
    __table_args__ = (
        *subject_ref("leads"),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("customer_id", "crm.customers"),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        sa.CheckConstraint(
            "estimated_value_cents IS NULL OR estimated_value_cents >= 0", name="value_non_negative"
        ),
        sa.CheckConstraint(
            "status <> 'converted' OR customer_id IS NOT NULL", name="converted_has_customer"
        ),
        sa.CheckConstraint("status <> 'lost' OR lost_reason IS NOT NULL", name="lost_has_reason"),
        # Lead dashboard (seed 002): today's leads, converted, average qualified score.
        sa.Index(
            "ix_leads_tenant_status_created",
            "tenant_id",
            "status",
            "created_at",
            postgresql_include=["score"],
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
        sa.Index("ix_leads_tenant_created", "tenant_id", "created_at"),
        sa.Index("ix_leads_tenant_location_status", "tenant_id", "location_id", "status"),
        # Hot prospects (seed 002): open leads with a high score, newest first.
        sa.Index(
            "ix_leads_tenant_hot_prospects",
            "tenant_id",
            sa.text("score DESC"),
            sa.text("created_at DESC"),
            postgresql_where=sa.text(f"{_OPEN_LEAD} AND score >= 70"),
        ),
        sa.Index("ix_leads_tenant_source", "tenant_id", "source"),
        sa.Index(
            "ix_leads_tenant_customer",
            "tenant_id",
            "customer_id",
            postgresql_where=sa.text("customer_id IS NOT NULL"),
        ),
        # Partner routing: a bounding box over the lead's place (no PostGIS in the embedded
        # database), then the exact great-circle distance (tenantry.decisions.geo).
        sa.Index(
            "ix_leads_tenant_coordinates",
            "tenant_id",
            "latitude",
            "longitude",
            postgresql_where=sa.text("latitude IS NOT NULL"),
        ),
        sa.CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_pair"),
        sa.CheckConstraint(
            "latitude IS NULL OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)",
            name="coordinates_range",
        ),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None]
    source: Mapped[LeadSource] = mapped_column(str_enum(LeadSource, "lead_source"))
    status: Mapped[LeadStatus] = mapped_column(
        str_enum(LeadStatus, "lead_status"), server_default=LeadStatus.NEW.value
    )
    score: Mapped[int] = mapped_column(sa.SmallInteger, server_default="0")
    persona: Mapped[Persona | None] = mapped_column(str_enum(Persona, "persona"))
    first_name = SealedField("name", 100)
    first_name_sealed: Mapped[bytes | None] = sealed_column("first_name", "name")
    last_name = SealedField("name", 100)
    last_name_sealed: Mapped[bytes | None] = sealed_column("last_name", "name")
    email = SealedField("email", 320)
    email_sealed: Mapped[bytes | None] = sealed_column("email", "email")
    phone = SealedField("phone", 40)
    phone_sealed: Mapped[bytes | None] = sealed_column("phone", "phone")
    message = SealedField("free_text")
    message_sealed: Mapped[bytes | None] = sealed_column("message", "free_text")
    interest: Mapped[str | None] = mapped_column(sa.String(120))
    estimated_value_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    utm_source: Mapped[str | None] = mapped_column(sa.String(100))
    utm_medium: Mapped[str | None] = mapped_column(sa.String(100))
    utm_campaign: Mapped[str | None] = mapped_column(sa.String(100))
    lost_reason: Mapped[str | None] = mapped_column(sa.String(200))
    contacted_at: Mapped[datetime | None]
    qualified_at: Mapped[datetime | None]
    converted_at: Mapped[datetime | None]
    lost_at: Mapped[datetime | None]
    # The current score's explanation (the latest score-history row's), read with the lead.
    score_explanation: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, info={"category": "score explanation (feature names and points, no values)"}
    )
    # What partner routing reads: the category asked for and the prospect's place, rounded to
    # 3 decimals (about 100 m) since a person's whereabouts are personal data.
    category: Mapped[str | None] = mapped_column(sa.String(60))
    latitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 3), info=pii("geolocation"))
    longitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 3), info=pii("geolocation"))


class LeadScoreHistory(TenantOwned, Base):
    """Each change of a lead's score, with the reason and the model that produced it."""

    __tablename__ = "lead_score_history"
    __table_args__ = (
        tenant_fk("lead_id", "crm.leads", ondelete="CASCADE"),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        sa.CheckConstraint(
            "previous_score IS NULL OR previous_score BETWEEN 0 AND 100",
            name="previous_score_range",
        ),
        sa.Index("ix_lead_score_history_tenant_lead_scored", "tenant_id", "lead_id", "scored_at"),
        SCHEMA,
    )

    lead_id: Mapped[uuid.UUID]
    score: Mapped[int] = mapped_column(sa.SmallInteger)
    previous_score: Mapped[int | None] = mapped_column(sa.SmallInteger)
    reason: Mapped[str] = mapped_column(sa.String(200))
    model_version: Mapped[str | None] = mapped_column(sa.String(50))
    scored_at: Mapped[datetime]
    # Points per feature and the base, adding up to the score (tenantry.decisions.lead_scoring).
    explanation: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, info={"category": "score explanation (feature names and points, no values)"}
    )


class LeadInteraction(SubjectLinked, TenantOwned, Base):
    """A touchpoint with a lead: call, e-mail, visit, note, message, meeting.

    `channel` and `direction` are empty where they mean nothing (a note, a visit).
    """

    __tablename__ = "lead_interactions"
    __subject_parents__ = (("lead_id", "crm.leads"),)
    __table_args__ = (
        *subject_ref("lead_interactions"),
        tenant_fk("lead_id", "crm.leads", ondelete="CASCADE"),
        sa.Index(
            "ix_lead_interactions_tenant_lead_occurred", "tenant_id", "lead_id", "occurred_at"
        ),
        SCHEMA,
    )

    lead_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("identity.users.id", ondelete="SET NULL")
    )
    kind: Mapped[InteractionKind] = mapped_column(
        str_enum(InteractionKind, "interaction_kind"), server_default=InteractionKind.NOTE.value
    )
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "channel"))
    direction: Mapped[Direction | None] = mapped_column(str_enum(Direction, "direction"))
    summary = SealedField("free_text")
    summary_sealed: Mapped[bytes | None] = sealed_column("summary", "free_text")
    outcome: Mapped[str | None] = mapped_column(sa.String(60))
    occurred_at: Mapped[datetime]
