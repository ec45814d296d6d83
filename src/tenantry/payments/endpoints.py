"""A tenant's webhook signing secrets: add (rotation keeps the others), list masked, revoke.

The secret is sealed at rest (`commerce.webhook_endpoints.secret`) and leaves this module only
as the list `active_secrets` hands the signature check, or masked for a listing. Works in the
unit of work it is given and never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models import WebhookEndpoint
from tenantry.models.enums import WebhookProvider

__all__ = [
    "EndpointView",
    "SecretAdded",
    "active_secrets",
    "add_secret",
    "list_endpoints",
    "mask",
    "revoke_endpoint",
]

_MIN_LENGTH = 16
_MAX_LENGTH = 200


@dataclass(frozen=True)
class EndpointView:
    """A secret as a listing shows it: masked."""

    id: uuid.UUID
    provider: str
    label: str | None
    masked: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class SecretAdded:
    endpoint_id: uuid.UUID
    created: bool  # False: this secret was active already
    revoked: int  # others revoked by `replace`


def mask(secret: str) -> str:
    """`whsec_****abcd`: the prefix Stripe gives every secret and its last four characters."""
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:8] else ""
    return f"{prefix}****{secret[-4:]}"


def _check(secret: str) -> str:
    secret = secret.strip()
    if not secret.isascii() or not secret.isprintable() or any(c.isspace() for c in secret):
        raise ValidationError("the secret must be printable ASCII without spaces")
    if not _MIN_LENGTH <= len(secret) <= _MAX_LENGTH:
        raise ValidationError(
            f"the secret must have {_MIN_LENGTH} to {_MAX_LENGTH} characters"
            " (Stripe's start with whsec_)"
        )
    return secret


def _active(
    uow: UnitOfWork, tenant_id: uuid.UUID, provider: WebhookProvider
) -> list[WebhookEndpoint]:
    return list(
        uow.session.scalars(
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.tenant_id == tenant_id,
                WebhookEndpoint.provider == provider,
                WebhookEndpoint.revoked_at.is_(None),
            )
            .order_by(WebhookEndpoint.id)
        )
    )


def add_secret(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    secret: str,
    *,
    provider: WebhookProvider = WebhookProvider.STRIPE,
    label: str | None = None,
    replace: bool = False,
) -> SecretAdded:
    """Make `secret` an active signing secret; `replace` revokes every other active one."""
    secret = _check(secret)
    if label is not None and len(label) > 100:
        raise ValidationError("the label is longer than 100 characters")
    now = uow.clock.now()
    existing = None
    revoked = 0
    for endpoint in _active(uow, tenant_id, provider):
        if endpoint.secret == secret:
            existing = endpoint
        elif replace:
            endpoint.revoked_at = now
            revoked += 1
    if existing is not None:
        uow.flush()
        return SecretAdded(existing.id, created=False, revoked=revoked)
    endpoint = WebhookEndpoint(tenant_id=tenant_id, id=uow.ids(), provider=provider, label=label)
    endpoint.secret = secret
    uow.session.add(endpoint)
    uow.flush()
    return SecretAdded(endpoint.id, created=True, revoked=revoked)


def list_endpoints(uow: UnitOfWork, tenant_id: uuid.UUID) -> list[EndpointView]:
    """Every secret of the tenant, revoked ones too, oldest first; masked."""
    rows = uow.session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id)
        .order_by(WebhookEndpoint.id)
    )
    return [
        EndpointView(
            id=e.id,
            provider=e.provider.value,
            label=e.label,
            masked=mask(e.secret or ""),
            created_at=e.created_at,
            revoked_at=e.revoked_at,
        )
        for e in rows
    ]


def revoke_endpoint(uow: UnitOfWork, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    """Revoke one secret; False if it was revoked already. Another tenant's id is not found."""
    endpoint = uow.session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id
        )
    ).one_or_none()
    if endpoint is None:
        raise NotFoundError("no such webhook secret for this tenant (see `stripe-secret list`)")
    if endpoint.revoked_at is not None:
        return False
    endpoint.revoked_at = uow.clock.now()
    uow.flush()
    return True


def active_secrets(
    uow: UnitOfWork, provider: WebhookProvider = WebhookProvider.STRIPE
) -> list[str]:
    """The active secrets of the unit of work's tenant (none for a tenant that does not exist)."""
    return [e.secret for e in _active(uow, uow.require_tenant(), provider) if e.secret]
