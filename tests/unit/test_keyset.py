"""Keyset cursors round-trip their positions and refuse anything that is not one."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tenantry.api.deps import encode_cursor
from tenantry.api.keyset import decode_keyset, encode_keyset
from tenantry.errors import ValidationError

ID = uuid.UUID("0190a5c2-7d4e-7c3b-9a1f-3e5d2c1b0a99")


@pytest.mark.parametrize(
    ("layout", "values"),
    [
        ("itu", (70, datetime(2026, 12, 6, 23, 59, 59, 999_999, tzinfo=UTC), ID)),
        ("itu", (100, datetime(1999, 1, 1, tzinfo=UTC), ID)),
        ("du", (date(2027, 2, 28), ID)),
        ("tu", (datetime(2027, 3, 1, 11, tzinfo=timezone(timedelta(hours=1))), ID)),
    ],
)
def test_a_position_survives_its_cursor(layout: str, values: tuple[object, ...]) -> None:
    cursor = encode_keyset(layout, *values)
    assert len(cursor) <= 64 and cursor.isascii()
    assert decode_keyset(layout, cursor) == values


def test_no_cursor_is_no_position() -> None:
    assert decode_keyset("tu", None) is None


@pytest.mark.parametrize(
    "cursor", ["!!", "", "AAAA", encode_cursor(ID), encode_keyset("du", date(2027, 1, 1), ID)]
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationError):
        decode_keyset("tu", cursor)
