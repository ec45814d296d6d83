"""Keyset cursors for lists in an order other than by id (best first, by due date, by time).

A cursor is the position of a page's last row in the list's order: a tuple of values packed
as bytes and base64url-encoded, opaque to the client. `layout` names the values' kinds, one
letter each: `i` a small integer (a score), `t` an instant (microseconds since 1970, UTC),
`d` a date, `u` an id. A cursor that does not decode to the layout (another list's cursor,
garbage) is refused as invalid input.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tenantry.errors import ValidationError

__all__ = ["decode_keyset", "encode_keyset"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_FORMATS = {"i": "h", "t": "q", "d": "i", "u": "16s"}


def _struct(layout: str) -> struct.Struct:
    return struct.Struct(">" + "".join(_FORMATS[k] for k in layout))


def _pack(kind: str, value: Any) -> Any:
    if kind == "t":
        return (value - _EPOCH) // _MICRO
    if kind == "d":
        return value.toordinal()
    if kind == "u":
        return value.bytes
    return int(value)


def _unpack(kind: str, value: Any) -> Any:
    if kind == "t":
        return _EPOCH + value * _MICRO
    if kind == "d":
        return date.fromordinal(value)
    if kind == "u":
        return uuid.UUID(bytes=value)
    return value


def encode_keyset(layout: str, *values: Any) -> str:
    """The cursor of the position `values` (kinds as `layout` says)."""
    raw = _struct(layout).pack(*(_pack(k, v) for k, v in zip(layout, values, strict=True)))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_keyset(layout: str, cursor: str | None) -> tuple[Any, ...] | None:
    """The position a cursor names (None for no cursor); `ValidationError` if it is not one."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = _struct(layout).unpack(raw)
        return tuple(_unpack(k, v) for k, v in zip(layout, values, strict=True))
    except (binascii.Error, ValueError, OverflowError, struct.error):
        raise ValidationError("invalid cursor") from None
