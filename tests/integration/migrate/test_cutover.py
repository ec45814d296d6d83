"""`migrate cutover` and `rollback` on MyHibachi: the fence, the switch, tenantry's changes
written back to the legacy tables. In a database of its own: MyHibachi's rows belong to one
fixed tenant (`myhibachi`), which another run of the same mapping would share."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.errors import ConflictError
from tenantry.migrate.cutover import cutover, rollback
from tenantry.migrate.load import load
from tenantry.migrate.mapping import load_mapping
from tenantry.models import Customer
from tests.integration.migrate.conftest import one, owner, run_tenants
from tests.legacy.myhibachi.data import FERNET_KEYS as MH_KEYS
from tests.private_db import private_database


@pytest.fixture(scope="module")
def mdb(server: DatabaseTarget, settings: Settings) -> Iterator[Database]:
    with private_database(server, settings, "cutover") as db:
        yield db


def test_cutover_fences_the_source_and_rollback_writes_tenantry_changes_back(
    mdb: Database, sources: Callable[..., str]
) -> None:
    url = sources("myhibachi", "cutover", 0.05)
    mapping = load_mapping("myhibachi")
    keys = MH_KEYS
    run = "cutover"
    load(mdb, url, mapping, run=run, fernet_keys=keys)
    with psycopg.connect(url, autocommit=True) as src:
        src.execute(
            "UPDATE core.customers SET notes = 'before the cutover' WHERE id ="
            " (SELECT id FROM core.customers WHERE deleted_at IS NULL ORDER BY id LIMIT 1)"
        )
    report = cutover(mdb, url, mapping, run=run, fernet_keys=keys)
    assert report.switched and report.verified is not None and report.verified.equal
    assert "core.customers" in report.fenced
    with psycopg.connect(url, autocommit=True) as src, pytest.raises(psycopg.Error) as fenced:
        src.execute("UPDATE core.customers SET notes = 'the old app writes'")
    assert "fenced" in str(fenced.value)
    tenant = run_tenants(mdb, run)[0]
    with mdb.platform_uow(tenant_id=tenant) as uow:
        customer = uow.session.scalars(
            sa.select(Customer)
            .where(Customer.tenant_id == tenant, Customer.deleted_at.is_(None))
            .order_by(Customer.id)
            .limit(1)
        ).one()
        changed = customer.id
        customer.notes = "changed in tenantry"
        uow.session.add(
            Customer(
                tenant_id=tenant,
                id=mdb.ids(),
                first_name="Neu",
                last_name="Kundin",
                email="neu.kundin@example.com",
                phone="+1 555 0100 123",
            )
        )
        uow.commit()
    back = rollback(mdb, url, mapping, run=run, fernet_keys=keys)
    assert back.inserted.get("core_customers") == 1
    assert back.updated.get("core_customers", 0) >= 1
    with psycopg.connect(url, autocommit=True) as src:
        with owner(mdb) as conn:
            source_key = one(
                conn,
                "SELECT source_key FROM migrate.id_map WHERE run = %s AND canonical_id = %s",
                run,
                changed,
            )
            assert one(conn, "SELECT phase FROM migrate.runs WHERE name = %s", run) == (
                "rolled_back"
            )
        notes = src.execute(
            "SELECT notes FROM core.customers WHERE id::text = %s", (source_key,)
        ).fetchone()
        assert notes == ("changed in tenantry",)
        email = src.execute(
            "SELECT email_encrypted FROM core.customers WHERE first_name = 'Neu'"
        ).fetchone()
        assert email is not None and email[0].startswith("gAAAAA")  # sealed again with Fernet
        assert Fernet(keys[0]).decrypt(email[0].encode()) == b"neu.kundin@example.com"
        src.execute("UPDATE core.customers SET notes = 'the old app writes again'")  # unfenced
    with pytest.raises(ConflictError):
        rollback(mdb, url, mapping, run=run, fernet_keys=keys)  # once is all
