"""A parser of PostgreSQL's `pgoutput` logical replication messages, protocol version 1.

It owns the byte layout of the messages described in the PostgreSQL documentation, chapter
"Logical Replication Message Formats" (Begin 'B', Commit 'C', Origin 'O', Relation 'R',
Type 'Y', Insert 'I', Update 'U', Delete 'D', Truncate 'T', and the TupleData part with its
kinds 'n' null, 'u' unchanged TOASTed value, 't' text), and turns a stream of them into whole
transactions of row changes. It does no I/O and knows no database: `replication.py` fetches
the bytes. Integers are big-endian; strings are NUL-terminated; timestamps are microseconds
since 2000-01-01 UTC; LSNs are plain integers here (`lsn_to_text` gives PostgreSQL's
`16/B374D848` form).

A `Decoder` keeps the relation (table) descriptions the server sends before the first change
of a table, so it must live as long as the reader: a fresh one after a restart is fine, since
the server sends them again in every decoding session.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from tenantry.errors import TenantryError

__all__ = [
    "UNCHANGED",
    "Change",
    "Column",
    "Decoder",
    "DecodingError",
    "Op",
    "Relation",
    "Transaction",
    "Unchanged",
    "Value",
    "lsn_from_text",
    "lsn_to_text",
]

Op = Literal["insert", "update", "delete", "truncate"]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT64 = struct.Struct(">q")
_UINT64 = struct.Struct(">Q")


class DecodingError(TenantryError):
    """The change stream from the source could not be decoded."""


class Unchanged:
    """A TOASTed value the change did not touch: the server did not send it again."""

    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __reduce__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged()
Value = str | None | Unchanged


def lsn_to_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it: `16/B374D848`."""
    if not 0 <= lsn < 1 << 64:
        raise ValueError(f"an LSN is an unsigned 64-bit number, not {lsn}")
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_from_text(text: str) -> int:
    """An LSN from PostgreSQL's `16/B374D848` form."""
    high, sep, low = text.strip().partition("/")
    try:
        if not sep or not high or not low or len(high) > 8 or len(low) > 8:
            raise ValueError
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
        raise ValueError(f"not an LSN (expected the form 16/B374D848): {text!r}") from None


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    key: bool  # part of the replica identity


@dataclass(frozen=True)
class Relation:
    """A table as the server describes it before sending changes of it."""

    oid: int
    schema: str
    table: str
    replica_identity: str  # pg_class.relreplident: d default, n nothing, f full, i index
    columns: tuple[Column, ...]

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.key)


@dataclass(frozen=True)
class Change:
    """One row change (or one truncated table) of a transaction.

    `new` is the row after an insert or update. `old` is the row before an update or delete:
    only the replica-identity key columns (the server sent a key tuple), or every column (the
    table has REPLICA IDENTITY FULL). An update that kept the key sends no old row (None).
    A value is text as PostgreSQL prints it, None for SQL NULL, or UNCHANGED for a TOASTed
    value the update did not touch.
    """

    op: Op
    schema: str
    table: str
    new: dict[str, Value] | None
    old: dict[str, Value] | None
    key_columns: tuple[str, ...]
    relation_oid: int = 0
    lsn: int = 0  # where the change was written, as the reader got it (0 when not given)

    @property
    def key(self) -> dict[str, Value]:
        """The replica-identity key values of the row before the change (update, delete)."""
        row = self.old if self.old is not None else self.new
        if row is None:
            return {}
        return {name: row.get(name) for name in self.key_columns}


@dataclass
class Transaction:
    """A committed source transaction with its changes, in the order they were made.

    `commit_lsn` is where the commit record starts, `end_lsn` where it ends: the position to
    store as applied and to advance the slot to (PostgreSQL then never sends it again).
    """

    xid: int
    commit_lsn: int
    end_lsn: int
    commit_time: datetime
    changes: list[Change] = field(default_factory=list)
    origin: str | None = None


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.buf):
            raise DecodingError("a pgoutput message ends too early")
        chunk = self.buf[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> str:
        return chr(self._take(1)[0])

    def int8(self) -> int:
        return self._take(1)[0]

    def int16(self) -> int:
        return int(_INT16.unpack(self._take(2))[0])

    def int32(self) -> int:
        return int(_INT32.unpack(self._take(4))[0])

    def uint32(self) -> int:
        return int(_UINT32.unpack(self._take(4))[0])

    def int64(self) -> int:
        return int(_INT64.unpack(self._take(8))[0])

    def lsn(self) -> int:
        return int(_UINT64.unpack(self._take(8))[0])

    def timestamp(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self.int64())

    def string(self, encoding: str) -> str:
        end = self.buf.find(b"\0", self.pos)
        if end < 0:
            raise DecodingError("a pgoutput string has no terminating NUL byte")
        text = self.buf[self.pos : end].decode(encoding)
        self.pos = end + 1
        return text

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise DecodingError("a pgoutput message has trailing bytes")


class Decoder:
    """Turns pgoutput messages into transactions; holds the relations seen so far.

    Feed it messages in stream order (`feed`, or `decode` for many at once); it returns a
    transaction when its commit arrives. Changes outside a transaction, or of a relation the
    server has not described, are errors: they mean the stream was cut or mixed up.
    """

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding
        self.relations: dict[int, Relation] = {}
        self.types: dict[int, tuple[str, str]] = {}  # oid -> (schema, name) of non-builtin types
        self._open: Transaction | None = None

    @property
    def in_transaction(self) -> bool:
        return self._open is not None

    def reset(self) -> None:
        """Forget a transaction whose commit never arrived (relations stay)."""
        self._open = None

    def decode(self, messages: Iterable[tuple[int, bytes]]) -> list[Transaction]:
        """Every transaction completed by these (lsn, message) pairs, in commit order."""
        done = []
        for lsn, message in messages:
            tx = self.feed(message, lsn)
            if tx is not None:
                done.append(tx)
        return done

    def feed(self, message: bytes, lsn: int = 0) -> Transaction | None:
        """Take one message; return the transaction it completes, if it is a commit."""
        if not message:
            raise DecodingError("an empty pgoutput message")
        r = _Reader(bytes(message))
        kind = r.byte()
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise DecodingError(f"unknown pgoutput message type {kind!r}")
        result = handler(self, r, lsn)
        r.done()
        return result

    def _tx(self, kind: str) -> Transaction:
        if self._open is None:
            raise DecodingError(f"pgoutput message {kind!r} outside a transaction")
        return self._open

    def _begin(self, r: _Reader, lsn: int) -> None:
        final_lsn, commit_time, xid = r.lsn(), r.timestamp(), r.uint32()
        self._open = Transaction(xid, final_lsn, 0, commit_time)

    def _commit(self, r: _Reader, lsn: int) -> Transaction:
        tx = self._tx("C")
        r.int8()  # flags, unused
        tx.commit_lsn, tx.end_lsn, tx.commit_time = r.lsn(), r.lsn(), r.timestamp()
        self._open = None
        return tx

    def _origin(self, r: _Reader, lsn: int) -> None:
        r.lsn()  # the commit's LSN on the origin server
        self._tx("O").origin = r.string(self.encoding)

    def _relation(self, r: _Reader, lsn: int) -> None:
        oid = r.uint32()
        schema = r.string(self.encoding) or "pg_catalog"
        table = r.string(self.encoding)
        identity = chr(r.int8())
        columns = []
        for _ in range(r.int16()):
            flags = r.int8()
            name = r.string(self.encoding)
            columns.append(Column(name, r.uint32(), r.int32(), bool(flags & 1)))
        self.relations[oid] = Relation(oid, schema, table, identity, tuple(columns))

    def _type(self, r: _Reader, lsn: int) -> None:
        oid = r.uint32()
        self.types[oid] = (r.string(self.encoding) or "pg_catalog", r.string(self.encoding))

    def _relation_of(self, oid: int) -> Relation:
        try:
            return self.relations[oid]
        except KeyError:
            raise DecodingError(f"a change of relation {oid}, which was never described") from None

    def _tuple(self, r: _Reader, rel: Relation) -> dict[str, Value]:
        count = r.int16()
        if count != len(rel.columns):
            raise DecodingError(
                f"a row of {rel.schema}.{rel.table} has {count} columns, "
                f"its description {len(rel.columns)}"
            )
        row: dict[str, Value] = {}
        for column in rel.columns:
            kind = r.byte()
            if kind == "n":
                row[column.name] = None
            elif kind == "u":
                row[column.name] = UNCHANGED
            elif kind == "t":
                row[column.name] = r._take(r.int32()).decode(self.encoding)
            else:
                raise DecodingError(f"unknown pgoutput column kind {kind!r}")
        return row

    def _change(self, op: Op, rel: Relation, new: object, old: object, lsn: int) -> Change:
        return Change(
            op,
            rel.schema,
            rel.table,
            new if isinstance(new, dict) else None,
            old if isinstance(old, dict) else None,
            rel.key_columns,
            rel.oid,
            lsn,
        )

    def _insert(self, r: _Reader, lsn: int) -> None:
        tx = self._tx("I")
        rel = self._relation_of(r.uint32())
        if r.byte() != "N":
            raise DecodingError("an insert without its new row")
        tx.changes.append(self._change("insert", rel, self._tuple(r, rel), None, lsn))

    def _old(self, r: _Reader, rel: Relation, marker: str) -> dict[str, Value]:
        row = self._tuple(r, rel)
        if marker == "K":  # only the key columns carry values
            return {name: row[name] for name in rel.key_columns}
        return row

    def _update(self, r: _Reader, lsn: int) -> None:
        tx = self._tx("U")
        rel = self._relation_of(r.uint32())
        marker = r.byte()
        old = None
        if marker in ("K", "O"):
            old = self._old(r, rel, marker)
            marker = r.byte()
        if marker != "N":
            raise DecodingError("an update without its new row")
        tx.changes.append(self._change("update", rel, self._tuple(r, rel), old, lsn))

    def _delete(self, r: _Reader, lsn: int) -> None:
        tx = self._tx("D")
        rel = self._relation_of(r.uint32())
        marker = r.byte()
        if marker not in ("K", "O"):
            raise DecodingError("a delete without its old row")
        tx.changes.append(self._change("delete", rel, None, self._old(r, rel, marker), lsn))

    def _truncate(self, r: _Reader, lsn: int) -> None:
        tx = self._tx("T")
        count = r.int32()
        r.int8()  # options: 1 CASCADE, 2 RESTART IDENTITY
        oids = [r.uint32() for _ in range(count)]
        for oid in oids:
            tx.changes.append(self._change("truncate", self._relation_of(oid), None, None, lsn))


_HANDLERS: dict[str, Callable[[Decoder, _Reader, int], Transaction | None]] = {
    "B": Decoder._begin,
    "C": Decoder._commit,
    "O": Decoder._origin,
    "R": Decoder._relation,
    "Y": Decoder._type,
    "I": Decoder._insert,
    "U": Decoder._update,
    "D": Decoder._delete,
    "T": Decoder._truncate,
}
