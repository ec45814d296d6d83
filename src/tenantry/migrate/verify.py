"""`tenantry migrate verify`: prove that source and target agree, or name where they do not.

Both sides are reduced to one digest per source key, per entity: the source side by reading
the source in one REPEATABLE READ snapshot and transforming each row exactly as the load does
(`transform`), the target side by reading the id map and the canonical rows and opening their
personal data. The digests of sorted key ranges are compared as checksums (XOR of the row
digests) and a differing range is bisected down to the rows that differ; only those rows are
then compared column by column, so the report names source key, canonical id and column, never
a value. Rows merged into another record are compared on the columns their lineage says they
supplied. A chat row that is gone from the target because `tenantry messages upkeep` dropped
its month (90 days) is not a difference. The caller decides the consistent point: `at` runs
inside the source snapshot before anything is read (change capture uses it to bring the target
to exactly that snapshot).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.migrate import state
from tenantry.migrate.convert import Context
from tenantry.migrate.load import fixed_defaults, owner_connection, resolve
from tenantry.migrate.mapping import Entity, Mapping
from tenantry.migrate.plan import check_fit
from tenantry.migrate.source import SourceTable, connect_source, introspect
from tenantry.migrate.transform import Prepared, Reader, Rejected, Transformer
from tenantry.privacy.sealing import open_platform_value, open_value
from tenantry.privacy.vault import keyring, platform_keys

__all__ = ["Difference", "VerifyReport", "bisect", "canonical_equal", "verify"]

BATCH = 5000
# canonical id -> column -> (entity, source key) that supplied it
Lineage = dict[uuid.UUID, dict[str, tuple[str, str]]]
MAX_NAMED = 1000  # differences named in full; the count is always exact
_ZERO = bytes(16)


@dataclass(frozen=True)
class Difference:
    entity: str
    source_key: str
    canonical_id: str | None
    column: str | None
    kind: str  # value differs | missing in target | not in source | outcome differs

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class VerifyReport:
    run: str
    equal: bool = True
    rows: int = 0
    seconds: float = 0.0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    differences_total: int = 0
    source_lsn: int | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "equal": self.equal,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "counts": self.counts,
            "differences_total": self.differences_total,
            "differences": [d.as_json() for d in self.differences],
            "source_lsn": None if self.source_lsn is None else state.lsn_text(self.source_lsn),
        }


# -- digests --------------------------------------------------------------------------------


def _canon(value: Any) -> Any:
    if value in ("", [], {}):  # an empty value and a column's empty default mean the same
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, (uuid.UUID, bytes)):
        return str(value) if isinstance(value, uuid.UUID) else value.hex()
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in sorted(value.items())}
    if isinstance(value, int) and not isinstance(value, bool):
        return format(Decimal(value).normalize(), "f")
    return value


def canonical_equal(a: Any, b: Any) -> bool:
    """Whether two values mean the same (as verification compares them)."""
    return bool(_canon(a) == _canon(b))


def _digest(values: dict[str, Any]) -> bytes:
    text = json.dumps({k: _canon(v) for k, v in sorted(values.items())}, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(16, "big")


def bisect(source: dict[str, bytes], target: dict[str, bytes], leaf: int = 16) -> list[str]:
    """The keys whose digests differ, found by comparing range checksums and bisecting.

    A range's checksum is the XOR of its rows' digests (with the key mixed in, so a row
    present on one side only changes it). Equal ranges are skipped whole.
    """
    keys = sorted(source.keys() | target.keys())

    def mixed(side: dict[str, bytes], key: str) -> bytes:
        digest = side.get(key)
        if digest is None:
            return _ZERO
        return hashlib.blake2b(key.encode() + digest, digest_size=16).digest()

    def checksum(side: dict[str, bytes], lo: int, hi: int) -> bytes:
        acc = _ZERO
        for key in keys[lo:hi]:
            acc = _xor(acc, mixed(side, key))
        return acc

    out: list[str] = []
    stack = [(0, len(keys))]
    while stack:
        lo, hi = stack.pop()
        if hi <= lo or checksum(source, lo, hi) == checksum(target, lo, hi):
            continue
        if hi - lo <= leaf:
            out.extend(k for k in keys[lo:hi] if source.get(k) != target.get(k))
            continue
        mid = (lo + hi) // 2
        stack.extend([(mid, hi), (lo, mid)])
    return sorted(out)


# -- the two sides --------------------------------------------------------------------------


@dataclass
class Expected:
    """What the source says a key should be in the target."""

    outcome: str  # placed (loaded or merged) | quarantined
    values: dict[str, Any]
    deleted: bool = False


class Side:
    """Both sides' digests and comparable values of one entity."""

    def __init__(self, entity: Entity) -> None:
        self.entity = entity
        self.expected: dict[str, Expected] = {}
        self.source: dict[str, bytes] = {}
        self.target: dict[str, bytes] = {}
        self.actual: dict[str, dict[str, Any]] = {}
        self.canonical: dict[str, uuid.UUID | None] = {}
        # Quarantined because the database refused the row (a check constraint): the source
        # row is expected there as long as it still transforms (verify cannot retry the write).
        self.refused: set[str] = set()


def _source_side(
    src: psycopg.Connection,
    conn: psycopg.Connection,
    run: str,
    mapping: Mapping,
    entity: Entity,
    table: SourceTable,
    ctx: Context,
    side: Side,
) -> int:
    reader = Reader(entity, table)
    transform = Transformer(mapping, entity, reader, ctx)
    rows = 0
    with src.cursor(name=f"verify_{entity.name}") as cur:
        cur.itersize = BATCH
        cur.execute(reader.scan(), [])
        while batch := cur.fetchmany(BATCH):
            rows += len(batch)
            prepared: list[Prepared] = []
            for row in batch:
                out = transform(row)
                if isinstance(out, Rejected):
                    if not out.skip:
                        side.expected[out.key] = Expected("quarantined", {})
                else:
                    prepared.append(out)
            tenant = _fixed_tenant(conn, entity)
            ok, bad = resolve(
                conn, run, entity, prepared, tenant, fixed_defaults(conn, entity, tenant)
            )
            for refused in bad:
                side.expected[refused.key] = Expected("quarantined", {})
            for item in ok:
                side.expected[item.prepared.key] = Expected(
                    "placed", item.values, item.prepared.deleted
                )
    return rows


def _fixed_tenant(conn: psycopg.Connection, entity: Entity) -> uuid.UUID | None:
    if entity.tenant.kind != "fixed":
        return None
    row = conn.execute(
        "SELECT id FROM identity.tenants WHERE slug = %s", (entity.tenant.slug,)
    ).fetchone()
    return None if row is None else row[0]


def _compared(entity: Entity, values: dict[str, Any], deleted: bool, soft: bool) -> dict[str, Any]:
    """The values verification compares: every mapped column plus the soft-delete flag."""
    out = {s.target: values.get(s.target) for s in entity.columns if s.target != "deleted_at"}
    if soft:
        out["deleted"] = deleted or values.get("deleted_at") is not None
    return out


def _target_side(
    db: Database,
    conn: psycopg.Connection,
    run: str,
    entity: Entity,
    side: Side,
    lineage: Lineage,
) -> None:
    target = entity.canonical
    schema, name = target.name.split(".")
    columns = [c for c in target.copy_columns if not c.endswith("_bidx")]
    rows = conn.execute(
        sql.SQL(
            "SELECT m.source_key, m.outcome, m.canonical_id, m.canonical_tenant, {}, m.reason "
            "FROM migrate.id_map m LEFT JOIN {}.{} t "
            "ON {} t.id = m.canonical_id "
            "WHERE m.run = %s AND m.entity = %s"
        ).format(
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns),
            sql.Identifier(schema),
            sql.Identifier(name),
            sql.SQL("" if target.platform_scoped else "t.tenant_id = m.canonical_tenant AND"),
        ),
        (run, entity.name),
    ).fetchall()
    roles: dict[tuple[Any, Any], str] = {}
    if target.platform_scoped:  # a staff account's `role` is its membership's in the tenant
        roles = {
            (tenant, user): role
            for tenant, user, role in conn.execute(
                "SELECT m.canonical_tenant, ms.user_id, ms.role FROM migrate.id_map m"
                " JOIN identity.memberships ms ON ms.tenant_id = m.canonical_tenant"
                " AND ms.user_id = m.canonical_id WHERE m.run = %s AND m.entity = %s",
                (run, entity.name),
            )
        }
    by_tenant: dict[uuid.UUID | None, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_tenant.setdefault(row[3], []).append(row)
    sealed = target.sealed
    soft = target.soft_delete
    purges: dict[uuid.UUID, set[date]] = {}
    for tenant, items in by_tenant.items():
        opened: dict[tuple[str, str], str | None] = {}
        if tenant is not None and sealed:
            with db.platform_uow(tenant_id=tenant, actor=f"migrate:{run}:verify") as uow:
                at = {c: i + 4 for i, c in enumerate(columns)}
                opener = _opener(uow, target.platform_scoped, items, at)
                for r in items:
                    if r[at["id"]] is None:
                        continue
                    subject = r[at["subject_id"]] if "subject_id" in at else None
                    for column in sealed:
                        opened[(r[0], column)] = opener(
                            target.name, column, r[at["id"]], subject, r[at[column]]
                        )
        for r in items:
            key, outcome, canonical_id = r[0], r[1], r[2]
            if outcome == "deleted":
                continue  # gone from the source, retired in the target: nothing to compare
            side.canonical[key] = canonical_id
            if outcome == "quarantined":
                side.target[key] = _digest({"outcome": "quarantined"})
                if r[4 + len(columns)] is not None and " refuses the row" in r[4 + len(columns)]:
                    side.refused.add(key)
                continue
            values = dict(zip(columns, r[4 : 4 + len(columns)], strict=True))
            if values.get("id") is None:
                if _purged(conn, target.partition_key, purges, tenant, side.expected.get(key)):
                    side.expected.pop(key, None)  # gone by retention: nothing to compare
                    side.canonical.pop(key, None)
                    continue
                side.target[key] = _digest({"outcome": "missing"})
                side.actual[key] = {"__missing__": True}
                continue
            for column in sealed:
                values[column] = opened.get((key, column))
            if target.platform_scoped:
                values["role"] = roles.get((tenant, canonical_id))
            compared = _compared(entity, values, False, soft)
            owned = _owned(lineage, canonical_id, entity.name, key)
            if owned is not None:
                compared = {c: v for c, v in compared.items() if c in owned}
            side.actual[key] = compared
            side.target[key] = _digest(compared)


def _purged(
    conn: psycopg.Connection,
    partition_key: str | None,
    purges: dict[uuid.UUID, set[date]],
    tenant: uuid.UUID | None,
    expected: Expected | None,
) -> bool:
    """Whether a loaded row of a partitioned table (chat) that is no longer there went with
    its month: `tenantry messages upkeep` recorded dropping that month of the tenant
    (`engage.message_purges`). Chat older than 90 days is loaded and then dropped that way."""
    if partition_key is None or tenant is None or expected is None:
        return False
    moment = expected.values.get(partition_key)
    if not isinstance(moment, datetime) or expected.outcome != "placed":
        return False
    if tenant not in purges:
        purges[tenant] = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT month FROM engage.message_purges WHERE tenant_id = %s", (tenant,)
            )
        }
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date().replace(day=1) in purges[tenant]


Opener = Callable[[str, str, uuid.UUID, uuid.UUID | None, bytes | None], str | None]


def _opener(
    uow: UnitOfWork, platform: bool, rows: Sequence[tuple[Any, ...]], at: dict[str, int]
) -> Opener:
    """Opens sealed values of a tenant's rows (or of staff accounts, under the platform keys)."""
    if platform:
        keys = platform_keys(uow)
        return lambda table, column, row_id, _subject, ct: open_platform_value(
            keys, table, column, row_id, ct
        )
    ring = keyring(uow)
    if "subject_id" in at:
        ring.preload_subject_keys({r[at["subject_id"]] for r in rows if r[at["subject_id"]]})
    return lambda table, column, row_id, subject, ct: open_value(
        ring, table, column, row_id, subject, ct
    )


def _owned(
    lineage: Lineage,
    canonical_id: uuid.UUID | None,
    entity: str,
    key: str,
) -> set[str] | None:
    """Columns a member of a consolidated record supplied (None: not consolidated)."""
    if canonical_id is None:
        return None
    owners = lineage.get(canonical_id)
    if not owners:
        return None
    return {c for c, owner in owners.items() if owner == (entity, key)} | {"deleted"}


def _expected_digests(entity: Entity, side: Side, lineage: Lineage) -> None:
    soft = entity.canonical.soft_delete
    for key, exp in side.expected.items():
        if exp.outcome == "quarantined" or key in side.refused:
            side.source[key] = _digest({"outcome": "quarantined"})
            continue
        compared = _compared(entity, exp.values, exp.deleted, soft)
        owned = _owned(lineage, side.canonical.get(key), entity.name, key)
        if owned is not None:
            compared = {c: v for c, v in compared.items() if c in owned}
            if "deleted" in compared:
                compared["deleted"] = side.actual.get(key, {}).get("deleted", compared["deleted"])
        side.source[key] = _digest(compared)


def _name(entity: Entity, side: Side, key: str) -> list[Difference]:
    canonical = side.canonical.get(key)
    cid = None if canonical is None else str(canonical)
    exp = side.expected.get(key)
    if exp is None:
        return [Difference(entity.name, key, cid, None, "not in source")]
    if key not in side.target:
        return [Difference(entity.name, key, None, None, "missing in target")]
    actual = side.actual.get(key)
    if exp.outcome == "quarantined" or actual is None:
        return [Difference(entity.name, key, cid, None, "outcome differs")]
    if actual.get("__missing__"):
        return [Difference(entity.name, key, cid, None, "missing in target")]
    expected = _compared(entity, exp.values, exp.deleted, entity.canonical.soft_delete)
    out = [
        Difference(entity.name, key, cid, column, "value differs")
        for column in sorted(actual)
        if _canon(expected.get(column)) != _canon(actual.get(column))
    ]
    return out or [Difference(entity.name, key, cid, None, "value differs")]


def verify(
    db: Database,
    source_url: str,
    mapping: Mapping,
    *,
    run: str | None = None,
    fernet_keys: Sequence[str] = (),
    at: Callable[[psycopg.Connection, psycopg.Connection], int | None] | None = None,
    save: bool = True,
) -> VerifyReport:
    """Compare source and target at one consistent point (see the module docstring)."""
    name = run or mapping.name
    report = VerifyReport(name)
    started = time.perf_counter()
    ctx = Context(mapping.timezone, mapping.phone_region, tuple(fernet_keys))
    with (
        connect_source(source_url, autocommit=True) as src,
        owner_connection(db) as conn,
    ):
        state.require_run(conn, name)
        tables = introspect(src)
        check_fit(mapping, tables)
        if at is not None:
            report.source_lsn = at(src, conn)  # opens the snapshot itself
        else:
            src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        lineage: Lineage = {}
        for cid, column, owner, key in conn.execute(
            "SELECT canonical_id, column_name, entity, source_key FROM migrate.lineage"
            " WHERE run = %s",
            (name,),
        ):
            lineage.setdefault(cid, {})[column] = (owner, key)
        for entity in mapping.entities:
            if entity.source not in tables or entity.target == "identity.tenants":
                continue
            side = Side(entity)
            report.rows += _source_side(
                src, conn, name, mapping, entity, tables[entity.source], ctx, side
            )
            _target_side(db, conn, name, entity, side, lineage)
            _expected_digests(entity, side, lineage)
            differing = bisect(side.source, side.target)
            report.counts[entity.name] = {
                "source": len(side.expected),
                "target": len(side.target),
                "differing": len(differing),
            }
            report.differences_total += len(differing)
            for key in differing:
                if len(report.differences) < MAX_NAMED:
                    report.differences.extend(_name(entity, side, key))
        src.execute("COMMIT")
        report.equal = report.differences_total == 0
        report.seconds = time.perf_counter() - started
        if save:
            conn.execute(
                "INSERT INTO migrate.verifications (id, run, source_lsn, equal, report)"
                " VALUES (%s, %s, %s, %s, %s)",
                (db.ids(), name, report.source_lsn, report.equal, Jsonb(report.as_json())),
            )
    return report
