"""`/v1/dashboard/leads` and `/v1/dashboard/bookings` (the lead dashboard of seed 002 and the
booking KPIs per location), and `POST /v1/customers/search`: a read, whose e-mail, phone or
plate travel in the body because URLs end up in logs.

This module is mounted after the others (see `tenantry.api.resources`), so no request for
another resource tries these routes first; `POST /v1/customers/search` is still found, since
`/v1/customers/{customer_id}` answers other methods. The lists of seed 002 that live under an
id route (`/v1/leads/hot-prospects`, `/v1/vehicles/tuv-due`) are declared in `leads` and `crm`
before that route.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tenantry.api.deps import (
    CtxDep,
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    json_response,
)
from tenantry.api.resources.common import ERRORS, In
from tenantry.api.resources.crm import CustomerOut
from tenantry.api.routing import ResourceRouter
from tenantry.services import dashboard as svc
from tenantry.services.customer_search import (
    EMAIL_SEARCH_PATTERN,
    PHONE_PATTERN,
    PLATE_PATTERN,
    search_customers,
)

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


# -- schemas ----------------------------------------------------------------------------------


class LeadDashboardOut(BaseModel):
    since: datetime = Field(description="Start of the tenant's day (its timezone).")
    timezone: str
    location_id: uuid.UUID | None
    today_leads: int
    converted_leads: int
    avg_qualified_score: float | None
    open_leads: int
    total_leads: int
    conversion_rate: float | None = Field(description="converted / total; null without leads.")


class LocationKpisOut(BaseModel):
    location_id: uuid.UUID
    location_name: str
    bookings: int
    fulfilled: int
    cancelled: int
    no_shows: int
    no_show_rate: float
    booked_cents: int
    collected_cents: int


class BookingKpisOut(BaseModel):
    start: datetime = Field(description="Bookings starting at or after this instant ...")
    end: datetime = Field(description="... and before this one.")
    days_back: int
    days_ahead: int
    locations: list[LocationKpisOut]


LocationId = Annotated[uuid.UUID | None, Query(description="Only this location.")]


# -- dashboards -------------------------------------------------------------------------------


@router.get(
    "/dashboard/leads",
    tags=["dashboard"],
    response_model=LeadDashboardOut,
    summary="Lead dashboard: today, converted, average qualified score, open, total",
)
def lead_dashboard(ctx: CtxDep, location_id: LocationId = None) -> Response:
    with ctx.read() as uow:
        figures = svc.lead_dashboard(uow, ctx.principal, location_id=location_id)
        tenant = uow.repos.tenants.current()
        since = svc.start_of_day(uow.clock.now(), tenant.timezone)
        body = LeadDashboardOut(
            since=since,
            timezone=tenant.timezone,
            location_id=location_id,
            today_leads=figures.today_leads,
            converted_leads=figures.converted_leads,
            avg_qualified_score=figures.avg_qualified_score,
            open_leads=figures.open_leads,
            total_leads=figures.total_leads,
            conversion_rate=figures.conversion_rate,
        )
    return json_response(body)


DaysAround = Query(ge=0, le=svc.MAX_KPI_DAYS, description=f"0..{svc.MAX_KPI_DAYS} (default 30).")


@router.get(
    "/dashboard/bookings",
    tags=["dashboard"],
    response_model=BookingKpisOut,
    summary="Booking KPIs per location for the days around today",
)
def booking_dashboard(
    ctx: CtxDep,
    days_back: Annotated[int, DaysAround] = 30,
    days_ahead: Annotated[int, DaysAround] = 30,
    location_id: LocationId = None,
) -> Response:
    with ctx.read() as uow:
        rows = svc.booking_kpis(
            uow, ctx.principal, days_back=days_back, days_ahead=days_ahead, location_id=location_id
        )
        start, end = svc.kpi_period(uow, days_back, days_ahead)
    body = BookingKpisOut(
        start=start,
        end=end,
        days_back=days_back,
        days_ahead=days_ahead,
        locations=[
            LocationKpisOut(
                location_id=k.location_id,
                location_name=k.location_name,
                bookings=k.bookings,
                fulfilled=k.fulfilled,
                cancelled=k.cancelled,
                no_shows=k.no_shows,
                no_show_rate=k.no_show_rate,
                booked_cents=k.booked_cents,
                collected_cents=k.collected_cents,
            )
            for k in rows
        ],
    )
    return json_response(body)


# -- customer search --------------------------------------------------------------------------


class CustomerSearchIn(In):
    """Exactly one of the three; matched exactly after normalisation."""

    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_SEARCH_PATTERN)
    phone: str | None = Field(default=None, max_length=40, pattern=PHONE_PATTERN)
    plate: str | None = Field(default=None, max_length=20, pattern=PLATE_PATTERN)


@router.post(
    "/customers/search",
    tags=["customers"],
    response_model=Page[CustomerOut],
    summary="Find customers by e-mail, phone or licence plate (exactly one; read-only)",
)
def customer_search(
    body: CustomerSearchIn, ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    # A POST so that the searched value travels in the body, never in a URL (URLs are logged).
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        rows = search_customers(
            uow,
            ctx.principal,
            email=body.email,
            phone=body.phone,
            plate=body.plate,
            after=after,
            limit=limit + 1,
        )
        items = [CustomerOut.model_validate(c) for c in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(rows[limit - 1].id) if more else None
    return json_response(Page[CustomerOut](items=items, next_cursor=next_cursor))


RENDERERS: dict[str, Any] = {}
