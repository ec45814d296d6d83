"""Erasure in the lake: a subject's rows leave every Delta table, its files and its log.

`erase_subject_from_lake` finds every Delta table under `$TENANTRY_HOME/lake/{raw,curated,ml}`,
deletes the rows of the tenant that carry one of the subject's needles (pseudonym `user_key`,
keyed e-mail hash, ...) in an identifying column: `user_key`, `email_key`, any `*_key`,
`*_hash` or `*_pseudonym` column by equality, JSON columns (`properties`, `external_ids`,
`payload`, `*_json`) by substring. Tables written elsewhere (curated, ml) must keep subjects in
such columns; the byte scan afterwards catches any that do not. Then it removes what
still holds the old values: data files no longer referenced (vacuum, retention 0) and the
transaction log before a fresh checkpoint (old commits name deleted files and, for the delete
itself, the predicate with the needles). Time travel to versions before the erasure ends with
it, by design. `lake_scan` is the proof: the needles searched in every file, as raw bytes and,
in Parquet files, among the decoded values.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable, QueryBuilder

from tenantry.errors import ValidationError
from tenantry.lake.raw import LAYERS
from tenantry.lake.writer import IDENTIFYING_COLUMNS

__all__ = [
    "LakeErasure",
    "ScanHit",
    "erase_subject_from_lake",
    "lake_scan",
    "lake_tables",
    "subject_rows",
]

_NEEDLE = re.compile(r"^[A-Za-z0-9_.:@+-]{8,200}$")
_JSON_COLUMNS = ("properties", "external_ids", "payload")


@dataclass(frozen=True)
class ScanHit:
    path: str  # relative to the lake directory
    needle_index: int  # which needle (never the needle itself)


@dataclass
class LakeErasure:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    files_removed: int = 0
    log_files_removed: int = 0
    seconds: float = 0.0


def lake_tables(home: Path) -> list[Path]:
    """Every Delta table under the lake's layers."""
    found: list[Path] = []
    for layer in LAYERS:
        root = home / "lake" / layer
        if root.is_dir():
            found += sorted(p.parent for p in root.rglob("_delta_log") if p.is_dir())
    return found


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _searched(name: str) -> str | None:
    """How a column can hold a subject's pseudonymous values: "key", "json" or not at all."""
    if name in _JSON_COLUMNS or name.endswith("_json"):
        return "json"
    if name in IDENTIFYING_COLUMNS or name.endswith(("_key", "_hash", "_pseudonym")):
        return "key"
    return None


def _predicate(schema: pa.Schema, tenant_id: str, needles: Sequence[str]) -> str | None:
    strings = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    listed = ", ".join(_quote(n) for n in needles)
    tests = []
    for name in strings:
        kind = _searched(name)
        if kind == "json":
            tests += [f"{name} LIKE {_quote('%' + n + '%')}" for n in needles]
        elif kind == "key":
            tests.append(f"{name} IN ({listed})")
    if not tests:
        return None
    where = " OR ".join(tests)
    if "tenant_id" in strings:
        where = f"tenant_id = {_quote(tenant_id)} AND ({where})"
    return where


def _clean_log(table: DeltaTable, path: Path) -> int:
    """Checkpoint the current version, then drop every log entry before it."""
    table.create_checkpoint()
    version = table.version()
    removed = 0
    for entry in (path / "_delta_log").iterdir():
        stem = entry.name.split(".", 1)[0]
        if stem.isdigit() and int(stem) < version:
            entry.unlink()
            removed += 1
    return removed


def _checked(needles: Iterable[str]) -> list[str]:
    """The needles, each of a form that can be quoted into a predicate safely."""
    values = sorted({n for n in needles if n})
    if not values:
        raise ValidationError("nothing to erase: no pseudonyms given")
    for n in values:
        if not _NEEDLE.match(n):
            raise ValidationError("a pseudonym has an unexpected form")
    return values


def subject_rows(
    home: Path, tenant_id: object, needles: Iterable[str]
) -> dict[str, list[dict[str, object]]]:
    """The tenant's rows holding any needle, per lake table (relative path): exactly the rows
    `erase_subject_from_lake` deletes, found with the same predicate."""
    values = _checked(needles)
    found: dict[str, list[dict[str, object]]] = {}
    for path in lake_tables(home):
        table = DeltaTable(str(path))
        predicate = _predicate(pa.schema(table.schema().to_arrow()), str(tenant_id), values)
        if predicate is None:
            continue
        reader = QueryBuilder().register("t", table).execute(f"SELECT * FROM t WHERE {predicate}")
        found[str(path.relative_to(home / "lake"))] = pa.table(reader.read_all()).to_pylist()
    return found


def erase_subject_from_lake(home: Path, tenant_id: object, needles: Iterable[str]) -> LakeErasure:
    """Delete the tenant's rows holding any needle from every lake table; vacuum; clean logs.

    Needles are the subject's pseudonymous values as written to the lake: its `user_key`
    (the subject's pseudonym), keyed e-mail hashes, keyed external-id hashes. Call this before
    the subject's pseudonym is overwritten in PostgreSQL.
    """
    started = time.perf_counter()
    values = _checked(needles)
    result = LakeErasure()
    for path in lake_tables(home):
        table = DeltaTable(str(path))
        schema = pa.schema(table.schema().to_arrow())
        predicate = _predicate(schema, str(tenant_id), values)
        if predicate is None:
            continue
        metrics = table.delete(predicate)
        deleted = int(metrics.get("num_deleted_rows", 0) or 0)
        result.tables[str(path.relative_to(home / "lake"))] = deleted
        if deleted == 0:
            continue
        removed = table.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
        result.files_removed += len(removed)
        result.log_files_removed += _clean_log(table, path)
    result.seconds = time.perf_counter() - started
    return result


def lake_scan(home: Path, needles: Sequence[str]) -> list[ScanHit]:
    """Every file under the lake directory that holds a needle, raw or encoded.

    Each file is searched as raw bytes (the transaction log, checkpoints' JSON, anything
    else). Parquet files are also decoded and every text value searched: a compressed or
    dictionary-encoded page can hold a value without its bytes appearing in the file, so the
    raw search alone could miss it.
    """
    root = home / "lake"
    wanted = [n for n in needles if n]
    patterns = [n.encode() for n in wanted]
    hits: list[ScanHit] = []
    if not root.is_dir():
        return hits
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        data = file.read_bytes()
        found = {i for i, pattern in enumerate(patterns) if pattern in data}
        if file.suffix == ".parquet" and len(found) < len(patterns):
            found |= _decoded_hits(file, wanted, skip=found)
        hits.extend(ScanHit(str(file.relative_to(root)), i) for i in sorted(found))
    return hits


def _text_columns(table: pa.Table) -> list[pa.Array]:
    """The table's text values as flat string arrays (structs, lists and maps unnested)."""
    columns: list[pa.Array] = []
    pending: list[pa.Array] = [c.combine_chunks() for c in table.columns]
    while pending:
        array = pending.pop()
        kind = array.type
        if pa.types.is_struct(kind):
            pending.extend(array.field(i) for i in range(kind.num_fields))
        elif pa.types.is_map(kind):
            pending.extend([array.keys, array.items])
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            pending.append(array.flatten())
        elif pa.types.is_dictionary(kind):
            pending.append(array.dictionary)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            columns.append(array)
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            columns.append(array.cast(pa.large_string(), safe=False))
    return columns


def _plain_number(kind: pa.DataType) -> bool:
    """Columns that cannot hold text (numbers, dates, booleans): not read by the scan."""
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_boolean(kind)
    )


def _decoded_hits(file: Path, needles: Sequence[str], *, skip: set[int]) -> set[int]:
    try:
        schema = pq.read_schema(file)
        wanted = [f.name for f in schema if not _plain_number(f.type)]
        table = pq.read_table(file, columns=wanted)
    except (OSError, pa.ArrowException):  # not a readable Parquet file: the byte scan stands
        return set()
    found: set[int] = set()
    for column in _text_columns(table):
        for i, needle in enumerate(needles):
            if i in skip or i in found:
                continue
            if pc.any(pc.match_substring(column, needle)).as_py():
                found.add(i)
    return found
