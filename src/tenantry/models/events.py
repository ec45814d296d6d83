"""Schema `events`: the inbox of ingested events, the transactional outbox, projection and relay
positions.

Inbox and outbox rows carry the id of the transaction that wrote them (`txid`, xid8) and an
insertion sequence (`seq`). Readers consume them in `(txid, seq)` order and only below the
oldest transaction still running (`pg_snapshot_xmin`), so a transaction that commits late can
never leave a gap behind a position already consumed, and writers never lock each other.
`events.idempotency_keys` (API retries) belongs to the API and is defined elsewhere.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from tenantry.models.base import (
    Base,
    TenantOwned,
    TimestampMixin,
    pii,
    tenant_fk,
    tenant_root_fk,
)

__all__ = ["InboxEvent", "OutboxEntry", "ProjectionPosition", "RelayPosition", "Xid8"]

SCHEMA = {"schema": "events"}
_CURRENT_XID = sa.text("pg_current_xact_id()")


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (`xid8`), read and written as a Python int."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "xid8"

    def bind_expression(self, bindvalue: Any) -> Any:
        return sa.cast(sa.cast(bindvalue, sa.Text), self)

    def column_expression(self, colexpr: Any) -> Any:
        return sa.cast(sa.cast(colexpr, sa.Text), sa.BigInteger)


class InboxEvent(TenantOwned, Base):
    """An ingested event (seed 001 payload), accepted once per `(tenant_id, id)`.

    `id` is the event's own `event_id`, so a retried event is a duplicate by key. The subject
    appears as `user_id` (the tenant's data-subject id, pseudonymous inside the OLTP store) and
    as `user_key`, its keyed pseudonym, which is all the lake ever receives.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        sa.Index("ix_inbox_tenant_user", "tenant_id", "user_id"),
        sa.Index("ix_inbox_tenant_txid_seq", "tenant_id", "txid", "seq"),
        sa.Index("ix_inbox_relay_order", "txid", "seq"),  # the relay reads across tenants
        SCHEMA,
    )

    txid: Mapped[int] = mapped_column(Xid8(), server_default=_CURRENT_XID)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=False))
    event_type: Mapped[str] = mapped_column(sa.String(50))
    event_ts: Mapped[datetime]
    account_id: Mapped[uuid.UUID | None]
    location_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    user_key: Mapped[str | None] = mapped_column(sa.String(64), info=pii("keyed_hash"))
    external_ids: Mapped[dict[str, Any]] = mapped_column(
        server_default=sa.text("'{}'::jsonb"),
        info={"category": "external ids (business ids; personal ids as keyed HMACs)"},
    )
    properties: Mapped[dict[str, Any]] = mapped_column(
        server_default=sa.text("'{}'::jsonb"),
        info={"category": "event properties (validated per type; no personal data)"},
    )
    source: Mapped[str] = mapped_column(sa.String(50), server_default="api")
    ingested_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class OutboxEntry(TenantOwned, Base):
    """A domain change, written in the same transaction as the change itself."""

    __tablename__ = "outbox"
    __table_args__ = (
        tenant_root_fk(),
        sa.Index("ix_outbox_tenant_aggregate", "tenant_id", "aggregate_type", "aggregate_id"),
        sa.Index("ix_outbox_relay_order", "txid", "seq"),  # the relay reads across tenants
        SCHEMA,
    )

    txid: Mapped[int] = mapped_column(Xid8(), server_default=_CURRENT_XID)
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=False))
    aggregate_type: Mapped[str] = mapped_column(sa.String(50))
    aggregate_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(sa.String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(
        server_default=sa.text("'{}'::jsonb"),
        info={"category": "change summary (ids, states, figures; no personal data)"},
    )
    occurred_at: Mapped[datetime]


class ProjectionPosition(TimestampMixin, Base):
    """How far a tenant's projection has read its stream, stored with the projected result."""

    __tablename__ = "projection_positions"
    __table_args__ = (tenant_root_fk(), SCHEMA)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    projection: Mapped[str] = mapped_column(
        sa.String(80), primary_key=True, info={"category": "configuration"}
    )
    last_txid: Mapped[int] = mapped_column(Xid8(), server_default=sa.text("'0'::xid8"))
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    events: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class RelayPosition(TimestampMixin, Base):
    """How far the relay has moved a stream (inbox or outbox) into the lake. Platform-owned."""

    __tablename__ = "relay_positions"
    __table_args__ = (SCHEMA,)

    stream: Mapped[str] = mapped_column(
        sa.String(50), primary_key=True, info={"category": "configuration"}
    )
    last_txid: Mapped[int] = mapped_column(Xid8(), server_default=sa.text("'0'::xid8"))
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    batches: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    rows: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
