"""`/v1/leads`: capture, read, list, move through the pipeline, rescore, score history, and the
hot prospects (open leads scoring 70 or more, best first, keyset-paged in that order).

Transitions are POST actions checked by the lead pipeline state machine in the services:
new -> contacted -> qualified -> converted, and lost from any open state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, TypeAdapter

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, json_response
from tenantry.api.idempotency import Written
from tenantry.api.keyset import decode_keyset, encode_keyset
from tenantry.api.resources.common import (
    ERRORS,
    Cents,
    Email,
    IdempotencyKey,
    In,
    Integer,
    Number,
    Out,
    get_one,
    list_page,
    renderer,
    write,
    write_coalesced,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models import Lead
from tenantry.models.enums import LeadSource, LeadStatus, Persona
from tenantry.services import dashboard
from tenantry.services import leads as svc
from tenantry.services.records import KINDS, get_record

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1/leads", tags=["leads"], responses=ERRORS)


class LeadIn(In):
    location_id: uuid.UUID
    source: LeadSource
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=40)
    message: str | None = Field(default=None, max_length=5000)
    interest: str | None = Field(default=None, max_length=120)
    persona: Persona | None = None
    score: Integer = Field(default=0, ge=0, le=100)
    estimated_value_cents: Cents | None = None
    category: str | None = Field(
        default=None, min_length=1, max_length=60, description="What the prospect asks for."
    )
    latitude: Number | None = Field(
        default=None, ge=-90, le=90, description="The prospect's place (rounded to 3 decimals)."
    )
    longitude: Number | None = Field(default=None, ge=-180, le=180)


class LeadOut(Out):
    location_id: uuid.UUID
    customer_id: uuid.UUID | None
    source: LeadSource
    status: LeadStatus
    score: int
    persona: Persona | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    message: str | None
    interest: str | None
    estimated_value_cents: int | None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    lost_reason: str | None
    contacted_at: datetime | None
    qualified_at: datetime | None
    converted_at: datetime | None
    lost_at: datetime | None
    score_explanation: dict[str, Any] | None = Field(
        default=None,
        description="The current score's explanation (as in the score history).",
    )
    category: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


class HotProspectOut(BaseModel):
    id: uuid.UUID
    location_id: uuid.UUID
    customer_id: uuid.UUID | None
    status: LeadStatus
    score: int
    source: LeadSource
    persona: Persona | None
    interest: str | None
    estimated_value_cents: int | None
    created_at: datetime


class LoseIn(In):
    reason: str = Field(min_length=1, max_length=200)


class ConvertIn(In):
    customer_id: uuid.UUID | None = Field(
        default=None, description="Link this customer; default: match by e-mail or create one."
    )


class RescoreIn(In):
    score: Integer = Field(ge=0, le=100)
    reason: str = Field(min_length=1, max_length=200)
    model_version: str | None = Field(default=None, max_length=50)


class ScoreOut(BaseModel):
    model_config = {"from_attributes": True}

    id: uuid.UUID
    score: int
    previous_score: int | None
    reason: str
    model_version: str | None
    scored_at: datetime
    explanation: dict[str, Any] | None = Field(
        default=None,
        description=(
            "`base` + the sum of `points` (per feature) = `raw` (0..100); the score is `raw`"
            " rounded. `kind`: rules, logistic or manual."
        ),
    )


def _written(lead: Lead, status: int = 200) -> Written:
    return Written(status, LeadOut.model_validate(lead), "lead", lead.id)


@router.post("", status_code=201, response_model=LeadOut, summary="Capture a lead")
async def create_lead(
    body: LeadIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        lead = svc.capture_lead(uow, ctx.principal, **body.model_dump())
        return _written(lead, 201)

    # Captures come in bursts (forms, imports): a caller's concurrent ones commit together.
    return await write_coalesced(ctx, request, body, idempotency_key, run)


# Before `/{lead_id}`, which would take `hot-prospects` for an id (and refuse it).
@router.get(
    "/hot-prospects",
    response_model=Page[HotProspectOut],
    summary="Open leads scoring 70 or more, best first",
)
def hot_prospects(
    ctx: CtxDep,
    min_score: Annotated[
        int, Query(ge=dashboard.HOT_SCORE, le=100, description="70..100 (default 70).")
    ] = dashboard.HOT_SCORE,
    location_id: Annotated[uuid.UUID | None, Query(description="Only this location.")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    after = decode_keyset("itu", cursor)
    with ctx.read() as uow:
        rows = dashboard.hot_prospects(
            uow,
            ctx.principal,
            min_score=min_score,
            location_id=location_id,
            after=after,
            limit=limit + 1,
        )
    items = [HotProspectOut(**vars(r)) for r in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_keyset("itu", *rows[limit - 1].key) if more else None
    return json_response(Page[HotProspectOut](items=items, next_cursor=next_cursor))


@router.get("/{lead_id}", response_model=LeadOut, summary="Get a lead")
async def get_lead(lead_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "lead", LeadOut, lead_id)


@router.get("", response_model=Page[LeadOut], summary="List leads")
async def list_leads(
    ctx: CtxDep,
    status: Annotated[LeadStatus | None, Query()] = None,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    source: Annotated[LeadSource | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"status": status, "location_id": location_id, "source": source}
    return await list_page(ctx, "lead", LeadOut, filters, cursor, limit)


@router.get(
    "/{lead_id}/score-history", response_model=list[ScoreOut], summary="Score history of a lead"
)
def score_history(lead_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        lead = get_record(uow, ctx.principal, KINDS["lead"], lead_id)
        rows = uow.repos.leads.score_history(lead.id)
        body = _SCORES.dump_json([ScoreOut.model_validate(r) for r in rows])
    return Response(body, media_type="application/json")


def _advance(
    request: Request, ctx: CtxDep, lead_id: uuid.UUID, target: LeadStatus, key: str | None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        return _written(svc.advance_lead(uow, ctx.principal, lead_id, target))

    return write(ctx, request, None, key, run)


@router.post("/{lead_id}/contact", response_model=LeadOut, summary="Mark a lead contacted")
def contact_lead(
    lead_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _advance(request, ctx, lead_id, LeadStatus.CONTACTED, idempotency_key)


@router.post("/{lead_id}/qualify", response_model=LeadOut, summary="Mark a lead qualified")
def qualify_lead(
    lead_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _advance(request, ctx, lead_id, LeadStatus.QUALIFIED, idempotency_key)


@router.post("/{lead_id}/lose", response_model=LeadOut, summary="Mark a lead lost")
def lose_lead(
    lead_id: uuid.UUID,
    body: LoseIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        lead = svc.advance_lead(uow, ctx.principal, lead_id, LeadStatus.LOST, reason=body.reason)
        return _written(lead)

    return write(ctx, request, body, idempotency_key, run)


@router.post("/{lead_id}/convert", response_model=LeadOut, summary="Convert a qualified lead")
def convert_lead(
    lead_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    body: ConvertIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    customer_id = body.customer_id if body else None

    def run(uow: UnitOfWork) -> Written:
        lead, _customer = svc.convert_lead(uow, ctx.principal, lead_id, customer_id=customer_id)
        return _written(lead)

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/{lead_id}/rescore",
    response_model=LeadOut,
    summary="Override the score by hand (until the scoring projection rescores the lead)",
)
def rescore_lead(
    lead_id: uuid.UUID,
    body: RescoreIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        lead = svc.rescore_lead(
            uow,
            ctx.principal,
            lead_id,
            body.score,
            reason=body.reason,
            model_version=body.model_version,
        )
        return _written(lead)

    return write(ctx, request, body, idempotency_key, run)


_SCORES = TypeAdapter(list[ScoreOut])
RENDERERS = {"lead": renderer("lead", LeadOut)}
