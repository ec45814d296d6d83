"""Catalog invariants: RLS on every tenant table, a powerless application role, tenant-first
keys, and every tenant_id anchored to identity.tenants."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tenantry.db.provider import DatabaseTarget
from tenantry.models import Base, tenant_tables

TENANT_TABLES = tenant_tables()

# Indexes that deliberately do not lead with tenant_id, and why.
CROSS_TENANT_INDEXES = {
    "ix_memberships_user_id": "login resolves a user's tenants (platform role, before binding)",
    "ix_inbox_relay_order": "the event relay moves every tenant's events in (txid, seq) order",
    "ix_outbox_relay_order": "the event relay moves every tenant's changes in (txid, seq) order",
    "ix_api_keys_secret_hash": "authentication finds an API key before a tenant is bound",
}


@pytest.fixture(scope="module")
def owner(target: DatabaseTarget):
    engine = create_engine(target.owner_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def test_every_table_with_tenant_id_is_known_to_the_models(owner) -> None:
    rows = (
        owner.execute(
            text(
                "SELECT n.nspname || '.' || c.relname FROM pg_attribute a"
                " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE a.attname = 'tenant_id' AND NOT a.attisdropped"
                " AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                " AND c.relpersistence <> 't'"  # a session's scratch tables (COPY staging)
                " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            )
        )
        .scalars()
        .all()
    )
    assert sorted(rows) == TENANT_TABLES


@pytest.mark.parametrize("table", [*TENANT_TABLES, "identity.tenants", "identity.users"])
def test_row_level_security_is_enabled_and_forced(owner, table: str) -> None:
    row = owner.execute(
        text(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).one()
    assert row.relrowsecurity and row.relforcerowsecurity
    policies = (
        owner.execute(
            text("SELECT qual FROM pg_policies WHERE schemaname || '.' || tablename = :t"),
            {"t": table},
        )
        .scalars()
        .all()
    )
    assert policies, f"{table} has no policy"
    assert all("tenantry.tenant_id" in (q or "") for q in policies)


def test_application_role_owns_nothing_and_cannot_bypass_rls(owner) -> None:
    role = owner.execute(
        text(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'tenantry_app'"
        )
    ).one()
    assert not any(role)
    owned = owner.execute(
        text(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
            " WHERE r.rolname = 'tenantry_app' AND c.relpersistence <> 't'"
        )
    ).scalar()
    owned_schemas = owner.execute(
        text(
            "SELECT count(*) FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner"
            " WHERE r.rolname = 'tenantry_app' AND n.nspname NOT LIKE 'pg_temp%'"
            " AND n.nspname NOT LIKE 'pg_toast_temp%'"
        )
    ).scalar()
    assert owned == 0 and owned_schemas == 0
    member_of = owner.execute(
        text(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'tenantry_app'"
        )
    ).scalar()
    assert member_of == 0


def test_every_table_is_owned_by_the_owner_role(owner) -> None:
    owners = (
        owner.execute(
            text(
                "SELECT DISTINCT r.rolname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_roles r ON r.oid = c.relowner"
                " WHERE n.nspname IN ('identity','crm','commerce','engage','channel','insight','audit')"
            )
        )
        .scalars()
        .all()
    )
    assert owners == ["tenantry_owner"]


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_primary_key_and_indexes_lead_with_tenant_id(table: str) -> None:
    t = Base.metadata.tables[table]
    assert t.primary_key.columns.keys()[0] == "tenant_id"
    for index in t.indexes:
        if index.name in CROSS_TENANT_INDEXES:
            continue
        first = index.expressions[0]
        assert getattr(first, "name", None) == "tenant_id", (
            f"{index.name} does not lead with tenant_id"
        )
    for constraint in t.constraints:
        cols = getattr(constraint, "columns", None)
        if constraint.__class__.__name__ == "UniqueConstraint":
            assert cols.keys()[0] == "tenant_id", f"{constraint.name} does not lead with tenant_id"


# The audit trail must outlive the rows and tenants it describes (legal retention), so it has no
# foreign key to them: its rows are written only by the trigger, from rows that are anchored.
UNANCHORED = {"audit.log", "audit.chain_heads", "audit.bulk_batches", "audit.bulk_rows"}


@pytest.mark.parametrize("table", sorted(set(TENANT_TABLES) - UNANCHORED))
def test_tenant_id_is_anchored_to_the_tenants_table(table: str) -> None:
    """Directly, or through a NOT NULL composite foreign key to an anchored table."""
    seen: set[str] = set()

    def anchored(name: str) -> bool:
        if name in seen:
            return False
        seen.add(name)
        t = Base.metadata.tables[name]
        for fk in t.foreign_key_constraints:
            cols = [c.name for c in fk.columns]
            if cols == ["tenant_id"] and fk.referred_table.fullname == "identity.tenants":
                return True
            parent_required = len(cols) == 2 and not t.c[cols[1]].nullable
            if cols[0] == "tenant_id" and parent_required and anchored(fk.referred_table.fullname):
                return True
        return False

    assert anchored(table)


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_references_to_tenant_rows_are_composite(table: str) -> None:
    """A foreign key into a tenant table always includes tenant_id, so it cannot cross tenants."""
    t = Base.metadata.tables[table]
    for fk in t.foreign_key_constraints:
        if "tenant_id" in fk.referred_table.c and fk.referred_table.fullname != "identity.tenants":
            assert next(c.name for c in fk.columns) == "tenant_id", fk.name


# High-volume technical logs of schema `events` (inbox, outbox, positions, idempotency records
# that expire within a day) are not audited: the changes they record are audited on their
# source rows, and auditing them would only add cost.
# The bandit's decision log is such a log too (the changes to what decides are audited).
UNAUDITED_LOGS = {"decisions.decisions"}
AUDITED_TABLES = [
    t for t in TENANT_TABLES if not t.startswith(("audit.", "events.")) and t not in UNAUDITED_LOGS
]
# Partitioned tables record updates and deletes per statement on the parent: a row trigger is
# cloned onto each partition and would name the partition, not the table.
STATEMENT_AUDITED = {"engage.chat_messages"}


@pytest.mark.parametrize("table", AUDITED_TABLES)
def test_every_tenant_table_has_the_audit_trigger(owner, table: str) -> None:
    rows = owner.execute(
        text(
            "SELECT t.tgname, t.tgenabled, p.prosecdef, pg_get_triggerdef(t.oid) FROM pg_trigger t"
            " JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = CAST(:t AS regclass) AND t.tgname LIKE 'audit_trail_%'"
        ),
        {"t": table},
    ).all()
    assert {r.tgname for r in rows} == {
        "audit_trail_insert",
        "audit_trail_update",
        "audit_trail_delete",
    }, f"{table} lacks audit triggers"
    for name, enabled, security_definer, definition in rows:
        event = name.removeprefix("audit_trail_").upper()
        assert enabled == "O" and security_definer
        per_statement = event == "INSERT" or table in STATEMENT_AUDITED
        level = "FOR EACH STATEMENT" if per_statement else "FOR EACH ROW"
        assert f"AFTER {event}" in definition and level in definition


def test_redacted_columns_are_exactly_the_models_personal_data_columns(owner) -> None:
    stored = {
        (r.table_name, r.column_name)
        for r in owner.execute(text("SELECT table_name, column_name FROM audit.redacted_columns"))
    }
    marked = {
        (t.fullname, c.name)
        for t in Base.metadata.tables.values()
        for c in t.columns
        if "pii" in c.info
    }
    assert marked, "the models mark personal data"
    assert stored == marked


def test_application_role_cannot_change_or_remove_audit_entries(owner) -> None:
    for table in ("audit.log", "audit.chain_heads", "audit.checkpoints", "audit.redacted_columns"):
        granted = {
            privilege
            for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
            if owner.execute(
                text("SELECT has_table_privilege('tenantry_app', CAST(:t AS regclass), :p)"),
                {"t": table, "p": privilege},
            ).scalar()
        }
        assert granted == set(), f"tenantry_app may {granted} on {table}"
    partitions = (
        owner.execute(
            text(
                "SELECT inhrelid::regclass::text FROM pg_inherits"
                " WHERE inhparent = CAST('audit.log' AS regclass)"
            )
        )
        .scalars()
        .all()
    )
    assert "audit.log_default" in partitions and len(partitions) > 3
    for partition in partitions:
        assert not owner.execute(
            text("SELECT has_table_privilege('tenantry_app', CAST(:t AS regclass), 'SELECT')"),
            {"t": partition},
        ).scalar()
        triggers = set(
            owner.execute(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass)"),
                {"t": partition},
            ).scalars()
        )
        assert {"audit_guard", "audit_guard_truncate"} <= triggers, partition


@pytest.mark.parametrize("function", ["audit.record()", "audit.record_rows()"])
def test_trigger_function_runs_with_a_fixed_search_path(owner, function: str) -> None:
    config = owner.execute(
        text("SELECT proconfig FROM pg_proc WHERE oid = CAST(:f AS regprocedure)"), {"f": function}
    ).scalar()
    assert config == ["search_path=pg_catalog, pg_temp"]


def test_the_register_says_how_each_personal_data_column_is_protected_at_rest() -> None:
    from tenantry.privacy.catalog import register

    entries = {f"{e.table}.{e.column}": e.protection for e in register()}
    assert entries["crm.customers.email"].startswith("AES-256-GCM under the data subject's key")
    assert entries["channel.connections.access_token"].endswith("records key")
    assert entries["privacy.subjects.email_bidx"].startswith("keyed HMAC")
    assert entries["identity.users.email"].endswith("records key")
    assert [c for c, p in entries.items() if p.startswith("plain text")] == []
