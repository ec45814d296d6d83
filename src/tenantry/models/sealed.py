"""Sealed columns: personal data that is plaintext in Python and AES-GCM ciphertext in the database.

A sealed column is two things on a model: the mapped `bytea` column (attribute `<name>_sealed`,
database column `<name>`), and a `SealedField` descriptor `<name>` that reads and writes the
plaintext. Writing only stages the plaintext; the unit of work's sealer encrypts it just before
the flush, under the key of the row's data subject (or the tenant's records key when the row has
no subject), with associated data binding it to table, column, tenant and row. Loaded rows are
decrypted in one batch on first access (or when the unit of work ends), so reading a list costs
one key lookup, not one per row.

This module owns the mapping and the bookkeeping only; it does no cryptography and no I/O. The
sealer (`tenantry.privacy.sealing`) does both. A sealed column cannot be compared in SQL: find
rows through a blind index or the subject instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, overload

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import MappedColumn, mapped_column

from tenantry.domain.contact import normalise_email
from tenantry.errors import TenantryError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy.orm import QueryContext

__all__ = [
    "SealedField",
    "SealedValueUnavailableError",
    "Sealer",
    "install_sealing",
    "sealed_column",
    "sealed_fields",
]

SEALER_KEY = "tenantry.sealer"
_PLAIN = "_sealed_plain"
_PENDING = "_sealed_pending"
_SEALER = "_sealed_sealer"


class SealedValueUnavailableError(TenantryError):
    """Personal data was read outside a unit of work that holds the tenant's keys."""


class Sealer(Protocol):
    """What a unit of work provides to seal and open the sealed fields of its objects."""

    def seal_pending(self, session: Any) -> None: ...

    def open_loaded(self) -> None: ...

    def loaded(self, obj: object) -> None: ...


class SealedField:
    """The plaintext view of a sealed column (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        max_length: int | None = None,
        *,
        exact_length: int | None = None,
        blind_index: str | None = None,
    ) -> None:
        self.kind = kind
        self.max_length = max_length or exact_length
        self.exact_length = exact_length
        self.blind_index = blind_index
        self.name = ""
        self.column_attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.column_attr = f"{name}_sealed"

    @overload
    def __get__(self, obj: None, owner: type) -> SealedField: ...

    @overload
    def __get__(self, obj: object, owner: type) -> Any: ...

    def __get__(self, obj: object | None, owner: type) -> Any:
        if obj is None:
            return self
        plain: dict[str, str | None] = obj.__dict__.get(_PLAIN, {})
        if self.name in plain:
            return plain[self.name]
        if obj.__dict__.get(self.column_attr) is None:
            return None
        sealer: Sealer | None = obj.__dict__.get(_SEALER)
        if sealer is None:
            raise SealedValueUnavailableError()
        sealer.open_loaded()
        return obj.__dict__.get(_PLAIN, {}).get(self.name)

    def __set__(self, obj: object, value: str | None) -> None:
        if value is not None:
            if not isinstance(value, str):
                raise ValidationError(f"{self.name} must be text")
            if self.kind == "email":  # stored as its blind index reads it
                value = normalise_email(value)
            if self.max_length is not None and len(value) > self.max_length:
                raise ValidationError(f"{self.name} is longer than {self.max_length} characters")
        obj.__dict__.setdefault(_PLAIN, {})[self.name] = value
        obj.__dict__.setdefault(_PENDING, set()).add(self.name)
        # Touch the mapped column so the row is part of the next flush, which seals it.
        setattr(obj, self.column_attr, None)

    def __eq__(self, other: object) -> bool:
        raise TypeError(
            f"{self.name} is sealed (encrypted): query by blind index or subject, not by value"
        )

    __hash__ = object.__hash__


def sealed_column(name: str, kind: str, *, nullable: bool = True) -> MappedColumn[Any]:
    """The `bytea` column behind a `SealedField` (attribute `<name>_sealed`)."""
    return mapped_column(
        name, sa.LargeBinary, nullable=nullable, info={"pii": kind, "sealed": True}
    )


def sealed_fields(cls: type) -> dict[str, SealedField]:
    """The model's sealed fields by name (cached on the class)."""
    cached: dict[str, SealedField] | None = cls.__dict__.get("__sealed_fields__")
    if cached is None:
        cached = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, SealedField):
                    cached[name] = value
        cls.__sealed_fields__ = cached  # type: ignore[attr-defined]
    return cached


def pending_plaintext(obj: object) -> dict[str, str | None]:
    """Staged plaintext of `obj` not yet sealed, by field name; clears the staging."""
    names: set[str] = obj.__dict__.pop(_PENDING, set())
    plain: dict[str, str | None] = obj.__dict__.get(_PLAIN, {})
    return {n: plain.get(n) for n in names}


def has_pending_plaintext(obj: object) -> bool:
    return bool(obj.__dict__.get(_PENDING))


def remember_plaintext(obj: object, values: dict[str, str | None], sealer: Sealer | None) -> None:
    """Record decrypted values (or None for shredded ones) on a loaded object."""
    plain = obj.__dict__.setdefault(_PLAIN, {})
    for name, value in values.items():
        plain.setdefault(name, value)  # a value staged since the load wins
    if sealer is not None:
        obj.__dict__[_SEALER] = sealer


def has_plaintext(obj: object, name: str) -> bool:
    return name in obj.__dict__.get(_PLAIN, {})


def _on_load(target: object, context: QueryContext) -> None:
    if not sealed_fields(type(target)):
        return
    sealer: Sealer | None = context.session.info.get(SEALER_KEY)
    plain: dict[str, str | None] = target.__dict__.pop(_PLAIN, {})
    staged = target.__dict__.get(_PENDING)
    if staged:  # a refresh before the flush: values set since stay staged, the rest reopen
        target.__dict__[_PLAIN] = {n: v for n, v in plain.items() if n in staged}
    if sealer is not None:
        target.__dict__[_SEALER] = sealer
        sealer.loaded(target)


def _on_refresh(target: object, context: QueryContext, _attrs: object) -> None:
    _on_load(target, context)


def install_sealing(base: type) -> None:
    """Register the load hooks on the declarative base, for every model (idempotent)."""
    if not event.contains(base, "load", _on_load):
        event.listen(base, "load", _on_load, propagate=True)
        event.listen(base, "refresh", _on_refresh, propagate=True)
