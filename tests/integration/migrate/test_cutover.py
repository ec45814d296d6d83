"""`migrate cutover` and `rollback` on MyHibachi: the fence, the switch, tenantry's changes
written back to the legacy tables (a customer, and a chat message and an e-mail, both back into
core.messages). In a database of its own: MyHibachi's rows belong to one
fixed tenant (`myhibachi`), which another run of the same mapping would share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

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
from tenantry.models import ChatMessage, Customer, Message
from tests.integration.migrate.conftest import one, owner, run_tenants
from tests.legacy.myhibachi.data import FERNET_KEYS as MH_KEYS
from tests.private_db import private_database


def _thread_of(db: Database, url: str, run: str, tenant: Any, channel: str) -> Any:
    """The canonical id of a loaded thread whose source channel is `channel`."""
    with owner(db) as conn:
        keys = dict(
            conn.execute(
                "SELECT source_key, canonical_id FROM migrate.id_map WHERE run = %s"
                " AND entity = 'threads' AND outcome = 'loaded' AND canonical_tenant = %s",
                (run, tenant),
            ).fetchall()
        )
    with psycopg.connect(url) as src:
        key = one(
            src,
            "SELECT id::text FROM core.message_threads WHERE channel::text = %s"
            " AND id::text = ANY(%s) ORDER BY id LIMIT 1",
            channel,
            list(keys),
        )
    return keys[key]


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
    # A customer that came from core.customers alone (MyHibachi also has public.customers, and
    # a change goes back to the table the customer came from).
    with owner(mdb) as conn:
        from_core = [
            r[0]
            for r in conn.execute(
                "SELECT m.canonical_id FROM migrate.id_map m WHERE m.run = %s"
                " AND m.entity = 'core_customers' AND m.canonical_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM migrate.id_map o WHERE o.run = m.run"
                " AND o.canonical_id = m.canonical_id AND o.entity <> m.entity)",
                (run,),
            ).fetchall()
        ]
    with mdb.platform_uow(tenant_id=tenant) as uow:
        customer = uow.session.scalars(
            sa.select(Customer)
            .where(
                Customer.tenant_id == tenant,
                Customer.deleted_at.is_(None),
                Customer.id.in_(from_core),
            )
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
        # A chat message and an e-mail written in tenantry go back into core.messages.
        for model, kind in ((ChatMessage, "web_chat"), (Message, "email")):
            thread = _thread_of(mdb, url, run, tenant, kind)
            uow.session.add(
                model(
                    tenant_id=tenant,
                    id=mdb.ids(),
                    thread_id=thread,
                    channel="web" if kind == "web_chat" else "email",
                    direction="outbound",
                    author_kind="staff",
                    body=f"Antwort per {kind}",
                    sent_at=datetime.now(UTC),
                )
            )
        uow.commit()
    back = rollback(mdb, url, mapping, run=run, fernet_keys=keys)
    assert back.inserted.get("core_customers") == 1
    assert back.inserted.get("chat_messages") == 1 and back.inserted.get("messages") == 1
    with psycopg.connect(url) as src:
        written = src.execute(
            "SELECT th.channel::text, m.direction, m.sender_type FROM core.messages m"
            " JOIN core.message_threads th ON th.id = m.thread_id WHERE m.content LIKE 'Antwort per %'"
            " ORDER BY 1"
        ).fetchall()
    assert written == [("email", "outbound", "agent"), ("web_chat", "outbound", "agent")]
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
