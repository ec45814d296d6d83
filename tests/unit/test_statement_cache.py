"""psycopg keeps the conversion of long multi-row statements in its cache (see `db.engine`)."""

from __future__ import annotations

import importlib

from psycopg.adapt import Transformer

from tenantry.db.engine import _cache_long_statements

queries = importlib.import_module("psycopg._queries")


def _multirow_insert(rows: int) -> tuple[bytes, dict[str, int]]:
    columns = [f"column_{c}" for c in range(30)]
    values = ", ".join("(" + ", ".join(f"%({c}__{r})s" for c in columns) + ")" for r in range(rows))
    params = {f"{c}__{r}": r for r in range(rows) for c in columns}
    return f"INSERT INTO t ({', '.join(columns)}) VALUES {values}".encode(), params


def test_a_long_multirow_insert_is_converted_once_then_served_from_the_cache() -> None:
    _cache_long_statements()
    query, params = _multirow_insert(40)  # about 30 KiB and 1,200 parameters
    assert len(query) > 4096 and len(params) > 50  # beyond psycopg's own limits
    before = queries._query2pg.cache_info()
    for _ in range(3):
        converted = queries.PostgresQuery(Transformer())
        converted.convert(query, params)
        assert converted.query.count(b"$") == len(params)
    after = queries._query2pg.cache_info()
    assert after.misses - before.misses <= 1
    assert after.hits - before.hits >= 2
