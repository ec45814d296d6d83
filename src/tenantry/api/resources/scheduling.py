"""Scheduling: `/v1/resources`, a location's opening hours, closures and daily capacity, what a
service needs (`/v1/services/{id}/requirements`), `/v1/availability` and rescheduling a booking.

Setup needs `manage_locations`, reservations `write_bookings`, availability `read`; a
principal limited to locations sees and changes only theirs. Times of day are "HH:MM" in the
location's timezone (up to "48:00" for hours past midnight). The rules live in
`tenantry.scheduling`; this module only translates HTTP.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, Strict

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, Renderer, json_response
from tenantry.api.idempotency import Written
from tenantry.api.resources.commerce import RENDERERS as BOOKING_RENDERERS
from tenantry.api.resources.commerce import BookingOut
from tenantry.api.resources.common import (
    ERRORS,
    IdempotencyKey,
    IfMatch,
    In,
    Instant,
    Integer,
    NoContent,
    Out,
    Patch,
    deleted,
    etag_of,
    get_one,
    list_page,
    matching,
    renderer,
    require_match,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models import DailyCapacity, DateException, Service, ServiceRequirement
from tenantry.models.enums import ResourceKind
from tenantry.scheduling import availability, capacity, hours, resources
from tenantry.scheduling.booking import reschedule_booking
from tenantry.services.principal import Principal

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)
Flag = Annotated[bool, Strict()]
_HHMM = r"^\d{2}:\d{2}$"
TimeOfDay = Annotated[str, Field(pattern=_HHMM, description='"HH:MM", 00:00 to 48:00')]
Count = Annotated[int, Strict(), Field(ge=0, le=100_000)]


# -- schemas -------------------------------------------------------------------------------


class ResourceIn(In):
    location_id: uuid.UUID
    kind: ResourceKind
    name: str = Field(min_length=1, max_length=200)
    is_active: Flag = True


class ResourcePatch(Patch):
    __read_only__ = ("id", "created_at", "updated_at", "tenant_id", "location_id")
    __not_null__ = ("kind", "name", "is_active")

    kind: ResourceKind | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    is_active: Flag | None = None


class ResourceOut(Out):
    location_id: uuid.UUID
    kind: ResourceKind
    name: str
    is_active: bool


class IntervalIn(In):
    weekday: Integer = Field(ge=1, le=7, description="ISO weekday: 1 Monday .. 7 Sunday")
    opens: TimeOfDay
    closes: TimeOfDay


class WeekIn(In):
    intervals: list[IntervalIn] = Field(max_length=100)


class IntervalOut(BaseModel):
    weekday: int
    opens: str
    closes: str


class WeekOut(BaseModel):
    location_id: uuid.UUID
    intervals: list[IntervalOut]


class ClosureIn(In):
    on_date: date
    opens: TimeOfDay | None = None
    closes: TimeOfDay | None = None
    reason: str | None = Field(default=None, max_length=200)
    resource_id: uuid.UUID | None = Field(
        default=None, description="Only this resource is away (a day off), not the location."
    )


class ClosureOut(BaseModel):
    id: uuid.UUID
    location_id: uuid.UUID
    on_date: date
    closed: bool
    opens: str | None
    closes: str | None
    reason: str | None
    resource_id: uuid.UUID | None


class Closures(BaseModel):
    items: list[ClosureOut]


class NeedIn(In):
    resource_kind: ResourceKind | None = None
    resource_id: uuid.UUID | None = None
    quantity: Integer = Field(default=1, ge=1, le=100)


class RequirementsIn(In):
    buffer_before_minutes: Integer = Field(default=0, ge=0, le=1440)
    buffer_after_minutes: Integer = Field(default=0, ge=0, le=1440)
    resources: list[NeedIn] = Field(default_factory=list, max_length=20)


class NeedOut(BaseModel):
    resource_kind: ResourceKind | None
    resource_id: uuid.UUID | None
    quantity: int


class RequirementsOut(BaseModel):
    service_id: uuid.UUID
    duration_minutes: int | None
    buffer_before_minutes: int
    buffer_after_minutes: int
    resources: list[NeedOut]


class CapacityIn(In):
    on_date: date
    max_events: Count | None = None
    max_guests: Count | None = None
    max_party_size: Integer | None = Field(default=None, ge=1, le=100_000)


class CapacityOut(BaseModel):
    location_id: uuid.UUID
    on_date: date
    max_events: int | None
    max_guests: int | None
    max_party_size: int | None
    events_booked: int
    guests_booked: int


class Capacities(BaseModel):
    items: list[CapacityOut]


class SlotOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    resource_ids: list[uuid.UUID]


class Availability(BaseModel):
    location_id: uuid.UUID
    service_id: uuid.UUID
    items: list[SlotOut]


class RescheduleIn(In):
    starts_at: Instant
    ends_at: Instant | None = None
    guest_count: Integer | None = Field(default=None, ge=1, le=100_000)


# -- resources -----------------------------------------------------------------------------


@router.post(
    "/resources",
    status_code=201,
    response_model=ResourceOut,
    tags=["scheduling"],
    summary="Add a bookable resource (staff, bay, lift, chef, equipment, room, table)",
)
def post_resource(
    body: ResourceIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        r = resources.create_resource(uow, ctx.principal, **body.model_dump())
        return Written(201, ResourceOut.model_validate(r), "resource", r.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/resources/{resource_id}",
    response_model=ResourceOut,
    tags=["scheduling"],
    summary="Get a resource",
)
async def get_resource(resource_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "resource", ResourceOut, resource_id)


@router.get(
    "/resources", response_model=Page[ResourceOut], tags=["scheduling"], summary="List resources"
)
async def list_resources(
    ctx: CtxDep,
    location_id: Annotated[uuid.UUID | None, Query()] = None,
    kind: Annotated[ResourceKind | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"location_id": location_id, "kind": kind}
    return await list_page(ctx, "resource", ResourceOut, filters, cursor, limit)


@router.patch(
    "/resources/{resource_id}",
    response_model=ResourceOut,
    tags=["scheduling"],
    summary="Change a resource (name, kind, active)",
)
def patch_resource(
    resource_id: uuid.UUID,
    body: ResourcePatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ResourceOut.model_validate)
        r = resources.update_resource(
            uow, ctx.principal, resource_id, body.changes(), precondition=check
        )
        return Written(200, ResourceOut.model_validate(r), "resource", r.id)

    return write(ctx, request, body, idempotency_key, run)


@router.delete(
    "/resources/{resource_id}",
    status_code=204,
    response_class=Response,
    tags=["scheduling"],
    summary="Delete a resource (soft; 409 while it holds reservations or a service needs it)",
)
def delete_resource(
    resource_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, ResourceOut.model_validate)
        resources.delete_resource(uow, ctx.principal, resource_id, precondition=check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


# -- opening hours and closures --------------------------------------------------------------


def _week_out(uow: UnitOfWork, principal: Principal, location_id: uuid.UUID) -> WeekOut:
    rows = hours.get_week(uow, principal, location_id)
    intervals = [
        IntervalOut(
            weekday=r.weekday,
            opens=hours.format_minute(r.opens_minute),
            closes=hours.format_minute(r.closes_minute),
        )
        for r in rows
    ]
    return WeekOut(location_id=location_id, intervals=intervals)


@router.get(
    "/locations/{location_id}/opening-hours",
    response_model=WeekOut,
    tags=["scheduling"],
    summary="The location's weekly opening hours",
)
def get_opening_hours(location_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = _week_out(uow, ctx.principal, location_id)
    return json_response(body, headers={"ETag": etag_of(body)})


@router.put(
    "/locations/{location_id}/opening-hours",
    response_model=WeekOut,
    tags=["scheduling"],
    summary="Replace the location's weekly opening hours (a weekday not named is closed)",
)
def put_opening_hours(
    location_id: uuid.UUID,
    body: WeekIn,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        week: dict[int, list[tuple[int, int]]] = {}
        for i in body.intervals:
            pair = (hours.parse_minute(i.opens), hours.parse_minute(i.closes))
            week.setdefault(i.weekday, []).append(pair)

        def check() -> None:
            require_match(if_match, _week_out(uow, ctx.principal, location_id))

        hours.set_week(uow, ctx.principal, location_id, week, precondition=check)
        return Written(200, _week_out(uow, ctx.principal, location_id))

    return write(ctx, request, body, idempotency_key, run)


def _closure_out(row: DateException) -> ClosureOut:
    opens, closes = row.opens_minute, row.closes_minute
    return ClosureOut(
        id=row.id,
        location_id=row.location_id,
        on_date=row.on_date,
        closed=opens is None,
        opens=hours.format_minute(opens) if opens is not None else None,
        closes=hours.format_minute(closes) if closes is not None else None,
        reason=row.reason,
        resource_id=row.resource_id,
    )


@router.get(
    "/locations/{location_id}/closures",
    response_model=Closures,
    tags=["scheduling"],
    summary="The location's closures and special hours by date",
)
def list_closures(
    location_id: uuid.UUID,
    ctx: CtxDep,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
) -> Response:
    with ctx.read() as uow:
        rows = hours.list_exceptions(uow, ctx.principal, location_id, start=from_, end=to)
        body = Closures(items=[_closure_out(r) for r in rows])
    return json_response(body)


@router.post(
    "/locations/{location_id}/closures",
    status_code=201,
    response_model=ClosureOut,
    tags=["scheduling"],
    summary="Close a date or give it special hours; with resource_id, that resource's absence",
)
def post_closure(
    location_id: uuid.UUID,
    body: ClosureIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        row = hours.add_exception(
            uow,
            ctx.principal,
            location_id,
            on_date=body.on_date,
            opens_minute=hours.parse_minute(body.opens) if body.opens else None,
            closes_minute=hours.parse_minute(body.closes) if body.closes else None,
            reason=body.reason,
            resource_id=body.resource_id,
        )
        return Written(201, _closure_out(row))

    return write(ctx, request, body, idempotency_key, run)


@router.delete(
    "/locations/{location_id}/closures/{closure_id}",
    status_code=204,
    response_class=Response,
    tags=["scheduling"],
    summary="Remove a closure or special hours",
)
def delete_closure(
    location_id: uuid.UUID,
    closure_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        hours.delete_exception(uow, ctx.principal, location_id, closure_id)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


# -- service requirements ------------------------------------------------------------------


def _requirements_out(service: Service, rows: list[ServiceRequirement]) -> RequirementsOut:
    return RequirementsOut(
        service_id=service.id,
        duration_minutes=service.duration_minutes,
        buffer_before_minutes=service.buffer_before_minutes,
        buffer_after_minutes=service.buffer_after_minutes,
        resources=[
            NeedOut(resource_kind=r.resource_kind, resource_id=r.resource_id, quantity=r.quantity)
            for r in rows
        ],
    )


@router.get(
    "/services/{service_id}/requirements",
    response_model=RequirementsOut,
    tags=["scheduling"],
    summary="What a booking of the service holds, and its buffers",
)
def get_requirements(service_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = _requirements_out(*resources.get_requirements(uow, ctx.principal, service_id))
    return json_response(body, headers={"ETag": etag_of(body)})


@router.put(
    "/services/{service_id}/requirements",
    response_model=RequirementsOut,
    tags=["scheduling"],
    summary="Replace what a booking of the service holds, and its buffers",
)
def put_requirements(
    service_id: uuid.UUID,
    body: RequirementsIn,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        def check() -> None:
            current = resources.get_requirements(uow, ctx.principal, service_id)
            require_match(if_match, _requirements_out(*current))

        needs = [
            resources.Need(kind=n.resource_kind, resource_id=n.resource_id, quantity=n.quantity)
            for n in body.resources
        ]
        done = resources.set_requirements(
            uow,
            ctx.principal,
            service_id,
            needs=needs,
            buffer_before_minutes=body.buffer_before_minutes,
            buffer_after_minutes=body.buffer_after_minutes,
            precondition=check,
        )
        return Written(200, _requirements_out(*done))

    return write(ctx, request, body, idempotency_key, run)


# -- daily capacity ------------------------------------------------------------------------


def _capacity_out(row: DailyCapacity) -> CapacityOut:
    return CapacityOut.model_validate(row, from_attributes=True)


@router.get(
    "/locations/{location_id}/capacity",
    response_model=Capacities,
    tags=["scheduling"],
    summary="The location's daily (catering) capacity by date, with what is booked",
)
def list_capacity(
    location_id: uuid.UUID,
    ctx: CtxDep,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
) -> Response:
    with ctx.read() as uow:
        rows = capacity.list_capacity(uow, ctx.principal, location_id, start=from_, end=to)
        body = Capacities(items=[_capacity_out(r) for r in rows])
    return json_response(body)


@router.put(
    "/locations/{location_id}/capacity",
    response_model=CapacityOut,
    tags=["scheduling"],
    summary="Set a date's capacity (409 below what is already booked; no maxima: unlimited)",
)
def put_capacity(
    location_id: uuid.UUID,
    body: CapacityIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        row = capacity.set_capacity(uow, ctx.principal, location_id, **body.model_dump())
        return Written(200, _capacity_out(row))

    return write(ctx, request, body, idempotency_key, run)


# -- availability and rescheduling -----------------------------------------------------------


@router.get(
    "/availability",
    response_model=Availability,
    tags=["scheduling"],
    summary="Free slots of a service at a location (period at most 92 days)",
)
def get_availability(
    ctx: CtxDep,
    location_id: Annotated[uuid.UUID, Query()],
    service_id: Annotated[uuid.UUID, Query()],
    from_: Annotated[Instant, Query(alias="from")],
    to: Annotated[Instant, Query()],
    guest_count: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    resource_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    with ctx.read() as uow:
        slots = availability.search(
            uow,
            ctx.principal,
            location_id=location_id,
            service_id=service_id,
            start=from_,
            end=to,
            guest_count=guest_count,
            resource_id=resource_id,
        )
    items = [
        SlotOut(starts_at=s.starts_at, ends_at=s.ends_at, resource_ids=list(s.resource_ids))
        for s in slots
    ]
    return json_response(Availability(location_id=location_id, service_id=service_id, items=items))


@router.post(
    "/bookings/{booking_id}/reschedule",
    response_model=BookingOut,
    tags=["bookings", "scheduling"],
    summary="Move a booking and the resources it holds (409 with next_free_slots when taken)",
)
def post_reschedule(
    booking_id: uuid.UUID,
    body: RescheduleIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    render = BOOKING_RENDERERS["booking"]

    def run(uow: UnitOfWork) -> Written:
        b = reschedule_booking(uow, ctx.principal, booking_id, **body.model_dump())
        return Written(200, render(uow, ctx.principal, b.id), "booking", b.id)

    return write(ctx, request, body, idempotency_key, run)


RENDERERS: dict[str, Renderer] = {"resource": renderer("resource", ResourceOut)}
