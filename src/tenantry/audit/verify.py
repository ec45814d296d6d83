"""Verification: recompute every chain and hold it against the chain heads and a checkpoint.

Every chain is first checked by the fast pass (`scan.py`: one streaming read per connection,
the connections sharing one snapshot). A chain it cannot confirm is walked again here, alone,
in `seq` order and field by field with `chain.canonical`, to name its first broken entry and
why (`_reference_walk`). Every chain is then held against its head in the database and the
head signed in the latest external checkpoint. Bulk batches (`B` entries) are then checked
against their leaves and rows (`bulk_verify.py`). All chain hashing is done in Python; functions
are resolved in `pg_catalog` only. Reads only; never repairs.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tenantry.audit.bulk_verify import BULK_REASONS, verify_batches
from tenantry.audit.chain import GENESIS_HEX, SELECT_FIELDS, canonical
from tenantry.audit.checkpoints import (
    HeadRef,
    SignedCheckpoint,
    database_copy,
    latest_file,
    load_signing_key,
    public_key_bytes,
)
from tenantry.audit.scan import ChainStart, Outcome, ScanResult, TenantRange, scan_chains
from tenantry.config import Settings
from tenantry.errors import ConfigurationError

__all__ = [
    "REASONS",
    "Break",
    "Report",
    "check_checkpoint",
    "default_jobs",
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
    *BULK_REASONS,
)

_BATCH = 20_000
_ENCRYPTED = SELECT_FIELDS.index("encode(sha256(encrypted_values), 'hex')")
# The reference walk: one chain in order, every field as text except `encrypted_values`
# (raw, digested here), the stored hash, seq and previous hash. Both the canonical text and
# every digest are computed in Python, with `chain.canonical`.
_ENTRIES = (
    "SELECT "
    + ", ".join(
        "encrypted_values" if i == _ENCRYPTED else expr for i, expr in enumerate(SELECT_FIELDS)
    )
    + ", encode(l.hash, 'hex'), l.seq"
    " FROM audit.log l WHERE l.tenant_id = %s ORDER BY l.seq"
)

# A row of `_ENTRIES`.
Row = tuple[str | int | bytes | None, ...]


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
    batches: int = 0
    bulk_rows: int = 0
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
    row: Row,
    anchor: HeadRef | None,
    *,
    twin: bool,
) -> None:
    values = list(row[: len(SELECT_FIELDS)])
    encrypted = values[_ENCRYPTED]
    if encrypted is not None:
        values[_ENCRYPTED] = hashlib.sha256(encrypted).hexdigest()  # type: ignore[arg-type]
    stored = str(row[-2])
    seq = int(row[-1])  # type: ignore[arg-type]
    prev = str(row[-3])
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
    self_ok = hashlib.sha256(canonical(values)).hexdigest() == stored  # type: ignore[arg-type]
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


def _with_twins(rows: Iterable[Row]) -> Iterator[tuple[Row, bool]]:
    """Each row of one chain, and whether the next one claims the same sequence number."""
    pending: Row | None = None
    for row in rows:
        if pending is not None:
            yield pending, pending[-1] == row[-1]
        pending = row
    if pending is not None:
        yield pending, False


def _rows(conn: psycopg.Connection, tenant: uuid.UUID) -> Iterable[Row]:
    with conn.cursor(name="audit_walk") as cur:
        cur.itersize = _BATCH
        cur.execute(_ENTRIES, (tenant,))
        yield from cur


def _reference_walk(
    conn: psycopg.Connection, tenant: uuid.UUID, head: _Head | None, anchor: HeadRef | None
) -> _Chain:
    """One chain in order, field by field, naming its first broken entry and why."""
    chain = _start(tenant, head)
    for row, twin in _with_twins(_rows(conn, tenant)):
        _walk(conn, chain, row, anchor, twin=twin)
        if chain.broken is not None:
            break
    return chain


def _from_outcome(tenant: uuid.UUID, head: _Head | None, outcome: Outcome) -> _Chain:
    start = _start(tenant, head)
    chain = _Chain(tenant, outcome.last_seq + 1, outcome.last_hash.hex())
    if outcome.last_seq >= start.expected:
        chain.last_hash = outcome.last_hash.hex()
    if outcome.anchor_hash is not None:
        chain.anchor_hash = outcome.anchor_hash.hex()
    return chain


def _split(heads: Mapping[uuid.UUID, _Head], jobs: int) -> list[TenantRange]:
    """Contiguous tenant ranges with about the same number of entries each."""
    sizes = sorted((t, h.seq - h.base_seq + 1) for t, h in heads.items())
    total = sum(size for _, size in sizes)
    bounds: list[uuid.UUID] = []
    done = 0
    for t, size in sizes:
        if done >= total * (len(bounds) + 1) / jobs and len(bounds) < jobs - 1:
            bounds.append(t)
        done += size
    edges: list[uuid.UUID | None] = [None, *bounds, None]
    return [TenantRange(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _pin(conn: psycopg.Connection) -> None:
    """Resolve every function and operator in PostgreSQL's own catalog for the rest of the
    transaction: a `search_path` set for the role cannot slip in look-alike functions."""
    conn.execute("SET LOCAL search_path = pg_catalog")


def _scan_in_snapshot(
    conninfo: str, snapshot: str, starts: Mapping[uuid.UUID, ChainStart], tenants: TenantRange
) -> ScanResult:
    with psycopg.connect(conninfo) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        _pin(conn)
        try:
            return scan_chains(conn, starts, tenants)
        finally:
            conn.rollback()


def _scan(
    conn: psycopg.Connection,
    starts: Mapping[uuid.UUID, ChainStart],
    ranges: Sequence[TenantRange],
) -> ScanResult:
    """The fast pass over `ranges`, each on its own connection sharing `conn`'s snapshot."""
    if len(ranges) == 1:
        return scan_chains(conn, starts, ranges[0])
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    conninfo = make_conninfo(conn.info.dsn, password=conn.info.password or None)
    with ThreadPoolExecutor(len(ranges)) as pool:
        parts = list(pool.map(lambda r: _scan_in_snapshot(conninfo, row[0], starts, r), ranges))
    merged = ScanResult(0, {})
    for part in parts:
        merged.entries += part.entries
        merged.chains.update(part.chains)
    return merged


def default_jobs() -> int:
    """Connections that verify in parallel: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def verify_chains(
    conn: psycopg.Connection,
    *,
    tenant: uuid.UUID | None = None,
    anchors: Mapping[uuid.UUID, HeadRef] | None = None,
    jobs: int = 1,
) -> Report:
    """Check every chain (or one tenant's) inside the caller's transaction on `conn`.

    `conn` must see every tenant (the owner role) and be in a REPEATABLE READ transaction
    when `jobs` > 1, so the other connections can share its snapshot. `anchors` are the heads
    of a checkpoint whose signature and database copy the caller has already checked.
    Chains the fast pass (`scan.py`) cannot confirm are walked again in order to name the
    first broken entry. Bulk batches are checked last (`bulk_verify.verify_batches`).
    """
    anchors = dict(anchors or {})
    if tenant is not None:
        anchors = {t: h for t, h in anchors.items() if t == tenant}
    _pin(conn)
    heads = _heads(conn, tenant)
    starts = {
        t: ChainStart(
            h.base_seq,
            bytes.fromhex(h.base_hex),
            anchors[t].seq if t in anchors else 0,
        )
        for t, h in heads.items()
    }
    for t, a in anchors.items():
        starts.setdefault(t, ChainStart(0, bytes(32), a.seq))
    if tenant is not None:
        ranges = [TenantRange(tenant=tenant)]
    else:
        ranges = _split(heads, max(1, min(jobs, len(heads))))
    scanned = _scan(conn, starts, ranges)
    report = Report(entries=scanned.entries)
    for t in sorted(scanned.chains):
        outcome = scanned.chains[t]
        head = heads.get(t)
        if outcome.suspect:
            chain = _reference_walk(conn, t, head, anchors.get(t))
        else:
            chain = _from_outcome(t, head, outcome)
        _close(report, chain, heads, anchors)
    for missing in sorted((set(heads) | set(anchors)) - set(scanned.chains)):
        head = heads.get(missing)
        if head is None or head.seq > head.base_seq or missing in anchors:
            _close(report, _start(missing, head), heads, anchors)
    bulk = verify_batches(conn, tenant=tenant)
    report.batches, report.bulk_rows = bulk.batches, bulk.rows
    report.breaks += [Break(p.tenant_id, p.seq, p.reason, p.detail) for p in bulk.problems]
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
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant: uuid.UUID | None = None,
    jobs: int | None = None,
) -> Report:
    """Check the latest external checkpoint, then every chain against it, in one snapshot.

    `conn` is an idle owner connection; the check runs in one REPEATABLE READ, read-only
    transaction, so appends committed meanwhile cannot look like breaks.
    """
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    try:
        _pin(conn)
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
        report = verify_chains(conn, tenant=tenant, anchors=anchors, jobs=jobs or default_jobs())
        report.checkpoint = external
        if problem is not None:
            report.breaks.insert(0, problem)
        return report
    finally:
        conn.rollback()
        conn.read_only = False
        conn.isolation_level = None
