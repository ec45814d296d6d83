"""Change-data capture from a legacy source with logical replication on (the legacy server)."""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tenantry.db.provider import DatabaseTarget
from tenantry.errors import (
    ConfigurationError,
    ConflictError,
    DatabaseUnavailableError,
    NotFoundError,
    ValidationError,
)
from tenantry.migrate import replication as rep
from tenantry.migrate.pgoutput import UNCHANGED, Decoder, Transaction
from tests.legacy.server import LegacyServer, new_source_database

PUB = "tenantry_migrate"
CUSTOMERS = ("public", "customers")


@pytest.fixture
def source(legacy_server: LegacyServer) -> str:
    return new_source_database(legacy_server, f"src_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def conn(source: str) -> Iterator[psycopg.Connection[Any]]:
    with rep.connect_source(source) as c:
        c.execute("CREATE TABLE customers (id int PRIMARY KEY, email text, notes text)")
        c.execute(
            "INSERT INTO customers VALUES (1, 'ada@example.com', 'a'), "
            "(2, 'bob@example.com', 'b'), (3, 'cy@example.org', NULL)"
        )
        yield c


def _write(source: str, *statements: str) -> None:
    """One transaction on its own connection, as the legacy application writes."""
    with psycopg.connect(source) as w:
        for statement in statements:
            w.execute(statement)


def _ops(txs: list[Transaction]) -> list[list[tuple[str, str, dict[str, Any]]]]:
    return [[(c.op, c.table, dict(c.key)) for c in tx.changes] for tx in txs]


def test_the_slot_snapshot_shows_the_data_at_its_start_and_the_changes_after_it(
    source: str, conn: psycopg.Connection[Any]
) -> None:
    rep.ensure_publication(conn, PUB, [CUSTOMERS])
    snap = rep.create_slot_with_snapshot(source, "load_slot")
    try:
        _write(source, "INSERT INTO customers VALUES (4, 'dee@example.com', 'd')")
        _write(source, "UPDATE customers SET notes = 'vip' WHERE id = 1")
        _write(
            source,
            "DELETE FROM customers WHERE id = 2",
            "UPDATE customers SET id = 30 WHERE id = 3",
        )
        with psycopg.connect(source) as importer:
            rep.import_snapshot(importer, snap.snapshot_name)
            rows = importer.execute("SELECT id, email, notes FROM customers ORDER BY id").fetchall()
        assert rows == [
            (1, "ada@example.com", "a"),
            (2, "bob@example.com", "b"),
            (3, "cy@example.org", None),
        ]
    finally:
        snap.release()
    assert snap.holder.closed

    txs = rep.read_changes(conn, "load_slot", PUB, Decoder())
    assert _ops(txs) == [
        [("insert", "customers", {"id": "4"})],
        [("update", "customers", {"id": "1"})],
        [("delete", "customers", {"id": "2"}), ("update", "customers", {"id": "3"})],
    ]
    assert txs[0].changes[0].new == {"id": "4", "email": "dee@example.com", "notes": "d"}
    assert txs[1].changes[0].new == {"id": "1", "email": "ada@example.com", "notes": "vip"}
    assert txs[2].changes[1].new == {"id": "30", "email": "cy@example.org", "notes": None}
    assert txs[2].changes[1].old == {"id": "3"}  # the key changed: the old key is sent
    assert snap.consistent_lsn <= txs[0].commit_lsn
    for earlier, later in itertools.pairwise(txs):
        assert earlier.end_lsn <= later.commit_lsn
    assert all(tx.commit_lsn < tx.end_lsn for tx in txs)
    now = rep.source_now(conn)
    assert all(now - timedelta(minutes=1) < tx.commit_time <= now for tx in txs)
    # Reading again without advancing gives the same transactions.
    assert [t.end_lsn for t in rep.read_changes(conn, "load_slot", PUB, Decoder())] == [
        t.end_lsn for t in txs
    ]


def test_advance_consumes_what_was_applied_and_the_lag_drops_to_zero(
    source: str, conn: psycopg.Connection[Any]
) -> None:
    rep.ensure_publication(conn, PUB, [CUSTOMERS])
    rep.create_slot_with_snapshot(source, "s_adv").release()
    for i in range(5, 9):
        _write(source, f"INSERT INTO customers VALUES ({i}, 'x{i}@example.com', NULL)")
    before = rep.lag(conn, "s_adv")
    assert before.bytes > 0 and before.wal_status == "reserved" and not before.active
    decoder = Decoder()
    txs = rep.read_changes(conn, "s_adv", PUB, decoder)
    assert len(txs) == 4
    # Applied the first two: advance to the second's end; the rest is still there.
    assert rep.advance(conn, "s_adv", txs[1].end_lsn) == txs[1].end_lsn
    rest = rep.read_changes(conn, "s_adv", PUB, decoder)
    assert [t.end_lsn for t in rest] == [t.end_lsn for t in txs[2:]]
    # After a crash the slot may be behind what the target stored: after_lsn skips that.
    assert rep.read_changes(conn, "s_adv", PUB, Decoder(), after_lsn=txs[2].end_lsn) == [
        t for t in rest if t.end_lsn > txs[2].end_lsn
    ]
    # Advancing never goes back.
    assert rep.advance(conn, "s_adv", txs[0].end_lsn) == txs[1].end_lsn

    # Caught up: everything up to the flushed position read, applied, confirmed.
    for _ in range(50):  # a background process may write WAL in between; try again then
        upto = rep.current_lsn(conn)
        assert [
            t.changes[0].key for t in rep.read_changes(conn, "s_adv", PUB, decoder, upto_lsn=upto)
        ] in (
            [{"id": "7"}, {"id": "8"}],
            [],
        )
        rep.advance(conn, "s_adv", upto)
        after = rep.lag(conn, "s_adv")
        if after.bytes == 0:
            break
        time.sleep(0.05)
    assert after.bytes == 0 and after.confirmed_lsn == upto
    assert rep.read_changes(conn, "s_adv", PUB, decoder) == []


def test_a_restarted_reader_learns_the_tables_again_and_sees_new_columns(
    source: str, conn: psycopg.Connection[Any]
) -> None:
    rep.ensure_publication(conn, PUB, [CUSTOMERS])
    rep.create_slot_with_snapshot(source, "s_restart").release()
    _write(source, "UPDATE customers SET notes = 'n1' WHERE id = 1")
    first = Decoder()
    txs = rep.read_changes(conn, "s_restart", PUB, first)
    rep.advance(conn, "s_restart", txs[-1].end_lsn)
    _write(
        source,
        "ALTER TABLE customers ADD COLUMN phone text",
        "UPDATE customers SET phone = '+49 30 0000000' WHERE id = 2",
    )
    _write(source, "INSERT INTO customers (id, email) VALUES (9, 'nine@example.org')")
    for decoder in (first, Decoder()):  # the same reader, and one after a restart
        again = rep.read_changes(conn, "s_restart", PUB, decoder)
        assert [c.new for t in again for c in t.changes] == [
            {"id": "2", "email": "bob@example.com", "notes": "b", "phone": "+49 30 0000000"},
            {"id": "9", "email": "nine@example.org", "notes": None, "phone": None},
        ]
        assert [c.name for c in next(iter(decoder.relations.values())).columns] == [
            "id",
            "email",
            "notes",
            "phone",
        ]


def test_untouched_toasted_values_truncates_and_batches_of_whole_transactions(
    source: str, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("CREATE TABLE orders (id int PRIMARY KEY, total int)")
    rep.ensure_publication(conn, PUB, [CUSTOMERS, ("public", "orders")])
    rep.create_slot_with_snapshot(source, "s_toast").release()
    big = secrets.token_hex(100_000)  # too large to keep inline, even compressed
    _write(source, f"UPDATE customers SET notes = '{big}' WHERE id = 1")
    _write(source, "UPDATE customers SET email = 'ada@example.org' WHERE id = 1")
    _write(source, *(f"INSERT INTO orders VALUES ({i}, {i * 100})" for i in range(10)))
    _write(source, "TRUNCATE orders")
    txs = rep.read_changes(conn, "s_toast", PUB, Decoder())
    assert txs[0].changes[0].new == {"id": "1", "email": "ada@example.com", "notes": big}
    assert txs[1].changes[0].new == {"id": "1", "email": "ada@example.org", "notes": UNCHANGED}
    assert [c.op for c in txs[2].changes] == ["insert"] * 10
    assert [(c.op, c.table) for c in txs[3].changes] == [("truncate", "orders")]
    # A limit cuts between transactions, never inside one.
    first = rep.read_changes(conn, "s_toast", PUB, Decoder(), max_changes=4)
    assert 0 < len(first) < len(txs)
    assert [t.end_lsn for t in first] == [t.end_lsn for t in txs[: len(first)]]
    assert [len(t.changes) for t in first] == [len(t.changes) for t in txs[: len(first)]]


def test_a_table_without_key_is_refused_until_its_replica_identity_is_full(
    source: str, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("CREATE TABLE notes (body text, author text)")
    conn.execute("INSERT INTO notes VALUES ('hello', 'ada')")
    tables = [CUSTOMERS, ("public", "notes"), ("public", "missing")]
    problems = rep.replica_identity_problems(conn, tables)
    assert problems == [
        "public.notes has no primary key: its updates and deletes cannot be identified "
        "(add a primary key or set REPLICA IDENTITY FULL)",
        "the source has no table public.missing",
    ]
    with pytest.raises(ConfigurationError, match=r"public\.notes has no primary key"):
        rep.ensure_publication(conn, PUB, tables[:2])
    assert conn.execute("SELECT count(*) FROM pg_publication").fetchone() == (0,)
    rep.set_replica_identity_full(conn, [("public", "notes")])
    assert rep.replica_identity_problems(conn, tables[:2]) == []
    rep.ensure_publication(conn, PUB, tables[:2])
    rep.create_slot_with_snapshot(source, "s_full").release()
    _write(source, "DELETE FROM notes WHERE author = 'ada'")
    (tx,) = rep.read_changes(conn, "s_full", PUB, Decoder())
    assert tx.changes[0].old == {"body": "hello", "author": "ada"}
    assert tx.changes[0].key_columns == ("body", "author")
    # Setting the tables again replaces them.
    rep.ensure_publication(conn, PUB, [CUSTOMERS])
    published = conn.execute("SELECT tablename FROM pg_publication_tables").fetchall()
    assert published == [("customers",)]
    rep.drop_publication(conn, PUB)
    rep.drop_publication(conn, PUB)


def test_slots_are_created_once_looked_up_and_dropped_idempotently(
    source: str, conn: psycopg.Connection[Any]
) -> None:
    rep.ensure_publication(conn, PUB, [CUSTOMERS])
    assert not rep.slot_exists(conn, "s_once")
    rep.create_slot_with_snapshot(source, "s_once").release()
    assert rep.slot_exists(conn, "s_once")
    with pytest.raises(
        ConflictError,
        match=r"^cannot create the replication slot s_once on the source: .*already exists",
    ):
        rep.create_slot_with_snapshot(source, "s_once")
    temp = rep.create_slot_with_snapshot(source, "s_temp", temporary=True)
    assert rep.slot_exists(conn, "s_temp")
    temp.release()
    rep.drop_slot(conn, "s_once")
    rep.drop_slot(conn, "s_once")
    assert not rep.slot_exists(conn, "s_once")
    for _ in range(100):  # the temporary slot goes with its session
        if not rep.slot_exists(conn, "s_temp"):
            break
        time.sleep(0.05)
    assert not rep.slot_exists(conn, "s_temp")
    with pytest.raises(NotFoundError, match="s_once"):
        rep.read_changes(conn, "s_once", PUB, Decoder())
    with pytest.raises(NotFoundError, match="no logical replication slot s_once"):
        rep.lag(conn, "s_once")
    with pytest.raises(ValidationError, match="replication slot name"):
        rep.create_slot_with_snapshot(source, "Bad-Name")


def test_export_snapshot_without_a_slot(source: str, conn: psycopg.Connection[Any]) -> None:
    with psycopg.connect(source) as exporter:
        name = rep.export_snapshot(exporter)
        _write(source, "INSERT INTO customers VALUES (77, 'late@example.com', NULL)")
        with psycopg.connect(source, autocommit=True) as importer:
            rep.import_snapshot(importer, name)
            assert importer.execute("SELECT count(*) FROM customers").fetchone() == (3,)
    with pytest.raises(ValidationError, match="not a snapshot name"):
        rep.import_snapshot(conn, "x'; DROP TABLE customers; --")


def test_check_source_accepts_the_legacy_admin_and_names_a_role_without_replication(
    legacy_server: LegacyServer, source: str, conn: psycopg.Connection[Any]
) -> None:
    assert rep.check_source(conn) == []
    conn.execute("CREATE ROLE legacy_reader LOGIN PASSWORD 'reader-pw'")
    try:
        url = legacy_server.url(source.rsplit("/", 1)[1], "legacy_reader", "reader-pw")
        with rep.connect_source(url) as reader:
            assert rep.check_source(reader) == [
                "the source role legacy_reader lacks the REPLICATION attribute "
                "(ALTER ROLE legacy_reader REPLICATION, run by an administrator)",
                "the source role legacy_reader may not create a publication in this database "
                "(it needs the CREATE privilege on the database)",
            ]
    finally:
        conn.execute("DROP ROLE legacy_reader")


def test_check_source_names_a_wal_level_below_logical(server: DatabaseTarget) -> None:
    with rep.connect_source(server.libpq(server.admin_url)) as conn:
        level = conn.execute("SHOW wal_level").fetchone()
        assert level is not None and level[0] != "logical"
        problems = rep.check_source(conn)
    assert problems[0] == (
        f"the source's wal_level is '{level[0]}', logical decoding needs 'logical' "
        "(ALTER SYSTEM SET wal_level = logical, then restart the server)"
    )


def test_a_refused_login_is_one_line_without_the_password(legacy_server: LegacyServer) -> None:
    url = legacy_server.url("postgres", password="wrong secret")
    with pytest.raises(DatabaseUnavailableError) as caught:
        rep.connect_source(url)
    with pytest.raises(DatabaseUnavailableError) as caught_slot:
        rep.create_slot_with_snapshot(url, "s_login")
    for exc in (caught.value, caught_slot.value):
        assert "password authentication failed" in exc.message
        assert "wrong secret" not in exc.message and "\n" not in exc.message


def test_a_reader_that_stops_early_leaves_the_connection_usable(
    source: str, conn: psycopg.Connection[Any]
) -> None:
    rep.ensure_publication(conn, PUB, [CUSTOMERS])
    rep.create_slot_with_snapshot(source, "s_early").release()
    for i in range(20, 25):
        _write(source, f"INSERT INTO customers VALUES ({i}, NULL, NULL)")
    stream = rep.stream_changes(conn, "s_early", PUB, Decoder())
    first = next(stream)
    stream.close()
    assert first.changes[0].key == {"id": "20"}
    assert conn.execute("SELECT 1").fetchone() == (1,)
    assert len(rep.read_changes(conn, "s_early", PUB, Decoder())) == 5
