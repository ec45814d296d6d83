"""Every request body model takes numbers only as numbers and money only within bounds.

Checked by behaviour over every subclass of `In` the resource modules define, so a field added
later with a plain `int` cannot slip past.
"""

from __future__ import annotations

import types
import typing
from decimal import Decimal
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import TypeAdapter

import tenantry.api.resources  # noqa: F401  (defines every body model)
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
