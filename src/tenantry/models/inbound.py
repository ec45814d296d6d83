"""Schema `commerce`: how payment notifications reach a tenant from outside.

`webhook_endpoints` holds the signing secrets of a tenant's webhook endpoints at a provider
(Stripe): sealed as `pii("secret")` under the tenant's records key, never returned by the API;
several may be active while a secret is rolled, and a revoked one is kept for the record.
`mailbox_cursors` remembers, per tenant and watched IMAP mailbox, the mailbox's UIDVALIDITY and
the last UID whose message was handed on, so a watch resumes where it stopped.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import Base, TenantOwned, str_enum, tenant_root_fk
from tenantry.models.enums import WebhookProvider
from tenantry.models.sealed import SealedField, sealed_column

__all__ = ["MailboxCursor", "WebhookEndpoint"]


class WebhookEndpoint(TenantOwned, Base):
    """One signing secret of a tenant's webhook endpoint at a payment provider."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        tenant_root_fk(),
        sa.Index(
            "ix_webhook_endpoints_tenant_provider_active",
            "tenant_id",
            "provider",
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
        {"schema": "commerce"},
    )

    provider: Mapped[WebhookProvider] = mapped_column(str_enum(WebhookProvider, "webhook_provider"))
    label: Mapped[str | None] = mapped_column(sa.String(100))
    secret = SealedField("secret", 200)
    secret_sealed: Mapped[bytes] = sealed_column("secret", "secret", nullable=False)
    revoked_at: Mapped[datetime | None]


class MailboxCursor(TenantOwned, Base):
    """How far a tenant's watched mailbox has been read: (mailbox, UIDVALIDITY, last UID)."""

    __tablename__ = "mailbox_cursors"
    __table_args__ = (
        tenant_root_fk(),
        sa.UniqueConstraint("tenant_id", "mailbox"),
        {"schema": "commerce"},
    )

    mailbox: Mapped[str] = mapped_column(
        sa.String(500), info={"category": "configuration (the tenant's mailbox: host, account)"}
    )
    uidvalidity: Mapped[int] = mapped_column(sa.BigInteger)
    last_uid: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
