"""Row level security and the application role's grants.

Every table with a `tenant_id` column gets RLS ENABLED and FORCED with one policy comparing
`tenant_id` to the transaction's `tenantry.tenant_id` setting. Unset (or reset to '') the
setting yields NULL, so nothing is visible and nothing can be written: the policy fails closed.
`tenantry_app` gets exactly the privileges it needs and owns nothing.

The table list is spelled out here on purpose: a migration must not change meaning when the
models change later. A catalog test fails if a tenant table is missing from RLS.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
SCHEMAS = ("identity", "crm", "commerce", "engage", "channel", "insight")
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"

TENANT_TABLES = (
    "identity.locations",
    "identity.memberships",
    "identity.membership_locations",
    "identity.identity_links",
    "crm.customers",
    "crm.vehicles",
    "crm.leads",
    "crm.lead_score_history",
    "crm.lead_interactions",
    "commerce.services",
    "commerce.bookings",
    "commerce.booking_items",
    "commerce.payments",
    "commerce.invoices",
    "commerce.payment_notifications",
    "engage.threads",
    "engage.messages",
    "engage.reviews",
    "engage.campaigns",
    "engage.email_events",
    "channel.connections",
    "insight.visibility_checks",
    "insight.evidence",
    "insight.recommendations",
    "insight.recommendation_evidence",
    "insight.analytics_snapshots",
)


def _protect(table: str, using: str, check: str | None = None) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    with_check = f" WITH CHECK ({check})" if check else ""
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({using}){with_check}")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP}")

    for table in TENANT_TABLES:
        _protect(table, f"tenant_id = {CURRENT_TENANT}", f"tenant_id = {CURRENT_TENANT}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP}")

    # A tenant sees and may edit its own account row; creating and closing accounts is platform work.
    _protect("identity.tenants", f"id = {CURRENT_TENANT}", f"id = {CURRENT_TENANT}")
    op.execute(f"GRANT SELECT, UPDATE ON identity.tenants TO {APP}")

    # Users are global; a tenant sees only the users that are its members.
    _protect(
        "identity.users",
        "EXISTS (SELECT 1 FROM identity.memberships m"
        f" WHERE m.user_id = users.id AND m.tenant_id = {CURRENT_TENANT})",
    )
    op.execute(f"GRANT SELECT ON identity.users TO {APP}")

    # Cross-tenant reference figures: readable by every tenant, written by the platform.
    op.execute(f"GRANT SELECT ON insight.benchmarks TO {APP}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON insight.benchmarks FROM {APP}")
    for table in ("identity.users", "identity.tenants", *TENANT_TABLES):
        op.execute(f"REVOKE ALL ON {table} FROM {APP}")
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for schema in SCHEMAS:
        op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {APP}")
