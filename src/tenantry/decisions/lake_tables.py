"""The pipeline's per-user tables of the lake, as the decision services read them.

One place for how `segments`, `ml_user_features` and `dim_user` are found (the pipeline's
catalog, `pipeline.catalog.model_path`), read (DuckDB over the Delta table's current files,
`pipeline.lakeio.register`, which refuses Delta features it cannot read) and versioned
(`TableVersions`), and for "the latest snapshot of each user": the row with the greatest
snapshot date, on or before a date per user where one is given. Users are the lake's
`user_key` (a data subject's pseudonym). Lead scoring (`lead_features.LakeEngagement`) and
the profiles cache (`profiles.LakeFeatureCache`) read through it. This module reads only; it
writes neither the lake nor the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from tenantry.pipeline.catalog import model, model_path
from tenantry.pipeline.lakeio import open_table, register
from tenantry.pipeline.runlog import log_dir

__all__ = ["USER_TABLES", "LakeTables", "TableVersions", "table_location"]

USER_TABLES = ("segments", "ml_user_features", "dim_user")
Row = tuple[Any, ...]


def table_location(home: Path, name: str) -> Path:
    """Where the pipeline publishes the table `name` under `home`."""
    return model_path(home, model(name))


class LakeTables:
    """A DuckDB connection with views over the current files of some of the lake's tables
    (a context manager; closed on exit). `until`: snapshot partitions dated after it are not
    read (none of their rows can be the latest on or before a date up to `until`)."""

    def __init__(self, home: Path, names: Iterable[str], *, until: date | None = None) -> None:
        self._con = duckdb.connect()
        try:
            self._con.execute("SET TimeZone = 'UTC'")
            for name in names:
                m = model(name)
                keep = None
                if until is not None and m.kind == "snapshot":
                    keep = lambda day: day is None or day <= until  # noqa: E731
                path = model_path(home, m)
                register(self._con, name, path, m.schema, partition_by=m.partition_by, keep=keep)
        except BaseException:
            self._con.close()
            raise

    def __enter__(self) -> LakeTables:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._con.close()

    def latest(self, name: str, tenant_id: uuid.UUID, columns: Sequence[str]) -> dict[str, Row]:
        """The tenant's latest snapshot row of each user (its `columns`, by `user_key`)."""
        sql = (
            f"SELECT x.user_key, {self._columns(columns)} FROM {self._snapshot(name)} x"
            " WHERE x.tenant_id = $t QUALIFY row_number() OVER"
            f" (PARTITION BY x.user_key ORDER BY x.{self._date(name)} DESC) = 1"
        )
        rows = self._con.execute(sql, {"t": str(tenant_id)}).fetchall()
        return {key: tuple(rest) for key, *rest in rows}

    def latest_on(
        self,
        name: str,
        tenant_id: uuid.UUID,
        columns: Sequence[str],
        wanted: Collection[tuple[str, date]],
    ) -> dict[tuple[str, date], Row]:
        """For each (user_key, date) wanted: the user's latest snapshot row dated on or before
        that date. A user may be wanted on several dates (each answered on its own); pairs
        without such a row are left out."""
        if not wanted:
            return {}
        pairs = sorted(set(wanted))
        self._con.register(
            "__wanted",
            pa.table(
                {
                    "user_key": [k for k, _ in pairs],
                    "as_of": pa.array([d for _, d in pairs], pa.date32()),
                }
            ),
        )
        day = self._date(name)
        sql = (
            f"SELECT w.user_key, w.as_of, {self._columns(columns)} FROM {self._snapshot(name)} x"
            f" JOIN __wanted w ON w.user_key = x.user_key AND x.{day} <= w.as_of"
            " WHERE x.tenant_id = $t QUALIFY row_number() OVER"
            f" (PARTITION BY w.user_key, w.as_of ORDER BY x.{day} DESC) = 1"
        )
        rows = self._con.execute(sql, {"t": str(tenant_id)}).fetchall()
        return {(key, at): tuple(rest) for key, at, *rest in rows}

    @staticmethod
    def _columns(columns: Sequence[str]) -> str:
        return ", ".join(f'x."{c}"' for c in columns)

    @staticmethod
    def _snapshot(name: str) -> str:
        if model(name).kind != "snapshot" or model(name).partition_by is None:
            raise ValueError(f"{name} is not a snapshot table")
        return f'"{name}"'

    @staticmethod
    def _date(name: str) -> str:
        return f'"{model(name).partition_by}"'

    def rows(self, name: str, tenant_id: uuid.UUID, columns: Sequence[str]) -> dict[str, Row]:
        """The tenant's rows of a table with one row per user (a dimension), by `user_key`."""
        cols = ", ".join(f'"{c}"' for c in columns)
        sql = f'SELECT user_key, {cols} FROM "{name}" WHERE tenant_id = $t'
        rows = self._con.execute(sql, {"t": str(tenant_id)}).fetchall()
        return {key: tuple(rest) for key, *rest in rows}


class TableVersions:
    """The current Delta versions of the pipeline's run log and of some lake tables: a
    publish, or a lake erasure, changes them. Tables opened before are brought up to date
    incrementally (only the log entries after their version are listed and read)."""

    def __init__(self, home: Path, names: Iterable[str]) -> None:
        self.paths = (log_dir(home) / "runs", *(table_location(home, n) for n in names))
        self._tables: dict[Path, DeltaTable] = {}

    def current(self) -> tuple[int, ...]:
        """The run log's version first, then each table's (-1: none yet)."""
        out = []
        for path in self.paths:
            dt = self._tables.get(path)
            if dt is None:
                dt = open_table(path)
                if dt is None:
                    out.append(-1)
                    continue
                self._tables[path] = dt
            else:
                dt.update_incremental()
            out.append(int(dt.version()))
        return tuple(out)
