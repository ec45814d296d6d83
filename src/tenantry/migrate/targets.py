"""The canonical tables a migration writes, described from the models (never a second copy).

For each loadable table: its columns in order, which of them a mapping may set, which are
sealed fields (by logical name, with kind, length limits and blind index), which identify the
data subject, which reference parent rows that share a subject, which are required, and, for a
table partitioned by a range of time (`engage.chat_messages`), its partition column. The
loader, the verifier and `plan` all read these descriptions. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from tenantry.models import (
    Booking,
    BookingItem,
    ChatMessage,
    Connection,
    Customer,
    Lead,
    LeadInteraction,
    Location,
    Message,
    Payment,
    Review,
    Service,
    Tenant,
    Thread,
    User,
    Vehicle,
)
from tenantry.models.base import Base
from tenantry.models.enums import MembershipRole
from tenantry.models.sealed import SealedField, sealed_fields

__all__ = ["MEMBERSHIP_ROLE", "TARGETS", "Column", "Target"]

_MANAGED = {"id", "tenant_id", "subject_id"}


@dataclass(frozen=True)
class Column:
    name: str  # the database column (sealed fields: the logical name, which is the column)
    type: sa.types.TypeEngine[Any]
    nullable: bool
    has_default: bool
    sealed: SealedField | None = None
    enum_values: tuple[str, ...] = ()
    max_length: int | None = None

    @cached_property
    def kind(self) -> str:
        """A coarse type name the converters understand."""
        if self.sealed is not None:
            return "sealed"
        if self.enum_values:
            return "enum"
        t = self.type
        if isinstance(t, sa.Uuid):
            return "uuid"
        if isinstance(t, sa.Boolean):
            return "bool"
        if isinstance(t, sa.DateTime):
            return "timestamp"
        if isinstance(t, sa.Date):
            return "date"
        if isinstance(t, sa.Integer):  # also SmallInteger, BigInteger
            return "int"
        if isinstance(t, sa.Numeric):
            return "numeric"
        if isinstance(t, sa.ARRAY):
            return "array"
        if isinstance(t, sa.JSON):
            return "json"
        if isinstance(t, sa.LargeBinary):
            return "bytes"
        return "text"


@dataclass(frozen=True)
class Target:
    """One canonical table as a migration sees it."""

    name: str  # schema.table
    model: type[Base]
    columns: tuple[Column, ...]
    subject_from: tuple[str, ...]
    subject_parents: tuple[tuple[str, str], ...]
    soft_delete: bool
    tenant_owned: bool
    # The column a RANGE-partitioned table is partitioned by (part of its primary key, so a
    # row is found by (tenant_id, id) alone only through every partition's index).
    partition_key: str | None = None

    @cached_property
    def by_name(self) -> dict[str, Column]:
        named = {c.name: c for c in self.columns}
        return named | ({"role": MEMBERSHIP_ROLE} if self.platform_scoped else {})

    @cached_property
    def writable(self) -> set[str]:
        """Columns a mapping may set (the engine owns ids, tenant and subject). Staff accounts
        also take `role`: the membership that ties the account to the row's tenant."""
        names = {c.name for c in self.columns if c.name not in _MANAGED and not _is_index(c)}
        return names | ({"role"} if self.platform_scoped else set())

    @cached_property
    def platform_scoped(self) -> bool:
        """Sealed under the platform keys (staff accounts belong to no tenant)."""
        return getattr(self.model, "__sealed_scope__", "tenant") == "platform"

    @cached_property
    def required(self) -> set[str]:
        """Writable columns that need a value (not nullable, no default)."""
        return {
            c.name
            for c in self.columns
            if not c.nullable and not c.has_default and c.name in self.writable
        }

    @cached_property
    def sealed(self) -> dict[str, SealedField]:
        return {c.name: c.sealed for c in self.columns if c.sealed is not None}

    @cached_property
    def subject_linked(self) -> bool:
        return "subject_id" in self.by_name

    @cached_property
    def kept_after_source_delete(self) -> bool:
        """Whether a row whose source row is deleted stays (soft deleted, or left in place for
        its legal period). Chat (the partitioned `engage.chat_messages`) has no period to keep
        it for: it is deleted with its source row."""
        return self.partition_key is None

    @cached_property
    def copy_columns(self) -> list[str]:
        """Every column the loader writes with COPY, in table order."""
        return [c.name for c in self.columns]


# The pseudo-column `role` of staff accounts: the role of the membership the load creates.
MEMBERSHIP_ROLE = Column(
    "role", sa.String(20), False, True, enum_values=tuple(r.value for r in MembershipRole)
)


def _is_index(column: Column) -> bool:
    return column.name.endswith("_bidx")


def _describe(model: type[Base]) -> Target:
    table: sa.Table = model.__table__  # type: ignore[assignment]
    fields = sealed_fields(model)
    by_column = {f.name: f for f in fields.values()}
    columns = []
    for col in table.columns:
        enum_values: tuple[str, ...] = ()
        if isinstance(col.type, sa.Enum):
            enum_values = tuple(col.type.enums)
        length = getattr(col.type, "length", None)
        columns.append(
            Column(
                name=col.name,
                type=col.type,
                nullable=bool(col.nullable),
                has_default=col.server_default is not None or col.default is not None,
                sealed=by_column.get(col.name),
                enum_values=enum_values,
                max_length=length if isinstance(length, int) else None,
            )
        )
    return Target(
        name=table.fullname,
        model=model,
        columns=tuple(columns),
        subject_from=tuple(getattr(model, "__subject_from__", ())),
        subject_parents=tuple(getattr(model, "__subject_parents__", ())),
        soft_delete="deleted_at" in table.columns,
        tenant_owned="tenant_id" in table.columns,
        partition_key=_partition_key(table),
    )


def _partition_key(table: sa.Table) -> str | None:
    """The column of `postgresql_partition_by = "RANGE (col)"`, if the table has one."""
    spec = table.dialect_options["postgresql"].get("partition_by")
    if not spec:
        return None
    column = str(spec).strip().removeprefix("RANGE").strip().strip("()").strip()
    return column if column in table.columns else None


TARGETS: dict[str, Target] = {
    t.name: t
    for t in map(
        _describe,
        (
            Tenant,
            Location,
            User,
            Customer,
            Vehicle,
            Lead,
            LeadInteraction,
            Service,
            Booking,
            BookingItem,
            Payment,
            Thread,
            Message,
            ChatMessage,
            Review,
            Connection,
        ),
    )
}
