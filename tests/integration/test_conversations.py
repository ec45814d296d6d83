"""Chat partitions and their upkeep under a simulated clock (in a database of the test's own,
since the upkeep drops every tenant's old months), and messages in the data-subject footprint:
the access export shows them, the erasure removes them."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.config import Settings
from tenantry.conversations.escalations import escalate_thread
from tenantry.conversations.scheduled import UPKEEP_LOCK, UpkeepTimer, upkeep_once
from tenantry.conversations.threads import open_thread, post_message
from tenantry.conversations.upkeep import UpkeepReport, chat_partitions, upkeep_chat_partitions
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.ids import uuid7
from tenantry.models import Customer
from tenantry.models.enums import HoldScope, MembershipRole
from tenantry.services.principal import Principal
from tenantry.services.privacy.erasure import erase_subject
from tenantry.services.privacy.export import export_subject
from tenantry.services.privacy.retention import place_hold
from tenantry.services.resources import create_customer
from tests.conftest import TenantFixture, make_tenant
from tests.private_db import private_database

NOW = datetime(2031, 6, 15, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def own_db(server: DatabaseTarget, settings: Settings) -> Iterator[Database]:
    with private_database(server, settings, "chat_upkeep") as db:
        yield db


def _clocked(db: Database, clock: FixedClock) -> Database:
    return Database(
        target=db.target,
        app_engine=db.app_engine,
        owner_engine=db.owner_engine,
        clock=clock,
        sealing=db.sealing,
    )


def _upkeep(db: Database, now: datetime) -> UpkeepReport:
    with psycopg.connect(db.target.libpq(db.target.owner_url)) as conn:
        report = upkeep_chat_partitions(conn, uuid7, now=now)
        conn.commit()
    return report


def _partitions(db: Database) -> list[str]:
    with psycopg.connect(db.target.libpq(db.target.owner_url)) as conn:
        return chat_partitions(conn)


def _customer_thread(
    db: Database, tenant: TenantFixture, email: str
) -> tuple[uuid.UUID, uuid.UUID]:
    owner = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        customer: Customer = create_customer(
            uow, owner, home_location_id=tenant.locations[0], first_name="Erika", email=email
        )
        thread = open_thread(uow, owner, customer_id=customer.id, channel="sms")
        uow.commit()
        return customer.id, thread.id


def _say(
    db: Database, clock: FixedClock, tenant: TenantFixture, thread: uuid.UUID, at: datetime
) -> uuid.UUID:
    clock.set(at)
    with db.tenant_uow(tenant.id) as uow:
        m = post_message(
            uow, tenant.principal(), thread, body=f"Hallo {at:%B}", direction="inbound"
        )
        uow.commit()
        return m.id


def _chat_ids(db: Database, tenant: TenantFixture) -> set[uuid.UUID]:
    with db.platform_uow() as uow:
        return set(
            uow.session.scalars(
                sa.text("SELECT id FROM engage.chat_messages WHERE tenant_id = :t"),
                {"t": tenant.id},
            )
        )


def test_upkeep_drops_months_past_90_days_keeps_the_rest_and_what_a_hold_covers(
    own_db: Database,
) -> None:
    clock = FixedClock(datetime(2031, 2, 10, tzinfo=UTC))
    db = _clocked(own_db, clock)
    tenant = make_tenant(own_db)
    first = _upkeep(db, clock.now())
    assert {f"chat_messages_y2031m{m:02d}" for m in (2, 3, 4, 5)} <= set(_partitions(db))
    assert first.created >= 4

    _customer, thread = _customer_thread(db, tenant, "erika.chat@example.org")
    held_customer, held_thread = _customer_thread(db, tenant, "max.chat@example.org")
    january = _say(db, clock, tenant, thread, datetime(2031, 1, 20, 12, tzinfo=UTC))  # DEFAULT
    february = _say(db, clock, tenant, thread, datetime(2031, 2, 15, 12, tzinfo=UTC))
    may = _say(db, clock, tenant, thread, datetime(2031, 5, 20, 12, tzinfo=UTC))
    kept = _say(db, clock, tenant, held_thread, datetime(2031, 2, 16, 12, tzinfo=UTC))
    with db.tenant_uow(tenant.id) as uow:
        place_hold(
            uow,
            Principal(tenant_id=tenant.id, role=MembershipRole.DPO),
            scope=HoldScope.CUSTOMER,
            target_id=held_customer,
            reason="court case",
            placed_by="test",
        )
        uow.commit()

    report = _upkeep(db, NOW)  # four months after February: the 90 days are over
    assert _chat_ids(db, tenant) == {may, kept}
    assert january not in _chat_ids(db, tenant) and february not in _chat_ids(db, tenant)
    partitions = set(_partitions(db))
    assert "chat_messages_y2031m02" not in partitions
    assert {"chat_messages_y2031m04", "chat_messages_y2031m05"} <= partitions  # not yet due
    assert {f"chat_messages_y2031m{m:02d}" for m in (6, 7, 8, 9)} <= partitions  # ahead
    february_drop = next(d for d in report.dropped if d.partition == "chat_messages_y2031m02")
    assert (february_drop.rows, february_drop.kept) == (1, 1)
    assert report.default_deleted == 1

    with db.platform_uow() as uow:
        purges = uow.session.execute(
            sa.text(
                "SELECT month, partition_name, rows_dropped, rows_kept FROM engage.message_purges"
                " WHERE tenant_id = :t ORDER BY month"
            ),
            {"t": tenant.id},
        ).all()
        trail = uow.session.execute(
            sa.text(
                "SELECT actor, new_values FROM audit.log WHERE tenant_id = :t"
                " AND table_name = 'engage.message_purges' ORDER BY seq"
            ),
            {"t": tenant.id},
        ).all()
        held_at = uow.session.scalar(
            sa.text("SELECT tableoid::regclass::text FROM engage.chat_messages WHERE id = :m"),
            {"m": kept},
        )
    assert [
        (p.month.isoformat(), p.partition_name, p.rows_dropped, p.rows_kept) for p in purges
    ] == [
        ("2031-01-01", "chat_messages_default", 1, 0),
        ("2031-02-01", "chat_messages_y2031m02", 1, 1),
    ]
    assert held_at == "engage.chat_messages_default"
    assert len(trail) == 2 and {t.actor for t in trail} == {"system:chat-upkeep"}
    assert all("Hallo" not in json.dumps(t.new_values) for t in trail)
    assert {t.new_values["rows_dropped"] for t in trail} == {1}

    again = _upkeep(db, NOW)  # idempotent
    assert (again.created, again.dropped, again.default_deleted) == (0, [], 0)
    assert _chat_ids(db, tenant) == {may, kept}


def test_every_chat_partition_forces_row_level_security(own_db: Database) -> None:
    _upkeep(own_db, NOW)
    with psycopg.connect(own_db.target.libpq(own_db.target.owner_url)) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            " (SELECT count(*) FROM pg_policies p WHERE p.schemaname = 'engage'"
            "  AND p.tablename = c.relname AND p.policyname = 'tenant_isolation'),"
            " has_table_privilege('tenantry_app', c.oid, 'SELECT')"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'engage.chat_messages'::regclass"
        ).fetchall()
    assert len(rows) >= 5
    for name, enabled, forced, policies, app_may_read in rows:
        assert enabled and forced and policies == 1, name
        assert not app_may_read, name  # only through the parent


def test_messages_are_in_the_export_and_gone_after_the_erasure(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    email = f"erika.{uuid.uuid4().hex[:8]}@example.org"
    dpo = Principal(tenant_id=tenant.id, role=MembershipRole.DPO)
    _customer, thread = _customer_thread(clocked_db, tenant, email)
    with clocked_db.tenant_uow(tenant.id) as uow:
        owner = tenant.principal()
        post_message(uow, owner, thread, body="Mein Auto klappert", direction="inbound")
        post_message(
            uow, owner, thread, body="Ihr Termin am Montag", direction="outbound", channel="email"
        )
        escalate_thread(uow, owner, thread, reason="Kunde verärgert")
        uow.commit()

    with clocked_db.tenant_uow(tenant.id) as uow:
        exported = export_subject(uow, dpo, email)
        uow.commit()
    with zipfile.ZipFile(io.BytesIO(exported.bundle)) as zf:
        chat = json.loads(zf.read("data/engage.chat_messages.json"))
        mail = json.loads(zf.read("data/engage.messages.json"))
        escalations = json.loads(zf.read("data/engage.escalations.json"))
    assert [m["body"] for m in chat] == ["Mein Auto klappert"]
    assert [m["body"] for m in mail] == ["Ihr Termin am Montag"]
    assert [e["reason"] for e in escalations] == ["Kunde verärgert"]

    with clocked_db.tenant_uow(tenant.id) as uow:
        erased = erase_subject(uow, dpo, email)
        uow.commit()
    summary = erased.receipt.summary
    assert summary["engage.chat_messages"] == {"deleted": 1}
    assert summary["engage.messages"] == {"deleted": 1}
    assert summary["engage.escalations"] == {"deleted": 1}
    assert erased.hits == []
    with clocked_db.platform_uow() as uow:
        left = uow.session.scalar(
            sa.text(
                "SELECT count(*) FROM engage.chat_messages WHERE tenant_id = :t AND thread_id = :th"
            ),
            {"t": tenant.id, "th": thread},
        )
    assert left == 0


def test_the_audit_trail_records_chat_messages_under_the_parent_without_their_bodies(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    _customer, thread = _customer_thread(
        clocked_db, tenant, f"e.{uuid.uuid4().hex[:8]}@example.org"
    )
    with clocked_db.tenant_uow(tenant.id) as uow:
        message = post_message(uow, tenant.principal(), thread, body="Geheim", direction="inbound")
        uow.commit()
    with clocked_db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            sa.text("UPDATE engage.chat_messages SET author_kind = 'ai' WHERE id = :m"),
            {"m": message.id},
        )
        uow.session.execute(sa.text("DELETE FROM engage.threads WHERE id = :t"), {"t": thread})
        uow.commit()
    with clocked_db.platform_uow() as uow:
        entries = uow.session.execute(
            sa.text(
                "SELECT table_name, op, redacted_columns, old_values, new_values FROM audit.log"
                " WHERE tenant_id = :t AND row_id = :r ORDER BY seq"
            ),
            {"t": tenant.id, "r": str(message.id)},
        ).all()
    assert [(e.table_name, e.op) for e in entries] == [
        ("engage.chat_messages", "I"),
        ("engage.chat_messages", "U"),
        ("engage.chat_messages", "D"),  # with its thread (ON DELETE CASCADE)
    ]
    assert "body" in entries[0].redacted_columns and "body" in entries[2].redacted_columns
    assert all("Geheim" not in json.dumps([e.old_values, e.new_values]) for e in entries)
    assert all("body" not in (e.new_values or {}) | (e.old_values or {}) for e in entries)


def test_the_served_timer_runs_the_upkeep_and_one_process_at_a_time_does(
    own_db: Database,
) -> None:
    dsn = own_db.target.libpq(own_db.target.owner_url)
    with psycopg.connect(dsn) as holder:  # another process in the middle of an upkeep
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (UPKEEP_LOCK,))
        assert upkeep_once(dsn, now=NOW) is None
    upkeep_once(dsn, now=NOW)  # the month of NOW exists, for the timer's run to drop
    this_month = f"chat_messages_y{NOW:%Y}m{NOW:%m}"
    assert this_month in _partitions(own_db)
    later = NOW + timedelta(days=200)
    timer = UpkeepTimer(dsn, every_seconds=3600, now=lambda: later)
    timer.start()
    try:
        deadline = time.monotonic() + 30
        while timer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        timer.stop()
    assert timer.runs == 1
    ahead = later.replace(day=1) + timedelta(days=95)
    assert f"chat_messages_y{ahead:%Y}m{ahead:%m}" in _partitions(own_db)
    assert this_month not in _partitions(own_db)
