"""`lake_scan` finds a value that compression hides from a raw byte search."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tenantry.lake.erasure import lake_scan


def _key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_a_value_in_a_compressed_page_is_found_though_its_bytes_are_not(tmp_path: Path) -> None:
    needle = _key(7)
    # Values that share the needle's halves: the compressor encodes the needle as references
    # to them, so its 64 characters never appear in the file as one run of bytes.
    values = [needle[:32] + _key(i)[:32] for i in range(500)] + [
        _key(i)[:32] + needle[32:] for i in range(500)
    ]
    values.insert(600, needle)
    folder = tmp_path / "lake" / "curated" / "fact"
    folder.mkdir(parents=True)
    file = folder / "part-0.parquet"
    pq.write_table(pa.table({"user_key": values}), file, compression="zstd", use_dictionary=False)
    assert needle.encode() not in file.read_bytes()  # the raw search alone would miss it
    assert [(h.path, h.needle_index) for h in lake_scan(tmp_path, [_key(99_999), needle])] == [
        ("curated/fact/part-0.parquet", 1)
    ]


def test_nested_and_binary_values_are_searched(tmp_path: Path) -> None:
    needle = _key(1)
    table = pa.table(
        {
            "add": pa.array([{"path": "x", "stats": needle}]),
            "tags": pa.array([[("k", needle)]], type=pa.map_(pa.string(), pa.string())),
            "ids": pa.array([[needle]]),
            "raw": pa.array([needle.encode()], type=pa.binary()),
        }
    )
    for i, column in enumerate(table.column_names):
        folder = tmp_path / "lake" / "ml" / column
        folder.mkdir(parents=True)
        pq.write_table(table.select([i]), folder / "f.parquet", compression="zstd")
    found = sorted(h.path for h in lake_scan(tmp_path, [needle]))
    assert found == [f"ml/{c}/f.parquet" for c in sorted(table.column_names)]
    assert lake_scan(tmp_path, [_key(2)]) == []
