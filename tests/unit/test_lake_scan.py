"""`lake_scan` finds a value that compression hides from a raw byte search."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tenantry.lake.erasure import lake_scan


def _key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _hiding(needle: str) -> list[str]:
    """Values that share the needle's halves: the compressor encodes the needle as references
    to them, so its 64 characters never appear in the file as one run of bytes."""
    values = [needle[:32] + _key(i)[:32] for i in range(500)] + [
        _key(i)[:32] + needle[32:] for i in range(500)
    ]
    values.insert(600, needle)
    return values


def _write(tmp_path: Path, name: str, table: pa.Table) -> Path:
    folder = tmp_path / "lake" / "curated" / name
    folder.mkdir(parents=True)
    file = folder / "part-0.parquet"
    pq.write_table(table, file, compression="zstd", use_dictionary=False)
    return file


def test_a_value_in_a_compressed_page_is_found_though_its_bytes_are_not(tmp_path: Path) -> None:
    needle = _key(7)
    file = _write(tmp_path, "fact", pa.table({"user_key": _hiding(needle)}))
    assert needle.encode() not in file.read_bytes()  # the raw search alone would miss it
    assert [(h.path, h.needle_index) for h in lake_scan(tmp_path, [_key(99_999), needle])] == [
        ("curated/fact/part-0.parquet", 1)
    ]


def test_values_inside_structs_lists_maps_and_binary_columns_are_searched(
    tmp_path: Path,
) -> None:
    needle = _key(1)
    values = _hiding(needle)
    columns = {
        "add": pa.array([{"path": "x", "stats": v} for v in values]),
        "tags": pa.array([[("k", v)] for v in values], type=pa.map_(pa.string(), pa.string())),
        "ids": pa.array([[v] for v in values]),
        "raw": pa.array([v.encode() for v in values], type=pa.binary()),
    }
    for name, column in columns.items():
        file = _write(tmp_path, name, pa.table({name: column}))
        assert needle.encode() not in file.read_bytes(), name
    found = sorted(h.path for h in lake_scan(tmp_path, [needle]))
    assert found == [f"curated/{name}/part-0.parquet" for name in sorted(columns)]
    assert lake_scan(tmp_path, [_key(2)]) == []
