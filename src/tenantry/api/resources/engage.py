"""`/v1/reviews` (read, list, reply) and `/v1/connections` (platform accounts of a location).

Connection tokens are write-only: they are accepted on creation and never returned; the
response only says whether a token is present.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import Field, model_validator

from tenantry.api.deps import CtxDep, Cursor, Limit, Page
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    IdempotencyKey,
    In,
    Instant,
    Out,
    get_one,
    list_page,
    renderer,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models import Connection
from tenantry.models.enums import ConnectionProvider, ReviewPlatform, SyncStatus
from tenantry.services.resources import create_connection, respond_to_review

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class ReviewOut(Out):
    location_id: uuid.UUID
    customer_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    platform: ReviewPlatform
    external_id: str | None
    rating: int
    sentiment: float | None
    author_name: str | None
    body: str | None
    response_body: str | None
    responded_at: datetime | None
    published_at: datetime
    escalated: bool


class ReplyIn(In):
    body: str = Field(min_length=1, max_length=5000)


class ConnectionIn(In):
    location_id: uuid.UUID
    provider: ConnectionProvider
    external_account_id: str | None = Field(default=None, max_length=255)
    external_location_id: str | None = Field(default=None, max_length=255)
    display_name: str | None = Field(default=None, max_length=200)
    access_token: str | None = Field(
        default=None, max_length=8000, description="Write-only: never returned."
    )
    refresh_token: str | None = Field(
        default=None, max_length=8000, description="Write-only: never returned."
    )
    token_expires_at: Instant | None = None
    scopes: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=50)


class ConnectionOut(Out):
    location_id: uuid.UUID
    provider: ConnectionProvider
    external_account_id: str | None
    external_location_id: str | None
    display_name: str | None
    has_access_token: bool
    has_refresh_token: bool
    token_expires_at: datetime | None
    scopes: list[str]
    sync_status: SyncStatus
    last_synced_at: datetime | None
    last_error: str | None

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        """From a row: report whether tokens exist, never the tokens themselves."""
        get: Callable[[str], Any]
        if isinstance(data, Connection):
            get = partial(getattr, data)
        elif isinstance(data, dict) and "access_token" in data:
            get = data.get
        else:
            return data
        fields = [k for k in cls.model_fields if not k.startswith("has_")]
        return {k: get(k) for k in fields} | {
            "has_access_token": get("access_token") is not None,
            "has_refresh_token": get("refresh_token") is not None,
        }


# -- reviews -----------------------------------------------------------------------------


@router.get(
    "/reviews/{review_id}", response_model=ReviewOut, tags=["reviews"], summary="Get a review"
)
async def get_review(review_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "review", ReviewOut, review_id)


@router.get("/reviews", response_model=Page[ReviewOut], tags=["reviews"], summary="List reviews")
async def list_reviews(
    ctx: CtxDep,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    platform: Annotated[ReviewPlatform | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"location_id": location_id, "platform": platform}
    return await list_page(ctx, "review", ReviewOut, filters, cursor, limit)


@router.post(
    "/reviews/{review_id}/reply",
    response_model=ReviewOut,
    tags=["reviews"],
    summary="Reply to a review",
)
def reply_to_review(
    review_id: uuid.UUID,
    body: ReplyIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        r = respond_to_review(uow, ctx.principal, review_id, body.body)
        return Written(200, ReviewOut.model_validate(r), "review", r.id)

    return write(ctx, request, body, idempotency_key, run)


# -- connections -------------------------------------------------------------------------


@router.post(
    "/connections",
    status_code=201,
    response_model=ConnectionOut,
    tags=["connections"],
    summary="Connect a location to a platform account",
)
def post_connection(
    body: ConnectionIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        c = create_connection(uow, ctx.principal, **body.model_dump())
        return Written(201, ConnectionOut.model_validate(c), "connection", c.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/connections/{connection_id}",
    response_model=ConnectionOut,
    tags=["connections"],
    summary="Get a connection (without its tokens)",
)
async def get_connection(connection_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "connection", ConnectionOut, connection_id)


@router.get(
    "/connections",
    response_model=Page[ConnectionOut],
    tags=["connections"],
    summary="List connections (without tokens)",
)
async def list_connections(
    ctx: CtxDep,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    sync_status: Annotated[SyncStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"location_id": location_id, "sync_status": sync_status}
    return await list_page(ctx, "connection", ConnectionOut, filters, cursor, limit)


RENDERERS = {
    "review": renderer("review", ReviewOut),
    "connection": renderer("connection", ConnectionOut),
}
