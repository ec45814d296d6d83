"""The isolation matrix: as `tenantry_app` bound to tenant A, tenant B's rows cannot be read,
changed, deleted or forged, in every table with a tenant_id; unbound, nothing is visible."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import sessionmaker

from tenantry.audit.bulk import bulk_batch
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.db.uow import UnitOfWork
from tenantry.errors import PermissionDeniedError, TenantryError
from tenantry.ids import uuid7
from tenantry.models import Base, tenant_tables
from tests.conftest import TenantFixture, make_tenant
from tests.factories import populate_every_table

TENANT_TABLES = tenant_tables()
# Written only by the audit trigger: the application may read its own tenant's rows, nothing else.
TRIGGER_WRITTEN = ["audit.bulk_batches", "audit.bulk_rows", "audit.chain_heads", "audit.log"]
WRITABLE = [t for t in TENANT_TABLES if t not in TRIGGER_WRITTEN]
# Tables the application may only append to (no UPDATE or DELETE grant).
APPEND_ONLY = {
    "privacy.consent_journal",
    "privacy.erasure_receipts",
    "insight.retrievals",
    "insight.statement_evidence",
    "engage.message_purges",  # read only: the chat upkeep (as the owner) writes it
    "commerce.match_decisions",
    "commerce.webhook_endpoints",  # read only: `payments stripe-secret` (as the owner) writes it
    "commerce.mailbox_cursors",  # read only: `payments watch` (as the owner) writes it
    "decisions.lead_models",  # a trained version is never changed
    "decisions.credit_entries",  # the credits ledger: insert only
}
# Tables the application may update but not delete from (evidence: only its supersession).
KEPT_FOR_ACCOUNTABILITY = {
    "privacy.dsar_requests",
    "insight.evidence",
    "insight.statements",
    "insight.analysis_runs",
    # GoBD: issued invoices, their lines and the number counters (no DELETE grant) stay.
    "commerce.invoices",
    "commerce.invoice_lines",
    "commerce.invoice_counters",
    # Partner credits and offers: the ledger's state (no DELETE grant; removed with the partner).
    "decisions.credit_balances",
    "decisions.credit_lots",
    "decisions.lead_assignments",
}


def _bulk_load_one_lead(target: DatabaseTarget, rows: dict[str, Base]) -> None:
    """A bulk batch (as the owner), so the trigger writes the bulk audit tables too."""
    location = rows["identity.locations"]
    with psycopg.connect(target.libpq(target.owner_url)) as conn:
        with bulk_batch(conn, location.tenant_id, "test:isolation"):  # type: ignore[attr-defined]
            conn.execute(
                "INSERT INTO crm.leads (tenant_id, id, location_id, source)"
                " VALUES (%s, %s, %s, 'chat')",
                (location.tenant_id, uuid7(), location.id),  # type: ignore[attr-defined]
            )
        conn.commit()


@pytest.fixture(scope="module")
def two_tenants(
    db: Database, target: DatabaseTarget
) -> tuple[TenantFixture, TenantFixture, dict[str, Base], dict[str, Base]]:
    a, b = make_tenant(db), make_tenant(db)
    rows_a, rows_b = populate_every_table(db, a.id), populate_every_table(db, b.id)
    _bulk_load_one_lead(target, rows_a)
    _bulk_load_one_lead(target, rows_b)
    return a, b, rows_a, rows_b


def _count(uow: UnitOfWork, table: str, tenant_id: uuid.UUID | None = None) -> int:
    sql = f"SELECT count(*) FROM {table}"
    if tenant_id is None:
        return int(uow.session.scalar(text(sql)) or 0)
    return int(uow.session.scalar(text(sql + " WHERE tenant_id = :t"), {"t": tenant_id}) or 0)


def test_every_tenant_table_has_a_row_in_the_fixture(db: Database, two_tenants) -> None:
    a, b, rows_a, rows_b = two_tenants
    assert sorted(rows_a) == WRITABLE == sorted(rows_b)
    assert sorted(TRIGGER_WRITTEN) == sorted(set(TENANT_TABLES) - set(WRITABLE))
    with db.platform_uow() as uow:
        for table in TRIGGER_WRITTEN:  # the trigger wrote them while the fixture inserted
            assert _count(uow, table, a.id) >= 1 and _count(uow, table, b.id) >= 1


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_select_of_other_tenant_rows_returns_nothing(db: Database, two_tenants, table: str) -> None:
    a, b, _ra, _rb = two_tenants
    with db.tenant_uow(a.id) as uow:
        assert _count(uow, table, b.id) == 0
        assert _count(uow, table, a.id) >= 1
        assert _count(uow, table) == _count(uow, table, a.id)


@pytest.mark.parametrize("table", [t for t in WRITABLE if t not in APPEND_ONLY])
def test_update_and_delete_of_other_tenant_rows_affect_nothing(
    db: Database, two_tenants, table: str
) -> None:
    a, b, _ra, _rb = two_tenants
    with db.tenant_uow(a.id) as uow:
        updated = uow.session.execute(
            text(f"UPDATE {table} SET updated_at = now() WHERE tenant_id = :t"), {"t": b.id}
        )
        assert updated.rowcount == 0  # type: ignore[attr-defined]
        if table not in KEPT_FOR_ACCOUNTABILITY:
            deleted = uow.session.execute(
                text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": b.id}
            )
            assert deleted.rowcount == 0  # type: ignore[attr-defined]
        uow.commit()
    with db.platform_uow() as uow:
        assert _count(uow, table, b.id) >= 1


@pytest.mark.parametrize("table", sorted(KEPT_FOR_ACCOUNTABILITY))
def test_accountability_records_cannot_be_deleted_by_the_application(
    db: Database, two_tenants, table: str
) -> None:
    a, _b, _ra, _rb = two_tenants
    with pytest.raises(PermissionDeniedError), db.tenant_uow(a.id) as uow:
        uow.session.execute(text(f"DELETE FROM {table}"))


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
@pytest.mark.parametrize("statement", ["UPDATE {t} SET tenant_id = tenant_id", "DELETE FROM {t}"])
def test_append_only_tables_refuse_update_and_delete_by_the_application(
    db: Database, two_tenants, table: str, statement: str
) -> None:
    a, _b, _ra, _rb = two_tenants
    with pytest.raises(PermissionDeniedError), db.tenant_uow(a.id) as uow:
        uow.session.execute(text(statement.format(t=table)))
    with db.tenant_uow(a.id) as uow:
        assert _count(uow, table) >= 1


def _row_values(row: Base) -> dict[str, object]:
    mapper = inspect(row).mapper
    return {c.key: getattr(row, c.key) for c in mapper.column_attrs}


@pytest.mark.parametrize("table", TRIGGER_WRITTEN)
@pytest.mark.parametrize("statement", ["UPDATE {} SET tenant_id = tenant_id", "DELETE FROM {}"])
@pytest.mark.parametrize("whose", ["own", "other"])
def test_append_only_rows_cannot_be_changed_or_deleted_by_the_application(
    db: Database, two_tenants, table: str, statement: str, whose: str
) -> None:
    a, b, _ra, _rb = two_tenants
    tenant = a if whose == "own" else b
    with db.platform_uow() as uow:
        before = _count(uow, table, tenant.id)
    with pytest.raises(PermissionDeniedError), db.tenant_uow(a.id) as uow:
        uow.session.execute(
            text(statement.format(table) + " WHERE tenant_id = :t"), {"t": tenant.id}
        )
        uow.commit()
    with db.platform_uow() as uow:
        assert _count(uow, table, tenant.id) == before


@pytest.mark.parametrize("table", TRIGGER_WRITTEN)
@pytest.mark.parametrize("whose", ["own", "other"])
def test_append_only_rows_cannot_be_inserted_by_the_application(
    db: Database, two_tenants, table: str, whose: str
) -> None:
    a, b, _ra, _rb = two_tenants
    tenant = a if whose == "own" else b
    with db.platform_uow() as uow:
        before = _count(uow, table, tenant.id)
        columns = ", ".join(
            uow.session.execute(
                text(
                    "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass)"
                    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
                ),
                {"t": table},
            ).scalars()
        )
    with pytest.raises(PermissionDeniedError), db.tenant_uow(a.id) as uow:
        uow.session.execute(
            text(
                f"INSERT INTO {table} SELECT {columns} FROM {table} WHERE tenant_id = :a LIMIT 1"
            ).bindparams(a=a.id)
            if whose == "own"
            else text(f"INSERT INTO {table} (tenant_id) VALUES (:t)").bindparams(t=tenant.id)
        )
        uow.commit()
    with db.platform_uow() as uow:
        assert _count(uow, table, tenant.id) == before


@pytest.mark.parametrize("table", WRITABLE)
def test_insert_with_other_tenant_id_is_rejected(db: Database, two_tenants, table: str) -> None:
    a, b, _ra, rows_b = two_tenants
    model = type(rows_b[table])
    values = _row_values(rows_b[table])
    if "id" in values:
        values["id"] = db.ids()
    with db.platform_uow() as uow:
        before = _count(uow, table, b.id)
    with pytest.raises(PermissionDeniedError), db.tenant_uow(a.id) as uow:
        uow.session.add(model(**values))
        uow.flush()
    with db.platform_uow() as uow:
        assert _count(uow, table, b.id) == before


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_moving_a_row_into_another_tenant_is_rejected(
    db: Database, two_tenants, table: str
) -> None:
    a, b, _ra, _rb = two_tenants
    with pytest.raises(TenantryError), db.tenant_uow(a.id) as uow:
        uow.session.execute(text(f"UPDATE {table} SET tenant_id = :b"), {"b": b.id})


@pytest.mark.parametrize("table", [*TENANT_TABLES, "identity.tenants", "identity.users"])
def test_without_a_bound_tenant_nothing_is_visible(db: Database, two_tenants, table: str) -> None:
    with db.unbound_uow() as uow:
        assert _count(uow, table) == 0


def test_without_a_bound_tenant_writes_are_rejected(db: Database, two_tenants) -> None:
    _a, _b, rows_a, _rb = two_tenants
    values = _row_values(rows_a["crm.leads"]) | {"id": db.ids()}
    with pytest.raises(PermissionDeniedError), db.unbound_uow() as uow:
        uow.session.add(type(rows_a["crm.leads"])(**values))
        uow.flush()


def test_tenant_sees_only_its_own_tenant_row_and_member_users(db: Database, two_tenants) -> None:
    a, _b, _ra, _rb = two_tenants
    with db.tenant_uow(a.id) as uow:
        tenants = uow.session.execute(text("SELECT id FROM identity.tenants")).scalars().all()
        assert tenants == [a.id]
        users = uow.session.execute(text("SELECT id FROM identity.users")).scalars().all()
        members = (
            uow.session.execute(text("SELECT user_id FROM identity.memberships")).scalars().all()
        )
        assert sorted(users) == sorted(members) and users


def test_application_role_cannot_create_tenants_or_users(db: Database, two_tenants) -> None:
    a, _b, _ra, _rb = two_tenants
    with pytest.raises(PermissionDeniedError), db.tenant_uow(a.id) as uow:
        uow.session.execute(
            text(
                "INSERT INTO identity.users (id, email) VALUES (gen_random_uuid(), 'x@example.com')"
            )
        )


@pytest.fixture
def single_connection_db(db: Database) -> Database:
    """A Database whose app pool holds exactly one connection, so reuse is certain."""
    engine = create_engine(db.target.app_url, pool_size=1, max_overflow=0)
    other = Database(target=db.target, app_engine=engine, owner_engine=db.owner_engine)
    yield other
    engine.dispose()


def _pid_and_tenant(uow: UnitOfWork) -> tuple[int, str | None]:
    row = uow.session.execute(
        text("SELECT pg_backend_pid(), current_setting('tenantry.tenant_id', true)")
    ).one()
    return row[0], row[1]


def test_pooled_connection_carries_no_tenant_after_commit(
    single_connection_db: Database, two_tenants
) -> None:
    a, _b, _ra, _rb = two_tenants
    with single_connection_db.tenant_uow(a.id) as uow:
        pid_a, bound = _pid_and_tenant(uow)
        assert bound == str(a.id)
        uow.commit()
    with single_connection_db.unbound_uow() as uow:
        pid, bound = _pid_and_tenant(uow)
        assert pid == pid_a
        assert not bound
        assert _count(uow, "crm.leads") == 0


def test_pooled_connection_carries_no_tenant_after_abort(
    single_connection_db: Database, two_tenants
) -> None:
    a, _b, _ra, _rb = two_tenants
    with pytest.raises(TenantryError), single_connection_db.tenant_uow(a.id) as uow:
        pid_a, _ = _pid_and_tenant(uow)
        uow.session.execute(text("SELECT 1/0"))
    with single_connection_db.unbound_uow() as uow:
        pid, bound = _pid_and_tenant(uow)
        assert pid == pid_a
        assert not bound
        assert _count(uow, "crm.customers") == 0


def test_set_local_does_not_leak_even_when_session_level_set_is_attempted(
    single_connection_db: Database, two_tenants
) -> None:
    """A transaction-local binding ends with the transaction, also on the raw session."""
    a, _b, _ra, _rb = two_tenants
    factory = sessionmaker(single_connection_db.app_engine)
    with factory() as session:
        session.execute(text("SELECT set_config('tenantry.tenant_id', :t, true)"), {"t": str(a.id)})
        assert session.scalar(text("SELECT count(*) FROM crm.leads")) >= 1
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM crm.leads")) == 0
