"""Request dependencies: the application state, the authenticated caller, pagination.

`Ctx` is what an endpoint receives: the caller and a factory for its unit of work, bound to the
caller's tenant with the caller as the audit actor. Authentication and the rate limit run here,
on the event loop (an API key cache miss moves to the thread pool).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tenantry.api.auth import Authenticator, Caller
from tenantry.api.observability import Metrics
from tenantry.api.ratelimit import RateLimiter
from tenantry.config import Settings
from tenantry.db.aio import AsyncReader
from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.decisions.runtime import Personalization
from tenantry.errors import AuthenticationError, PermissionDeniedError, ValidationError
from tenantry.services.principal import Principal

if TYPE_CHECKING:
    from tenantry.api.coalescing import WriteCoalescer

__all__ = [
    "MAX_LIMIT",
    "SECURITY_SCHEMES",
    "ApiState",
    "Ctx",
    "Cursor",
    "Limit",
    "Page",
    "Renderer",
    "authenticates",
    "context",
    "decode_cursor",
    "encode_cursor",
    "json_response",
    "page_of",
]

T = TypeVar("T", bound=BaseModel)
Renderer = Callable[[UnitOfWork, Principal, uuid.UUID], BaseModel]
MAX_LIMIT = 200

# The two ways to authenticate, as the OpenAPI document states them (every `/v1` operation
# accepts either). `_caller` reads the headers itself: resolving two security dependencies per
# request cost more than the rest of the dependency injection together.
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": (
            "An API key from `tenantry apikeys create` (also accepted as a Bearer token)."
        ),
    },
    "BearerJWT": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A JWT (HS256 or RS256) with sub, tenant_id, role, optional location_ids, exp."
        ),
    },
}


@dataclass
class ApiState:
    """Everything the application holds for its lifetime."""

    settings: Settings
    db: Database
    auth: Authenticator
    limiter: RateLimiter
    auth_failures: RateLimiter  # failed authentications, by client address
    metrics: Metrics
    reader: AsyncReader
    writes: WriteCoalescer
    renderers: dict[str, Renderer] = field(default_factory=dict)
    personalization: Personalization | None = None  # users' profiles, rules and the bandit


@dataclass(frozen=True)
class Ctx:
    """The caller of one request and its application state."""

    caller: Caller
    state: ApiState

    @property
    def principal(self) -> Principal:
        return self.caller.principal

    def uow(self) -> UnitOfWork:
        return self.state.db.tenant_uow(self.caller.tenant_id, actor=self.caller.ref)

    def platform_uow(self) -> UnitOfWork:
        return self.state.db.platform_uow(actor=self.caller.ref, tenant_id=self.caller.tenant_id)

    @contextmanager
    def read(self, *, platform: bool = False) -> Iterator[UnitOfWork]:
        """A unit of work for reads that ends with COMMIT, not ROLLBACK.

        Nothing is written either way, but psycopg forgets its prepared statements on every
        rollback: reads that rolled back would be parsed and planned anew each time.
        """
        with self.platform_uow() if platform else self.uow() as uow:
            yield uow
            uow.commit()

    def require_platform_admin(self) -> None:
        if not self.caller.platform_admin:
            raise PermissionDeniedError("only a platform administrator may do this")


async def _caller(request: Request) -> Ctx:
    state: ApiState = request.app.state.api
    headers = request.headers
    bearer = None
    scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        bearer = credentials.strip()
    # An empty header counts as absent (so a bearer token next to it still authenticates).
    api_key = headers.get("x-api-key") or None
    address = request.client.host if request.client is not None else "unknown"
    state.auth_failures.check(address, _THROTTLED)
    try:
        caller = await state.auth.authenticate(api_key, bearer)
    except AuthenticationError:
        if api_key is not None or bearer is not None:  # wrong credentials, not missing ones
            state.auth_failures.hit(address)
        raise
    request.state.caller_ref = caller.ref
    state.limiter.hit(caller.ref)
    return Ctx(caller=caller, state=state)


_THROTTLED = "too many failed authentications from this address; retry later"
context = Depends(_caller)


def authenticates(dependant: Dependant) -> bool:
    """Whether an endpoint (or one of its dependencies) depends on the caller."""
    return any(d.call is _caller or authenticates(d) for d in dependant.dependencies)


CtxDep = Annotated[Ctx, context]

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (1..{MAX_LIMIT}, default 50).")
]
Cursor = Annotated[
    str | None,
    Query(max_length=64, description="Opaque cursor from `next_cursor` of the previous page."),
]


class Page(BaseModel, Generic[T]):
    """One page of a list, ordered by id (creation order)."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


def encode_cursor(id_: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(id_.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError):
        raise ValidationError("invalid cursor") from None


def page_of(items: list[T], ids: list[uuid.UUID], limit: int) -> Page[T]:
    """A page from `limit + 1` fetched rows: the extra row only says that more exist."""
    more = len(items) > limit
    items = items[:limit]
    return Page[T](items=items, next_cursor=encode_cursor(ids[limit - 1]) if more else None)


def json_response(
    body: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialise with pydantic directly (the response model is already validated)."""
    return Response(
        content=body.model_dump_json(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
