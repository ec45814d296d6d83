"""Schema `migrate`: the bookkeeping of migrations from legacy databases (platform-owned).

A run is one legacy source moved by one mapping. `id_map` holds, per source row, the one outcome
it reached (loaded, merged into another record, quarantined with a reason; `deleted` once
change capture saw it deleted in the source) and the canonical row
it became; its primary key is what makes a load resumable without loading a row twice.
`lineage` names the source row behind each value of a consolidated record; `progress` is how far
each entity's snapshot load has gone; `verifications` keeps every verify report.

These tables are migration metadata, not tenant data: only `tenantry_owner` (the migration
tool) reads or writes them, nothing is granted to `tenantry_app`. They hold source keys and
canonical ids, never personal data (a canonical row's tenant is `canonical_tenant`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base

__all__ = ["IdMapEntry", "Lineage", "MigrationRun", "Progress", "Verification"]

SCHEMA = {"schema": "migrate"}


class MigrationRun(Base):
    """One source moved by one mapping: its phase, replication slot and cutover window."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.CheckConstraint(
            "phase IN ('loading', 'loaded', 'following', 'cut_over', 'rolled_back')",
            name="phase_known",
        ),
        SCHEMA,
    )

    name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    mapping: Mapped[str] = mapped_column(sa.Text)
    source_id: Mapped[str] = mapped_column(sa.Text)
    phase: Mapped[str] = mapped_column(sa.Text)
    slot: Mapped[str | None] = mapped_column(sa.Text)
    publication: Mapped[str | None] = mapped_column(sa.Text)
    start_lsn: Mapped[int | None] = mapped_column(sa.BigInteger)
    applied_lsn: Mapped[int | None] = mapped_column(sa.BigInteger)
    applied_commit_at: Mapped[datetime | None]
    load_started_at: Mapped[datetime | None]
    load_finished_at: Mapped[datetime | None]
    cutover_at: Mapped[datetime | None]
    rollback_until: Mapped[datetime | None]
    rolled_back_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class IdMapEntry(Base):
    """The outcome of one source row and the canonical row it became or joined."""

    __tablename__ = "id_map"
    __table_args__ = (
        sa.ForeignKeyConstraint(["run"], ["migrate.runs.name"], ondelete="CASCADE"),
        sa.CheckConstraint(
            "outcome IN ('loaded', 'merged', 'quarantined', 'deleted')", name="outcome_known"
        ),
        sa.CheckConstraint(
            "(outcome = 'quarantined') = (reason IS NOT NULL)", name="quarantine_has_reason"
        ),
        sa.CheckConstraint(
            "outcome IN ('quarantined', 'deleted') OR canonical_id IS NOT NULL",
            name="placed_has_id",
        ),
        sa.Index("ix_id_map_canonical", "canonical_table", "canonical_id"),
        sa.Index(
            "ix_id_map_run_outcome",
            "run",
            "outcome",
            postgresql_where=sa.text("outcome <> 'loaded'"),
        ),
        SCHEMA,
    )

    run: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    entity: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.Text)
    canonical_table: Mapped[str] = mapped_column(sa.Text)
    canonical_tenant: Mapped[uuid.UUID | None]
    canonical_id: Mapped[uuid.UUID | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    refs: Mapped[dict[str, Any] | None]  # references to rows that were merged (for unmerge)
    source_deleted: Mapped[bool] = mapped_column(server_default=sa.false())
    loaded_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class Lineage(Base):
    """Which source row supplied a column of a consolidated record."""

    __tablename__ = "lineage"
    __table_args__ = (
        sa.ForeignKeyConstraint(["run"], ["migrate.runs.name"], ondelete="CASCADE"),
        SCHEMA,
    )

    run: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    canonical_table: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    canonical_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    column_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    entity: Mapped[str] = mapped_column(sa.Text)
    source_key: Mapped[str] = mapped_column(sa.Text)


class Progress(Base):
    """How far the snapshot load of one entity has come (the last key committed)."""

    __tablename__ = "progress"
    __table_args__ = (
        sa.ForeignKeyConstraint(["run"], ["migrate.runs.name"], ondelete="CASCADE"),
        SCHEMA,
    )

    run: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    entity: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    last_key: Mapped[list[str] | None] = mapped_column(sa.ARRAY(sa.Text))
    done: Mapped[bool] = mapped_column(server_default=sa.false())
    rows: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class Verification(Base):
    """One `tenantry migrate verify` report."""

    __tablename__ = "verifications"
    __table_args__ = (
        sa.ForeignKeyConstraint(["run"], ["migrate.runs.name"], ondelete="CASCADE"),
        SCHEMA,
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    run: Mapped[str] = mapped_column(sa.Text)
    verified_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    source_lsn: Mapped[int | None] = mapped_column(sa.BigInteger)
    equal: Mapped[bool]
    report: Mapped[dict[str, Any]]
