"""PATCH of `/v1/reviews` (the business's reply and escalation) and `/v1/connections`;
withdrawing a reply; disconnecting (the connection and its sealed tokens are deleted).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from tenantry.api.deps import CtxDep
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    Boolean,
    IdempotencyKey,
    IfMatch,
    Instant,
    NoContent,
    Patch,
    deleted,
    edited,
    matching,
    write,
)
from tenantry.api.resources.engage import ConnectionOut, ReviewOut
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.services import edits

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class ReviewPatch(Patch):
    """The business's side of a review; the review itself is the platform's."""

    __read_only__ = (
        *Patch.__read_only__,
        "location_id",
        "customer_id",
        "booking_id",
        "platform",
        "external_id",
        "rating",
        "sentiment",
        "author_name",
        "body",
        "responded_at",
        "published_at",
    )
    __not_null__ = ("escalated",)

    response_body: str | None = Field(
        default=None, min_length=1, max_length=5000, description="The reply; null withdraws it."
    )
    escalated: Boolean | None = None


class ConnectionPatch(Patch):
    __read_only__ = (
        *Patch.__read_only__,
        "location_id",
        "provider",
        "sync_status",
        "last_synced_at",
        "last_error",
        "has_access_token",
        "has_refresh_token",
    )
    __not_null__ = ("scopes",)

    external_account_id: str | None = Field(default=None, max_length=255)
    external_location_id: str | None = Field(default=None, max_length=255)
    display_name: str | None = Field(default=None, max_length=200)
    access_token: str | None = Field(
        default=None, max_length=8000, description="Write-only: never returned; null removes it."
    )
    refresh_token: str | None = Field(
        default=None, max_length=8000, description="Write-only: never returned; null removes it."
    )
    token_expires_at: Instant | None = None
    scopes: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=50)


@router.patch(
    "/reviews/{review_id}",
    response_model=ReviewOut,
    tags=["reviews"],
    summary="Change the reply to a review or its escalation",
)
def patch_review(
    review_id: uuid.UUID,
    body: ReviewPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ReviewOut.model_validate)
        r = edits.update_review(uow, ctx.principal, review_id, body.changes(), check)
        return Written(200, ReviewOut.model_validate(r), "review", r.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/reviews/{review_id}/reply",
    response_model=ReviewOut,
    tags=["reviews"],
    summary="Withdraw the reply to a review",
)
def delete_review_reply(
    review_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ReviewOut.model_validate)
        r = edits.delete_review_reply(uow, ctx.principal, review_id, check)
        return Written(200, ReviewOut.model_validate(r), "review", r.id)

    return edited(write(ctx, request, None, idempotency_key, run))


@router.patch(
    "/connections/{connection_id}",
    response_model=ConnectionOut,
    tags=["connections"],
    summary="Change a connection (tokens are write-only)",
)
def patch_connection(
    connection_id: uuid.UUID,
    body: ConnectionPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ConnectionOut.model_validate)
        c = edits.update_connection(uow, ctx.principal, connection_id, body.changes(), check)
        return Written(200, ConnectionOut.model_validate(c), "connection", c.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/connections/{connection_id}",
    status_code=204,
    response_class=Response,
    tags=["connections"],
    summary="Disconnect: the connection and its tokens are removed",
)
def delete_connection(
    connection_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ConnectionOut.model_validate)
        edits.delete_connection(uow, ctx.principal, connection_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


RENDERERS: dict[str, Any] = {}
