"""Privacy kernel: keys, data subjects, consent journal, double opt-in, retention, legal holds.

Also: row level security and grants for the new tenant tables, the consent journal made
append-only (no UPDATE/DELETE grant, and a trigger that refuses them outside retention), the
views `privacy.consent_state` and `privacy.active_consents` (security invoker, so RLS applies),
and the shipped retention defaults.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
TENANT_TABLES = (
    "privacy.tenant_keys",
    "privacy.subjects",
    "privacy.subject_keys",
    "privacy.consent_journal",
    "privacy.doi_tokens",
    "privacy.retention_policies",
    "privacy.legal_holds",
)
# Months, days, start event, action, legal basis: German commercial and tax law as in force since
# 2025-01-01 (Viertes Buerokratieentlastungsgesetz: vouchers 8 years), and seed 001's table.
DEFAULTS = (
    (
        "commerce.invoices",
        "accounting vouchers (Buchungsbelege)",
        96,
        0,
        "end_of_calendar_year",
        "delete",
        "legal_obligation",
        "HGB s. 257(1) no. 4, (4), (5); AO s. 147(1) no. 4, (3): 8 years",
    ),
    (
        "commerce.payments",
        "accounting vouchers (Buchungsbelege)",
        96,
        0,
        "end_of_calendar_year",
        "delete",
        "legal_obligation",
        "HGB s. 257(1) no. 4, (4), (5); AO s. 147(1) no. 4, (3): 8 years",
    ),
    (
        "accounting.books",
        "books, inventories, annual accounts (kept outside tenantry)",
        120,
        0,
        "end_of_calendar_year",
        "delete",
        "legal_obligation",
        "HGB s. 257(1) no. 1, (4); AO s. 147(3): 10 years",
    ),
    (
        "engage.messages",
        "business letters (Handelsbriefe)",
        72,
        0,
        "end_of_calendar_year",
        "delete",
        "legal_obligation",
        "HGB s. 257(1) no. 2, 3, (4); AO s. 147(3): 6 years",
    ),
    (
        "privacy.consent_journal",
        "proof of consent (superseded entries)",
        36,
        0,
        "record_date",
        "delete",
        "legal_obligation",
        "GDPR Art. 7(1); seed 001: 3 years",
    ),
    (
        "privacy.doi_tokens",
        "unconfirmed double opt-in",
        0,
        7,
        "record_date",
        "delete",
        "consent",
        "seed 001: 7-day TTL",
    ),
    (
        "engage.email_events",
        "e-mail deliverability and reputation",
        18,
        0,
        "record_date",
        "delete",
        "legitimate_interests",
        "seed 001: 18 months",
    ),
    (
        "crm.leads",
        "lead management (inactive leads)",
        36,
        0,
        "record_date",
        "anonymise",
        "legitimate_interests",
        "seed 001: 36 months inactive",
    ),
    (
        "crm.customers",
        "customer relationship (inactive customers)",
        36,
        0,
        "record_date",
        "anonymise",
        "contract",
        "seed 001: 36 months inactive",
    ),
)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS privacy")
    op.create_table(
        "retention_defaults",
        sa.Column("dataset", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("period_months", sa.Integer(), server_default="0", nullable=False),
        sa.Column("period_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "start_event",
            sa.Enum(
                "record_date",
                "end_of_calendar_year",
                name="retention_start",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "action",
            sa.Enum(
                "delete",
                "anonymise",
                name="retention_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "consent",
                "contract",
                "legal_obligation",
                "vital_interests",
                "public_task",
                "legitimate_interests",
                name="legal_basis",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=200), nullable=False),
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
            "period_months >= 0 AND period_days >= 0 AND period_months + period_days > 0",
            name=op.f("ck_retention_defaults_period_positive"),
        ),
        sa.PrimaryKeyConstraint("dataset", name=op.f("pk_retention_defaults")),
        schema="privacy",
    )
    op.create_table(
        "legal_holds",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "dataset",
                "row",
                "customer",
                name="hold_scope",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("dataset", sa.String(length=80), nullable=True),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("placed_by", sa.String(length=120), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
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
            "(scope = 'dataset') = (target_id IS NULL)",
            name=op.f("ck_legal_holds_target_matches_scope"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_legal_holds_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_legal_holds")),
        schema="privacy",
    )
    op.create_index(
        "ix_legal_holds_tenant_active",
        "legal_holds",
        ["tenant_id", "dataset"],
        unique=False,
        schema="privacy",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_table(
        "retention_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("dataset", sa.String(length=80), nullable=False),
        sa.Column("period_months", sa.Integer(), server_default="0", nullable=False),
        sa.Column("period_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "delete",
                "anonymise",
                name="retention_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=False),
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
            "period_months >= 0 AND period_days >= 0 AND period_months + period_days > 0",
            name=op.f("ck_retention_policies_period_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset"],
            ["privacy.retention_defaults.dataset"],
            name=op.f("fk_retention_policies_dataset_retention_defaults"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["identity.tenants.id"],
            name=op.f("fk_retention_policies_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "dataset", name=op.f("pk_retention_policies")),
        schema="privacy",
    )
    op.create_table(
        "subjects",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "person",
                "organisation",
                name="subject_kind",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="person",
            nullable=False,
        ),
        sa.Column("email_bidx", sa.LargeBinary(), nullable=True),
        sa.Column("phone_bidx", sa.LargeBinary(), nullable=True),
        sa.Column("phone_last4_bidx", sa.LargeBinary(), nullable=True),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
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
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_subjects_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_subjects")),
        schema="privacy",
    )
    op.create_index(
        "ix_subjects_tenant_phone_bidx",
        "subjects",
        ["tenant_id", "phone_bidx"],
        unique=False,
        schema="privacy",
        postgresql_where=sa.text("phone_bidx IS NOT NULL"),
    )
    op.create_index(
        "ix_subjects_tenant_phone_last4_bidx",
        "subjects",
        ["tenant_id", "phone_last4_bidx"],
        unique=False,
        schema="privacy",
        postgresql_where=sa.text("phone_last4_bidx IS NOT NULL"),
    )
    op.create_index(
        "uq_subjects_tenant_email_bidx",
        "subjects",
        ["tenant_id", "email_bidx"],
        unique=True,
        schema="privacy",
        postgresql_where=sa.text("email_bidx IS NOT NULL AND erased_at IS NULL"),
    )
    op.create_index(
        "uq_subjects_tenant_pseudonym",
        "subjects",
        ["tenant_id", "pseudonym"],
        unique=True,
        schema="privacy",
    )
    op.create_table(
        "tenant_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "wrapping",
                "indexing",
                name="key_purpose",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "retired", name="key_status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=100), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("version > 0", name=op.f("ck_tenant_keys_version_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name=op.f("fk_tenant_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "purpose", "version", name=op.f("pk_tenant_keys")),
        schema="privacy",
    )
    op.create_index(
        "uq_tenant_keys_tenant_active",
        "tenant_keys",
        ["tenant_id", "purpose"],
        unique=True,
        schema="privacy",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "consent_journal",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "marketing_email",
                "marketing_sms",
                "analytics",
                "vc_report",
                "personalisation",
                name="consent_purpose",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "consent",
                "contract",
                "legal_obligation",
                "vital_interests",
                "public_task",
                "legitimate_interests",
                name="legal_basis",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "decision",
            sa.Enum(
                "granted",
                "denied",
                "withdrawn",
                name="consent_decision",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("notice_version", sa.String(length=40), nullable=False),
        sa.Column("notice_hash", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("doi_token_id", sa.Uuid(), nullable=True),
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
            "notice_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_consent_journal_notice_hash_sha256_hex")
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > recorded_at",
            name=op.f("ck_consent_journal_expires_after_record"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "subject_id"],
            ["privacy.subjects.tenant_id", "privacy.subjects.id"],
            name=op.f("fk_consent_journal_tenant_id_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_consent_journal")),
        schema="privacy",
    )
    op.create_index(
        "ix_consent_journal_tenant_subject_purpose_recorded",
        "consent_journal",
        ["tenant_id", "subject_id", "purpose", "recorded_at"],
        unique=False,
        schema="privacy",
    )
    op.create_table(
        "doi_tokens",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "marketing_email",
                "marketing_sms",
                "analytics",
                "vc_report",
                "personalisation",
                name="consent_purpose",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("address_bidx", sa.LargeBinary(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("notice_version", sa.String(length=40), nullable=False),
        sa.Column("notice_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
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
            "expires_at > created_at", name=op.f("ck_doi_tokens_expires_after_created")
        ),
        sa.CheckConstraint("length(token_hash) = 32", name=op.f("ck_doi_tokens_token_hash_sha256")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "subject_id"],
            ["privacy.subjects.tenant_id", "privacy.subjects.id"],
            name=op.f("fk_doi_tokens_tenant_id_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_doi_tokens")),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name=op.f("uq_doi_tokens_tenant_id_token_hash")
        ),
        schema="privacy",
    )
    op.create_index(
        "ix_doi_tokens_tenant_pending_expiry",
        "doi_tokens",
        ["tenant_id", "expires_at"],
        unique=False,
        schema="privacy",
        postgresql_where=sa.text("confirmed_at IS NULL"),
    )
    op.create_table(
        "subject_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("wrapping_version", sa.Integer(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
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
            "(wrapped_key IS NULL) = (destroyed_at IS NOT NULL)",
            name=op.f("ck_subject_keys_destroyed_has_no_key"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "subject_id"],
            ["privacy.subjects.tenant_id", "privacy.subjects.id"],
            name=op.f("fk_subject_keys_tenant_id_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "subject_id", "version", name=op.f("pk_subject_keys")),
        schema="privacy",
    )
    op.create_index(
        "ix_subject_keys_tenant_wrapping_version",
        "subject_keys",
        ["tenant_id", "wrapping_version"],
        unique=False,
        schema="privacy",
    )
    _seed_defaults()
    _secure()
    _consent_views_and_guard()


def _seed_defaults() -> None:
    table = sa.table(
        "retention_defaults",
        sa.column("dataset"),
        sa.column("purpose"),
        sa.column("period_months"),
        sa.column("period_days"),
        sa.column("start_event"),
        sa.column("action"),
        sa.column("legal_basis"),
        sa.column("reference"),
        schema="privacy",
    )
    keys = (
        "dataset",
        "purpose",
        "period_months",
        "period_days",
        "start_event",
        "action",
        "legal_basis",
        "reference",
    )
    op.bulk_insert(table, [dict(zip(keys, row, strict=True)) for row in DEFAULTS])


def _secure() -> None:
    op.execute(f"GRANT USAGE ON SCHEMA privacy TO {APP}")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = {CURRENT_TENANT})"
            f" WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )
    for table in (
        "privacy.tenant_keys",
        "privacy.subjects",
        "privacy.subject_keys",
        "privacy.doi_tokens",
        "privacy.legal_holds",
        "privacy.retention_policies",
    ):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP}")
    # The journal is append-only for the application.
    op.execute(f"GRANT SELECT, INSERT ON privacy.consent_journal TO {APP}")
    op.execute(f"GRANT SELECT ON privacy.retention_defaults TO {APP}")


def _consent_views_and_guard() -> None:
    op.execute("""
        CREATE VIEW privacy.consent_state WITH (security_invoker = true) AS
        SELECT DISTINCT ON (tenant_id, subject_id, purpose)
               tenant_id, subject_id, purpose, legal_basis, decision, source, notice_version,
               recorded_at, expires_at,
               decision = 'granted' AND (expires_at IS NULL OR expires_at > now()) AS is_active
        FROM privacy.consent_journal
        ORDER BY tenant_id, subject_id, purpose, recorded_at DESC, id DESC
    """)
    op.execute("""
        CREATE VIEW privacy.active_consents WITH (security_invoker = true) AS
        SELECT tenant_id, subject_id, purpose, expires_at
        FROM privacy.consent_state
        WHERE is_active
    """)
    op.execute(f"GRANT SELECT ON privacy.consent_state, privacy.active_consents TO {APP}")
    op.execute("""
        CREATE FUNCTION privacy.consent_journal_append_only() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog AS $$
        BEGIN
            IF current_setting('tenantry.retention', true) = 'on' AND TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'privacy.consent_journal is append-only'
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER consent_journal_append_only
        BEFORE UPDATE OR DELETE ON privacy.consent_journal
        FOR EACH ROW EXECUTE FUNCTION privacy.consent_journal_append_only()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS consent_journal_append_only ON privacy.consent_journal")
    op.execute("DROP FUNCTION IF EXISTS privacy.consent_journal_append_only()")
    op.execute("DROP VIEW IF EXISTS privacy.active_consents")
    op.execute("DROP VIEW IF EXISTS privacy.consent_state")
    op.drop_index(
        "ix_subject_keys_tenant_wrapping_version", table_name="subject_keys", schema="privacy"
    )
    op.drop_table("subject_keys", schema="privacy")
    op.drop_index(
        "ix_doi_tokens_tenant_pending_expiry",
        table_name="doi_tokens",
        schema="privacy",
        postgresql_where=sa.text("confirmed_at IS NULL"),
    )
    op.drop_table("doi_tokens", schema="privacy")
    op.drop_index(
        "ix_consent_journal_tenant_subject_purpose_recorded",
        table_name="consent_journal",
        schema="privacy",
    )
    op.drop_table("consent_journal", schema="privacy")
    op.drop_index(
        "uq_tenant_keys_tenant_active",
        table_name="tenant_keys",
        schema="privacy",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_table("tenant_keys", schema="privacy")
    op.drop_index("uq_subjects_tenant_pseudonym", table_name="subjects", schema="privacy")
    op.drop_index(
        "uq_subjects_tenant_email_bidx",
        table_name="subjects",
        schema="privacy",
        postgresql_where=sa.text("email_bidx IS NOT NULL AND erased_at IS NULL"),
    )
    op.drop_index(
        "ix_subjects_tenant_phone_last4_bidx",
        table_name="subjects",
        schema="privacy",
        postgresql_where=sa.text("phone_last4_bidx IS NOT NULL"),
    )
    op.drop_index(
        "ix_subjects_tenant_phone_bidx",
        table_name="subjects",
        schema="privacy",
        postgresql_where=sa.text("phone_bidx IS NOT NULL"),
    )
    op.drop_table("subjects", schema="privacy")
    op.drop_table("retention_policies", schema="privacy")
    op.drop_index(
        "ix_legal_holds_tenant_active",
        table_name="legal_holds",
        schema="privacy",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_table("legal_holds", schema="privacy")
    op.drop_table("retention_defaults", schema="privacy")
    op.execute(f"REVOKE ALL ON SCHEMA privacy FROM {APP}")
    op.execute("DROP SCHEMA IF EXISTS privacy")
