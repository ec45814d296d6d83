"""Chat and correspondence through the built-in mappings: CarBot's chat and MyHibachi's web chat,
SMS, phone and admin messages land in the partitioned `engage.chat_messages` (in the month
partitions of their `sent_at`, not the DEFAULT one), MyHibachi's e-mail in `engage.messages`;
change capture updates a chat row (also moving it to another month) and deletes one; verify
is equal, and a chat month dropped by the 90-day upkeep is not a difference. Chat is audited in
bulk batches with ids that carry `sent_at`: `audit verify` holds right after the load and after
the upkeep dropped a loaded month, and still names a chat row deleted or edited with triggers
off.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from tenantry.audit.verify import verify_trail
from tenantry.config import Settings
from tenantry.conversations.upkeep import upkeep_chat_partitions
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.ids import uuid7
from tenantry.migrate.follow import follow
from tenantry.migrate.load import load
from tenantry.migrate.mapping import load_mapping
from tenantry.migrate.verify import Difference, verify
from tenantry.models import ChatMessage
from tests.integration.migrate.conftest import (
    Loaded,
    audit_intact,
    one,
    owner,
    run_tenants,
    superuser,
)
from tests.legacy.myhibachi import data as myhibachi
from tests.private_db import private_database


def _placed(db: Database, run: str, entity: str) -> dict[str, tuple[Any, Any]]:
    """source key -> (canonical id, tenant) of the loaded rows of an entity."""
    with owner(db) as conn:
        rows = conn.execute(
            "SELECT source_key, canonical_id, canonical_tenant FROM migrate.id_map"
            " WHERE run = %s AND entity = %s AND outcome = 'loaded'",
            (run, entity),
        ).fetchall()
    return {k: (cid, t) for k, cid, t in rows}


def _where(db: Database, ids: list[Any]) -> dict[str, int]:
    """How many of these canonical ids each message table (and the DEFAULT partition) holds."""
    with owner(db) as conn:
        return {
            table: int(one(conn, f"SELECT count(*) FROM {table} WHERE id = ANY(%s)", ids))
            for table in (
                "engage.chat_messages",
                "engage.chat_messages_default",
                "engage.messages",
            )
        }


def _chat(db: Database, tenant: Any, cid: Any) -> ChatMessage | None:
    with db.tenant_uow(tenant) as uow:
        found = uow.session.scalars(sa.select(ChatMessage).where(ChatMessage.id == cid)).first()
        if found is not None:
            _ = found.body  # opened while the unit of work is open
        return found


@pytest.fixture(scope="module")
def carbot_chat(mdb: Database, sources: Callable[..., str]) -> dict[str, Any]:
    url = sources("carbot", "chat_carbot", 0.002)
    mapping = load_mapping("carbot")
    run = "chat_carbot"
    load(mdb, url, mapping, run=run)
    return {"url": url, "mapping": mapping, "run": run}


def test_carbot_chat_lands_in_the_month_partitions_of_chat_messages(
    mdb: Database, carbot_chat: dict[str, Any]
) -> None:
    run, url = carbot_chat["run"], carbot_chat["url"]
    placed = _placed(mdb, run, "chat_messages")
    with psycopg.connect(url) as src:
        in_source = int(one(src, "SELECT count(*) FROM chat_messages"))
        months = {
            r[0]
            for r in src.execute(
                "SELECT DISTINCT to_char(created_at AT TIME ZONE 'UTC', 'YYYY\"m\"MM')"
                " FROM chat_messages"
            )
        }
    assert in_source > 0 and len(placed) == in_source
    ids = [cid for cid, _t in placed.values()]
    assert _where(mdb, ids) == {
        "engage.chat_messages": len(ids),
        "engage.chat_messages_default": 0,
        "engage.messages": 0,
    }
    with owner(mdb) as conn:
        partitions = {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'engage.chat_messages'::regclass"
            )
        }
    assert {f"chat_messages_y{m}" for m in months} <= partitions
    key, (cid, tenant) = sorted(placed.items())[0]
    with psycopg.connect(url) as src:
        content = one(src, "SELECT content FROM chat_messages WHERE id::text = %s", key)
    found = _chat(mdb, tenant, cid)
    assert found is not None and found.body == content and found.channel == "web"


def test_carbot_chat_is_bulk_audited_with_time_ids_and_verifies_right_after_the_load(
    mdb: Database, settings: Settings, carbot_chat: dict[str, Any]
) -> None:
    run = carbot_chat["run"]
    tenants = run_tenants(mdb, run)
    with owner(mdb) as conn:
        per_row = one(
            conn,
            "SELECT count(*) FROM audit.log WHERE table_name = 'engage.chat_messages'"
            " AND op = 'I' AND tenant_id = ANY(%s)",
            tenants,
        )
        batches = conn.execute(
            "SELECT new_values ->> 'source', (new_values ->> 'rows')::int FROM audit.log"
            " WHERE table_name = 'engage.chat_messages' AND op = 'B' AND tenant_id = ANY(%s)",
            (tenants,),
        ).fetchall()
    assert per_row == 0
    placed = _placed(mdb, run, "chat_messages")
    assert sum(n for _s, n in batches) == len(placed)
    assert {s for s, _n in batches} == {f"migrate:{run}:engage.chat_messages@ids:sent_at"}
    with owner(mdb) as conn:  # each id carries its message's time (UUIDv7), as the app's do
        stamps = conn.execute(
            "SELECT id, sent_at FROM engage.chat_messages WHERE id = ANY(%s)",
            ([cid for cid, _t in placed.values()],),
        ).fetchall()
    assert all(i.int >> 80 == int(at.timestamp() * 1000) for i, at in stamps)
    for tenant in tenants:
        intact, why = audit_intact(mdb, settings, tenant)
        assert intact, why


def test_follow_updates_moves_and_deletes_a_chat_row_and_verify_is_equal(
    mdb: Database, settings: Settings, carbot_chat: dict[str, Any]
) -> None:
    run, url, mapping = carbot_chat["run"], carbot_chat["url"], carbot_chat["mapping"]
    placed = _placed(mdb, run, "chat_messages")
    (edited, (edited_id, tenant)), (moved, (moved_id, moved_tenant)), (deleted, (deleted_id, _)) = (
        sorted(placed.items())[1:4]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(url, autocommit=True) as src:
        src.execute(
            "UPDATE chat_messages SET content = 'Wann ist mein Auto fertig?' WHERE id::text = %s",
            (edited,),
        )
        src.execute(
            "UPDATE chat_messages SET created_at = %s, content = 'Neu datiert' WHERE id::text = %s",
            (now - timedelta(days=1), moved),
        )
        src.execute("DELETE FROM chat_messages WHERE id::text = %s", (deleted,))
    report = follow(mdb, url, mapping, run=run, until_caught_up=True)
    assert report.changes >= 3
    found = _chat(mdb, tenant, edited_id)
    assert found is not None and found.body == "Wann ist mein Auto fertig?"
    moved_row = _chat(mdb, moved_tenant, moved_id)
    assert moved_row is not None and moved_row.body == "Neu datiert"
    assert moved_row.sent_at == now - timedelta(days=1)
    month = (now - timedelta(days=1)).strftime("chat_messages_y%Ym%m")
    with owner(mdb) as conn:
        partition = one(
            conn,
            "SELECT tableoid::regclass::text FROM engage.chat_messages WHERE id = %s",
            moved_id,
        )
        outcome = one(
            conn,
            "SELECT outcome FROM migrate.id_map WHERE run = %s AND entity = 'chat_messages'"
            " AND source_key = %s",
            run,
            deleted,
        )
    assert partition == f"engage.{month}"
    assert outcome == "deleted"
    assert _where(mdb, [deleted_id])["engage.chat_messages"] == 0
    assert _where(mdb, [edited_id, moved_id])["engage.chat_messages"] == 2
    final = verify(mdb, url, mapping, run=run)
    assert final.differences == [] and final.equal
    assert final.counts["chat_messages"]["differing"] == 0
    for changed in {tenant, moved_tenant}:  # loaded, updated, moved and deleted: all audited
        intact, why = audit_intact(mdb, settings, changed)
        assert intact, why


def test_a_chat_month_dropped_by_upkeep_is_no_difference_a_lost_row_is(
    mdb: Database, sources: Callable[..., str]
) -> None:
    """The upkeep's drop is emulated for one tenant and month (the real one drops every old
    month of the shared database): rows gone with a recorded purge are not differences; a
    row gone without one is `missing in target`."""
    url = sources("carbot", "chat_purged", 0.002)
    mapping = load_mapping("carbot")
    run = "chat_purged"
    load(mdb, url, mapping, run=run, cdc=False)
    placed = _placed(mdb, run, "chat_messages")
    with owner(mdb) as conn:
        tenant, month, ids = conn.execute(
            "SELECT c.tenant_id, date_trunc('month', c.sent_at AT TIME ZONE 'UTC')::date,"
            " array_agg(c.id) FROM engage.chat_messages c WHERE c.id = ANY(%s)"
            " GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1",
            ([cid for cid, _t in placed.values()],),
        ).fetchone()  # type: ignore[misc]
        lost_key, (lost_id, lost_tenant) = next(
            (k, p) for k, p in sorted(placed.items()) if p[0] not in ids and p[1] != tenant
        )
    with superuser(mdb) as su:
        su.execute(
            "DELETE FROM engage.chat_messages WHERE tenant_id = %s AND id = ANY(%s)",
            (tenant, ids),
        )
        su.execute(
            "DELETE FROM engage.chat_messages WHERE tenant_id = %s AND id = %s",
            (lost_tenant, lost_id),
        )
        su.execute(
            "INSERT INTO engage.message_purges (tenant_id, id, month, partition_name,"
            " rows_dropped, purged_at) VALUES (%s, %s, %s, %s, %s, now())",
            (tenant, uuid.uuid4(), month, month.strftime("chat_messages_y%Ym%m"), len(ids)),
        )
    report = verify(mdb, url, mapping, run=run)
    assert report.differences == [
        Difference("chat_messages", lost_key, str(lost_id), None, "missing in target")
    ]


def test_myhibachi_chat_and_email_go_to_their_own_tables(
    mdb: Database, builtin_runs: Callable[[str], Loaded]
) -> None:
    loaded = builtin_runs("myhibachi")
    chat = _placed(mdb, loaded.run, "chat_messages")
    email = _placed(mdb, loaded.run, "messages")
    with psycopg.connect(loaded.url) as src:
        by_channel: dict[str, set[str]] = {}
        for key, channel in src.execute(
            "SELECT m.id::text, th.channel::text FROM core.messages m"
            " JOIN core.message_threads th ON th.id = m.thread_id"
        ):
            by_channel.setdefault(channel, set()).add(key)
    assert {"web_chat", "sms", "phone", "admin", "email"} <= set(by_channel)
    assert not set(chat) & set(email)
    assert set(email) == by_channel["email"]
    assert by_channel["web_chat"] | by_channel["sms"] | by_channel["admin"] <= set(chat)
    chat_ids = [cid for cid, _t in chat.values()]
    email_ids = [cid for cid, _t in email.values()]
    assert _where(mdb, chat_ids) == {
        "engage.chat_messages": len(chat_ids),
        "engage.chat_messages_default": 0,
        "engage.messages": 0,
    }
    assert _where(mdb, email_ids)["engage.messages"] == len(email_ids)
    assert _where(mdb, email_ids)["engage.chat_messages"] == 0
    with owner(mdb) as conn:
        channels = dict(
            conn.execute(
                "SELECT channel, count(*) FROM engage.chat_messages WHERE id = ANY(%s)"
                " GROUP BY channel",
                (chat_ids,),
            ).fetchall()
        )
        web_chat = [chat[k][0] for k in by_channel["web_chat"] if k in chat]
        assert one(
            conn,
            "SELECT count(*) FROM engage.chat_messages WHERE id = ANY(%s) AND channel = 'web'",
            web_chat,
        ) == len(web_chat)
        assert (
            one(
                conn,
                "SELECT count(DISTINCT channel) FROM engage.messages WHERE id = ANY(%s)",
                email_ids,
            )
            == 1
        )
    assert set(channels) <= {"web", "sms", "voice"} and "email" not in channels


def test_a_message_whose_thread_becomes_email_moves_from_chat_to_correspondence(
    mdb: Database, sources: Callable[..., str]
) -> None:
    url = sources("myhibachi", "chat_moved", 0.02)
    mapping = load_mapping("myhibachi")
    run = "chat_moved"
    load(mdb, url, mapping, run=run, fernet_keys=myhibachi.FERNET_KEYS)
    chat = _placed(mdb, run, "chat_messages")
    with psycopg.connect(url, autocommit=True) as src:
        thread, key = src.execute(
            "SELECT th.id::text, m.id::text FROM core.messages m"
            " JOIN core.message_threads th ON th.id = m.thread_id"
            " WHERE th.channel = 'web_chat' AND m.id::text = ANY(%s) ORDER BY m.id LIMIT 1",
            (list(chat),),
        ).fetchone()  # type: ignore[misc]
        src.execute(
            "UPDATE core.message_threads SET channel = 'email' WHERE id::text = %s", (thread,)
        )
        # A change of the thread alone does not re-read its messages; the message's next does.
        src.execute(
            "UPDATE core.messages SET content = 'Bitte per Mail' WHERE id::text = %s", (key,)
        )
    follow(mdb, url, mapping, run=run, fernet_keys=myhibachi.FERNET_KEYS, until_caught_up=True)
    with owner(mdb) as conn:
        where = dict(
            conn.execute(
                "SELECT entity, outcome FROM migrate.id_map WHERE run = %s AND source_key = %s"
                " AND entity IN ('chat_messages', 'messages')",
                (run, key),
            ).fetchall()
        )
    assert where == {"chat_messages": "deleted", "messages": "loaded"}
    assert _where(mdb, [chat[key][0]])["engage.chat_messages"] == 0
    email = _placed(mdb, run, "messages")[key][0]
    assert _where(mdb, [email])["engage.messages"] == 1
    report = verify(mdb, url, mapping, run=run, fernet_keys=myhibachi.FERNET_KEYS)
    # The thread's other messages changed meaning too, but only this one was re-read (and
    # stations of a second run in the shared `myhibachi` tenant get other slugs).
    assert key not in {d.source_key for d in report.differences}
    with psycopg.connect(url) as src:
        others = {
            r[0]
            for r in src.execute(
                "SELECT id::text FROM core.messages WHERE thread_id::text = %s AND id::text <> %s",
                (thread, key),
            )
        }
    messages = {d.source_key for d in report.differences if "messages" in d.entity}
    assert messages == others


@pytest.fixture(scope="module")
def upkeep_db(server: DatabaseTarget, settings: Settings) -> Iterator[Database]:
    """A database of its own: the upkeep drops a month of every tenant in it."""
    with private_database(server, settings, "chat_upkeep") as db:
        yield db


def _breaks(db: Database, settings: Settings, tenant: Any) -> list[tuple[str, str]]:
    with owner(db, autocommit=False) as conn:
        report = verify_trail(conn, settings, tenant=tenant)
    return [(b.reason, b.detail) for b in report.breaks]


def test_audit_verify_holds_after_the_upkeep_drops_a_loaded_chat_month_and_names_tampering(
    upkeep_db: Database, settings: Settings, sources: Callable[..., str]
) -> None:
    db, run = upkeep_db, "chat_upkeep"
    load(db, sources("carbot", run, 0.002), load_mapping("carbot"), run=run, cdc=False)
    tenants = run_tenants(db, run)
    assert all(_breaks(db, settings, t) == [] for t in tenants)
    with owner(db) as conn:
        first = one(conn, "SELECT min(sent_at) FROM engage.chat_messages")
    month = first.astimezone(UTC).date().replace(day=1)
    after = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    # 90 days after the oldest loaded month ended: the upkeep drops that month, no other.
    now = datetime(after.year, after.month, after.day, tzinfo=UTC) + timedelta(days=90, hours=1)
    with owner(db, autocommit=False) as conn:
        report = upkeep_chat_partitions(conn, uuid7, now=now)
        conn.commit()
    assert [d.month for d in report.dropped] == [month] and report.dropped[0].rows > 0
    with owner(db) as conn:
        purged = {
            r[0]
            for r in conn.execute(
                "SELECT tenant_id FROM engage.message_purges WHERE month = %s", (month,)
            )
        }
        gone = one(conn, "SELECT count(*) FROM engage.chat_messages WHERE sent_at < %s", after)
        tenant, deleted, edited = conn.execute(
            "SELECT tenant_id, (array_agg(id ORDER BY id))[1], (array_agg(id ORDER BY id))[2]"
            " FROM engage.chat_messages WHERE tenant_id = ANY(%s) GROUP BY tenant_id"
            " HAVING count(*) > 1 ORDER BY tenant_id LIMIT 1",
            (list(purged),),
        ).fetchone()  # type: ignore[misc]
    assert purged and gone == 0
    assert all(_breaks(db, settings, t) == [] for t in tenants)  # the drop accounts for them
    with superuser(db) as su:  # triggers off: neither change has an audit entry
        su.execute("DELETE FROM engage.chat_messages WHERE id = %s", (deleted,))
        su.execute("UPDATE engage.chat_messages SET body = 'x' WHERE id = %s", (edited,))
    found = sorted((r, d.split(" (batch")[0]) for r, d in _breaks(db, settings, tenant))
    assert found == [
        ("bulk row deleted", f"engage.chat_messages row {deleted}"),
        ("bulk row edited", f"engage.chat_messages row {edited}"),
    ]
