"""Canonical model: the schemas identity, crm, commerce, engage, channel and insight.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SCHEMAS = ("identity", "crm", "commerce", "engage", "channel", "insight")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "legal_form",
            sa.Enum(
                "gmbh",
                "ug",
                "ag",
                "kg",
                "gmbh_co_kg",
                "ohg",
                "gbr",
                "ek",
                "sole_proprietor",
                "llc",
                "other",
                name="legal_form",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "vertical",
            sa.Enum(
                "restaurant",
                "workshop",
                "caterer",
                "other",
                name="vertical",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("country", sa.String(length=2), server_default="DE", nullable=False),
        sa.Column("vat_id", sa.String(length=20), nullable=True),
        sa.Column("commercial_register", sa.String(length=100), nullable=True),
        sa.Column("dpo_name", sa.String(length=200), nullable=True),
        sa.Column("dpo_email", sa.String(length=320), nullable=True),
        sa.Column(
            "plan",
            sa.Enum(
                "free",
                "starter",
                "professional",
                "enterprise",
                name="plan",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="free",
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "trial",
                "active",
                "suspended",
                "closed",
                name="tenant_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="trial",
            nullable=False,
        ),
        sa.Column("locale", sa.String(length=10), server_default="de-DE", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Europe/Berlin", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f("ck_tenants_country_iso2")),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name=op.f("ck_tenants_slug_format")
        ),
        sa.CheckConstraint(
            "vat_id IS NULL OR vat_id ~ '^[A-Z]{2}[A-Za-z0-9]{2,13}$'",
            name=op.f("ck_tenants_vat_id_format"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
        schema="identity",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("locale", sa.String(length=10), server_default="de-DE", nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "invited",
                "active",
                "disabled",
                name="user_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="active",
            nullable=False,
        ),
        sa.Column(
            "is_platform_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        schema="identity",
    )
    op.create_table(
        "benchmarks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "vertical",
            sa.Enum(
                "restaurant",
                "workshop",
                "caterer",
                "other",
                name="vertical",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("p25", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("p50", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("p75", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
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
        sa.CheckConstraint(
            "p25 <= p50 AND p50 <= p75", name=op.f("ck_benchmarks_percentiles_ordered")
        ),
        sa.CheckConstraint("sample_size > 0", name=op.f("ck_benchmarks_sample_size_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benchmarks")),
        sa.UniqueConstraint(
            "vertical",
            "region",
            "metric",
            "period_start",
            name=op.f("uq_benchmarks_vertical_region_metric_period_start"),
        ),
        schema="insight",
    )
    op.create_table(
        "locations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column(
            "vertical",
            sa.Enum(
                "restaurant",
                "workshop",
                "caterer",
                "other",
                name="vertical",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("house_number", sa.String(length=20), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=2), server_default="DE", nullable=False),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column(
            "categories",
            postgresql.ARRAY(sa.String(length=60)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("cuisine", sa.String(length=60), nullable=True),
        sa.Column("price_range", sa.SmallInteger(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column(
            "opening_hours",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "onboarding_status",
            sa.Enum(
                "not_started",
                "in_progress",
                "completed",
                name="onboarding_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="not_started",
            nullable=False,
        ),
        sa.Column("onboarding_step", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "verification_status",
            sa.Enum(
                "unverified",
                "pending",
                "verified",
                "rejected",
                name="verification_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="unverified",
            nullable=False,
        ),
        sa.Column("google_place_id", sa.String(length=255), nullable=True),
        sa.Column(
            "external_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), server_default="Europe/Berlin", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f("ck_locations_country_iso2")),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)", name=op.f("ck_locations_coordinates_pair")
        ),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity > 0", name=op.f("ck_locations_capacity_positive")
        ),
        sa.CheckConstraint(
            "latitude IS NULL OR latitude BETWEEN -90 AND 90",
            name=op.f("ck_locations_latitude_range"),
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180",
            name=op.f("ck_locations_longitude_range"),
        ),
        sa.CheckConstraint(
            "price_range IS NULL OR price_range BETWEEN 1 AND 4",
            name=op.f("ck_locations_price_range"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_locations_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_locations")),
        sa.UniqueConstraint("tenant_id", "slug", name=op.f("uq_locations_tenant_id_slug")),
        schema="identity",
    )
    op.create_index(
        "ix_locations_tenant_city",
        "locations",
        ["tenant_id", "city"],
        unique=False,
        schema="identity",
    )
    op.create_index(
        "ix_locations_tenant_vertical",
        "locations",
        ["tenant_id", "vertical"],
        unique=False,
        schema="identity",
    )
    op.create_index(
        "uq_locations_tenant_google_place_id",
        "locations",
        ["tenant_id", "google_place_id"],
        unique=True,
        schema="identity",
        postgresql_where=sa.text("google_place_id IS NOT NULL"),
    )
    op.create_table(
        "memberships",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "owner",
                "admin",
                "manager",
                "staff",
                "analyst",
                "dpo",
                name="membership_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_memberships_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_memberships_tenant_id_user_id")),
        schema="identity",
    )
    op.create_index(
        "ix_memberships_user_id", "memberships", ["user_id"], unique=False, schema="identity"
    )
    op.create_table(
        "connections",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column(
            "provider",
            sa.Enum(
                "google_business_profile",
                "google_analytics",
                "facebook",
                "instagram",
                "yelp",
                "tripadvisor",
                "website",
                name="connection_provider",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("external_account_id", sa.String(length=255), nullable=True),
        sa.Column("external_location_id", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "scopes", postgresql.ARRAY(sa.String(length=200)), server_default="{}", nullable=False
        ),
        sa.Column(
            "sync_status",
            sa.Enum(
                "pending",
                "ok",
                "error",
                "revoked",
                name="sync_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_connections_tenant_id_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_connections")),
        sa.UniqueConstraint(
            "tenant_id",
            "location_id",
            "provider",
            name=op.f("uq_connections_tenant_id_location_id_provider"),
        ),
        schema="channel",
    )
    op.create_index(
        "ix_connections_tenant_sync_status",
        "connections",
        ["tenant_id", "sync_status"],
        unique=False,
        schema="channel",
    )
    op.create_table(
        "services",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "service_package",
                "menu_item",
                "workshop_service",
                "catering_package",
                "addon",
                name="service_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), server_default="1900", nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_services_currency_iso4217")),
        sa.CheckConstraint(
            "duration_minutes IS NULL OR duration_minutes > 0",
            name=op.f("ck_services_duration_positive"),
        ),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_services_price_non_negative")),
        sa.CheckConstraint(
            "vat_rate_bp BETWEEN 0 AND 10000", name=op.f("ck_services_vat_rate_range")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_services_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_services_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_services")),
        schema="commerce",
    )
    op.create_index(
        "ix_services_tenant_location_kind",
        "services",
        ["tenant_id", "location_id", "kind"],
        unique=False,
        schema="commerce",
    )
    op.create_table(
        "customers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("home_location_id", sa.Uuid(), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=2), server_default="DE", nullable=False),
        sa.Column("language", sa.String(length=10), server_default="de", nullable=False),
        sa.Column(
            "preferred_channel",
            sa.Enum(
                "web",
                "sms",
                "email",
                "social",
                "voice",
                name="channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "web_quote",
                "chat",
                "instagram",
                "facebook",
                "google",
                "yelp",
                "sms",
                "phone",
                "referral",
                "event",
                "payment",
                "financial",
                "stripe",
                "plaid",
                "visibility_check",
                "walk_in",
                name="lead_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "tags", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False
        ),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f("ck_customers_country_iso2")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "home_location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_customers_tenant_id_home_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_customers_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_customers")),
        schema="crm",
    )
    op.create_index(
        "ix_customers_tenant_email", "customers", ["tenant_id", "email"], unique=False, schema="crm"
    )
    op.create_index(
        "ix_customers_tenant_home_location",
        "customers",
        ["tenant_id", "home_location_id"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        "ix_customers_tenant_last_name",
        "customers",
        ["tenant_id", "last_name"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        "ix_customers_tenant_phone", "customers", ["tenant_id", "phone"], unique=False, schema="crm"
    )
    op.create_table(
        "campaigns",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column(
            "purpose", sa.String(length=60), server_default="marketing_email", nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "scheduled",
                "running",
                "completed",
                "cancelled",
                name="campaign_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="draft",
            nullable=False,
        ),
        sa.Column("subject_variant", sa.String(length=50), nullable=True),
        sa.Column("copy_variant", sa.String(length=50), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint(
            "channel IN ('email', 'sms')", name=op.f("ck_campaigns_campaign_channel")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_campaigns_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_campaigns_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_campaigns")),
        schema="engage",
    )
    op.create_index(
        "ix_campaigns_tenant_status_scheduled",
        "campaigns",
        ["tenant_id", "status", "scheduled_at"],
        unique=False,
        schema="engage",
    )
    op.create_table(
        "identity_links",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "gbp",
                "ga4",
                "facebook",
                "instagram",
                name="external_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
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
        sa.CheckConstraint(
            "last_seen_at >= first_seen_at", name=op.f("ck_identity_links_seen_order")
        ),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR location_id IS NOT NULL",
            name=op.f("ck_identity_links_has_target"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_identity_links_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_identity_links_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_identity_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_identity_links")),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "external_id",
            name=op.f("uq_identity_links_tenant_id_source_external_id"),
        ),
        schema="identity",
    )
    op.create_index(
        "ix_identity_links_tenant_user",
        "identity_links",
        ["tenant_id", "user_id"],
        unique=False,
        schema="identity",
    )
    op.create_table(
        "membership_locations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_membership_locations_tenant_id_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["identity.memberships.tenant_id", "identity.memberships.id"],
            name=op.f("fk_membership_locations_tenant_id_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "membership_id", "location_id", name=op.f("pk_membership_locations")
        ),
        schema="identity",
    )
    op.create_index(
        "ix_membership_locations_tenant_location",
        "membership_locations",
        ["tenant_id", "location_id"],
        unique=False,
        schema="identity",
    )
    op.create_table(
        "leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "web_quote",
                "chat",
                "instagram",
                "facebook",
                "google",
                "yelp",
                "sms",
                "phone",
                "referral",
                "event",
                "payment",
                "financial",
                "stripe",
                "plaid",
                "visibility_check",
                "walk_in",
                name="lead_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "contacted",
                "qualified",
                "converted",
                "lost",
                name="lead_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="new",
            nullable=False,
        ),
        sa.Column("score", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "persona",
            sa.Enum(
                "solo-sarah",
                "bewahrer-ben",
                "wachstums-walter",
                "ketten-katrin",
                name="persona",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("interest", sa.String(length=120), nullable=True),
        sa.Column("estimated_value_cents", sa.BigInteger(), nullable=True),
        sa.Column("utm_source", sa.String(length=100), nullable=True),
        sa.Column("utm_medium", sa.String(length=100), nullable=True),
        sa.Column("utm_campaign", sa.String(length=100), nullable=True),
        sa.Column("lost_reason", sa.String(length=200), nullable=True),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status <> 'converted' OR customer_id IS NOT NULL",
            name=op.f("ck_leads_converted_has_customer"),
        ),
        sa.CheckConstraint(
            "status <> 'lost' OR lost_reason IS NOT NULL", name=op.f("ck_leads_lost_has_reason")
        ),
        sa.CheckConstraint(
            "estimated_value_cents IS NULL OR estimated_value_cents >= 0",
            name=op.f("ck_leads_value_non_negative"),
        ),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_leads_score_range")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_leads_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_leads_tenant_id_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_leads")),
        schema="crm",
    )
    op.create_index(
        "ix_leads_tenant_created", "leads", ["tenant_id", "created_at"], unique=False, schema="crm"
    )
    op.create_index(
        "ix_leads_tenant_customer",
        "leads",
        ["tenant_id", "customer_id"],
        unique=False,
        schema="crm",
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    op.create_index(
        "ix_leads_tenant_email",
        "leads",
        ["tenant_id", "email"],
        unique=False,
        schema="crm",
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_index(
        "ix_leads_tenant_hot_prospects",
        "leads",
        ["tenant_id", sa.literal_column("score DESC"), sa.literal_column("created_at DESC")],
        unique=False,
        schema="crm",
        postgresql_where=sa.text(
            "status IN ('new', 'contacted', 'qualified') AND deleted_at IS NULL AND score >= 70"
        ),
    )
    op.create_index(
        "ix_leads_tenant_location_status",
        "leads",
        ["tenant_id", "location_id", "status"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        "ix_leads_tenant_source", "leads", ["tenant_id", "source"], unique=False, schema="crm"
    )
    op.create_index(
        "ix_leads_tenant_status_created",
        "leads",
        ["tenant_id", "status", "created_at"],
        unique=False,
        schema="crm",
        postgresql_include=["score"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "vehicles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("make", sa.String(length=60), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("model_year", sa.SmallInteger(), nullable=True),
        sa.Column(
            "fuel_type",
            sa.Enum(
                "petrol",
                "diesel",
                "electric",
                "hybrid",
                "lpg",
                "other",
                name="fuel_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("license_plate", sa.String(length=20), nullable=True),
        sa.Column("vin", sa.String(length=17), nullable=True),
        sa.Column("mileage_km", sa.Integer(), nullable=True),
        sa.Column("tuv_due_on", sa.Date(), nullable=True),
        sa.Column("last_service_on", sa.Date(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "mileage_km IS NULL OR mileage_km >= 0", name=op.f("ck_vehicles_mileage_non_negative")
        ),
        sa.CheckConstraint(
            "model_year IS NULL OR model_year BETWEEN 1900 AND 2100",
            name=op.f("ck_vehicles_model_year_range"),
        ),
        sa.CheckConstraint("vin IS NULL OR length(vin) = 17", name=op.f("ck_vehicles_vin_length")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_vehicles_tenant_id_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_vehicles")),
        schema="crm",
    )
    op.create_index(
        "ix_vehicles_tenant_customer",
        "vehicles",
        ["tenant_id", "customer_id"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        "ix_vehicles_tenant_plate",
        "vehicles",
        ["tenant_id", "license_plate"],
        unique=False,
        schema="crm",
    )
    op.create_index(
        "ix_vehicles_tenant_tuv_due",
        "vehicles",
        ["tenant_id", "tuv_due_on"],
        unique=False,
        schema="crm",
        postgresql_where=sa.text("tuv_due_on IS NOT NULL AND is_active AND deleted_at IS NULL"),
    )
    op.create_table(
        "email_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column(
            "event_type",
            sa.Enum(
                "sent",
                "delivered",
                "open",
                "click",
                "bounce",
                "complaint",
                "unsubscribe",
                name="email_event_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["engage.campaigns.tenant_id", "engage.campaigns.id"],
            name=op.f("fk_email_events_tenant_id_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_email_events_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_email_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_email_events")),
        schema="engage",
    )
    op.create_index(
        "ix_email_events_tenant_campaign_type",
        "email_events",
        ["tenant_id", "campaign_id", "event_type"],
        unique=False,
        schema="engage",
    )
    op.create_index(
        "ix_email_events_tenant_occurred",
        "email_events",
        ["tenant_id", "occurred_at"],
        unique=False,
        schema="engage",
    )
    op.create_table(
        "bookings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("vehicle_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "appointment",
                "reservation",
                "catering_event",
                "partner_booking",
                name="booking_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "inquiry",
                "confirmed",
                "deposit_paid",
                "paid",
                "fulfilled",
                "reviewed",
                "cancelled",
                "no_show",
                name="booking_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="inquiry",
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("guest_count", sa.Integer(), nullable=True),
        sa.Column("event_address", sa.String(length=300), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("total_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("deposit_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=200), nullable=True),
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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_bookings_currency_iso4217")),
        sa.CheckConstraint(
            "status <> 'cancelled' OR cancelled_at IS NOT NULL",
            name=op.f("ck_bookings_cancelled_has_time"),
        ),
        sa.CheckConstraint(
            "deposit_cents >= 0 AND deposit_cents <= total_cents",
            name=op.f("ck_bookings_deposit_within_total"),
        ),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_bookings_ends_after_start")
        ),
        sa.CheckConstraint(
            "guest_count IS NULL OR guest_count > 0", name=op.f("ck_bookings_guest_count_positive")
        ),
        sa.CheckConstraint("total_cents >= 0", name=op.f("ck_bookings_total_non_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_bookings_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["crm.leads.tenant_id", "crm.leads.id"],
            name=op.f("fk_bookings_tenant_id_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_bookings_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "vehicle_id"],
            ["crm.vehicles.tenant_id", "crm.vehicles.id"],
            name=op.f("fk_bookings_tenant_id_vehicle_id_vehicles"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_bookings")),
        schema="commerce",
    )
    op.create_index(
        "ix_bookings_tenant_customer",
        "bookings",
        ["tenant_id", "customer_id"],
        unique=False,
        schema="commerce",
    )
    op.create_index(
        "ix_bookings_tenant_location_starts",
        "bookings",
        ["tenant_id", "location_id", "starts_at"],
        unique=False,
        schema="commerce",
    )
    op.create_index(
        "ix_bookings_tenant_starts_status",
        "bookings",
        ["tenant_id", "starts_at", "status"],
        unique=False,
        schema="commerce",
    )
    op.create_index(
        "ix_bookings_tenant_status",
        "bookings",
        ["tenant_id", "status"],
        unique=False,
        schema="commerce",
    )
    op.create_table(
        "lead_interactions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "web",
                "sms",
                "email",
                "social",
                "voice",
                name="channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "direction",
            sa.Enum(
                "inbound", "outbound", name="direction", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=60), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["crm.leads.tenant_id", "crm.leads.id"],
            name=op.f("fk_lead_interactions_tenant_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_lead_interactions_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_lead_interactions")),
        schema="crm",
    )
    op.create_index(
        "ix_lead_interactions_tenant_lead_occurred",
        "lead_interactions",
        ["tenant_id", "lead_id", "occurred_at"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "lead_score_history",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("previous_score", sa.SmallInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=50), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
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
        sa.CheckConstraint(
            "previous_score IS NULL OR previous_score BETWEEN 0 AND 100",
            name=op.f("ck_lead_score_history_previous_score_range"),
        ),
        sa.CheckConstraint(
            "score BETWEEN 0 AND 100", name=op.f("ck_lead_score_history_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["crm.leads.tenant_id", "crm.leads.id"],
            name=op.f("fk_lead_score_history_tenant_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_lead_score_history")),
        schema="crm",
    )
    op.create_index(
        "ix_lead_score_history_tenant_lead_scored",
        "lead_score_history",
        ["tenant_id", "lead_id", "scored_at"],
        unique=False,
        schema="crm",
    )
    op.create_table(
        "threads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "web",
                "sms",
                "email",
                "social",
                "voice",
                name="channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "pending",
                "closed",
                name="thread_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="open",
            nullable=False,
        ),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_threads_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["crm.leads.tenant_id", "crm.leads.id"],
            name=op.f("fk_threads_tenant_id_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_threads_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_threads_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_threads")),
        schema="engage",
    )
    op.create_index(
        "ix_threads_tenant_customer",
        "threads",
        ["tenant_id", "customer_id"],
        unique=False,
        schema="engage",
    )
    op.create_index(
        "ix_threads_tenant_status_last_message",
        "threads",
        ["tenant_id", "status", "last_message_at"],
        unique=False,
        schema="engage",
    )
    op.create_table(
        "visibility_checks",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "completed",
                "failed",
                name="visibility_check_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="queued",
            nullable=False,
        ),
        sa.Column(
            "persona",
            sa.Enum(
                "solo-sarah",
                "bewahrer-ben",
                "wachstums-walter",
                "ketten-katrin",
                name="persona",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("overall_score", sa.SmallInteger(), nullable=True),
        sa.Column("gbp_score", sa.SmallInteger(), nullable=True),
        sa.Column("social_score", sa.SmallInteger(), nullable=True),
        sa.Column("web_score", sa.SmallInteger(), nullable=True),
        sa.Column("competitor_count", sa.Integer(), nullable=True),
        sa.Column("processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "results",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
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
        sa.CheckConstraint(
            "competitor_count IS NULL OR competitor_count >= 0",
            name=op.f("ck_visibility_checks_competitors_non_negative"),
        ),
        sa.CheckConstraint(
            "gbp_score IS NULL OR gbp_score BETWEEN 0 AND 100",
            name=op.f("ck_visibility_checks_gbp_score_range"),
        ),
        sa.CheckConstraint(
            "overall_score IS NULL OR overall_score BETWEEN 0 AND 100",
            name=op.f("ck_visibility_checks_overall_score_range"),
        ),
        sa.CheckConstraint(
            "processing_time_ms IS NULL OR processing_time_ms >= 0",
            name=op.f("ck_visibility_checks_processing_time_non_negative"),
        ),
        sa.CheckConstraint(
            "social_score IS NULL OR social_score BETWEEN 0 AND 100",
            name=op.f("ck_visibility_checks_social_score_range"),
        ),
        sa.CheckConstraint(
            "web_score IS NULL OR web_score BETWEEN 0 AND 100",
            name=op.f("ck_visibility_checks_web_score_range"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["crm.leads.tenant_id", "crm.leads.id"],
            name=op.f("fk_visibility_checks_tenant_id_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_visibility_checks_tenant_id_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_visibility_checks")),
        schema="insight",
    )
    op.create_index(
        "ix_visibility_checks_tenant_location_requested",
        "visibility_checks",
        ["tenant_id", "location_id", "requested_at"],
        unique=False,
        schema="insight",
    )
    op.create_table(
        "booking_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
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
        sa.CheckConstraint("quantity > 0", name=op.f("ck_booking_items_quantity_positive")),
        sa.CheckConstraint(
            "unit_price_cents >= 0", name=op.f("ck_booking_items_unit_price_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "booking_id"],
            ["commerce.bookings.tenant_id", "commerce.bookings.id"],
            name=op.f("fk_booking_items_tenant_id_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "service_id"],
            ["commerce.services.tenant_id", "commerce.services.id"],
            name=op.f("fk_booking_items_tenant_id_service_id_services"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_booking_items")),
        schema="commerce",
    )
    op.create_index(
        "ix_booking_items_tenant_booking",
        "booking_items",
        ["tenant_id", "booking_id"],
        unique=False,
        schema="commerce",
    )
    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "issued",
                "paid",
                "void",
                name="invoice_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="draft",
            nullable=False,
        ),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("gross_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        sa.Column("billing_name", sa.String(length=200), nullable=True),
        sa.Column("billing_address", sa.String(length=400), nullable=True),
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
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_invoices_currency_iso4217")),
        sa.CheckConstraint(
            "due_on IS NULL OR due_on >= issued_on", name=op.f("ck_invoices_due_after_issue")
        ),
        sa.CheckConstraint(
            "gross_cents = net_cents + tax_cents", name=op.f("ck_invoices_gross_is_net_plus_tax")
        ),
        sa.CheckConstraint(
            "net_cents >= 0 AND tax_cents >= 0", name=op.f("ck_invoices_amounts_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "booking_id"],
            ["commerce.bookings.tenant_id", "commerce.bookings.id"],
            name=op.f("fk_invoices_tenant_id_booking_id_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_invoices_tenant_id_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_invoices_tenant_id_number")),
        schema="commerce",
    )
    op.create_index(
        "ix_invoices_tenant_booking",
        "invoices",
        ["tenant_id", "booking_id"],
        unique=False,
        schema="commerce",
    )
    op.create_index(
        "ix_invoices_tenant_issued",
        "invoices",
        ["tenant_id", "issued_on"],
        unique=False,
        schema="commerce",
    )
    op.create_table(
        "payments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "deposit",
                "balance",
                "full",
                "tip",
                "refund",
                name="payment_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "method",
            sa.Enum(
                "card",
                "sepa",
                "cash",
                "paypal",
                "stripe",
                "zelle",
                "venmo",
                "bank_transfer",
                name="payment_method",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "succeeded",
                "failed",
                "cancelled",
                name="payment_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=True),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("payer_name", sa.String(length=200), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_payments_currency_iso4217")),
        sa.CheckConstraint(
            "status <> 'succeeded' OR paid_at IS NOT NULL",
            name=op.f("ck_payments_succeeded_has_time"),
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "booking_id"],
            ["commerce.bookings.tenant_id", "commerce.bookings.id"],
            name=op.f("fk_payments_tenant_id_booking_id_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_payments_tenant_id_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payments")),
        schema="commerce",
    )
    op.create_index(
        "ix_payments_tenant_booking",
        "payments",
        ["tenant_id", "booking_id"],
        unique=False,
        schema="commerce",
    )
    op.create_index(
        "ix_payments_tenant_status_created",
        "payments",
        ["tenant_id", "status", "created_at"],
        unique=False,
        schema="commerce",
    )
    op.create_index(
        "uq_payments_tenant_provider_ref",
        "payments",
        ["tenant_id", "provider", "provider_ref"],
        unique=True,
        schema="commerce",
        postgresql_where=sa.text("provider_ref IS NOT NULL"),
    )
    op.create_table(
        "messages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "web",
                "sms",
                "email",
                "social",
                "voice",
                name="channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "direction",
            sa.Enum(
                "inbound", "outbound", name="direction", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "author_kind",
            sa.Enum(
                "customer",
                "staff",
                "ai",
                "system",
                name="author_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "thread_id"],
            ["engage.threads.tenant_id", "engage.threads.id"],
            name=op.f("fk_messages_tenant_id_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_messages_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_messages")),
        schema="engage",
    )
    op.create_index(
        "ix_messages_tenant_thread_sent",
        "messages",
        ["tenant_id", "thread_id", "sent_at"],
        unique=False,
        schema="engage",
    )
    op.create_table(
        "reviews",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column(
            "platform",
            sa.Enum(
                "google",
                "yelp",
                "facebook",
                "tripadvisor",
                "internal",
                name="review_platform",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
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
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.CheckConstraint(
            "sentiment IS NULL OR sentiment BETWEEN -1 AND 1",
            name=op.f("ck_reviews_sentiment_range"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "booking_id"],
            ["commerce.bookings.tenant_id", "commerce.bookings.id"],
            name=op.f("fk_reviews_tenant_id_booking_id_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["crm.customers.tenant_id", "crm.customers.id"],
            name=op.f("fk_reviews_tenant_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_reviews_tenant_id_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_reviews")),
        schema="engage",
    )
    op.create_index(
        "ix_reviews_tenant_location_published",
        "reviews",
        ["tenant_id", "location_id", "published_at"],
        unique=False,
        schema="engage",
    )
    op.create_index(
        "uq_reviews_tenant_platform_external",
        "reviews",
        ["tenant_id", "platform", "external_id"],
        unique=True,
        schema="engage",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_table(
        "evidence",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("visibility_check_id", sa.Uuid(), nullable=True),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "gbp",
                "ga4",
                "facebook",
                "instagram",
                "website",
                "review_platform",
                "search",
                "ai_model",
                "manual",
                name="evidence_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("source_url", sa.String(length=1000), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("retrieved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=60), nullable=True),
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
        sa.CheckConstraint(
            "content_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_evidence_content_hash_sha256_hex")
        ),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name=op.f("ck_evidence_confidence_range")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_evidence_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "visibility_check_id"],
            ["insight.visibility_checks.tenant_id", "insight.visibility_checks.id"],
            name=op.f("fk_evidence_tenant_id_visibility_check_id_visibility_checks"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_evidence_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_evidence")),
        schema="insight",
    )
    op.create_index(
        "ix_evidence_tenant_check",
        "evidence",
        ["tenant_id", "visibility_check_id"],
        unique=False,
        schema="insight",
    )
    op.create_index(
        "ix_evidence_tenant_location_retrieved",
        "evidence",
        ["tenant_id", "location_id", "retrieved_at"],
        unique=False,
        schema="insight",
    )
    op.create_table(
        "recommendations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("visibility_check_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="3", nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "accepted",
                "dismissed",
                "done",
                name="recommendation_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="open",
            nullable=False,
        ),
        sa.Column("expected_impact", sa.String(length=200), nullable=True),
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
        sa.CheckConstraint(
            "priority BETWEEN 1 AND 5", name=op.f("ck_recommendations_priority_range")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_recommendations_tenant_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "visibility_check_id"],
            ["insight.visibility_checks.tenant_id", "insight.visibility_checks.id"],
            name=op.f("fk_recommendations_tenant_id_visibility_check_id_visibility_checks"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_recommendations")),
        schema="insight",
    )
    op.create_index(
        "ix_recommendations_tenant_location_status",
        "recommendations",
        ["tenant_id", "location_id", "status"],
        unique=False,
        schema="insight",
    )
    op.create_table(
        "payment_notifications",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=True),
        sa.Column("sender_phone", sa.String(length=40), nullable=True),
        sa.Column("memo", sa.String(length=500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "match_status",
            sa.Enum(
                "unmatched",
                "matched",
                "needs_review",
                "ignored",
                name="match_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="unmatched",
            nullable=False,
        ),
        sa.Column("matched_booking_id", sa.Uuid(), nullable=True),
        sa.Column("matched_payment_id", sa.Uuid(), nullable=True),
        sa.Column("match_confidence", sa.Numeric(precision=4, scale=3), nullable=True),
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
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ck_payment_notifications_currency_iso4217")
        ),
        sa.CheckConstraint(
            "match_status <> 'matched' OR matched_booking_id IS NOT NULL",
            name=op.f("ck_payment_notifications_matched_has_booking"),
        ),
        sa.CheckConstraint(
            "amount_cents > 0", name=op.f("ck_payment_notifications_amount_positive")
        ),
        sa.CheckConstraint(
            "match_confidence IS NULL OR match_confidence BETWEEN 0 AND 1",
            name=op.f("ck_payment_notifications_confidence_range"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "matched_booking_id"],
            ["commerce.bookings.tenant_id", "commerce.bookings.id"],
            name=op.f("fk_payment_notifications_tenant_id_matched_booking_id_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "matched_payment_id"],
            ["commerce.payments.tenant_id", "commerce.payments.id"],
            name=op.f("fk_payment_notifications_tenant_id_matched_payment_id_payments"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["identity.tenants.id"],
            name=op.f("fk_payment_notifications_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payment_notifications")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "transaction_id",
            name=op.f("uq_payment_notifications_tenant_id_provider_transaction_id"),
        ),
        schema="commerce",
    )
    op.create_index(
        "ix_payment_notifications_tenant_status_received",
        "payment_notifications",
        ["tenant_id", "match_status", "received_at"],
        unique=False,
        schema="commerce",
    )
    op.create_table(
        "analytics_snapshots",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "gbp",
                "ga4",
                "facebook",
                "instagram",
                "website",
                "internal",
                name="snapshot_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("captured_on", sa.Date(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "evidence_id"],
            ["insight.evidence.tenant_id", "insight.evidence.id"],
            name=op.f("fk_analytics_snapshots_tenant_id_evidence_id_evidence"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["identity.locations.tenant_id", "identity.locations.id"],
            name=op.f("fk_analytics_snapshots_tenant_id_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_analytics_snapshots")),
        sa.UniqueConstraint(
            "tenant_id",
            "location_id",
            "source",
            "metric",
            "captured_on",
            name=op.f("uq_analytics_snapshots_tenant_id_location_id_source_metric_captured_on"),
        ),
        schema="insight",
    )
    op.create_table(
        "recommendation_evidence",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "evidence_id"],
            ["insight.evidence.tenant_id", "insight.evidence.id"],
            name=op.f("fk_recommendation_evidence_tenant_id_evidence_id_evidence"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "recommendation_id"],
            ["insight.recommendations.tenant_id", "insight.recommendations.id"],
            name=op.f("fk_recommendation_evidence_tenant_id_recommendation_id_recommendations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "recommendation_id", "evidence_id", name=op.f("pk_recommendation_evidence")
        ),
        schema="insight",
    )
    op.create_index(
        "ix_recommendation_evidence_tenant_evidence",
        "recommendation_evidence",
        ["tenant_id", "evidence_id"],
        unique=False,
        schema="insight",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_recommendation_evidence_tenant_evidence",
        table_name="recommendation_evidence",
        schema="insight",
    )
    op.drop_table("recommendation_evidence", schema="insight")
    op.drop_table("analytics_snapshots", schema="insight")
    op.drop_index(
        "ix_payment_notifications_tenant_status_received",
        table_name="payment_notifications",
        schema="commerce",
    )
    op.drop_table("payment_notifications", schema="commerce")
    op.drop_index(
        "ix_recommendations_tenant_location_status", table_name="recommendations", schema="insight"
    )
    op.drop_table("recommendations", schema="insight")
    op.drop_index("ix_evidence_tenant_location_retrieved", table_name="evidence", schema="insight")
    op.drop_index("ix_evidence_tenant_check", table_name="evidence", schema="insight")
    op.drop_table("evidence", schema="insight")
    op.drop_index(
        "uq_reviews_tenant_platform_external",
        table_name="reviews",
        schema="engage",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index("ix_reviews_tenant_location_published", table_name="reviews", schema="engage")
    op.drop_table("reviews", schema="engage")
    op.drop_index("ix_messages_tenant_thread_sent", table_name="messages", schema="engage")
    op.drop_table("messages", schema="engage")
    op.drop_index(
        "uq_payments_tenant_provider_ref",
        table_name="payments",
        schema="commerce",
        postgresql_where=sa.text("provider_ref IS NOT NULL"),
    )
    op.drop_index("ix_payments_tenant_status_created", table_name="payments", schema="commerce")
    op.drop_index("ix_payments_tenant_booking", table_name="payments", schema="commerce")
    op.drop_table("payments", schema="commerce")
    op.drop_index("ix_invoices_tenant_issued", table_name="invoices", schema="commerce")
    op.drop_index("ix_invoices_tenant_booking", table_name="invoices", schema="commerce")
    op.drop_table("invoices", schema="commerce")
    op.drop_index("ix_booking_items_tenant_booking", table_name="booking_items", schema="commerce")
    op.drop_table("booking_items", schema="commerce")
    op.drop_index(
        "ix_visibility_checks_tenant_location_requested",
        table_name="visibility_checks",
        schema="insight",
    )
    op.drop_table("visibility_checks", schema="insight")
    op.drop_index("ix_threads_tenant_status_last_message", table_name="threads", schema="engage")
    op.drop_index("ix_threads_tenant_customer", table_name="threads", schema="engage")
    op.drop_table("threads", schema="engage")
    op.drop_index(
        "ix_lead_score_history_tenant_lead_scored", table_name="lead_score_history", schema="crm"
    )
    op.drop_table("lead_score_history", schema="crm")
    op.drop_index(
        "ix_lead_interactions_tenant_lead_occurred", table_name="lead_interactions", schema="crm"
    )
    op.drop_table("lead_interactions", schema="crm")
    op.drop_index("ix_bookings_tenant_status", table_name="bookings", schema="commerce")
    op.drop_index("ix_bookings_tenant_starts_status", table_name="bookings", schema="commerce")
    op.drop_index("ix_bookings_tenant_location_starts", table_name="bookings", schema="commerce")
    op.drop_index("ix_bookings_tenant_customer", table_name="bookings", schema="commerce")
    op.drop_table("bookings", schema="commerce")
    op.drop_index("ix_email_events_tenant_occurred", table_name="email_events", schema="engage")
    op.drop_index(
        "ix_email_events_tenant_campaign_type", table_name="email_events", schema="engage"
    )
    op.drop_table("email_events", schema="engage")
    op.drop_index(
        "ix_vehicles_tenant_tuv_due",
        table_name="vehicles",
        schema="crm",
        postgresql_where=sa.text("tuv_due_on IS NOT NULL AND is_active AND deleted_at IS NULL"),
    )
    op.drop_index("ix_vehicles_tenant_plate", table_name="vehicles", schema="crm")
    op.drop_index("ix_vehicles_tenant_customer", table_name="vehicles", schema="crm")
    op.drop_table("vehicles", schema="crm")
    op.drop_index(
        "ix_leads_tenant_status_created",
        table_name="leads",
        schema="crm",
        postgresql_include=["score"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index("ix_leads_tenant_source", table_name="leads", schema="crm")
    op.drop_index("ix_leads_tenant_location_status", table_name="leads", schema="crm")
    op.drop_index(
        "ix_leads_tenant_hot_prospects",
        table_name="leads",
        schema="crm",
        postgresql_where=sa.text(
            "status IN ('new', 'contacted', 'qualified') AND deleted_at IS NULL AND score >= 70"
        ),
    )
    op.drop_index("ix_leads_tenant_email", table_name="leads", schema="crm")
    op.drop_index("ix_leads_tenant_customer", table_name="leads", schema="crm")
    op.drop_index("ix_leads_tenant_created", table_name="leads", schema="crm")
    op.drop_table("leads", schema="crm")
    op.drop_index(
        "ix_membership_locations_tenant_location",
        table_name="membership_locations",
        schema="identity",
    )
    op.drop_table("membership_locations", schema="identity")
    op.drop_index("ix_identity_links_tenant_user", table_name="identity_links", schema="identity")
    op.drop_table("identity_links", schema="identity")
    op.drop_index("ix_campaigns_tenant_status_scheduled", table_name="campaigns", schema="engage")
    op.drop_table("campaigns", schema="engage")
    op.drop_index("ix_customers_tenant_phone", table_name="customers", schema="crm")
    op.drop_index("ix_customers_tenant_last_name", table_name="customers", schema="crm")
    op.drop_index("ix_customers_tenant_home_location", table_name="customers", schema="crm")
    op.drop_index("ix_customers_tenant_email", table_name="customers", schema="crm")
    op.drop_table("customers", schema="crm")
    op.drop_index("ix_services_tenant_location_kind", table_name="services", schema="commerce")
    op.drop_table("services", schema="commerce")
    op.drop_index("ix_connections_tenant_sync_status", table_name="connections", schema="channel")
    op.drop_table("connections", schema="channel")
    op.drop_index("ix_memberships_user_id", table_name="memberships", schema="identity")
    op.drop_table("memberships", schema="identity")
    op.drop_index(
        "uq_locations_tenant_google_place_id",
        table_name="locations",
        schema="identity",
        postgresql_where=sa.text("google_place_id IS NOT NULL"),
    )
    op.drop_index("ix_locations_tenant_vertical", table_name="locations", schema="identity")
    op.drop_index("ix_locations_tenant_city", table_name="locations", schema="identity")
    op.drop_table("locations", schema="identity")
    op.drop_table("benchmarks", schema="insight")
    op.drop_table("users", schema="identity")
    op.drop_table("tenants", schema="identity")
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP SCHEMA IF EXISTS {schema}")
