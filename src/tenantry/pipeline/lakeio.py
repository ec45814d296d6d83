"""Delta table access for the pipeline: the raw table's file list, DuckDB views, publishing.

Reading: the Delta log (through `deltalake`) names a table version's active data files and
their partition values; the pipeline prunes that list by partition and hands it to DuckDB's
own Parquet reader as a view. That reads exactly the table version's rows (the tables here
use neither deletion vectors nor column mapping, which `register` refuses), needs no DuckDB
extension, and is several times faster than scanning `to_pyarrow_dataset()` through Arrow.
Publishing is one Delta commit per table: a partition-scoped overwrite for facts and
snapshots, a whole-table overwrite for dimensions. Identifying columns get no statistics,
neither in Parquet footers nor in the Delta log. This module knows nothing about SQL models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake

from tenantry.errors import ConfigurationError
from tenantry.lake.raw import RAW_EVENTS, table_path
from tenantry.lake.writer import DOMAIN_EVENTS

__all__ = [
    "RAW_TABLES",
    "open_table",
    "publish",
    "raw_files",
    "register",
    "sql_in_list",
    "table_config",
    "writer_properties",
]


def open_table(path: Path) -> DeltaTable | None:
    """The Delta table at `path`, or None when there is none yet."""
    if not DeltaTable.is_deltatable(str(path)):
        return None
    return DeltaTable(str(path))


# The raw tables the pipeline reads, with the prefix of their files in `raw_files` (the event
# table's files carry none, as they did before the domain events were read).
RAW_TABLES = ((RAW_EVENTS, ""), (DOMAIN_EVENTS, f"{DOMAIN_EVENTS}/"))


def raw_files(home: Path) -> dict[str, str]:
    """Data files of the raw tables now (client events and relayed domain events): path
    relative to the raw event table, or prefixed with the domain-event table's name ->
    event_date (ISO)."""
    out: dict[str, str] = {}
    for table, prefix in RAW_TABLES:
        dt = open_table(table_path(home, "raw", table))
        if dt is None:
            continue
        actions = pa.table(dt.get_add_actions(flatten=True))
        paths = actions.column("path").to_pylist()
        dates = actions.column("partition.event_date").to_pylist()
        out |= {prefix + str(p): d.isoformat() for p, d in zip(paths, dates, strict=True)}
    return out


_DUCK_TYPES = {pa.int32(): "INTEGER", pa.date32(): "DATE", pa.string(): "VARCHAR"}


def register(
    con: duckdb.DuckDBPyConnection,
    name: str,
    path: Path | None,
    schema: pa.Schema,
    *,
    partition_by: str | None = None,
    keep: Callable[[Any], bool] | None = None,
) -> int:
    """Create the temp view `name` over the table's current files whose partition value passes
    `keep` (all files without it); an absent table is an empty view. Returns the file count."""
    dt = None if path is None else open_table(path)
    files: list[str] = []
    if dt is not None:
        features = set(dt.protocol().reader_features or [])
        if features & {"deletionVectors", "columnMapping"}:
            raise ConfigurationError(f"lake table {dt.table_uri} uses unsupported Delta features")
        actions = pa.table(dt.get_add_actions(flatten=True))
        paths = actions.column("path").to_pylist()
        parts = (
            actions.column(f"partition.{partition_by}").to_pylist()
            if partition_by
            else [None] * len(paths)
        )
        base = str(path)
        files = [
            f"{base}/{p}" for p, v in zip(paths, parts, strict=True) if keep is None or keep(v)
        ]
    cols = ", ".join(f'"{n}"' for n in schema.names)
    if not files:
        con.register(f"__empty_{name}", schema.empty_table())
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {cols} FROM "__empty_{name}"')
        return 0
    listing = "[" + ", ".join(sql_in_list([f]) for f in files) + "]"
    hive = ""
    if partition_by:
        hive = (
            f", hive_partitioning = true, hive_types = "
            f"{{'{partition_by}': {_DUCK_TYPES[schema.field(partition_by).type]}}}"
        )
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {cols} FROM read_parquet({listing}{hive})'
    )
    return len(files)


def sql_in_list(values: Iterable[object]) -> str:
    items = []
    for v in values:
        items.append(str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'")
    return ", ".join(items)


def writer_properties(schema: pa.Schema, identifying: frozenset[str]) -> WriterProperties:
    no_stats = ColumnProperties(statistics_enabled="NONE")
    cols = {name: no_stats for name in schema.names if name in identifying}
    return WriterProperties(compression="SNAPPY", column_properties=cols)


def table_config(schema: pa.Schema, identifying: frozenset[str]) -> dict[str, str | None]:
    indexed = [n for n in schema.names if n not in identifying]
    return {"delta.dataSkippingStatsColumns": ",".join(indexed)}


def _cast(reader: pa.RecordBatchReader, schema: pa.Schema) -> pa.RecordBatchReader:
    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield batch.select(schema.names).cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def publish(
    path: Path,
    reader: pa.RecordBatchReader,
    schema: pa.Schema,
    *,
    partition_by: str | None,
    replace: Sequence[object] | None,
    identifying: frozenset[str],
) -> int:
    """Commit `reader`'s rows to the table at `path`; returns the new table version.

    `replace` lists the partition values whose rows are replaced (None: the whole table).
    """
    path.mkdir(parents=True, exist_ok=True)
    exists = open_table(path) is not None
    predicate = None
    if replace is not None and exists and partition_by is not None:
        if not replace:
            raise ValueError("nothing to replace")
        predicate = f"{partition_by} IN ({sql_in_list(replace)})"
    write_deltalake(
        str(path),
        _cast(reader, schema),
        mode="overwrite",
        partition_by=[partition_by] if partition_by else None,
        predicate=predicate,
        configuration=None if exists else table_config(schema, identifying),
        writer_properties=writer_properties(schema, identifying),
    )
    dt = open_table(path)
    assert dt is not None
    return int(dt.version())
