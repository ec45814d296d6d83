"""Precompiled checks of event property schemas, for the ingestion hot path.

`PropertyCheck` reads one pydantic property model (field types, bounds, patterns, defaults) and
accepts a properties mapping only in the plain case: every key a declared field and every value
exactly of the declared type, within its bounds. It then returns what pydantic would serialise
(declared fields in order, None left out, defaults filled in). Anything else (an extra key, a
nested model, a value pydantic would coerce, a violation) gives None, and the caller asks
pydantic, whose errors name the field: this module never rejects anything itself.
"""

from __future__ import annotations

import re
import types
import typing
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import annotated_types
from pydantic import BaseModel

__all__ = ["PropertyCheck"]

_Check = Callable[[Any], bool]
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INT64 = (-(2**63), 2**63 - 1)  # beyond, leave big numbers to pydantic


def _value_check(annotation: Any, metadata: list[Any]) -> _Check | None:
    """A check as strict as pydantic's or stricter; None if this type is not handled."""
    low_len, high_len = 0, None
    low, high = _INT64
    pattern: re.Pattern[str] | None = None
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            low_len = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high_len = item.max_length
        elif isinstance(item, annotated_types.Ge) and isinstance(item.ge, int):
            low = max(low, item.ge)
        elif isinstance(item, annotated_types.Le) and isinstance(item.le, int):
            high = min(high, item.le)
        elif isinstance(getattr(item, "pattern", None), str):
            # Whole-string match: `$` alone would accept a final newline pydantic refuses.
            pattern = re.compile(item.pattern)
        else:
            return None
    sized = low_len > 0 or high_len is not None or pattern is not None
    bounded = (low, high) != _INT64
    max_len = high_len if high_len is not None else 2**63
    if annotation is str and not bounded:
        if pattern is None:
            return lambda v: type(v) is str and low_len <= len(v) <= max_len
        full = pattern.fullmatch
        return lambda v: type(v) is str and low_len <= len(v) <= max_len and bool(full(v))
    if sized:
        return None
    if annotation is int:
        return lambda v: type(v) is int and low <= v <= high
    if bounded:
        return None
    if annotation is bool:
        return lambda v: type(v) is bool
    if annotation is uuid.UUID:  # the canonical spelling serialises back unchanged
        canonical = _CANONICAL_UUID.fullmatch
        return lambda v: type(v) is str and bool(canonical(v))
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        values = frozenset(m.value for m in annotation)
        return lambda v: type(v) is str and v in values
    if typing.get_origin(annotation) is typing.Literal:
        literals = typing.get_args(annotation)
        if not all(type(x) is str for x in literals):
            return None
        allowed = frozenset(literals)
        return lambda v: type(v) is str and v in allowed
    return None


def _optional(annotation: Any) -> tuple[Any, bool]:
    """The annotation without None, and whether None is allowed."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


class PropertyCheck:
    """The plain case of one property model, checked without building the model."""

    __slots__ = ("_fields", "_order", "_required", "_with_defaults")

    def __init__(self, model: type[BaseModel]) -> None:
        # name -> (declared position, value check, None allowed, required)
        self._fields: dict[str, tuple[int, _Check, bool, bool]] | None = {}
        self._order: list[tuple[str, Any]] = []  # declared order, with each default
        self._required = 0
        self._with_defaults: frozenset[str] = frozenset()
        defaults = set()
        for position, (name, info) in enumerate(model.model_fields.items()):
            base, nullable = _optional(info.annotation)
            default = None if info.is_required() else info.default
            if info.alias not in (None, name) or not (
                default is None or type(default) in (str, int, bool)
            ):
                self._fields = None  # aliases, default factories: left to pydantic
                return
            # A field the fast path cannot check is sent to pydantic whenever it is present.
            check = _value_check(base, list(info.metadata)) or _never
            self._fields[name] = (position, check, nullable, info.is_required())
            self._order.append((name, default))
            self._required += info.is_required()
            if default is not None:
                defaults.add(name)
        self._with_defaults = frozenset(defaults)

    def __call__(self, props: dict[str, Any]) -> dict[str, Any] | None:
        """The properties as pydantic would dump them (exclude_none), or None: ask pydantic."""
        fields = self._fields
        if fields is None:
            return None
        out: dict[str, Any] = {}
        last, required = -1, 0
        for name, value in props.items():
            spec = fields.get(name)
            if spec is None:
                return None  # an extra key: pydantic keeps it, in its own way
            position, check, nullable, is_required = spec
            if position < last:
                return None  # pydantic would dump the fields in their declared order
            last = position
            required += is_required
            if value is None:
                if not nullable:
                    return None
            elif check(value):
                out[name] = value
            else:
                return None
        if required != self._required:
            return None
        if self._with_defaults and not self._with_defaults.issubset(props):
            out = {
                name: out.get(name, default)
                for name, default in self._order
                if name in out or (default is not None and name not in props)
            }
        return out


def _never(value: Any) -> bool:
    return False
