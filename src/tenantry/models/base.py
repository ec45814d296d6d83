"""Declarative base, naming conventions and the column helpers every model uses.

Owns: the metadata (one per process), the conventions for constraint names (stable names make
migrations and error messages readable), the tenant mixin and the composite tenant foreign key.
Does not own any table.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tenantry.models.sealed import install_sealing

__all__ = [
    "SCHEMAS",
    "Base",
    "SoftDeleteMixin",
    "SubjectLinked",
    "TenantOwned",
    "TimestampMixin",
    "pii",
    "str_enum",
    "subject_ref",
    "tenant_fk",
    "tenant_root_fk",
]

SCHEMAS = (
    "identity",
    "crm",
    "commerce",
    "engage",
    "channel",
    "insight",
    "privacy",
    "audit",
    "events",
    "migrate",
    "scheduling",
    "decisions",
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: sa.DateTime(timezone=True),
        dict[str, Any]: JSONB,
        uuid.UUID: sa.Uuid(as_uuid=True),
    }


# Part of the mapping: loaded rows with sealed (encrypted) columns are handed to the sealer.
install_sealing(Base)


def pii(kind: str, **extra: Any) -> dict[str, Any]:
    """Column `info` marking personal data, read by the privacy catalog and encryption.

    kind: name | email | phone | address | identifier | free_text | secret | keyed_hash
    (a blind index or pseudonym derived from personal data) | key_material (wrapped keys) |
    geolocation (a person's place as coordinates, stored rounded)
    """
    return {"pii": kind, **extra}


def str_enum(py_enum: type[enum.Enum], name: str) -> sa.Enum:
    """A VARCHAR column with a CHECK constraint listing the enum's values.

    Chosen over native PostgreSQL enums: adding a value is a constraint swap inside one
    migration, and values compare as plain text in COPY, the lake and raw SQL.
    """
    return sa.Enum(
        py_enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        length=max(len(m.value) for m in py_enum),
    )


def tenant_fk(
    column: str, target: str, *, ondelete: str | None = None, name: str | None = None
) -> sa.ForeignKeyConstraint:
    """A composite foreign key `(tenant_id, column) -> target(tenant_id, id)`.

    A row can never point into another tenant: the referenced row must carry the same tenant.
    """
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        ondelete=ondelete,
        name=name,
    )


def tenant_root_fk() -> sa.ForeignKeyConstraint:
    """`tenant_id -> identity.tenants(id)`, for tables without a NOT NULL tenant parent."""
    return sa.ForeignKeyConstraint(["tenant_id"], ["identity.tenants.id"])


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now(), sort_order=90)
    updated_at: Mapped[datetime] = mapped_column(
        server_default=sa.func.now(), onupdate=sa.func.now(), sort_order=91
    )


class SoftDeleteMixin:
    deleted_at: Mapped[datetime | None] = mapped_column(sort_order=92)


class TenantOwned(TimestampMixin):
    """Primary key `(tenant_id, id)`: tenant first, UUIDv7 id second.

    `tenant_id` must reach `identity.tenants`: either through a NOT NULL composite foreign key
    to a parent that does (one referential check per row instead of two, which matters for bulk
    loads), or directly through `tenant_root_fk()`. A catalog test checks every table.
    """

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-20)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-19)


class SubjectLinked:
    """Rows about one data subject: `subject_id` names whose data key seals their personal data.

    `__subject_from__` lists sealed fields that identify the subject (e-mail, phone);
    `__subject_parents__` lists `(column, table)` references whose row's subject this row shares.
    The sealer fills `subject_id` from them when a row is written without one.
    """

    __subject_from__: tuple[str, ...] = ()
    __subject_parents__: tuple[tuple[str, str], ...] = ()

    subject_id: Mapped[uuid.UUID | None] = mapped_column(sort_order=80)


def subject_ref(table: str) -> tuple[sa.ForeignKeyConstraint, sa.Index]:
    """The composite foreign key to `privacy.subjects` and the index erasure looks rows up by."""
    return (
        tenant_fk("subject_id", "privacy.subjects"),
        sa.Index(
            f"ix_{table}_tenant_subject",
            "tenant_id",
            "subject_id",
            postgresql_where=sa.text("subject_id IS NOT NULL"),
        ),
    )
