"""Conversations: chat messages in monthly partitions, escalations, purges, interaction kinds.

- `engage.chat_messages`: chat (web chat, SMS, social, voice transcripts), partitioned by
  RANGE of `sent_at`, one partition per month (`chat_messages_yYYYYmMM`) plus a DEFAULT one;
  the partition key is part of the primary key `(tenant_id, id, sent_at)`. E-mail stays
  correspondence in `engage.messages` (kept for its legal period by the retention runner).
- `engage.ensure_chat_partitions(from, months)` creates missing month partitions, each with
  row level security ENABLED and FORCED and the `tenant_isolation` policy (the application
  reaches them only through the parent, which is all it is granted). A month whose rows
  already fell into the DEFAULT partition keeps using it.
- Audit: the parent carries statement-level triggers for insert, update and delete (transition
  tables of all partitions, named as the parent). A row trigger would be cloned onto each
  partition and name the partition, missing `audit.redacted_columns`.
- `engage.escalations`: a thread or review handed to a member (assignee, sealed reason, status).
- `engage.message_purges`: one row per tenant and dropped month (row counts only), written by
  the upkeep; its audit entry is the record of the drop in the tenant's chain.
- `crm.lead_interactions` gains `kind` (call, email, visit, note, message, meeting); channel
  and direction become optional (a note has neither).

Revision ID: 0620
Revises: 0600
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0620"
down_revision: str | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
CHANNELS = ("web", "sms", "email", "social", "voice")
KINDS = ("call", "email", "visit", "note", "message", "meeting")
ESCALATION = ("open", "acknowledged", "resolved")
REDACTED = (("engage.chat_messages", "body"), ("engage.escalations", "reason"))


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


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


_QUOTED = CURRENT_TENANT.replace("'", "''")  # inside a quoted format string
ENSURE = f"""
CREATE FUNCTION engage.ensure_chat_partitions(p_from date, p_months integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_month date;
    v_name text;
    v_lo timestamptz;
    v_hi timestamptz;
    v_created integer := 0;
BEGIN
    FOR i IN 0 .. p_months - 1 LOOP
        v_month := (date_trunc('month', p_from) + make_interval(months => i))::date;
        v_name := 'chat_messages_y' || to_char(v_month, 'YYYY') || 'm' || to_char(v_month, 'MM');
        v_lo := v_month::timestamp AT TIME ZONE 'UTC';
        v_hi := (v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        CONTINUE WHEN to_regclass('engage.' || v_name) IS NOT NULL;
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM engage.chat_messages_default WHERE sent_at >= v_lo AND sent_at < v_hi
        );
        EXECUTE format(
            'CREATE TABLE engage.%I PARTITION OF engage.chat_messages FOR VALUES FROM (%L) TO (%L)',
            v_name, v_lo, v_hi);
        EXECUTE format('ALTER TABLE engage.%I ENABLE ROW LEVEL SECURITY', v_name);
        EXECUTE format('ALTER TABLE engage.%I FORCE ROW LEVEL SECURITY', v_name);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON engage.%I USING (tenant_id = {_QUOTED})'
            ' WITH CHECK (tenant_id = {_QUOTED})', v_name);
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END
$fn$;
"""

AUDIT = """
CREATE TRIGGER audit_trail_insert AFTER INSERT ON engage.chat_messages
    REFERENCING NEW TABLE AS audit_new
    FOR EACH STATEMENT EXECUTE FUNCTION audit.record_rows('id');
CREATE TRIGGER audit_trail_update AFTER UPDATE ON engage.chat_messages
    REFERENCING OLD TABLE AS audit_old NEW TABLE AS audit_new
    FOR EACH STATEMENT EXECUTE FUNCTION audit.record_rows('id');
CREATE TRIGGER audit_trail_delete AFTER DELETE ON engage.chat_messages
    REFERENCING OLD TABLE AS audit_old
    FOR EACH STATEMENT EXECUTE FUNCTION audit.record_rows('id');
"""


def upgrade() -> None:
    op.add_column(
        "lead_interactions",
        sa.Column("kind", _enum(KINDS, "interaction_kind"), server_default="note", nullable=False),
        schema="crm",
    )
    op.alter_column("lead_interactions", "channel", nullable=True, schema="crm")
    op.alter_column("lead_interactions", "direction", nullable=True, schema="crm")

    op.execute(
        """
CREATE TABLE engage.chat_messages (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    thread_id uuid NOT NULL,
    user_id uuid,
    channel varchar(6) NOT NULL,
    direction varchar(8) NOT NULL,
    author_kind varchar(8) NOT NULL,
    body bytea NOT NULL,
    sent_at timestamptz NOT NULL,
    subject_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_chat_messages PRIMARY KEY (tenant_id, id, sent_at),
    CONSTRAINT ck_chat_messages_channel CHECK (channel::text = ANY
        ((ARRAY['web', 'sms', 'email', 'social', 'voice'])::text[])),
    CONSTRAINT ck_chat_messages_chat_channel CHECK (channel::text <> 'email'),
    CONSTRAINT ck_chat_messages_direction CHECK (direction::text = ANY
        ((ARRAY['inbound', 'outbound'])::text[])),
    CONSTRAINT ck_chat_messages_author_kind CHECK (author_kind::text = ANY
        ((ARRAY['customer', 'staff', 'ai', 'system'])::text[])),
    CONSTRAINT fk_chat_messages_tenant_id_thread_id_threads FOREIGN KEY (tenant_id, thread_id)
        REFERENCES engage.threads (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_chat_messages_tenant_id_subject_id_subjects FOREIGN KEY (tenant_id, subject_id)
        REFERENCES privacy.subjects (tenant_id, id),
    CONSTRAINT fk_chat_messages_user_id_users FOREIGN KEY (user_id)
        REFERENCES identity.users (id) ON DELETE SET NULL
) PARTITION BY RANGE (sent_at);
CREATE INDEX ix_chat_messages_tenant_thread_sent
    ON engage.chat_messages (tenant_id, thread_id, sent_at);
CREATE INDEX ix_chat_messages_tenant_subject
    ON engage.chat_messages (tenant_id, subject_id) WHERE subject_id IS NOT NULL;
CREATE TABLE engage.chat_messages_default PARTITION OF engage.chat_messages DEFAULT;
"""
    )
    _rls("engage.chat_messages")
    _rls("engage.chat_messages_default")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON engage.chat_messages TO {APP}")
    op.execute(AUDIT)
    op.execute(ENSURE)
    op.execute("REVOKE ALL ON FUNCTION engage.ensure_chat_partitions(date, integer) FROM PUBLIC")
    op.execute(
        "SELECT engage.ensure_chat_partitions("
        "(date_trunc('month', now()) - interval '1 month')::date, 5)"
    )

    op.create_table(
        "escalations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid()),
        sa.Column("thread_id", sa.Uuid()),
        sa.Column("review_id", sa.Uuid()),
        sa.Column("assignee_id", sa.Uuid()),
        sa.Column("reason", sa.LargeBinary()),
        sa.Column(
            "status",
            _enum(ESCALATION, "escalation_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("escalated_by", sa.String(120), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("subject_id", sa.Uuid()),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_escalations"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_escalations_tenant_id_tenants"
        ),
        _tenant_fk("escalations", "location_id", "identity.locations"),
        _tenant_fk("escalations", "thread_id", "engage.threads", "CASCADE"),
        _tenant_fk("escalations", "review_id", "engage.reviews", "CASCADE"),
        _tenant_fk("escalations", "subject_id", "privacy.subjects"),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["identity.users.id"],
            name="fk_escalations_assignee_id_users",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "(thread_id IS NULL) <> (review_id IS NULL)", name="ck_escalations_thread_or_review"
        ),
        schema="engage",
    )
    op.create_index(
        "ix_escalations_tenant_status_assignee",
        "escalations",
        ["tenant_id", "status", "assignee_id"],
        schema="engage",
    )
    op.create_index(
        "ix_escalations_tenant_thread", "escalations", ["tenant_id", "thread_id"], schema="engage"
    )
    op.create_index(
        "ix_escalations_tenant_subject",
        "escalations",
        ["tenant_id", "subject_id"],
        schema="engage",
        postgresql_where=sa.text("subject_id IS NOT NULL"),
    )
    for column in ("thread_id", "review_id"):
        op.create_index(
            f"uq_escalations_tenant_{column.removesuffix('_id')}_unresolved",
            "escalations",
            ["tenant_id", column],
            unique=True,
            schema="engage",
            postgresql_where=sa.text(f"status <> 'resolved' AND {column} IS NOT NULL"),
        )
    _rls("engage.escalations")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON engage.escalations TO {APP}")
    op.execute("SELECT audit.enable('engage.escalations'::regclass)")

    op.create_table(
        "message_purges",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("partition_name", sa.String(63), nullable=False),
        sa.Column("rows_dropped", sa.Integer(), nullable=False),
        sa.Column("rows_kept", sa.Integer(), server_default="0", nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_message_purges"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["identity.tenants.id"], name="fk_message_purges_tenant_id_tenants"
        ),
        schema="engage",
    )
    op.create_index(
        "ix_message_purges_tenant_month", "message_purges", ["tenant_id", "month"], schema="engage"
    )
    _rls("engage.message_purges")
    op.execute(f"GRANT SELECT ON engage.message_purges TO {APP}")  # the owner writes it
    op.execute("SELECT audit.enable('engage.message_purges'::regclass)")

    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name) VALUES "
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM audit.redacted_columns WHERE (table_name, column_name) IN ("
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED)
        + ")"
    )
    op.execute("DROP TABLE engage.message_purges")
    op.execute("DROP TABLE engage.escalations")
    op.execute("DROP TABLE engage.chat_messages")  # its partitions go with it
    op.execute("DROP FUNCTION engage.ensure_chat_partitions(date, integer)")
    op.execute("UPDATE crm.lead_interactions SET channel = 'email' WHERE channel IS NULL")
    op.execute("UPDATE crm.lead_interactions SET direction = 'outbound' WHERE direction IS NULL")
    op.alter_column("lead_interactions", "direction", nullable=False, schema="crm")
    op.alter_column("lead_interactions", "channel", nullable=False, schema="crm")
    op.drop_column("lead_interactions", "kind", schema="crm")
