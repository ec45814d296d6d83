"""`/v1/visibility-checks`, `/v1/evidence` and `/v1/recommendations`.

A check is started for a location (`POST /v1/visibility-checks`) or by a visitor through the
operator's site (`POST /v1/visibility-checks/requests`, confirmed by the double opt-in at
`POST /v1/visibility-checks/confirm`); a worker runs it. Every statement it publishes is backed
by evidence with a source, a retrieval time and a confidence: `GET .../report` shows each
statement with the evidence it cites.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, decode_cursor, json_response, page_of
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    Email,
    IdempotencyKey,
    In,
    Out,
    get_one,
    list_page,
    renderer,
    write,
)
from tenantry.api.resources.privacy import NoticeIn
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.insight import checks
from tenantry.insight.recheck import recheck
from tenantry.insight.worker import build_runner
from tenantry.models import Evidence, RecommendationEvidence, VisibilityCheck
from tenantry.models.enums import (
    EvidenceSource,
    Persona,
    RecommendationStatus,
    StatementKind,
    StatementStatus,
    Vertical,
    VisibilityCheckStatus,
)
from tenantry.services.principal import Action
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
    confirmed_at: datetime | None
    started_at: datetime | None
    delivered_at: datetime | None
    stale_at: datetime | None
    analyser: str | None
    rubric_version: str | None
    failures: list[dict[str, Any]]
    error: str | None


class EvidenceOut(Out):
    location_id: uuid.UUID | None
    visibility_check_id: uuid.UUID | None
    retrieval_id: uuid.UUID | None
    fact_key: str | None
    value: Any
    claim: str
    source: EvidenceSource
    source_url: str | None
    excerpt: str | None
    personal: bool
    retrieved_at: datetime
    confidence: Decimal
    content_hash: str
    extractor: str | None
    extractor_version: str | None
    model_version: str | None
    superseded_at: datetime | None
    superseded_by: uuid.UUID | None


class RecommendationOut(Out):
    location_id: uuid.UUID
    visibility_check_id: uuid.UUID | None
    title: str
    body: str
    category: str
    priority: int
    status: RecommendationStatus
    expected_impact: str | None
    stale_at: datetime | None


class CheckIn(In):
    location: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The location's id or slug.",
    )


class LeadCheckIn(NoticeIn):
    business_name: str = Field(min_length=1, max_length=200)
    email: Email
    website: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    city: str | None = Field(default=None, max_length=100)
    vertical: Vertical = Vertical.RESTAURANT
    google_place_id: str | None = Field(default=None, max_length=255, pattern=r"^[A-Za-z0-9_-]+$")


class LeadCheckOut(BaseModel):
    check: VisibilityCheckOut
    lead_id: uuid.UUID
    token: str | None = Field(
        description="Send it to the visitor in the confirmation link; shown only once."
    )


class ConfirmCheckIn(NoticeIn):
    token: str = Field(min_length=1, max_length=200)
    email: Email | None = None


class CitedEvidence(BaseModel):
    id: uuid.UUID
    fact_key: str | None
    claim: str
    source: EvidenceSource
    source_url: str | None
    confidence: Decimal
    retrieved_at: datetime
    content_hash: str


class StatementOut(BaseModel):
    id: uuid.UUID
    kind: StatementKind
    text: str
    data: dict[str, Any]
    status: StatementStatus
    analysis_run_id: uuid.UUID
    published_at: datetime
    stale_at: datetime | None
    evidence: list[CitedEvidence]


class ReportRecommendation(RecommendationOut):
    evidence: list[CitedEvidence]


class ReportOut(BaseModel):
    check: VisibilityCheckOut
    statements: list[StatementOut]
    recommendations: list[ReportRecommendation]
    evidence: list[EvidenceOut]


def _cited(rows: list[Evidence]) -> list[CitedEvidence]:
    return [
        CitedEvidence(
            id=e.id,
            fact_key=e.fact_key,
            claim=e.claim,
            source=e.source,
            source_url=e.source_url,
            confidence=e.confidence,
            retrieved_at=e.retrieved_at,
            content_hash=e.content_hash,
        )
        for e in rows
    ]


def _check_written(check: VisibilityCheck, status: int = 202) -> Written:
    return Written(status, VisibilityCheckOut.model_validate(check), "visibility_check", check.id)


@router.post(
    "/visibility-checks",
    status_code=202,
    response_model=VisibilityCheckOut,
    tags=["visibility checks"],
    summary="Start a visibility check of a location (a worker runs it)",
)
def start_check(
    body: CheckIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        return _check_written(checks.request_check(uow, ctx.principal, body.location))

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/visibility-checks/requests",
    status_code=201,
    response_model=LeadCheckOut,
    tags=["visibility checks"],
    summary="A visitor asks for a check of their business (waits for the double opt-in)",
)
def request_lead_check(
    body: LeadCheckIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        started = checks.request_lead_check(
            uow,
            ctx.principal,
            business_name=body.business_name,
            email=body.email,
            notice=body.notice(),
            website=body.website,
            city=body.city,
            vertical=body.vertical,
            google_place_id=body.google_place_id,
        )
        out = LeadCheckOut(
            check=VisibilityCheckOut.model_validate(started.check),
            lead_id=started.lead_id,
            token=started.token,
        )
        return Written(201, out, stored=out.model_copy(update={"token": None}))

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/visibility-checks/confirm",
    response_model=VisibilityCheckOut,
    tags=["visibility checks"],
    summary="The visitor confirmed the e-mail address: queue the check",
)
def confirm_lead_check(
    body: ConfirmCheckIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = checks.confirm_lead_check(
            uow, ctx.principal, body.token, notice=body.notice(), email=body.email
        )
        return _check_written(check, 200)

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/visibility-checks/{check_id}/delivered",
    response_model=VisibilityCheckOut,
    tags=["visibility checks"],
    summary="Record that the result reached the visitor",
)
def check_delivered(
    check_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        return _check_written(checks.mark_delivered(uow, ctx.principal, check_id), 200)

    return write(ctx, request, None, idempotency_key, run)


@router.get(
    "/visibility-checks/{check_id}/report",
    response_model=ReportOut,
    tags=["visibility checks"],
    summary="A check's scores, SWOT, persona and recommendations, each with its evidence",
)
def check_report(check_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        found = checks.report(uow, ctx.principal, check_id)
        out = ReportOut(
            check=VisibilityCheckOut.model_validate(found.check),
            statements=[
                StatementOut(
                    id=s.id,
                    kind=s.kind,
                    text=s.text,
                    data=s.data,
                    status=s.status,
                    analysis_run_id=s.analysis_run_id,
                    published_at=s.published_at,
                    stale_at=s.stale_at,
                    evidence=_cited(cited),
                )
                for s, cited in found.statements
            ],
            recommendations=[
                ReportRecommendation(
                    **RecommendationOut.model_validate(r).model_dump(), evidence=_cited(cited)
                )
                for r, cited in found.recommendations
            ],
            evidence=[EvidenceOut.model_validate(e) for e in found.evidence],
        )
    return json_response(out)


class RecheckOut(BaseModel):
    locations: int
    fetched: int
    unchanged: int
    changed: int
    superseded: int
    statements_stale: int
    failures: list[dict[str, str]]


@router.post(
    "/locations/{location_id}/recheck",
    response_model=RecheckOut,
    tags=["evidence"],
    summary="Fetch a location's sources again; changed content makes statements stale",
)
def recheck_location(location_id: uuid.UUID, ctx: CtxDep) -> Response:
    ctx.principal.require(Action.WRITE_CRM, "recheck evidence")
    with ctx.read() as uow:
        get_record(uow, ctx.principal, KINDS["location"], location_id)  # 404 outside the scope
    state = ctx.state
    done = recheck(
        state.db,
        build_runner(state.db, state.settings),
        ctx.caller.tenant_id,
        location_id=location_id,
    )
    return json_response(RecheckOut(**dataclasses.asdict(done)))


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


RENDERERS: dict[str, Any] = {"visibility_check": renderer("visibility_check", VisibilityCheckOut)}
