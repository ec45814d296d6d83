"""What may change of the evidence ledger and the privacy records: a recommendation's
status and priority (PATCH); deleting a visibility check, evidence, a recommendation or a
data-subject request is refused with 409 and the reason (the ledger is append-only; requests
are kept as proof of how they were handled).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from tenantry.api.deps import CtxDep
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    IdempotencyKey,
    IfMatch,
    Integer,
    Patch,
    edited,
    matching,
    renderer,
    write,
)
from tenantry.api.resources.insight import RecommendationOut
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models.enums import RecommendationStatus
from tenantry.services.edits import refuse_delete, update_recommendation

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class RecommendationPatch(Patch):
    """What the business made of a recommendation; its content is the ledger's."""

    __read_only__ = (
        *Patch.__read_only__,
        "location_id",
        "visibility_check_id",
        "title",
        "body",
        "category",
        "expected_impact",
        "stale_at",
    )
    __not_null__ = ("status", "priority")

    status: RecommendationStatus | None = None
    priority: Integer | None = Field(default=None, ge=1, le=5)


_KEPT: dict[str, Any] = {
    "responses": {409: {"description": "The ledger is append-only: never deleted."}}
}


@router.patch(
    "/recommendations/{recommendation_id}",
    response_model=RecommendationOut,
    tags=["recommendations"],
    summary="Set a recommendation's status or priority",
)
def patch_recommendation(
    recommendation_id: uuid.UUID,
    body: RecommendationPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, RecommendationOut.model_validate)
        changes = body.changes()
        r = update_recommendation(uow, ctx.principal, recommendation_id, changes, check)
        return Written(200, RecommendationOut.model_validate(r), "recommendation", r.id)

    return edited(write(ctx, request, body, idempotency_key, run))


def _refused(kind: str, id_: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        refuse_delete(uow, ctx.principal, kind, id_)
    return Response(status_code=204)  # not reached: refuse_delete always raises


@router.delete(
    "/visibility-checks/{check_id}",
    status_code=204,
    response_class=Response,
    tags=["visibility checks"],
    summary="Refused (409): the evidence ledger is append-only",
    **_KEPT,
)
def delete_check(check_id: uuid.UUID, ctx: CtxDep) -> Response:
    return _refused("visibility_check", check_id, ctx)


@router.delete(
    "/evidence/{evidence_id}",
    status_code=204,
    response_class=Response,
    tags=["evidence"],
    summary="Refused (409): the evidence ledger is append-only",
    **_KEPT,
)
def delete_evidence(evidence_id: uuid.UUID, ctx: CtxDep) -> Response:
    return _refused("evidence", evidence_id, ctx)


@router.delete(
    "/recommendations/{recommendation_id}",
    status_code=204,
    response_class=Response,
    tags=["recommendations"],
    summary="Refused (409): the evidence ledger is append-only",
    **_KEPT,
)
def delete_recommendation(recommendation_id: uuid.UUID, ctx: CtxDep) -> Response:
    return _refused("recommendation", recommendation_id, ctx)


@router.delete(
    "/privacy/dsar/{request_id}",
    tags=["privacy"],
    status_code=204,
    response_class=Response,
    summary="Refused (409): requests are kept for accountability",
    responses={409: {"description": "Kept as proof of how the request was handled."}},
)
def delete_dsar(request_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        refuse_delete(uow, ctx.principal, "dsar", request_id)
    return Response(status_code=204)  # not reached: refuse_delete always raises


RENDERERS: dict[str, Any] = {"recommendation": renderer("recommendation", RecommendationOut)}
