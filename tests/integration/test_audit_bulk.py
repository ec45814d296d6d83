"""Bulk batches: a bulk load writes one chained entry per table that commits to its rows, and
`verify` still finds any change to a loaded row that no audit entry accounts for.

This module uses its own database: it breaks rows and entries on purpose.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from tenantry.audit.bulk import bulk_batch
from tenantry.audit.merkle import merkle_root
from tenantry.audit.verify import Report, verify_trail
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.conversations.upkeep import upkeep_chat_partitions
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.db.provider import DatabaseTarget
from tenantry.errors import ValidationError
from tenantry.ids import uuid7, uuid7_from
from tests.conftest import TenantFixture, create_database, drop_database, make_tenant

RANDOM = random.Random(19)


@dataclass
class Bulk:
    db: Database
    target: DatabaseTarget
    settings: Settings

    def owner(self) -> psycopg.Connection:
        return psycopg.connect(self.target.libpq(self.target.owner_url))

    def app(self) -> psycopg.Connection:
        return psycopg.connect(self.target.libpq(self.target.app_url))

    def superuser(self) -> psycopg.Connection:
        url = self.target.admin_url.set(database=self.target.owner_url.database)
        conn = psycopg.connect(self.target.libpq(url), autocommit=True)
        conn.execute("SET session_replication_role = replica")  # triggers off: unaudited
        return conn

    def verify(self, tenant: uuid.UUID) -> Report:
        with self.owner() as conn:
            return verify_trail(conn, self.settings, tenant=tenant)

    def count(self, tenant: uuid.UUID, where: str = "true") -> int:
        with self.owner() as conn:
            row = conn.execute(
                f"SELECT count(*) FROM audit.log WHERE tenant_id = %s AND {where}", (tenant,)
            ).fetchone()
            assert row is not None
            return int(row[0])


@pytest.fixture(scope="module")
def bulk(server: DatabaseTarget, settings: Settings) -> Iterator[Bulk]:
    name = f"tenantry_audit_bulk_{os.getpid()}"
    target = create_database(server, name)
    upgrade(target)
    db = open_database(settings, target=target)
    yield Bulk(db, target, settings)
    db.dispose()
    drop_database(server, name)


def copy_leads(conn: psycopg.Connection, tenant: TenantFixture, n: int) -> list[uuid.UUID]:
    ids = [uuid7() for _ in range(n)]
    with conn.cursor().copy(
        "COPY crm.leads (tenant_id, id, location_id, source, score) FROM STDIN"
    ) as copy:
        for i, lead in enumerate(ids):
            copy.write_row((tenant.id, lead, tenant.locations[0], "web_quote", i % 100))
    return ids


def insert_leads(conn: psycopg.Connection, tenant: TenantFixture, n: int) -> None:
    """As the application writes (COPY is refused under row level security)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO crm.leads (tenant_id, id, location_id, source) VALUES (%s, %s, %s, 'chat')",
            [(tenant.id, uuid7(), tenant.locations[0]) for _ in range(n)],
        )


def load(bulk: Bulk, tenant: TenantFixture, n: int) -> list[uuid.UUID]:
    with bulk.owner() as conn:
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        with bulk_batch(conn, tenant.id, "test:leads") as batch:
            ids = copy_leads(conn, tenant, n)
        conn.commit()
    assert [(s.table, s.rows) for s in batch.sealed] == [("crm.leads", n)]
    return ids


def breaks(report: Report) -> list[tuple[str, str]]:
    return [(b.reason, b.detail) for b in report.breaks]


def test_a_bulk_load_writes_one_chained_entry_and_verifies(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    before = bulk.count(tenant.id)
    ids = load(bulk, tenant, 500)
    assert bulk.count(tenant.id) == before + 1
    assert bulk.count(tenant.id, "op = 'B' AND table_name = 'crm.leads'") == 1
    with bulk.owner() as conn:
        entry = conn.execute(
            "SELECT new_values FROM audit.log WHERE tenant_id = %s AND op = 'B'", (tenant.id,)
        ).fetchone()
        leaves = [
            bytes(r[0])
            for r in conn.execute(
                "SELECT leaf FROM audit.bulk_rows WHERE tenant_id = %s ORDER BY row_id",
                (tenant.id,),
            )
        ]
    assert entry is not None
    assert entry[0]["rows"] == 500 and entry[0]["source"] == "test:leads"
    assert entry[0]["merkle_root"] == merkle_root(leaves).hex()
    assert "score" in entry[0]["columns"]
    report = bulk.verify(tenant.id)
    assert report.intact, report.breaks
    assert report.batches == 1 and report.bulk_rows == len(ids)


def test_editing_a_loaded_row_without_an_audit_entry_is_detected_and_named(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    ids = load(bulk, tenant, 50)
    with bulk.superuser() as su:
        su.execute(
            "UPDATE crm.leads SET score = 99 WHERE tenant_id = %s AND id = %s", (tenant.id, ids[7])
        )
    report = bulk.verify(tenant.id)
    assert breaks(report) == [
        (
            "bulk row edited",
            f"crm.leads row {ids[7]} (batch {report_batch(bulk, tenant)})"
            " differs from its leaf without an audit entry",
        )
    ]


def report_batch(bulk: Bulk, tenant: TenantFixture) -> str:
    with bulk.owner() as conn:
        row = conn.execute(
            "SELECT row_id FROM audit.log WHERE tenant_id = %s AND op = 'B'", (tenant.id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_an_edit_with_the_table_triggers_disabled_is_detected(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    ids = load(bulk, tenant, 20)
    with bulk.superuser() as su:
        su.execute("SET session_replication_role = origin")
        su.execute("BEGIN")
        su.execute("ALTER TABLE crm.leads DISABLE TRIGGER audit_trail_update")
        su.execute("UPDATE crm.leads SET persona = NULL, score = 1 WHERE id = %s", (ids[3],))
        su.execute("ALTER TABLE crm.leads ENABLE TRIGGER audit_trail_update")
        su.execute("COMMIT")
    report = bulk.verify(tenant.id)
    assert [(b.reason, str(ids[3]) in b.detail) for b in report.breaks] == [
        ("bulk row edited", True)
    ]


def test_deleting_a_loaded_row_without_an_audit_entry_is_detected(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    ids = load(bulk, tenant, 20)
    with bulk.superuser() as su:
        su.execute("DELETE FROM crm.leads WHERE id = %s", (ids[11],))
    report = bulk.verify(tenant.id)
    assert [(b.reason, f"crm.leads row {ids[11]} " in b.detail) for b in report.breaks] == [
        ("bulk row deleted", True)
    ]


def test_tampering_with_the_batch_entry_or_its_leaves_is_detected(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    load(bulk, tenant, 30)
    with bulk.superuser() as su:
        su.execute(
            "UPDATE audit.log SET new_values = jsonb_set(new_values, '{rows}', '29')"
            " WHERE tenant_id = %s AND op = 'B'",
            (tenant.id,),
        )
    reasons = [b.reason for b in bulk.verify(tenant.id).breaks]
    assert reasons[0] == "edited"  # the chain covers the entry

    other = make_tenant(bulk.db)
    ids = load(bulk, other, 30)
    with bulk.superuser() as su:  # a forged leaf to match an edited row
        su.execute("UPDATE crm.leads SET score = 42 WHERE id = %s", (ids[0],))
        su.execute(
            "UPDATE audit.bulk_rows b SET leaf = sha256(convert_to(to_jsonb(l)::text, 'UTF8'))"
            " FROM crm.leads l WHERE b.tenant_id = %s AND l.id = %s AND b.row_id = l.id::text",
            (other.id, ids[0]),
        )
    assert [b.reason for b in bulk.verify(other.id).breaks] == ["bulk leaves altered"]


def test_audited_changes_after_the_load_are_not_reported(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    ids = load(bulk, tenant, 20)
    with bulk.db.tenant_uow(tenant.id, actor="user:test") as uow:
        from sqlalchemy import text

        uow.session.execute(text("UPDATE crm.leads SET score = 77 WHERE id = :i"), {"i": ids[1]})
        uow.session.execute(text("DELETE FROM crm.leads WHERE id = :i"), {"i": ids[2]})
        uow.commit()
    with bulk.owner() as conn:  # an update within the batch's own transaction, audited
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        with bulk_batch(conn, tenant.id, "test:leads") as batch:
            more = copy_leads(conn, tenant, 5)
            conn.execute("UPDATE crm.leads SET score = 3 WHERE id = %s", (more[0],))
        conn.commit()
    assert batch.rows == 5
    report = bulk.verify(tenant.id)
    assert report.intact, report.breaks
    assert report.batches == 2


def test_the_application_role_cannot_skip_per_row_entries(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    before = bulk.count(tenant.id)
    with bulk.app() as conn:
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        conn.execute("SELECT set_config('tenantry.audit_bulk_batch', %s, true)", (str(uuid7()),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only tenantry_owner"):
            insert_leads(conn, tenant, 3)
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "SELECT audit.seal_bulk_batch(%s, %s, 'crm.leads', 'x', %s)",
                (tenant.id, uuid7(), bytes(32)),
            )
        conn.rollback()
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        insert_leads(conn, tenant, 3)  # without the setting: one entry per row, as always
        conn.commit()
    assert bulk.count(tenant.id) == before + 3
    assert bulk.count(tenant.id, "op = 'B'") == 0


def test_an_unsealed_batch_cannot_commit_and_a_sealed_one_takes_no_more_rows(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    with bulk.owner() as conn:
        conn.execute("SELECT set_config('tenantry.audit_bulk_batch', %s, true)", (str(uuid7()),))
        copy_leads(conn, tenant, 3)
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="not sealed"):
            conn.commit()
    with bulk.owner() as conn:
        with bulk_batch(conn, tenant.id, "test:leads") as batch:
            copy_leads(conn, tenant, 2)
        conn.execute("SELECT set_config('tenantry.audit_bulk_batch', %s, true)", (str(batch.id),))
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="already sealed"):
            copy_leads(conn, tenant, 1)
        conn.rollback()
    other = make_tenant(bulk.db)
    with bulk.owner() as conn:
        with (
            pytest.raises(ValidationError, match="other tenants"),
            bulk_batch(conn, tenant.id, "test:leads"),
        ):
            copy_leads(conn, other, 1)
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="not sealed"):
            conn.commit()  # refused: the rows of the other tenant are in no sealed batch
    with (
        bulk.owner() as conn,
        pytest.raises(ValidationError, match="source"),
        bulk_batch(conn, tenant.id, "erika@example.org is not a source name!"),
    ):
        pass
    assert bulk.count(tenant.id, "op = 'B'") == 0


# -- chat: keyed by `id` (not its primary key), dropped a month at a time by the upkeep --------


def chat_month(months_ago: int) -> date:
    today = datetime.now(UTC).date().replace(day=1)
    index = today.year * 12 + today.month - 1 - months_ago
    return date(index // 12, index % 12 + 1, 1)


def load_chat(bulk: Bulk, tenant: TenantFixture, month: date, n: int) -> list[uuid.UUID]:
    """`n` chat messages in `month`, bulk loaded as the migrate loader does (ids of UUIDv7 at
    their `sent_at`)."""
    with bulk.owner() as conn:
        conn.execute("SELECT engage.ensure_chat_partitions(%s, 1)", (month,))
        conn.commit()
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        thread = uuid7()
        conn.execute(
            "INSERT INTO engage.threads (tenant_id, id, channel) VALUES (%s, %s, 'web')",
            (tenant.id, thread),
        )
        start = datetime(month.year, month.month, 2, 9, tzinfo=UTC)
        sent = [start + timedelta(minutes=i) for i in range(n)]
        ids = [uuid7_from(int(at.timestamp()) * 1000, RANDOM) for at in sent]
        copy_sql = (
            "COPY engage.chat_messages (tenant_id, id, thread_id, channel, direction,"
            " author_kind, body, sent_at) FROM STDIN"
        )
        with (
            bulk_batch(conn, tenant.id, "test:chat", time_ids="sent_at") as batch,
            conn.cursor().copy(copy_sql) as copy,
        ):
            for i, message in enumerate(ids):
                copy.write_row(
                    (
                        tenant.id,
                        message,
                        thread,
                        "web",
                        "inbound",
                        "customer",
                        b"not a real sealed body",
                        sent[i],
                    )
                )
        conn.commit()
    assert [(s.table, s.rows) for s in batch.sealed] == [("engage.chat_messages", n)]
    return ids


def upkeep(bulk: Bulk) -> list[date]:
    with bulk.owner() as conn:
        report = upkeep_chat_partitions(conn, uuid7, now=datetime.now(UTC))
        conn.commit()
    return [d.month for d in report.dropped]


def test_chat_loaded_with_time_ids_verifies_before_and_after_the_upkeep_drops_a_month(
    bulk: Bulk,
) -> None:
    tenant = make_tenant(bulk.db)
    old, recent = chat_month(6), chat_month(1)
    load_chat(bulk, tenant, old, 40)
    kept = load_chat(bulk, tenant, recent, 30)
    with bulk.owner() as conn:
        sources = {
            r[0]
            for r in conn.execute(
                "SELECT new_values ->> 'source' FROM audit.log WHERE tenant_id = %s AND op = 'B'",
                (tenant.id,),
            )
        }
    assert sources == {"test:chat@ids:sent_at"}
    report = bulk.verify(tenant.id)  # found by `id`, as the chat trigger keys rows
    assert report.intact, report.breaks
    assert report.batches == 2 and report.bulk_rows == 70

    assert old in upkeep(bulk)
    with bulk.owner() as conn:
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        left = conn.execute(
            "SELECT count(*) FROM engage.chat_messages WHERE tenant_id = %s", (tenant.id,)
        ).fetchone()
    assert left == (len(kept),)
    report = bulk.verify(tenant.id)  # the recorded, audited drop accounts for the month's rows
    assert report.intact, report.breaks


def test_a_chat_row_deleted_or_edited_with_triggers_off_is_still_named(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    load_chat(bulk, tenant, chat_month(7), 10)
    live = load_chat(bulk, tenant, chat_month(1), 10)
    upkeep(bulk)  # drops the old month (a purge of it is recorded), not the live one
    with bulk.superuser() as su:
        su.execute("DELETE FROM engage.chat_messages WHERE id = %s", (live[2],))
        su.execute("UPDATE engage.chat_messages SET body = 'x' WHERE id = %s", (live[5],))
    found = sorted((b.reason, b.detail.split(" (batch")[0]) for b in bulk.verify(tenant.id).breaks)
    assert found == [
        ("bulk row deleted", f"engage.chat_messages row {live[2]}"),
        ("bulk row edited", f"engage.chat_messages row {live[5]}"),
    ]


def test_a_drop_record_of_another_month_or_tenant_or_before_the_load_covers_no_row(
    bulk: Bulk,
) -> None:
    tenant, other = make_tenant(bulk.db), make_tenant(bulk.db)
    month = chat_month(1)
    with bulk.owner() as conn:  # recorded (and audited) before the load: it covers nothing
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        conn.execute(
            "INSERT INTO engage.message_purges (tenant_id, id, month, partition_name,"
            " rows_dropped, purged_at) VALUES (%s, %s, %s, 'chat_messages_default', 1, now())",
            (tenant.id, uuid7(), month),
        )
        conn.commit()
    ids = load_chat(bulk, tenant, month, 5)
    load_chat(bulk, other, month, 5)
    with bulk.owner() as conn:  # the other tenant's drop, and this tenant's of another month
        for who, when in ((other.id, month), (tenant.id, chat_month(2))):
            conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(who),))
            conn.execute(
                "INSERT INTO engage.message_purges (tenant_id, id, month, partition_name,"
                " rows_dropped, purged_at) VALUES (%s, %s, %s, 'x', 1, now())",
                (who, uuid7(), when),
            )
        conn.commit()
    with bulk.superuser() as su:
        su.execute("DELETE FROM engage.chat_messages WHERE id = %s", (ids[0],))
    assert [b.reason for b in bulk.verify(tenant.id).breaks] == ["bulk row deleted"]


def test_a_time_id_row_whose_id_does_not_carry_its_time_or_whose_id_was_changed_is_reported(
    bulk: Bulk,
) -> None:
    tenant = make_tenant(bulk.db)
    ids = load_chat(bulk, tenant, chat_month(1), 3)
    with bulk.owner() as conn:  # an audited move keeps the row out of the check
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        conn.execute("UPDATE engage.chat_messages SET sent_at = now() WHERE id = %s", (ids[0],))
        conn.commit()
    assert bulk.verify(tenant.id).intact
    with bulk.owner() as conn:  # a loader whose id does not carry the row's time
        conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (str(tenant.id),))
        with bulk_batch(conn, tenant.id, "test:chat", time_ids="sent_at"):
            conn.execute(
                "INSERT INTO engage.chat_messages (tenant_id, id, thread_id, channel, direction,"
                " author_kind, body, sent_at) SELECT tenant_id, %s, thread_id, channel,"
                " direction, author_kind, body, sent_at - interval '40 days'"
                " FROM engage.chat_messages WHERE id = %s",
                (uuid7(), ids[1]),
            )
        conn.commit()
    found = [
        (b.reason, "does not carry its sent_at" in b.detail) for b in bulk.verify(tenant.id).breaks
    ]
    assert found == [("bulk row edited", True)]

    other = make_tenant(bulk.db)
    load_chat(bulk, other, chat_month(8), 4)
    ids = load_chat(bulk, other, chat_month(1), 4)
    upkeep(bulk)
    assert bulk.verify(other.id).intact
    with bulk.superuser() as su:  # gone, its leaf's row id moved into the dropped month
        su.execute("DELETE FROM engage.chat_messages WHERE id = %s", (ids[0],))
        forged = uuid7_from(
            int(datetime(*chat_month(8).timetuple()[:3], tzinfo=UTC).timestamp()) * 1000, RANDOM
        )
        su.execute(
            "UPDATE audit.bulk_rows SET row_id = %s WHERE row_id = %s", (str(forged), str(ids[0]))
        )
    assert [b.reason for b in bulk.verify(other.id).breaks] == ["bulk leaves altered"]


def test_a_source_cannot_claim_time_ids_itself(bulk: Bulk) -> None:
    tenant = make_tenant(bulk.db)
    with (
        bulk.owner() as conn,
        pytest.raises(ValidationError, match="may not claim time ids"),
        bulk_batch(conn, tenant.id, "test:chat@ids:sent_at"),
    ):
        pass
