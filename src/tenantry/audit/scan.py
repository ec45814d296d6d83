"""The fast pass of verification: every chain checked in one streaming read per worker.

PostgreSQL renders each stored entry into its canonical text up to `seq` (`chain.BODY_SQL`) and
streams it with the raw hash columns through a binary COPY in the table's physical order (no
sort, no index). Python appends the last canonical field from the hash it computed for the
predecessor, hashes the bytes with `hashlib` and checks, per chain: contiguous sequence numbers
from the chain's base, the stored link to the predecessor, the stored hash, and the digest of
`encrypted_values` (recomputed here too). No digest computed by the database is trusted.

Entries of a chain that arrive ahead of their predecessor wait in a bounded buffer. A chain
that fails any check, or whose buffer would grow too large, is only marked `suspect`: the
reference walk in `verify.py` re-reads it in order and names the first broken entry and why.
So this pass decides "intact" and nothing else. Reads only; runs inside the caller's snapshot.
"""

from __future__ import annotations

import hashlib
import select
import struct
import uuid
from binascii import hexlify
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tenantry.audit.chain import BODY_FROM, BODY_SQL

__all__ = ["ChainStart", "Outcome", "ScanResult", "TenantRange", "check_rows", "scan_chains"]

# tenant (uuid, 16 bytes), seq (int8), prev_hash, hash, encrypted_values, canonical text to seq.
_QUERY = (
    "COPY (SELECT l.tenant_id, l.seq, l.prev_hash, l.hash, l.encrypted_values, "
    + BODY_SQL
    + f" FROM {BODY_FROM} {{where}}) TO STDOUT (FORMAT binary)"
)
# Offsets in a binary COPY row: int16 field count, then per field an int32 length and the data.
_TENANT = slice(6, 22)
_SEQ_AT = 26
_PREV_LEN, _PREV = slice(34, 38), slice(38, 70)
_HASH_LEN, _HASH = slice(70, 74), slice(74, 106)
_ENC_LEN = slice(106, 110)
_BODY_AT = 114  # when encrypted_values is NULL
_LEN32 = struct.pack("!i", 32)
_NULL = struct.pack("!i", -1)
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_TRAILER = b"\xff\xff"
_SEQ = struct.Struct("!q").unpack_from
# Entries held back for a predecessor that has not arrived yet, over all chains of one worker.
_MAX_WAITING = 100_000


@dataclass(frozen=True)
class ChainStart:
    """Where a chain's walk begins: the entry after `seq`, linked to `hash`; the checkpoint
    signed entry `anchor_seq` (0: no checkpoint for this chain)."""

    seq: int
    hash: bytes
    anchor_seq: int = 0


@dataclass(frozen=True)
class Outcome:
    """A chain after the fast pass: `last_seq` and `last_hash` of the verified prefix, the hash
    of the anchored entry when it was reached, and whether the reference walk must decide."""

    last_seq: int
    last_hash: bytes
    anchor_hash: bytes | None
    suspect: bool


@dataclass(frozen=True)
class TenantRange:
    """Tenants with `low <= tenant_id < high` (None leaves a side open), or only `tenant`."""

    low: uuid.UUID | None = None
    high: uuid.UUID | None = None
    tenant: uuid.UUID | None = None


@dataclass
class ScanResult:
    entries: int
    chains: dict[uuid.UUID, Outcome]


class _Chain:
    __slots__ = (
        "anchor_hash",
        "anchor_seq",
        "expected",
        "prev",
        "prev_field",
        "suspect",
        "waiting",
    )

    def __init__(self, start: ChainStart) -> None:
        self.expected = start.seq + 1
        self.prev = start.hash
        self.prev_field = b"64:" + hexlify(start.hash) + b"\n"
        self.anchor_seq = start.anchor_seq
        self.anchor_hash: bytes | None = None
        self.suspect = False
        self.waiting: dict[int, bytes] = {}


def _where(conn: psycopg.Connection, tenants: TenantRange) -> str:
    parts = []
    if tenants.tenant is not None:
        parts.append(sql.SQL("l.tenant_id = {}").format(sql.Literal(tenants.tenant)))
    if tenants.low is not None:
        parts.append(sql.SQL("l.tenant_id >= {}").format(sql.Literal(tenants.low)))
    if tenants.high is not None:
        parts.append(sql.SQL("l.tenant_id < {}").format(sql.Literal(tenants.high)))
    if not parts:
        return ""
    return "WHERE " + sql.SQL(" AND ").join(parts).as_string(conn)


def _copy_rows(conn: psycopg.Connection, query: str) -> Iterator[bytes]:
    """The rows of a binary COPY TO, one bytes object each, without header and trailer.

    psycopg's `Copy` starts the COPY, reads its end (raising the server's error, if any) and
    cancels it when the caller stops early; the rows in between are taken straight from
    libpq, which costs half as much per row as `Copy.read()`.
    """
    # A synchronized scan would start where another scan of the table is, or last was,
    # and wrap around: most entries would then arrive ahead of their predecessors.
    conn.execute("SET LOCAL synchronize_seqscans = off")
    with conn.cursor() as cur, cur.copy(query) as copy:
        pgconn = conn.pgconn
        get = pgconn.get_copy_data
        header = True
        while True:
            nbytes, data = get(1)
            if nbytes == 0:  # nothing buffered: wait for the socket without holding the GIL
                select.select([pgconn.socket], [], [])
                pgconn.consume_input()
                continue
            if nbytes < 0:  # ended without a trailer: psycopg reports the server's error
                copy.read()
                raise psycopg.DataError("the COPY stream ended without its trailer")
            row = bytes(data)
            if header:
                if not row.startswith(_SIGNATURE):
                    raise psycopg.DataError("not a binary COPY stream")
                extension = struct.unpack_from("!i", row, 15)[0]
                row = row[19 + extension :]
                header = False
                if not row:
                    continue
            if row == _TRAILER:
                break
            yield row
        if copy.read():
            raise psycopg.DataError("data after the COPY trailer")


def _encrypted_ok(row: bytes, seq: int) -> tuple[bool, bytes]:
    """For an entry with `encrypted_values`: the canonical body, and whether the digest field
    PostgreSQL wrote into it equals the SHA-256 of the stored bytes computed here."""
    length = struct.unpack_from("!i", row, 106)[0]
    body = row[110 + length + 4 :]
    digest = hashlib.sha256(row[110 : 110 + length]).hexdigest().encode()
    seq_text = b"%d" % seq
    tail = b"64:%s\n%d:%s\n" % (digest, len(seq_text), seq_text)
    return body.endswith(tail), body


def scan_chains(
    conn: psycopg.Connection,
    starts: Mapping[uuid.UUID, ChainStart],
    tenants: TenantRange | None = None,
) -> ScanResult:
    """Check every chain in `tenants` (all when None) in one pass over `audit.log`.

    `conn` is in the caller's transaction (its snapshot decides what is seen) and must see
    every tenant. `starts` gives each known chain's base; a chain without one starts at 1
    from the genesis hash.
    """
    query = _QUERY.format(where=_where(conn, tenants or TenantRange()))
    return check_rows(_copy_rows(conn, query), starts)


def check_rows(rows: Iterable[bytes], starts: Mapping[uuid.UUID, ChainStart]) -> ScanResult:
    """The checks of `scan_chains` over rows of its binary COPY (the hot loop)."""
    genesis = ChainStart(0, bytes(32))
    by_key = {t.bytes: s for t, s in starts.items()}
    chains: dict[bytes, _Chain] = {}
    sha256 = hashlib.sha256
    entries = waiting = 0
    for row in rows:
        entries += 1
        key = row[_TENANT]
        chain = chains.get(key)
        if chain is None:
            chain = chains[key] = _Chain(by_key.get(key, genesis))
        if chain.suspect:
            continue
        seq = _SEQ(row, _SEQ_AT)[0]
        if seq != chain.expected:
            if seq < chain.expected or seq in chain.waiting:
                chain.suspect = True  # a second entry with a taken number
            elif waiting >= _MAX_WAITING:
                chain.suspect = True  # too far out of order: the ordered walk decides
            else:
                chain.waiting[seq] = row
                waiting += 1
                continue
            waiting -= len(chain.waiting)
            chain.waiting.clear()
            continue
        while True:  # verify this entry, then any successors that were waiting for it
            if row[_PREV] != chain.prev or row[_PREV_LEN] != _LEN32 or row[_HASH_LEN] != _LEN32:
                chain.suspect = True
                break
            if row[_ENC_LEN] == _NULL:
                body = row[_BODY_AT:]
            else:
                ok, body = _encrypted_ok(row, seq)
                if not ok:
                    chain.suspect = True
                    break
            digest = sha256(body + chain.prev_field).digest()
            if digest != row[_HASH]:
                chain.suspect = True
                break
            if seq == chain.anchor_seq:
                chain.anchor_hash = digest
            chain.prev = digest
            chain.prev_field = b"64:" + hexlify(digest) + b"\n"
            seq += 1
            chain.expected = seq
            if not chain.waiting:
                break
            following = chain.waiting.pop(seq, None)
            if following is None:
                break
            waiting -= 1
            row = following
        if chain.suspect:
            waiting -= len(chain.waiting)
            chain.waiting.clear()
    return ScanResult(
        entries,
        {
            uuid.UUID(bytes=key): Outcome(
                c.expected - 1, c.prev, c.anchor_hash, c.suspect or bool(c.waiting)
            )
            for key, c in chains.items()
        },
    )
