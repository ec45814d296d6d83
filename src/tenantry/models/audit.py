"""Schema `audit`: the hash-chained trail, the chain heads, signed checkpoints, and the list
of personal-data columns whose values never enter the trail.

These mappings describe tables that only the database writes (trigger `audit.record_rows` from
migration 0100, bulk batches from migration 0410) or that only `tenantry.audit` appends to; no
service changes them. `audit.log`
is partitioned by month: its partitions are child tables that the models deliberately do not
know (`is_partition` tells the migration tooling and the catalog tests to skip them).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base

__all__ = [
    "AuditEntry",
    "BulkBatch",
    "BulkRow",
    "ChainHead",
    "Checkpoint",
    "RedactedColumn",
    "is_partition",
]

SCHEMA = "audit"
_PARTITION = re.compile(r"log_(y\d{4}m\d{2}|default)")
# Monthly partitions of other tables, by schema: `engage.chat_messages` (seed 002).
_PARTITIONS = {SCHEMA: _PARTITION, "engage": re.compile(r"chat_messages_(y\d{4}m\d{2}|default)")}


def is_partition(schema: str | None, name: str | None) -> bool:
    """True for the monthly (and DEFAULT) partitions of `audit.log` and
    `engage.chat_messages`: tables the database has and the models do not name."""
    pattern = _PARTITIONS.get(schema or "")
    return pattern is not None and name is not None and pattern.fullmatch(name) is not None


class AuditEntry(Base):
    """One recorded change: who changed which row of which table how, chained by hash.

    `op` is `I`, `U` or `D` for one row, or `B` for a bulk batch: `row_id` is then the batch id
    and `new_values` holds the batch (source, rows, columns, Merkle root of `BulkRow` leaves).

        `old_values`/`new_values` hold non-personal columns only; personal-data columns appear by
        name in `redacted_columns`. `subject_id` and `encrypted_values` are reserved for the
        privacy kernel (PII encrypted under the subject's key) and are NULL until it writes them.
    """

    __tablename__ = "log"
    __table_args__ = (
        sa.CheckConstraint("op IN ('I', 'U', 'D', 'B')", name="op"),
        sa.Index("ix_log_tenant_id_table_name_row_id", "tenant_id", "table_name", "row_id"),
        {"schema": SCHEMA, "postgresql_partition_by": "RANGE (recorded_at)"},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(primary_key=True)
    txid: Mapped[int] = mapped_column(sa.BigInteger)
    table_name: Mapped[str] = mapped_column(sa.Text)
    row_id: Mapped[str] = mapped_column(sa.Text)
    op: Mapped[str] = mapped_column(sa.String(1))
    actor: Mapped[str] = mapped_column(sa.Text)
    changed_columns: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    redacted_columns: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    subject_id: Mapped[uuid.UUID | None]
    encrypted_values: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    prev_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary)


class ChainHead(Base):
    """The newest entry of a tenant's chain; its row lock serialises that tenant's appends.

    `base_seq`/`base_hash` name the last entry removed by retention (0 and the genesis hash
    while nothing was removed): verification starts right after it.
    """

    __tablename__ = "chain_heads"
    __table_args__ = {"schema": SCHEMA}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    head_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    base_seq: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    base_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)


class Checkpoint(Base):
    """A signed statement of every chain's head at one moment (also kept outside the database)."""

    __tablename__ = "checkpoints"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    payload: Mapped[str] = mapped_column(sa.Text)
    signature: Mapped[bytes] = mapped_column(sa.LargeBinary)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)


class RedactedColumn(Base):
    """A personal-data column: the trail records that it changed, never its value."""

    __tablename__ = "redacted_columns"
    __table_args__ = {"schema": SCHEMA}

    table_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    column_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)


class BulkBatch(Base):
    """A (tenant, batch, table) a bulk load wrote rows to; its commit needs the sealed `B` entry."""

    __tablename__ = "bulk_batches"
    __table_args__ = {"schema": SCHEMA}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    opened_at: Mapped[datetime]


class BulkRow(Base):
    """One row of a bulk batch: its id and leaf, SHA-256 of the row as loaded (`audit.bulk`)."""

    __tablename__ = "bulk_rows"
    __table_args__ = {"schema": SCHEMA}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    row_id: Mapped[str] = mapped_column(sa.Text(collation="C"), primary_key=True)
    leaf: Mapped[bytes] = mapped_column(sa.LargeBinary)
