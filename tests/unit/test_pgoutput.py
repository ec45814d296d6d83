"""The pgoutput parser on messages built byte by byte from the documented formats."""

from __future__ import annotations

import copy
import struct
from datetime import UTC, datetime

import pytest

from tenantry.migrate.pgoutput import (
    UNCHANGED,
    Decoder,
    DecodingError,
    lsn_from_text,
    lsn_to_text,
)

CUSTOMERS = 16401
ORDERS = 16410
T0 = datetime(2026, 3, 14, 10, 30, 0, 123456, tzinfo=UTC)


def _ts(moment: datetime) -> int:
    delta = moment - datetime(2000, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def s(text: str) -> bytes:
    return text.encode() + b"\0"


def begin(final_lsn: int, xid: int, when: datetime = T0) -> bytes:
    return b"B" + struct.pack(">QqI", final_lsn, _ts(when), xid)


def commit(commit_lsn: int, end_lsn: int, when: datetime = T0) -> bytes:
    return b"C" + struct.pack(">bQQq", 0, commit_lsn, end_lsn, _ts(when))


def relation(
    oid: int, schema: str, table: str, cols: list[tuple[str, bool]], ident: str = "d"
) -> bytes:
    body = b"R" + struct.pack(">I", oid) + s(schema) + s(table) + ident.encode()
    body += struct.pack(">h", len(cols))
    for name, key in cols:
        body += struct.pack(">b", 1 if key else 0) + s(name) + struct.pack(">Ii", 25, -1)
    return body


def tup(*values: object) -> bytes:
    out = struct.pack(">h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is UNCHANGED:
            out += b"u"
        else:
            data = str(v).encode()
            out += b"t" + struct.pack(">i", len(data)) + data
    return out


def insert(oid: int, *values: object) -> bytes:
    return b"I" + struct.pack(">I", oid) + b"N" + tup(*values)


CUSTOMER_REL = relation(
    CUSTOMERS, "public", "customers", [("id", True), ("email", False), ("notes", False)]
)


def test_lsn_text_round_trip() -> None:
    assert lsn_to_text(0x16B374D848) == "16/B374D848"
    assert lsn_from_text("16/B374D848") == 0x16B374D848
    assert lsn_from_text("0/0") == 0
    for lsn in (0, 1, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1):
        assert lsn_from_text(lsn_to_text(lsn)) == lsn
    for bad in ("16B374D848", "x/1", "/1", "1/", "123456789/0"):
        with pytest.raises(ValueError, match="not an LSN"):
            lsn_from_text(bad)


def test_a_transaction_with_insert_update_delete_in_order() -> None:
    d = Decoder()
    msgs = [
        begin(0x100, 731),
        CUSTOMER_REL,
        insert(CUSTOMERS, "1", "ada@example.com", None),
        b"U" + struct.pack(">I", CUSTOMERS) + b"N" + tup("1", "ada@example.org", "vip"),
        b"D" + struct.pack(">I", CUSTOMERS) + b"K" + tup("2", None, None),
        commit(0x100, 0x128),
    ]
    results = [d.feed(m, lsn) for lsn, m in enumerate(msgs)]
    assert results[:-1] == [None] * 5
    tx = results[-1]
    assert tx is not None
    assert (tx.xid, tx.commit_lsn, tx.end_lsn, tx.commit_time) == (731, 0x100, 0x128, T0)
    assert [c.op for c in tx.changes] == ["insert", "update", "delete"]
    ins, upd, dele = tx.changes
    assert (ins.schema, ins.table, ins.key_columns) == ("public", "customers", ("id",))
    assert ins.new == {"id": "1", "email": "ada@example.com", "notes": None}
    assert ins.old is None
    assert upd.old is None and upd.key == {"id": "1"}
    assert upd.new == {"id": "1", "email": "ada@example.org", "notes": "vip"}
    # A key tuple carries only the key columns.
    assert dele.old == {"id": "2"} and dele.new is None and dele.key == {"id": "2"}
    assert [c.lsn for c in tx.changes] == [2, 3, 4]
    assert not d.in_transaction


def test_unchanged_toast_and_old_rows_of_replica_identity_full() -> None:
    d = Decoder()
    d.feed(CUSTOMER_REL)
    d.feed(begin(0x200, 9))
    key_change = (
        b"U"
        + struct.pack(">I", CUSTOMERS)
        + b"K"
        + tup("1", None, None)
        + b"N"
        + tup("5", "b@example.com", UNCHANGED)
    )
    d.feed(key_change)
    full = (
        b"U"
        + struct.pack(">I", CUSTOMERS)
        + b"O"
        + tup("5", "a@example.com", None)
        + b"N"
        + tup("5", None, UNCHANGED)
    )
    d.feed(full)
    tx = d.feed(commit(0x200, 0x230))
    assert tx is not None
    first, second = tx.changes
    assert first.old == {"id": "1"} and first.key == {"id": "1"}
    assert first.new is not None and first.new["notes"] is UNCHANGED
    assert second.old == {"id": "5", "email": "a@example.com", "notes": None}
    assert second.new == {"id": "5", "email": None, "notes": UNCHANGED}
    assert repr(UNCHANGED) == "UNCHANGED"
    assert copy.deepcopy(UNCHANGED) is UNCHANGED


def test_truncate_names_every_table() -> None:
    d = Decoder()
    d.feed(CUSTOMER_REL)
    d.feed(relation(ORDERS, "sales", "orders", [("order_id", True)]))
    d.feed(begin(0x300, 10))
    d.feed(b"T" + struct.pack(">ibII", 2, 1, CUSTOMERS, ORDERS))
    tx = d.feed(commit(0x300, 0x320))
    assert tx is not None
    assert [(c.op, c.schema, c.table, c.new, c.old) for c in tx.changes] == [
        ("truncate", "public", "customers", None, None),
        ("truncate", "sales", "orders", None, None),
    ]


def test_a_new_relation_message_replaces_the_table_description() -> None:
    d = Decoder()
    d.feed(relation(ORDERS, "sales", "orders", [("order_id", True), ("total", False)]))
    d.feed(begin(0x400, 11))
    d.feed(insert(ORDERS, "7", "12.50"))
    # ALTER TABLE ... ADD COLUMN, and a new key column: the server describes the table again.
    d.feed(
        relation(
            ORDERS, "sales", "orders", [("order_id", True), ("total", False), ("note", False)], "f"
        )
    )
    d.feed(insert(ORDERS, "8", "3.00", "gift"))
    tx = d.feed(commit(0x400, 0x440))
    assert tx is not None
    assert tx.changes[0].new == {"order_id": "7", "total": "12.50"}
    assert tx.changes[1].new == {"order_id": "8", "total": "3.00", "note": "gift"}
    assert d.relations[ORDERS].replica_identity == "f"
    assert [c.name for c in d.relations[ORDERS].columns] == ["order_id", "total", "note"]


def test_origin_type_and_relation_of_pg_catalog() -> None:
    d = Decoder()
    d.feed(b"Y" + struct.pack(">I", 70001) + s("public") + s("mood"))
    d.feed(relation(5, "", "weird", [("k", True)]))
    d.feed(begin(0x500, 12))
    d.feed(b"O" + struct.pack(">Q", 0x99) + s("upstream"))
    d.feed(insert(5, "x"))
    tx = d.feed(commit(0x500, 0x510))
    assert tx is not None and tx.origin == "upstream"
    assert d.types[70001] == ("public", "mood")
    assert tx.changes[0].schema == "pg_catalog"


def test_decode_returns_only_completed_transactions() -> None:
    d = Decoder()
    msgs = [CUSTOMER_REL, begin(1, 1), insert(CUSTOMERS, "1", None, None), commit(1, 2)]
    msgs += [begin(3, 2), insert(CUSTOMERS, "2", None, None)]
    txs = d.decode((i, m) for i, m in enumerate(msgs))
    assert [t.xid for t in txs] == [1]
    assert d.in_transaction
    d.reset()
    assert not d.in_transaction


def test_text_values_are_decoded_as_utf8() -> None:
    d = Decoder()
    d.feed(CUSTOMER_REL)
    d.feed(begin(1, 1))
    d.feed(insert(CUSTOMERS, "1", "jürgen@example.com", "Grüße ✓"))
    tx = d.feed(commit(1, 2))
    assert tx is not None and tx.changes[0].new == {
        "id": "1",
        "email": "jürgen@example.com",
        "notes": "Grüße ✓",
    }


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([b""], "empty"),
        ([b"Z"], "unknown pgoutput message type"),
        ([insert(CUSTOMERS, "1", None, None)], "outside a transaction"),
        ([begin(1, 1), insert(CUSTOMERS, "1", None, None)], "never described"),
        ([CUSTOMER_REL, begin(1, 1), insert(CUSTOMERS, "1")], "has 1 columns"),
        ([CUSTOMER_REL, begin(1, 1), insert(CUSTOMERS, "1", None, None)[:-2]], "ends too early"),
        ([begin(1, 1) + b"x"], "trailing bytes"),
        ([b"Y" + struct.pack(">I", 1) + b"public"], "terminating NUL"),
        (
            [CUSTOMER_REL, begin(1, 1), b"I" + struct.pack(">I", CUSTOMERS) + b"X"],
            "without its new row",
        ),
        (
            [
                CUSTOMER_REL,
                begin(1, 1),
                b"D" + struct.pack(">I", CUSTOMERS) + b"N" + tup("1", None, None),
            ],
            "without its old row",
        ),
        (
            [
                CUSTOMER_REL,
                begin(1, 1),
                b"I" + struct.pack(">I", CUSTOMERS) + b"N" + struct.pack(">h", 3) + b"b",
            ],
            "column kind",
        ),
    ],
)
def test_broken_streams_raise_one_clear_error(messages: list[bytes], error: str) -> None:
    d = Decoder()
    with pytest.raises(DecodingError, match=error):
        for m in messages:
            d.feed(m)
