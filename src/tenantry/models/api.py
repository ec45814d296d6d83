"""Tables the HTTP API owns: API keys (`identity.api_keys`) and idempotency records
(`events.idempotency_keys`).

An API key is stored only as the SHA-256 of its 32-byte random secret; the secret is shown once
when the key is created. Idempotency records hold a salted fingerprint of the request and a
reference to the resource the first response returned, never a copy of personal data; they
expire after 24 hours.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base, TenantOwned, TimestampMixin, str_enum, tenant_root_fk

__all__ = ["ApiKey", "ApiRole", "IdempotencyRecord"]


class ApiRole(StrEnum):
    """The membership roles plus `platform_admin` (manages tenants across the platform)."""

    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"
    ANALYST = "analyst"
    DPO = "dpo"
    PLATFORM_ADMIN = "platform_admin"


class ApiKey(TenantOwned, Base):
    """A revocable credential for one tenant, role and optional location scope."""

    __tablename__ = "api_keys"
    __table_args__ = (
        tenant_root_fk(),
        # Authentication finds the key by its hash before any tenant is bound.
        sa.Index("ix_api_keys_secret_hash", "secret_hash", unique=True),
        sa.CheckConstraint("octet_length(secret_hash) = 32", name="secret_hash_length"),
        {"schema": "identity"},
    )

    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    secret_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    role: Mapped[ApiRole] = mapped_column(str_enum(ApiRole, "api_role"))
    location_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(sa.Uuid(as_uuid=True)))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IdempotencyRecord(TimestampMixin, Base):
    """The first outcome of a write sent with an `Idempotency-Key` header."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        tenant_root_fk(),
        sa.Index("ix_idempotency_keys_tenant_expires", "tenant_id", "expires_at"),
        {"schema": "events"},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    principal_ref: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    salt: Mapped[bytes] = mapped_column(sa.LargeBinary)
    request_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    status_code: Mapped[int] = mapped_column(sa.SmallInteger)
    resource_kind: Mapped[str | None] = mapped_column(sa.String(40))
    resource_id: Mapped[uuid.UUID | None]
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    expires_at: Mapped[datetime]
