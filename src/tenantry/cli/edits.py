"""What the `show` and `edit` commands share: `--set field=value` read into the API's PATCH
body (the same validation, the same read-only fields), `--if-match`, a record printed with its
ETag, and personal data masked unless the operator asks to see it.

The ETag a command prints is the one the API sends for the same record (the same
representation, hashed the same way), so either can be used with the other. Nothing here
talks to the database; the commands call the services the API calls.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import pydantic
import typer

from tenantry.api.resources.common import Patch
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, assignment, etag_value
from tenantry.errors import ValidationError, plain_message

__all__ = ["IF_MATCH", "SET", "mask", "patch_body", "print_record"]

P = TypeVar("P", bound=Patch)
_JSON_TYPES = (int, bool, float, Decimal)


# `--set field=value`, repeatable: the fields to change (`null` clears one).
SET: Any = typer.Option(
    [],
    "--set",
    parser=assignment,
    metavar="FIELD=VALUE",
    help="A field to change, as field=value (repeatable; null clears it; numbers, true/false"
    ' and lists as JSON, e.g. capacity=40 or tags=["vip"]).',
)

# `--if-match ETAG`: change only the version `show` printed (else: refused).
IF_MATCH: Any = typer.Option(
    None,
    "--if-match",
    parser=etag_value,
    metavar="ETAG",
    help="The ETag `show` printed: refused if the record has changed since.",
)


def _structured(annotation: Any) -> bool:
    """Whether a field's value is written as JSON (numbers, booleans, lists) rather than text."""
    if typing.get_origin(annotation) is Annotated:
        return _structured(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_structured(a) for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        return True
    return annotation in _JSON_TYPES


def _value(model: type[Patch], name: str, raw: str) -> Any:
    if raw == "null":
        return None
    field = model.model_fields.get(name)
    if field is None or not _structured(field.annotation):
        return raw  # text, or a name the model refuses (unknown or read-only)
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise ValidationError(
            f"{name}: must be written as JSON (a number, true or false, or a list)"
        ) from None


def patch_body(model: type[P], sets: list[str]) -> P:
    """The PATCH body the `--set` pairs describe, validated as the API validates it."""
    values: dict[str, Any] = {}
    for item in sets:
        name, _, raw = item.partition("=")
        if name in values:
            raise ValidationError(f"{name} is set twice")
        values[name] = _value(model, name, raw)
    if not values:
        raise ValidationError("nothing to change: give --set field=value")
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = plain_message(first["msg"])
        raise ValidationError(f"{where}: {message}" if where else message) from None


def mask(value: str | None, kind: str) -> str | None:
    """Personal data as a hint only: `e***@example.org`, `***67`, `E***`."""
    if not value:
        return value
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "phone":
        return f"***{value[-2:]}"
    if kind == "free_text":
        return "***"
    return f"{value[:1]}***"


def print_record(data: Mapping[str, Any], etag: str, fmt: OutputFormat, title: str) -> None:
    """A record as a field/value table (or JSON) with its ETag."""
    if fmt is OutputFormat.JSON:
        print_json({**data, "etag": etag})
        return
    out = table("field", "value", title=title)
    for name, value in data.items():
        out.add_row(name, "" if value is None else str(value))
    show(out)
    print(f"ETag: {etag}")
