"""Verification: recompute every chain and hold it against the chain heads and a checkpoint.

Reads `audit.log` in (tenant, seq) order through a server-side cursor, recomputes each entry's
hash with `chain.entry_hash`, checks that it links to its predecessor, that sequence numbers
are contiguous, that the log reaches the chain head recorded in the database, and that it
contains the heads signed in the latest external checkpoint. Reports the first broken entry
of each chain and why. Reads only; never repairs.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import psycopg

from tenantry.audit.chain import CANONICAL_SQL, GENESIS_HEX
from tenantry.audit.checkpoints import (
    HeadRef,
    SignedCheckpoint,
    database_copy,
    latest_file,
    load_signing_key,
    public_key_bytes,
)
from tenantry.config import Settings
from tenantry.errors import ConfigurationError

__all__ = [
    "REASONS",
    "Break",
    "Report",
    "check_checkpoint",
    "verify_chains",
    "verify_trail",
]

REASONS = (
    "edited",
    "deleted",
    "reordered",
    "inserted",
    "truncated tail",
    "checkpoint mismatch",
)

_BATCH = 20_000
# tenant, canonical text, stored hash, seq, previous hash: the hash is recomputed here, in
# Python, over the canonical text of the stored columns.
_ENTRIES = (
    f"SELECT l.tenant_id::text, {CANONICAL_SQL}, encode(l.hash, 'hex'), l.seq,"
    " encode(l.prev_hash, 'hex') FROM audit.log l {where} ORDER BY l.tenant_id, l.seq"
)


@dataclass(frozen=True)
class Break:
    """The first broken entry of a chain (`seq` None when no entry can be named)."""

    tenant_id: uuid.UUID | None
    seq: int | None
    reason: str
    detail: str

    def describe(self) -> str:
        where = f"tenant {self.tenant_id}" if self.tenant_id else "checkpoint"
        entry = f" entry {self.seq}" if self.seq is not None else ""
        return f"{where}{entry}: {self.reason} ({self.detail})"


@dataclass
class Report:
    chains: int = 0
    entries: int = 0
    breaks: list[Break] = field(default_factory=list)
    checkpoint: SignedCheckpoint | None = None

    @property
    def intact(self) -> bool:
        return not self.breaks


@dataclass(frozen=True)
class _Head:
    seq: int
    hash_hex: str
    base_seq: int
    base_hex: str


@dataclass
class _Chain:
    """The walk along one tenant's chain."""

    tenant: uuid.UUID
    expected: int
    prev: str
    last_hash: str | None = None
    anchor_hash: str | None = None
    broken: Break | None = None


def check_checkpoint(
    conn: psycopg.Connection, external: SignedCheckpoint, public_key: bytes
) -> Break | None:
    """The external checkpoint is genuine and the database holds the same one."""
    if not external.signed_by(public_key):
        return Break(
            None, None, "checkpoint mismatch", f"checkpoint {external.id} has an invalid signature"
        )
    copy = database_copy(conn, external.id)
    if copy is None:
        return Break(
            None,
            None,
            "checkpoint mismatch",
            f"checkpoint {external.id} is missing in the database",
        )
    if copy.payload != external.payload or copy.signature != external.signature:
        return Break(
            None, None, "checkpoint mismatch", f"checkpoint {external.id} differs in the database"
        )
    return None


def _heads(conn: psycopg.Connection, tenant: uuid.UUID | None) -> dict[uuid.UUID, _Head]:
    where, params = ("WHERE tenant_id = %s", (tenant,)) if tenant else ("", ())
    rows = conn.execute(
        "SELECT tenant_id, seq, encode(head_hash, 'hex'), base_seq, encode(base_hash, 'hex')"
        f" FROM audit.chain_heads {where}",
        params,
    )
    return {r[0]: _Head(r[1], r[2], r[3], r[4]) for r in rows}


def _seq_of_hash(conn: psycopg.Connection, tenant: uuid.UUID, hash_hex: str) -> int | None:
    row = conn.execute(
        "SELECT min(seq) FROM audit.log WHERE tenant_id = %s AND hash = decode(%s, 'hex')",
        (tenant, hash_hex),
    ).fetchone()
    return None if row is None else row[0]


def _classify_link(
    conn: psycopg.Connection, chain: _Chain, seq: int, prev: str, self_ok: bool
) -> Break:
    """Name why entry `seq` does not link to the entry before it."""
    linked = _seq_of_hash(conn, chain.tenant, prev)
    if linked is not None and linked == seq - 2:
        return Break(
            chain.tenant,
            seq - 1,
            "inserted",
            f"entry {seq} links to entry {seq - 2}: entry {seq - 1} was put in between",
        )
    if linked is not None:
        return Break(
            chain.tenant,
            seq,
            "reordered",
            f"entry {seq} links to entry {linked} instead of entry {seq - 1}",
        )
    if self_ok:
        return Break(
            chain.tenant,
            seq - 1,
            "edited",
            f"entry {seq - 1} was rewritten: its successor links to a different hash",
        )
    return Break(chain.tenant, seq, "edited", "its contents and link do not match its hash")


def _walk(
    conn: psycopg.Connection,
    chain: _Chain,
    row: tuple[str | int | None, ...],
    anchor: HeadRef | None,
    *,
    twin: bool,
) -> None:
    canon = str(row[1])
    stored = str(row[2])
    seq = int(row[3])  # type: ignore[arg-type]
    prev = str(row[4])
    if seq < chain.expected or (twin and seq == chain.expected):
        chain.broken = Break(
            chain.tenant, seq, "inserted", f"a second entry claims sequence number {seq}"
        )
        return
    if seq > chain.expected:
        missing = (
            f"entry {chain.expected} is missing"
            if seq == chain.expected + 1
            else f"entries {chain.expected}..{seq - 1} are missing"
        )
        chain.broken = Break(chain.tenant, chain.expected, "deleted", missing)
        return
    self_ok = hashlib.sha256(canon.encode()).hexdigest() == stored
    if prev != chain.prev:
        chain.broken = _classify_link(conn, chain, seq, prev, self_ok)
        return
    if not self_ok:
        chain.broken = Break(chain.tenant, seq, "edited", "its contents do not match its hash")
        return
    if anchor is not None and seq == anchor.seq:
        chain.anchor_hash = stored
    chain.prev = stored
    chain.last_hash = stored
    chain.expected = seq + 1


def _finish(chain: _Chain, head: _Head | None, anchor: HeadRef | None) -> Break | None:
    if chain.broken is not None:
        return chain.broken
    last = chain.expected - 1
    if head is None:
        if last > 0:
            return Break(chain.tenant, 1, "inserted", "entries exist but the chain has no head")
        head = _Head(0, GENESIS_HEX, 0, GENESIS_HEX)
    if last < head.seq:
        return Break(
            chain.tenant,
            last + 1,
            "truncated tail",
            f"the chain head is entry {head.seq} but the log ends at entry {last}",
        )
    if last > head.seq:
        return Break(
            chain.tenant,
            head.seq + 1,
            "inserted",
            f"entries after the chain head ({head.seq}) exist",
        )
    if last > head.base_seq and chain.last_hash != head.hash_hex:
        return Break(chain.tenant, last, "edited", "the newest entry does not match the chain head")
    if anchor is not None and anchor.seq > head.base_seq:
        if last < anchor.seq:
            return Break(
                chain.tenant,
                last + 1,
                "truncated tail",
                f"the checkpoint holds entry {anchor.seq} but the log ends at entry {last}",
            )
        if chain.anchor_hash != anchor.hash_hex:
            return Break(
                chain.tenant,
                anchor.seq,
                "checkpoint mismatch",
                "the entry differs from the one the checkpoint signed",
            )
    return None


def _start(tenant: uuid.UUID, head: _Head | None) -> _Chain:
    if head is None:
        return _Chain(tenant, 1, GENESIS_HEX)
    return _Chain(tenant, head.base_seq + 1, head.base_hex)


def _with_twins(
    rows: Iterable[tuple[str | int | None, ...]],
) -> Iterator[tuple[tuple[str | int | None, ...], bool]]:
    """Each row, and whether the next one claims the same tenant and sequence number."""
    pending: tuple[str | int | None, ...] | None = None
    for row in rows:
        if pending is not None:
            yield pending, pending[0] == row[0] and pending[3] == row[3]
        pending = row
    if pending is not None:
        yield pending, False


def _rows(
    conn: psycopg.Connection, tenant: uuid.UUID | None
) -> Iterable[tuple[str | int | None, ...]]:
    where, params = ("WHERE l.tenant_id = %s", (tenant,)) if tenant else ("", ())
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = _BATCH
        cur.execute(_ENTRIES.format(where=where), params)
        yield from cur


def verify_chains(
    conn: psycopg.Connection,
    *,
    tenant: uuid.UUID | None = None,
    anchors: Mapping[uuid.UUID, HeadRef] | None = None,
) -> Report:
    """Walk every chain (or one tenant's) inside the caller's transaction on `conn`.

    `conn` must see every tenant (the owner role). `anchors` are the heads of a checkpoint
    whose signature and database copy the caller has already checked.
    """
    anchors = dict(anchors or {})
    if tenant is not None:
        anchors = {t: h for t, h in anchors.items() if t == tenant}
    heads = _heads(conn, tenant)
    report = Report()
    chain: _Chain | None = None
    current: object = None
    anchor: HeadRef | None = None
    seen: set[uuid.UUID] = set()
    for row, twin in _with_twins(_rows(conn, tenant)):
        report.entries += 1
        if chain is None or row[0] != current:
            if chain is not None:
                _close(report, chain, heads, anchors)
            current, row_tenant = row[0], uuid.UUID(str(row[0]))
            chain = _start(row_tenant, heads.get(row_tenant))
            anchor = anchors.get(row_tenant)
            seen.add(row_tenant)
        if chain.broken is None:
            _walk(conn, chain, row, anchor, twin=twin)
    if chain is not None:
        _close(report, chain, heads, anchors)
    for missing in sorted((set(heads) | set(anchors)) - seen):
        head = heads.get(missing)
        if head is None or head.seq > head.base_seq or missing in anchors:
            _close(report, _start(missing, head), heads, anchors)
    return report


def _close(
    report: Report,
    chain: _Chain,
    heads: Mapping[uuid.UUID, _Head],
    anchors: Mapping[uuid.UUID, HeadRef],
) -> None:
    report.chains += 1
    broken = _finish(chain, heads.get(chain.tenant), anchors.get(chain.tenant))
    if broken is not None:
        report.breaks.append(broken)


def verify_trail(
    conn: psycopg.Connection, settings: Settings, *, tenant: uuid.UUID | None = None
) -> Report:
    """Check the latest external checkpoint, then every chain against it, in one snapshot.

    `conn` is an idle owner connection; the check runs in one REPEATABLE READ, read-only
    transaction, so appends committed meanwhile cannot look like breaks.
    """
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    try:
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        external = latest_file(settings, database[0])
        problem: Break | None = None
        anchors: dict[uuid.UUID, HeadRef] | None = None
        if external is None:
            stored = conn.execute("SELECT count(*) FROM audit.checkpoints").fetchone()
            if stored is not None and stored[0]:
                problem = Break(
                    None,
                    None,
                    "checkpoint mismatch",
                    "the database holds checkpoints but none is kept outside it",
                )
        else:
            key = load_signing_key(settings, create=False)
            if key is None:
                raise ConfigurationError("audit checkpoints exist but the signing key is missing")
            problem = check_checkpoint(conn, external, public_key_bytes(key))
            if problem is None:
                anchors = external.heads()
        report = verify_chains(conn, tenant=tenant, anchors=anchors)
        report.checkpoint = external
        if problem is not None:
            report.breaks.insert(0, problem)
        return report
    finally:
        conn.rollback()
        conn.read_only = False
        conn.isolation_level = None
