"""`/v1/visibility-checks`, `/v1/evidence` and `/v1/recommendations` (read-only).

Every statement the AI makes is backed by evidence with a source, a retrieval time and a
confidence; a check lists its evidence and a recommendation the evidence behind it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, decode_cursor, json_response, page_of
from tenantry.api.resources.common import ERRORS, Out, get_one, list_page
from tenantry.api.routing import ResourceRouter
from tenantry.models import Evidence, RecommendationEvidence
from tenantry.models.enums import (
    EvidenceSource,
    Persona,
    RecommendationStatus,
    VisibilityCheckStatus,
)
from tenantry.services.records import KINDS, get_record, list_records

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class VisibilityCheckOut(Out):
    location_id: uuid.UUID
    lead_id: uuid.UUID | None
    status: VisibilityCheckStatus
    persona: Persona | None
    overall_score: int | None
    gbp_score: int | None
    social_score: int | None
    web_score: int | None
    competitor_count: int | None
    processing_time_ms: int | None
    requested_at: datetime
    completed_at: datetime | None
    results: dict[str, Any]


class EvidenceOut(Out):
    location_id: uuid.UUID | None
    visibility_check_id: uuid.UUID | None
    claim: str
    source: EvidenceSource
    source_url: str | None
    excerpt: str | None
    retrieved_at: datetime
    confidence: Decimal
    content_hash: str
    model_version: str | None


class RecommendationOut(Out):
    location_id: uuid.UUID
    visibility_check_id: uuid.UUID | None
    title: str
    body: str
    category: str
    priority: int
    status: RecommendationStatus
    expected_impact: str | None


def _evidence_page(
    ctx: CtxDep, clauses: list[Any], cursor: str | None, limit: int, parent: tuple[str, uuid.UUID]
) -> Response:
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        get_record(uow, ctx.principal, KINDS[parent[0]], parent[1])  # 404 outside the scope
        rows = list_records(
            uow, ctx.principal, KINDS["evidence"], *clauses, after=after, limit=limit + 1
        )
        items = [EvidenceOut.model_validate(r) for r in rows]
    return json_response(page_of(items, [r.id for r in rows], limit))


@router.get(
    "/visibility-checks/{check_id}",
    response_model=VisibilityCheckOut,
    tags=["visibility checks"],
    summary="Get a visibility check",
)
async def get_check(check_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "visibility_check", VisibilityCheckOut, check_id)


@router.get(
    "/visibility-checks",
    response_model=Page[VisibilityCheckOut],
    tags=["visibility checks"],
    summary="List visibility checks",
)
async def list_checks(
    ctx: CtxDep,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[VisibilityCheckStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"location_id": location_id, "status": status}
    return await list_page(ctx, "visibility_check", VisibilityCheckOut, filters, cursor, limit)


@router.get(
    "/visibility-checks/{check_id}/evidence",
    response_model=Page[EvidenceOut],
    tags=["visibility checks", "evidence"],
    summary="Evidence gathered by a check",
)
def check_evidence(
    check_id: uuid.UUID, ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    clauses = [Evidence.visibility_check_id == check_id]
    return _evidence_page(ctx, clauses, cursor, limit, ("visibility_check", check_id))


@router.get(
    "/evidence/{evidence_id}",
    response_model=EvidenceOut,
    tags=["evidence"],
    summary="Get a piece of evidence",
)
async def get_evidence(evidence_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "evidence", EvidenceOut, evidence_id)


@router.get(
    "/recommendations/{recommendation_id}",
    response_model=RecommendationOut,
    tags=["recommendations"],
    summary="Get a recommendation",
)
async def get_recommendation(recommendation_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "recommendation", RecommendationOut, recommendation_id)


@router.get(
    "/recommendations",
    response_model=Page[RecommendationOut],
    tags=["recommendations"],
    summary="List recommendations",
)
async def list_recommendations(
    ctx: CtxDep,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[RecommendationStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"location_id": location_id, "status": status}
    return await list_page(ctx, "recommendation", RecommendationOut, filters, cursor, limit)


@router.get(
    "/recommendations/{recommendation_id}/evidence",
    response_model=Page[EvidenceOut],
    tags=["recommendations", "evidence"],
    summary="The evidence behind a recommendation",
)
def recommendation_evidence(
    recommendation_id: uuid.UUID, ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    linked = (
        RecommendationEvidence.__table__.select()
        .with_only_columns(RecommendationEvidence.evidence_id)
        .where(
            RecommendationEvidence.tenant_id == ctx.caller.tenant_id,
            RecommendationEvidence.recommendation_id == recommendation_id,
        )
    )
    clauses = [Evidence.id.in_(linked)]
    return _evidence_page(ctx, clauses, cursor, limit, ("recommendation", recommendation_id))


RENDERERS: dict[str, Any] = {}
