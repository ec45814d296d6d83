"""Schema `channel`: a location's connections to external platforms (seed 000 tier 2).

OAuth tokens are secrets: marked `pii("secret")` so the privacy kernel encrypts them at rest,
and never returned by the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base, TenantOwned, str_enum, tenant_fk
from tenantry.models.enums import ConnectionProvider, SyncStatus
from tenantry.models.sealed import SealedField, sealed_column

__all__ = ["Connection"]


class Connection(TenantOwned, Base):
    """A location's account on Google Business Profile, Facebook, Instagram, ..."""

    __tablename__ = "connections"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations"),
        sa.UniqueConstraint("tenant_id", "location_id", "provider"),
        sa.Index("ix_connections_tenant_sync_status", "tenant_id", "sync_status"),
        {"schema": "channel"},
    )

    location_id: Mapped[uuid.UUID]
    provider: Mapped[ConnectionProvider] = mapped_column(
        str_enum(ConnectionProvider, "connection_provider")
    )
    external_account_id: Mapped[str | None] = mapped_column(sa.String(255))
    external_location_id: Mapped[str | None] = mapped_column(sa.String(255))
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    access_token = SealedField("secret")
    access_token_sealed: Mapped[bytes | None] = sealed_column("access_token", "secret")
    refresh_token = SealedField("secret")
    refresh_token_sealed: Mapped[bytes | None] = sealed_column("refresh_token", "secret")
    token_expires_at: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(200)), server_default="{}")
    sync_status: Mapped[SyncStatus] = mapped_column(
        str_enum(SyncStatus, "sync_status"), server_default=SyncStatus.PENDING.value
    )
    last_synced_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
