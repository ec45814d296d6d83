"""Every request body model takes numbers only as numbers and money only within bounds.

Checked by behaviour over every subclass of `In` the resource modules define, so a field added
later with a plain `int` cannot slip past.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import AwareDatetime, TypeAdapter

import tenantry.api.registry  # noqa: F401  (imports every resource module: every body model)
from tenantry.api.resources.common import MAX_CENTS, In

NUMERIC = (int, float, Decimal, bool)


def _models(base: type[In] = In) -> list[type[In]]:
    found: list[type[In]] = []
    for sub in base.__subclasses__():
        found += [sub, *_models(sub)]
    return found


def _kind(annotation: Any) -> Any:
    if typing.get_origin(annotation) is Annotated:
        return _kind(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(args[0]) if len(args) == 1 else None
    return annotation if annotation in NUMERIC else None


def _fields() -> list[tuple[str, TypeAdapter[Any], Any]]:
    fields = []
    for model in _models():
        for name, info in model.model_fields.items():
            kind = _kind(info.annotation)
            if kind is not None:
                annotation = (
                    Annotated[(info.annotation, *info.metadata)]
                    if info.metadata
                    else info.annotation
                )
                adapter: TypeAdapter[Any] = TypeAdapter(annotation)
                fields.append((f"{model.__name__}.{name}", adapter, kind))
    return fields


def test_there_are_numeric_body_fields_to_check() -> None:
    assert len(_models()) > 20
    assert len(_fields()) > 15


@pytest.mark.parametrize(("field", "adapter", "kind"), _fields(), ids=lambda v: str(v)[:40])
def test_a_number_must_arrive_as_a_number(field: str, adapter: TypeAdapter[Any], kind: Any) -> None:
    wrong = ["1", True, False] if kind is not bool else ["true", 1, 0]
    for value in wrong:
        with pytest.raises(pydantic.ValidationError):
            adapter.validate_python(value)


@pytest.mark.parametrize(("field", "adapter", "kind"), _fields(), ids=lambda v: str(v)[:40])
def test_money_is_bounded(field: str, adapter: TypeAdapter[Any], kind: Any) -> None:
    if not field.endswith("_cents"):
        return
    adapter.validate_python(MAX_CENTS)
    for value in (MAX_CENTS + 1, 10**12, -1):
        with pytest.raises(pydantic.ValidationError):
            adapter.validate_python(value)


def _typed_fields(match: Any) -> list[tuple[str, TypeAdapter[Any]]]:
    """(model.field, adapter) of every body field whose type `match` accepts."""
    found = []
    for model in _models():
        for name, info in model.model_fields.items():
            if match(name, info.annotation):
                annotation = (
                    Annotated[(info.annotation, *info.metadata)]
                    if info.metadata
                    else info.annotation
                )
                found.append((f"{model.__name__}.{name}", TypeAdapter(annotation)))
    return found


def _holds_datetime(annotation: Any) -> bool:
    if annotation in (datetime, AwareDatetime):
        return True
    return any(_holds_datetime(a) for a in typing.get_args(annotation))


INSTANTS = _typed_fields(lambda _name, annotation: _holds_datetime(annotation))
TIMEZONES = _typed_fields(lambda name, _annotation: name == "timezone")


def test_there_are_instant_and_timezone_body_fields_to_check() -> None:
    assert len(INSTANTS) >= 6 and len(TIMEZONES) >= 3


@pytest.mark.parametrize(("field", "adapter"), INSTANTS, ids=lambda v: str(v)[:40])
def test_an_instant_lies_where_it_converts_to_utc_and_reads_back(
    field: str, adapter: TypeAdapter[Any]
) -> None:
    # In UTC these are year 0 and year 10000: Python cannot hold them, PostgreSQL stores them
    # and the row can then never be read again.
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00Z"):
        with pytest.raises(pydantic.ValidationError):
            adapter.validate_python(value)
    assert adapter.validate_python("2027-03-28T02:30:00+01:00") is not None


@pytest.mark.parametrize(("field", "adapter"), TIMEZONES, ids=lambda v: str(v)[:40])
def test_a_timezone_is_one_the_timezone_database_knows(
    field: str, adapter: TypeAdapter[Any]
) -> None:
    for value in ("Mars/Olympus", "Europe/../../etc/passwd", "", "/etc/localtime"):
        with pytest.raises(pydantic.ValidationError):
            adapter.validate_python(value)
    assert adapter.validate_python("Europe/Berlin") == "Europe/Berlin"
