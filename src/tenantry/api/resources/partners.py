"""`/v1/partners` (partners, their credits, the report), `/v1/lead-routing` and
`/v1/lead-assignments` (offers of leads and the partners' answers and ratings).

The rules are `tenantry.decisions`' (partners, credits, routing); this module maps HTTP to
them. A partner is addressed by its location's id. Writes go through `write(...)` (safe to
retry with an Idempotency-Key); a member limited to some locations sees and answers only for
the partners at those locations.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, RootModel, TypeAdapter

from tenantry.api.deps import (
    CtxDep,
    Cursor,
    Limit,
    Page,
    Renderer,
    decode_cursor,
    encode_cursor,
    json_response,
)
from tenantry.api.resources.common import (
    ERRORS,
    Boolean,
    IdempotencyKey,
    In,
    Integer,
    NoContent,
    Number,
    Out,
    deleted,
    tagged,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.decisions import credits, partners, routing
from tenantry.errors import ValidationError
from tenantry.models.partners import AssignmentStatus, CapacityPeriod, CreditEntryKind
from tenantry.services.idempotency import Written
from tenantry.services.principal import Principal

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class PartnerIn(In):
    location_id: uuid.UUID
    radius_km: Number = Field(gt=0, le=1000)
    capacity: Integer = Field(ge=0, le=100_000)
    capacity_period: CapacityPeriod = CapacityPeriod.WEEK
    price_credits: Integer = Field(ge=1, le=100_000)
    categories: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=list, max_length=50
    )
    accepts_leads: Boolean = True
    paused: Boolean = False


class PartnerPatch(In):
    radius_km: Number | None = Field(default=None, gt=0, le=1000)
    capacity: Integer | None = Field(default=None, ge=0, le=100_000)
    capacity_period: CapacityPeriod | None = None
    price_credits: Integer | None = Field(default=None, ge=1, le=100_000)
    categories: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = Field(
        default=None, max_length=50
    )
    accepts_leads: Boolean | None = None
    paused: Boolean | None = None


class PartnerOut(Out):
    location_id: uuid.UUID
    accepts_leads: bool
    categories: list[str]
    radius_km: Decimal
    capacity: int
    capacity_period: CapacityPeriod
    price_credits: int
    paused: bool


class CreditsIn(In):
    kind: Literal["purchase", "refund"]
    amount: Integer | None = Field(
        default=None, ge=1, le=credits.MAX_PURCHASE, description="Required for a purchase."
    )
    valid_days: Integer = Field(default=credits.DEFAULT_VALID_DAYS, ge=1, le=3660)
    assignment_id: uuid.UUID | None = Field(
        default=None, description="A refund's assignment (what its credits were spent on)."
    )


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: CreditEntryKind
    amount: int
    balance_after: int
    lot_id: uuid.UUID
    assignment_id: uuid.UUID | None
    actor: str
    created_at: datetime


class CreditsOut(BaseModel):
    location_id: uuid.UUID
    balance: int
    spendable: int
    history: list[EntryOut]


class RouteIn(In):
    dry_run: Boolean = False


class AssignmentOut(Out):
    lead_id: uuid.UUID | None = Field(description="null once the lead was erased")
    partner_id: uuid.UUID
    run_id: uuid.UUID
    status: AssignmentStatus
    distance_km: Decimal
    price_credits: int
    cost: float
    offered_at: datetime
    responded_at: datetime | None
    closed_at: datetime | None
    decline_reason: str | None
    rating: int | None
    rating_reason: str | None
    rated_at: datetime | None


class DeclineIn(In):
    reason: partners.DeclineReason | None = None


class RatingIn(In):
    rating: Integer = Field(ge=1, le=5)
    reason: partners.RatingReason | None = None


class ConversionIn(In):
    converted: Boolean


class RoutedOut(BaseModel):
    lead_id: uuid.UUID
    partner_id: uuid.UUID
    location_id: uuid.UUID
    distance_km: float
    cost: float
    price_credits: int
    assignment_id: uuid.UUID | None


class StrandedOut(BaseModel):
    lead_id: uuid.UUID
    reason: str
    message: str


class RouteOut(BaseModel):
    run_id: uuid.UUID
    dry_run: bool
    assigned: list[RoutedOut]
    unassigned: list[StrandedOut]


class PartnerReportOut(BaseModel):
    partner_id: uuid.UUID
    location_id: uuid.UUID
    offered: int
    accepted: int
    declined: int
    converted: int
    acceptance_rate: float | None
    conversion_rate: float | None
    credits_spent: int
    rated: int
    mean_rating: float | None
    quality_score: float | None = Field(description="Share of rated leads rated 4 or 5.")
    below_target: bool = Field(description="The quality score is below the seed's 70 %.")


class _Entries(RootModel[list[EntryOut]]):
    pass


_REPORT = TypeAdapter(list[PartnerReportOut])


def _credits_out(uow: UnitOfWork, principal: Principal, location_id: uuid.UUID) -> CreditsOut:
    partner = partners.get_partner(uow, principal, location_id)
    bal = credits.balance_of(uow, partner, uow.clock.now())
    return CreditsOut(
        location_id=location_id,
        balance=bal.balance,
        spendable=bal.spendable,
        history=[EntryOut.model_validate(r) for r in credits.history(uow, partner)],
    )


# -- partners ----------------------------------------------------------------------------


@router.post(
    "/partners",
    status_code=201,
    response_model=PartnerOut,
    tags=["partners"],
    summary="Make a location a partner that accepts leads (or replace its settings)",
)
def post_partner(
    body: PartnerIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        fields = body.model_dump()
        location_id = fields.pop("location_id")
        partner, created = partners.set_partner(uow, ctx.principal, location_id, **fields)
        return Written(201 if created else 200, PartnerOut.model_validate(partner))

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/partners", response_model=Page[PartnerOut], tags=["partners"], summary="List partners"
)
def list_partners(ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50) -> Response:
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        rows = partners.list_partners(uow, ctx.principal, after=after, limit=limit + 1)
        items = [PartnerOut.model_validate(p) for p in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(items[-1].id) if more else None
    return json_response(Page[PartnerOut](items=items, next_cursor=next_cursor))


# Before `/partners/{location_id}`, which would take `report` for an id (and refuse it).
@router.get(
    "/partners/report",
    response_model=list[PartnerReportOut],
    tags=["partners"],
    summary="Per partner: offers, acceptance, conversion, credits spent, lead quality",
)
def partner_report(ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        rows = [
            PartnerReportOut.model_validate(vars(f)) for f in partners.report(uow, ctx.principal)
        ]
    return Response(_REPORT.dump_json(rows), media_type="application/json")


@router.get(
    "/partners/{location_id}", response_model=PartnerOut, tags=["partners"], summary="A partner"
)
def get_partner(location_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = PartnerOut.model_validate(partners.get_partner(uow, ctx.principal, location_id))
    return tagged(body)


@router.patch(
    "/partners/{location_id}",
    response_model=PartnerOut,
    tags=["partners"],
    summary="Change a partner's settings (only the fields sent)",
)
def patch_partner(
    location_id: uuid.UUID,
    body: PartnerPatch,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        partners.get_partner(uow, ctx.principal, location_id)  # an unknown one is not created
        partner, _ = partners.set_partner(
            uow, ctx.principal, location_id, **body.model_dump(exclude_unset=True)
        )
        return Written(200, PartnerOut.model_validate(partner))

    return write(ctx, request, body, idempotency_key, run)


@router.delete(
    "/partners/{location_id}",
    status_code=204,
    response_class=Response,
    tags=["partners"],
    summary="Remove a partner without credits or leads (pause one that has them)",
)
def delete_partner(
    location_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        partners.delete_partner(uow, ctx.principal, location_id)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


# -- credits -----------------------------------------------------------------------------


@router.get(
    "/partners/{location_id}/credits",
    response_model=CreditsOut,
    tags=["partners"],
    summary="A partner's credit balance and ledger (newest first)",
)
def get_credits(location_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = _credits_out(uow, ctx.principal, location_id)
    return json_response(body)


@router.post(
    "/partners/{location_id}/credits",
    status_code=201,
    response_model=list[EntryOut],
    tags=["partners"],
    summary="Buy credits (a lot that expires) or refund what an assignment consumed",
)
def post_credits(
    location_id: uuid.UUID,
    body: CreditsIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        if body.kind == "purchase":
            if body.amount is None or body.assignment_id is not None:
                raise ValidationError("a purchase needs an amount and no assignment_id")
            entries = [
                partners.buy_credits(
                    uow, ctx.principal, location_id, body.amount, valid_days=body.valid_days
                )
            ]
        else:
            if body.assignment_id is None:
                raise ValidationError("a refund needs the assignment_id it refunds")
            entries = partners.refund_credits(
                uow, ctx.principal, location_id, body.assignment_id, body.amount
            )
        return Written(201, _Entries([EntryOut.model_validate(e) for e in entries]))

    return write(ctx, request, body, idempotency_key, run)


# -- routing and assignments -----------------------------------------------------------------


@router.post(
    "/lead-routing",
    response_model=RouteOut,
    tags=["partners"],
    summary="Assign the open leads to partners (one minimum-cost assignment)",
)
def post_routing(
    request: Request,
    ctx: CtxDep,
    body: RouteIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    given = body or RouteIn()

    def run(uow: UnitOfWork) -> Written:
        result = routing.route_leads(uow, ctx.principal, dry_run=given.dry_run)
        return Written(200, RouteOut.model_validate(result.as_json()))

    return write(ctx, request, given, idempotency_key, run)


@router.get(
    "/lead-assignments",
    response_model=Page[AssignmentOut],
    tags=["partners"],
    summary="List offers of leads to partners (creation order)",
)
def list_assignments(
    ctx: CtxDep,
    status: Annotated[AssignmentStatus | None, Query()] = None,
    location_id: Annotated[uuid.UUID | None, Query(description="Only this partner's.")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        rows = partners.list_assignments(
            uow,
            ctx.principal,
            status=status,
            location_id=location_id,
            after=after,
            limit=limit + 1,
        )
        items = [AssignmentOut.model_validate(a) for a, _loc in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(items[-1].id) if more else None
    return json_response(Page[AssignmentOut](items=items, next_cursor=next_cursor))


@router.get(
    "/lead-assignments/{assignment_id}",
    response_model=AssignmentOut,
    tags=["partners"],
    summary="An offer of a lead to a partner",
)
def get_assignment(assignment_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = AssignmentOut.model_validate(
            partners.get_assignment(uow, ctx.principal, assignment_id)
        )
    return tagged(body)


def _answer(
    request: Request,
    ctx: CtxDep,
    assignment_id: uuid.UUID,
    target: AssignmentStatus,
    body: BaseModel | None,
    key: str | None,
    reason: str | None = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        a = partners.answer(uow, ctx.principal, assignment_id, target, reason=reason)
        return Written(200, AssignmentOut.model_validate(a))

    return write(ctx, request, body, key, run)


@router.post(
    "/lead-assignments/{assignment_id}/accept",
    response_model=AssignmentOut,
    tags=["partners"],
    summary="Accept an offered lead",
)
def accept(
    assignment_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _answer(request, ctx, assignment_id, AssignmentStatus.ACCEPTED, None, idempotency_key)


@router.post(
    "/lead-assignments/{assignment_id}/decline",
    response_model=AssignmentOut,
    tags=["partners"],
    summary="Decline an offered lead (its credits come back; the lead goes to others)",
)
def decline(
    assignment_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    body: DeclineIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    reason = body.reason.value if body and body.reason else None
    target = AssignmentStatus.DECLINED
    return _answer(request, ctx, assignment_id, target, body, idempotency_key, reason)


@router.post(
    "/lead-assignments/{assignment_id}/conversion",
    response_model=AssignmentOut,
    tags=["partners"],
    summary="Record whether an accepted lead converted (true) or was lost (false)",
)
def conversion(
    assignment_id: uuid.UUID,
    body: ConversionIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    target = AssignmentStatus.CONVERTED if body.converted else AssignmentStatus.LOST
    return _answer(request, ctx, assignment_id, target, body, idempotency_key)


@router.post(
    "/lead-assignments/{assignment_id}/rating",
    response_model=AssignmentOut,
    tags=["partners"],
    summary="Rate the quality of a lead (1-5, optional reason code)",
)
def rating(
    assignment_id: uuid.UUID,
    body: RatingIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        a = partners.rate(uow, ctx.principal, assignment_id, body.rating, body.reason)
        return Written(200, AssignmentOut.model_validate(a))

    return write(ctx, request, body, idempotency_key, run)


RENDERERS: dict[str, Renderer] = {}
