"""Sealed personal data: PII columns hold AES-GCM ciphertext, rows name their data subject.

Every personal-data column of the business tables becomes `bytea` ciphertext, sealed by the
application under the data subject's key (or the tenant's records key for OAuth tokens). Each
table with such columns gains `subject_id` (composite foreign key to `privacy.subjects`), so an
erasure finds a person's rows by subject, and destroying the subject's key shreds any copy.
Indexes on plaintext values go; plates get a blind index instead.

A database that already holds plaintext personal data in these columns (a pre-release schema)
is refused rather than silently emptied: export what you need and re-seed.

Revision ID: 0101
Revises: 0100
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (column, original type, NOT NULL)
SEALED: dict[str, list[tuple[str, str, bool]]] = {
    "crm.customers": [
        ("first_name", "varchar(100)", False),
        ("last_name", "varchar(100)", False),
        ("email", "varchar(320)", False),
        ("phone", "varchar(40)", False),
        ("street", "varchar(200)", False),
        ("postal_code", "varchar(20)", False),
        ("city", "varchar(100)", False),
        ("notes", "text", False),
    ],
    "crm.leads": [
        ("first_name", "varchar(100)", False),
        ("last_name", "varchar(100)", False),
        ("email", "varchar(320)", False),
        ("phone", "varchar(40)", False),
        ("message", "text", False),
    ],
    "crm.vehicles": [("license_plate", "varchar(20)", False), ("vin", "varchar(17)", False)],
    "crm.lead_interactions": [("summary", "text", False)],
    "commerce.bookings": [("event_address", "varchar(300)", False), ("notes", "text", False)],
    "commerce.payments": [("payer_name", "varchar(200)", False)],
    "commerce.invoices": [
        ("billing_name", "varchar(200)", False),
        ("billing_address", "varchar(400)", False),
    ],
    "commerce.payment_notifications": [
        ("sender_name", "varchar(200)", False),
        ("sender_phone", "varchar(40)", False),
        ("memo", "varchar(500)", False),
    ],
    "engage.threads": [("subject", "varchar(300)", False)],
    "engage.messages": [("body", "text", True)],
    "engage.reviews": [("author_name", "varchar(200)", False), ("body", "text", False)],
    "engage.email_events": [("recipient", "varchar(320)", True)],
    "channel.connections": [("access_token", "text", False), ("refresh_token", "text", False)],
}
SUBJECT_LINKED = [t for t in SEALED if t != "channel.connections"]
PLAINTEXT_INDEXES = {
    "crm.ix_customers_tenant_email": "crm.customers (tenant_id, email)",
    "crm.ix_customers_tenant_phone": "crm.customers (tenant_id, phone)",
    "crm.ix_customers_tenant_last_name": "crm.customers (tenant_id, last_name)",
    "crm.ix_leads_tenant_email": "crm.leads (tenant_id, email) WHERE email IS NOT NULL",
    "crm.ix_vehicles_tenant_plate": "crm.vehicles (tenant_id, license_plate)",
}


def _refuse_plaintext() -> None:
    bind = op.get_bind()
    for table, columns in SEALED.items():
        condition = " OR ".join(f"{c} IS NOT NULL" for c, _t, _nn in columns)
        if bind.execute(
            sa.text(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {condition})")
        ).scalar():
            raise RuntimeError(
                f"{table} holds personal data from a pre-release schema in plaintext; "
                "this migration does not convert it: export it, drop the database and re-seed"
            )


def upgrade() -> None:
    _refuse_plaintext()
    for index in PLAINTEXT_INDEXES:
        op.execute(f"DROP INDEX {index}")
    op.execute("ALTER TABLE crm.vehicles DROP CONSTRAINT ck_vehicles_vin_length")
    for table, columns in SEALED.items():
        op.execute(
            f"ALTER TABLE {table} "
            + ", ".join(f"ALTER COLUMN {c} TYPE bytea USING NULL" for c, _t, _nn in columns)
        )
    for table in SUBJECT_LINKED:
        name = table.split(".")[1]
        op.execute(f"ALTER TABLE {table} ADD COLUMN subject_id uuid")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT fk_{name}_tenant_id_subject_id_subjects"
            " FOREIGN KEY (tenant_id, subject_id) REFERENCES privacy.subjects (tenant_id, id)"
        )
        op.execute(
            f"CREATE INDEX ix_{name}_tenant_subject ON {table} (tenant_id, subject_id)"
            " WHERE subject_id IS NOT NULL"
        )
    op.execute("ALTER TABLE crm.vehicles ADD COLUMN license_plate_bidx bytea")
    op.execute(
        "CREATE INDEX ix_vehicles_tenant_plate_bidx ON crm.vehicles (tenant_id, license_plate_bidx)"
        " WHERE license_plate_bidx IS NOT NULL"
    )
    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name)"
        " VALUES ('crm.vehicles', 'license_plate_bidx')"
    )


def downgrade() -> None:
    _refuse_plaintext()
    op.execute(
        "DELETE FROM audit.redacted_columns"
        " WHERE table_name = 'crm.vehicles' AND column_name = 'license_plate_bidx'"
    )
    op.execute("DROP INDEX crm.ix_vehicles_tenant_plate_bidx")
    op.execute("ALTER TABLE crm.vehicles DROP COLUMN license_plate_bidx")
    for table in SUBJECT_LINKED:
        op.execute(f"ALTER TABLE {table} DROP COLUMN subject_id")
    for table, columns in SEALED.items():
        op.execute(
            f"ALTER TABLE {table} "
            + ", ".join(f"ALTER COLUMN {c} TYPE {t} USING NULL" for c, t, _nn in columns)
        )
    op.execute(
        "ALTER TABLE crm.vehicles ADD CONSTRAINT ck_vehicles_vin_length"
        " CHECK (vin IS NULL OR length(vin) = 17)"
    )
    for index, definition in PLAINTEXT_INDEXES.items():
        op.execute(f"CREATE INDEX {index.split('.')[1]} ON {definition}")
