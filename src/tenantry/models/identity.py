"""Schema `identity`: tenants (business accounts), locations, users, memberships, identity links.

`locations` is the one business-location entity that replaces seed 000's split between
`business_partners` and `business_profiles`. `users` are people who log in; they are global
(one person may work for several tenants) and reach a tenant only through `memberships`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import (
    Base,
    SoftDeleteMixin,
    TenantOwned,
    TimestampMixin,
    pii,
    str_enum,
    tenant_fk,
    tenant_root_fk,
)
from tenantry.models.enums import (
    ExternalSource,
    LegalForm,
    MembershipRole,
    OnboardingStatus,
    Plan,
    TenantStatus,
    UserStatus,
    VerificationStatus,
    Vertical,
)
from tenantry.models.sealed import SealedField, sealed_column

__all__ = ["IdentityLink", "Location", "Membership", "MembershipLocation", "Tenant", "User"]

SCHEMA = {"schema": "identity"}


class Tenant(TimestampMixin, SoftDeleteMixin, Base):
    """The business account that subscribes to the SaaS product."""

    __tablename__ = "tenants"
    __table_args__ = (
        sa.CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="slug_format"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_iso2"),
        sa.CheckConstraint(
            "vat_id IS NULL OR vat_id ~ '^[A-Z]{2}[A-Za-z0-9]{2,13}$'", name="vat_id_format"
        ),
        SCHEMA,
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    legal_name: Mapped[str] = mapped_column(sa.String(200))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    legal_form: Mapped[LegalForm] = mapped_column(str_enum(LegalForm, "legal_form"))
    vertical: Mapped[Vertical] = mapped_column(str_enum(Vertical, "vertical"))
    country: Mapped[str] = mapped_column(sa.String(2), server_default="DE")
    vat_id: Mapped[str | None] = mapped_column(sa.String(20))
    commercial_register: Mapped[str | None] = mapped_column(sa.String(100))
    # Published by law (GDPR Art. 37(7)): business contact data, not a data subject's.
    dpo_name: Mapped[str | None] = mapped_column(
        sa.String(200), info={"category": "business contact data (published DPO contact)"}
    )
    dpo_email: Mapped[str | None] = mapped_column(
        sa.String(320), info={"category": "business contact data (published DPO contact)"}
    )
    plan: Mapped[Plan] = mapped_column(str_enum(Plan, "plan"), server_default=Plan.FREE.value)
    status: Mapped[TenantStatus] = mapped_column(
        str_enum(TenantStatus, "tenant_status"), server_default=TenantStatus.TRIAL.value
    )
    locale: Mapped[str] = mapped_column(sa.String(10), server_default="de-DE")
    timezone: Mapped[str] = mapped_column(sa.String(64), server_default="Europe/Berlin")
    currency: Mapped[str] = mapped_column(sa.String(3), server_default="EUR")


class Location(TenantOwned, SoftDeleteMixin, Base):
    """A business location: restaurant, workshop, caterer's kitchen, ..."""

    __tablename__ = "locations"
    __table_args__ = (
        tenant_root_fk(),
        sa.UniqueConstraint("tenant_id", "slug"),
        sa.CheckConstraint(
            "latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"
        ),
        sa.CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_pair"),
        sa.CheckConstraint(
            "price_range IS NULL OR price_range BETWEEN 1 AND 4", name="price_range"
        ),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_iso2"),
        sa.CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        sa.Index("ix_locations_tenant_vertical", "tenant_id", "vertical"),
        sa.Index("ix_locations_tenant_city", "tenant_id", "city"),
        sa.Index(
            "uq_locations_tenant_google_place_id",
            "tenant_id",
            "google_place_id",
            unique=True,
            postgresql_where=sa.text("google_place_id IS NOT NULL"),
        ),
        SCHEMA,
    )

    name: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(100))
    vertical: Mapped[Vertical] = mapped_column(str_enum(Vertical, "vertical"))
    street: Mapped[str | None] = mapped_column(sa.String(200))
    house_number: Mapped[str | None] = mapped_column(sa.String(20))
    postal_code: Mapped[str | None] = mapped_column(sa.String(20))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    region: Mapped[str | None] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(2), server_default="DE")
    latitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    website: Mapped[str | None] = mapped_column(sa.String(500))
    categories: Mapped[list[str]] = mapped_column(ARRAY(sa.String(60)), server_default="{}")
    cuisine: Mapped[str | None] = mapped_column(sa.String(60))
    price_range: Mapped[int | None] = mapped_column(sa.SmallInteger)
    capacity: Mapped[int | None] = mapped_column(sa.Integer)
    opening_hours: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    onboarding_status: Mapped[OnboardingStatus] = mapped_column(
        str_enum(OnboardingStatus, "onboarding_status"),
        server_default=OnboardingStatus.NOT_STARTED.value,
    )
    onboarding_step: Mapped[int] = mapped_column(sa.SmallInteger, server_default="0")
    verification_status: Mapped[VerificationStatus] = mapped_column(
        str_enum(VerificationStatus, "verification_status"),
        server_default=VerificationStatus.UNVERIFIED.value,
    )
    google_place_id: Mapped[str | None] = mapped_column(sa.String(255))
    external_ids: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
    timezone: Mapped[str] = mapped_column(sa.String(64), server_default="Europe/Berlin")
    is_active: Mapped[bool] = mapped_column(server_default=sa.true())


class User(TimestampMixin, Base):
    """A person who logs in. Global; tied to tenants by memberships. Sealed under the platform
    key (no tenant owns a staff account); found by the blind index of the e-mail."""

    __tablename__ = "users"
    __sealed_scope__ = "platform"
    __table_args__ = (SCHEMA,)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email = SealedField("email", 320, blind_index="email_bidx")
    email_sealed: Mapped[bytes] = sealed_column("email", "email", nullable=False)
    email_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary, unique=True, info=pii("keyed_hash"))
    display_name = SealedField("name", 200)
    display_name_sealed: Mapped[bytes | None] = sealed_column("display_name", "name")
    locale: Mapped[str] = mapped_column(sa.String(10), server_default="de-DE")
    status: Mapped[UserStatus] = mapped_column(
        str_enum(UserStatus, "user_status"), server_default=UserStatus.ACTIVE.value
    )
    is_platform_admin: Mapped[bool] = mapped_column(server_default=sa.false())
    last_login_at: Mapped[datetime | None]


class Membership(TenantOwned, Base):
    """A user's role in a tenant; location scope in `membership_locations` (none = all)."""

    __tablename__ = "memberships"
    __table_args__ = (
        tenant_root_fk(),
        sa.UniqueConstraint("tenant_id", "user_id"),
        sa.Index("ix_memberships_user_id", "user_id"),
        SCHEMA,
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("identity.users.id", ondelete="CASCADE")
    )
    role: Mapped[MembershipRole] = mapped_column(str_enum(MembershipRole, "membership_role"))
    is_active: Mapped[bool] = mapped_column(server_default=sa.true())


class MembershipLocation(TimestampMixin, Base):
    """Restricts a membership to the listed locations (a station or workshop manager)."""

    __tablename__ = "membership_locations"
    __table_args__ = (
        tenant_fk("membership_id", "identity.memberships", ondelete="CASCADE"),
        tenant_fk("location_id", "identity.locations", ondelete="CASCADE"),
        sa.Index("ix_membership_locations_tenant_location", "tenant_id", "location_id"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    membership_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    location_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class IdentityLink(TenantOwned, Base):
    """An external id (GBP place, GA4 client, Facebook page, ...) linked to a user or location."""

    __tablename__ = "identity_links"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        sa.UniqueConstraint("tenant_id", "source", "external_id"),
        sa.CheckConstraint("user_id IS NOT NULL OR location_id IS NOT NULL", name="has_target"),
        sa.CheckConstraint("last_seen_at >= first_seen_at", name="seen_order"),
        sa.Index("ix_identity_links_tenant_user", "tenant_id", "user_id"),
        SCHEMA,
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("identity.users.id", ondelete="CASCADE")
    )
    location_id: Mapped[uuid.UUID | None]
    source: Mapped[ExternalSource] = mapped_column(str_enum(ExternalSource, "external_source"))
    external_id: Mapped[str] = mapped_column(sa.String(255))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    is_active: Mapped[bool] = mapped_column(server_default=sa.true())
    attributes: Mapped[dict[str, Any]] = mapped_column(server_default=sa.text("'{}'::jsonb"))
