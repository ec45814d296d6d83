"""API key use cases: create (the secret is returned once), list, revoke, authenticate.

A key is `tnry_` followed by 32 random bytes in URL-safe base64. Only the SHA-256 of the whole
key is stored: the secret has 256 bits of entropy, so a plain hash cannot be reversed by
guessing, and lookups stay one index probe. Keys are platform objects: they are created and
looked up in a platform unit of work, before any tenant is bound.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models import ApiKey, ApiRole, Location

__all__ = [
    "KEY_PREFIX",
    "IssuedKey",
    "authenticate_api_key",
    "create_api_key",
    "hash_secret",
    "list_api_keys",
    "revoke_api_key",
]

KEY_PREFIX = "tnry_"
_SHOWN_PREFIX = 12  # characters of the key kept in clear to recognise it in listings


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the stored row and the secret, which is never shown again."""

    key: ApiKey
    secret: str


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_api_key(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    role: ApiRole | str,
    name: str | None = None,
    location_ids: Iterable[uuid.UUID] | None = None,
) -> IssuedKey:
    """Issue a key for a tenant with a role and an optional location scope."""
    try:
        role = ApiRole(role)
    except ValueError:
        allowed = ", ".join(r.value for r in ApiRole)
        raise ValidationError(f"role must be one of: {allowed}") from None
    uow.repos.tenants.get(tenant_id)
    scope = sorted(set(location_ids)) if location_ids is not None else None
    if scope is not None:
        if not scope:
            raise ValidationError("a location scope needs at least one location")
        found = set(
            uow.session.scalars(
                sa.select(Location.id).where(
                    Location.tenant_id == tenant_id, Location.id.in_(scope)
                )
            )
        )
        if found != set(scope):
            raise NotFoundError("location not found in this tenant")
    secret = KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    key = ApiKey(
        tenant_id=tenant_id,
        id=uow.ids(),
        name=(name or f"{role.value} key")[:100],
        prefix=secret[:_SHOWN_PREFIX],
        secret_hash=hash_secret(secret),
        role=role,
        location_ids=scope,
    )
    uow.session.add(key)
    uow.flush()
    return IssuedKey(key=key, secret=secret)


def list_api_keys(uow: UnitOfWork, tenant_id: uuid.UUID) -> list[ApiKey]:
    stmt = sa.select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
    return list(uow.session.scalars(stmt))


def revoke_api_key(uow: UnitOfWork, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (idempotent: revoking twice keeps the first time)."""
    key = uow.session.scalars(sa.select(ApiKey).where(ApiKey.id == key_id)).one_or_none()
    if key is None:
        raise NotFoundError("api key not found")
    if key.revoked_at is None:
        key.revoked_at = uow.clock.now()
        uow.flush()
    return key


def authenticate_api_key(uow: UnitOfWork, presented: str) -> ApiKey | None:
    """The live key matching the presented secret, or None (unknown, revoked or expired)."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 100:
        return None
    stmt = sa.select(ApiKey).where(ApiKey.secret_hash == hash_secret(presented))
    key = uow.session.scalars(stmt).one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    if key.expires_at is not None and key.expires_at <= uow.clock.now():
        return None
    return key
