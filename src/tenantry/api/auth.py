"""Authentication: API keys and JWT bearer tokens, both mapped to a `Caller`.

An API key arrives in `X-API-Key` (or as `Authorization: Bearer tnry_...`) and is looked up by
the hash of its secret; a verified key is cached in the worker for
`TENANTRY_API_KEY_CACHE_SECONDS`, so revocation takes effect within that time. A JWT arrives as
`Authorization: Bearer <jwt>` and is verified with HS256 (`TENANTRY_JWT_SECRET`) or RS256 (a PEM
public key or a JWKS file); its claims are `sub`, `tenant_id`, `role`, optional `location_ids`
and `exp` (required); a token whose `tenant_id` names no (live) tenant is refused like a bad
signature. That a tenant exists is cached like a verified key. Either way the result is the
existing service `Principal`, plus whether the caller is a platform administrator and a
reference for logs, rate limits and idempotency.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.concurrency import run_in_threadpool

from tenantry.cache import ExpiringCache
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.errors import AuthenticationError, ConfigurationError
from tenantry.models import ApiKey, ApiRole
from tenantry.models.enums import MembershipRole
from tenantry.services.apikeys import KEY_PREFIX, authenticate_api_key, hash_secret
from tenantry.services.platform import tenant_exists
from tenantry.services.principal import Principal

__all__ = ["Authenticator", "Caller"]

_CACHED_KEYS = 10_000  # API keys remembered per process


@dataclass(frozen=True)
class Caller:
    """Who is calling: the service principal, platform rights and a loggable reference."""

    principal: Principal
    ref: str
    platform_admin: bool = False

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.principal.tenant_id


def _principal(
    tenant_id: uuid.UUID,
    role: ApiRole,
    location_ids: frozenset[uuid.UUID] | None,
    user_id: uuid.UUID | None = None,
) -> tuple[Principal, bool]:
    # A platform administrator acts as owner of its home tenant and may manage all tenants.
    admin = role is ApiRole.PLATFORM_ADMIN
    member_role = MembershipRole.OWNER if admin else MembershipRole(role.value)
    return (
        Principal(
            tenant_id=tenant_id, role=member_role, user_id=user_id, location_ids=location_ids
        ),
        admin,
    )


class Authenticator:
    """Verifies credentials; holds the JWT keys and the worker's API key cache."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.db = db
        self.cache_seconds = settings.api_key_cache_seconds
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.hs_secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self.rs_key: Any = None
        self.jwks: dict[str, Any] = {}
        if settings.jwt_public_key_file is not None:
            try:
                self.rs_key = _load_pem(settings.jwt_public_key_file.read_bytes())
            except (OSError, ValueError) as exc:
                raise ConfigurationError("TENANTRY_JWT_PUBLIC_KEY_FILE is unreadable") from exc
        if settings.jwt_jwks_file is not None:
            try:
                keyset = jwt.PyJWKSet.from_json(settings.jwt_jwks_file.read_text())
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                raise ConfigurationError("TENANTRY_JWT_JWKS_FILE is unreadable") from exc
            self.jwks = {k.key_id: k.key for k in keyset.keys if k.key_id}
        # The oldest goes first when full; an entry lives `cache_seconds`.
        self._cache: ExpiringCache[bytes, Caller] = ExpiringCache(
            _CACHED_KEYS, settings.api_key_cache_seconds
        )
        # Lookups under way, by key digest: requests that present a key while it is being
        # looked up wait for that lookup instead of each running one (a burst of a client's
        # requests when its cache entry has just expired).
        self._pending: dict[bytes, asyncio.Task[Caller]] = {}
        # Tenants known to exist (the tenant of a verified JWT is looked up once per lifetime).
        self._tenants: ExpiringCache[uuid.UUID, bool] = ExpiringCache(
            _CACHED_KEYS, settings.api_key_cache_seconds
        )

    async def authenticate(self, api_key: str | None, bearer: str | None) -> Caller:
        if api_key is None and bearer is not None and bearer.startswith(KEY_PREFIX):
            api_key, bearer = bearer, None
        if api_key is not None:
            return await self._api_key(api_key)
        if bearer is not None:
            caller = self._jwt(bearer)
            await self._require_tenant(caller.tenant_id)
            return caller
        raise AuthenticationError("send an API key (X-API-Key) or a bearer token")

    async def _api_key(self, presented: str) -> Caller:
        digest = hash_secret(presented)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        pending = self._pending.get(digest)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(self._verify(presented, digest))
            self._pending[digest] = pending
            pending.add_done_callback(lambda done: self._forget(digest, done))
        # Shielded: a waiter that is cancelled does not cancel the others' lookup.
        return await asyncio.shield(pending)

    def _forget(self, digest: bytes, done: asyncio.Task[Caller]) -> None:
        if self._pending.get(digest) is done:
            del self._pending[digest]
        if not done.cancelled():
            done.exception()  # retrieved here, should every waiter have gone away

    async def _verify(self, presented: str, digest: bytes) -> Caller:
        now = time.monotonic()  # a revocation committed during the lookup counts from here
        key = await run_in_threadpool(self._lookup, presented)
        if key is None:
            raise AuthenticationError("invalid, revoked or expired API key")
        scope = frozenset(key.location_ids) if key.location_ids else None
        principal, admin = _principal(key.tenant_id, key.role, scope)
        caller = Caller(principal=principal, ref=f"apikey:{key.id}", platform_admin=admin)
        if self.cache_seconds > 0:
            self._cache.put(digest, caller, since=now)
        return caller

    async def _require_tenant(self, tenant_id: uuid.UUID) -> None:
        if self._tenants.get(tenant_id):
            return
        now = time.monotonic()
        if not await run_in_threadpool(self._tenant_lookup, tenant_id):
            raise AuthenticationError("bearer token names a tenant that does not exist")
        if self.cache_seconds > 0:
            self._tenants.put(tenant_id, True, since=now)

    def _tenant_lookup(self, tenant_id: uuid.UUID) -> bool:
        with self.db.platform_uow(actor="api:auth") as uow:
            return tenant_exists(uow, tenant_id)

    def _lookup(self, presented: str) -> ApiKey | None:
        with self.db.platform_uow(actor="api:auth") as uow:
            return authenticate_api_key(uow, presented)

    def _key_for(self, token: str) -> tuple[Any, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("malformed bearer token") from None
        alg = header.get("alg")
        if alg == "HS256" and self.hs_secret:
            return self.hs_secret, alg
        if alg == "RS256":
            kid = header.get("kid")
            if kid is not None and kid in self.jwks:
                return self.jwks[kid], alg
            if self.rs_key is not None:
                return self.rs_key, alg
        raise AuthenticationError("bearer token signed with an unaccepted algorithm or key")

    def _jwt(self, token: str) -> Caller:
        key, alg = self._key_for(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self.audience is not None,
                    "verify_iss": self.issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("bearer token expired") from None
        except jwt.PyJWTError:
            raise AuthenticationError("invalid bearer token") from None
        try:
            tenant_id = uuid.UUID(str(claims["tenant_id"]))
            role = ApiRole(str(claims["role"]))
            raw_scope = claims.get("location_ids")
            if raw_scope is not None and not isinstance(raw_scope, list):
                raise TypeError("location_ids must be a list")
            # An empty list limits the principal to no location at all; absent means every one.
            scope = (
                frozenset(uuid.UUID(str(x)) for x in raw_scope) if raw_scope is not None else None
            )
        except (KeyError, ValueError, TypeError):
            raise AuthenticationError(
                "bearer token lacks valid tenant_id and role claims"
            ) from None
        sub = str(claims["sub"])
        try:
            user_id: uuid.UUID | None = uuid.UUID(sub)
        except ValueError:
            user_id = None
        principal, admin = _principal(tenant_id, role, scope, user_id)
        # The subject may be an e-mail address: log and key by a digest, never the claim.
        digest = hashlib.sha256(f"{tenant_id}:{sub}".encode()).hexdigest()[:24]
        return Caller(principal=principal, ref=f"jwt:{digest}", platform_admin=admin)


def _load_pem(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)
