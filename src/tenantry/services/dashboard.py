"""Dashboard and list use cases: the lead dashboard, booking KPIs, hot prospects, TÜV due
dates and bookings by date range, within the principal's location scope.

"Today" is the tenant's own calendar day (its timezone). Every figure and list is one query
(`tenantry.repositories.dashboard`, or the booking record specification for the date range);
the bounds of what may be asked (periods, page sizes, scores) are checked here, so the API and
the CLI refuse the same input with the same message. Nothing here decrypts personal data.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tenantry.db.paging import page_limit
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import Booking
from tenantry.repositories.dashboard import BookingKpis, HotProspect, LeadDashboard, TuvDue
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, select_records

__all__ = [
    "HOT_SCORE",
    "MAX_KPI_DAYS",
    "MAX_RANGE_DAYS",
    "MAX_TUV_DAYS",
    "booking_kpis",
    "bookings_between",
    "hot_prospects",
    "kpi_period",
    "lead_dashboard",
    "start_of_day",
    "today",
    "tuv_due",
]

HOT_SCORE = 70  # a hot prospect (seed 002); the partial index holds exactly these leads
MAX_KPI_DAYS = 366  # days back or ahead of the booking KPIs
MAX_TUV_DAYS = 730  # how far ahead the TÜV list looks (two years: one inspection cycle)
MAX_RANGE_DAYS = 366  # the longest period of bookings listed by date


def start_of_day(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def today(uow: UnitOfWork) -> date:
    """The tenant's current calendar day, in its timezone."""
    return uow.clock.now().astimezone(ZoneInfo(uow.repos.tenants.current().timezone)).date()


def _scope(principal: Principal, location_id: uuid.UUID | None) -> frozenset[uuid.UUID] | None:
    """The principal's scope, narrowed to one location if asked (out of scope: nothing)."""
    return principal.scope(None if location_id is None else [location_id])


def _bounded(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValidationError(f"{name} must lie between {low} and {high}")


def lead_dashboard(
    uow: UnitOfWork, principal: Principal, *, location_id: uuid.UUID | None = None
) -> LeadDashboard:
    """Today's leads, converted leads and the average score of qualified leads (seed 002),
    with open and total leads; for one location if `location_id` is given."""
    principal.require(Action.READ)
    tenant = uow.repos.tenants.current()
    since = start_of_day(uow.clock.now(), tenant.timezone)
    return uow.repos.dashboard.lead_dashboard(since, _scope(principal, location_id))


def booking_kpis(
    uow: UnitOfWork,
    principal: Principal,
    *,
    days_back: int = 30,
    days_ahead: int = 30,
    location_id: uuid.UUID | None = None,
) -> list[BookingKpis]:
    """Bookings, fulfilment, no-shows, booked and collected money per location, for bookings
    starting between `days_back` days before today and the end of the day `days_ahead` days
    after it (each at most `MAX_KPI_DAYS`)."""
    principal.require(Action.READ)
    _bounded("days_back", days_back, 0, MAX_KPI_DAYS)
    _bounded("days_ahead", days_ahead, 0, MAX_KPI_DAYS)
    start, end = kpi_period(uow, days_back, days_ahead)
    return uow.repos.dashboard.booking_kpis(start, end, _scope(principal, location_id))


def kpi_period(uow: UnitOfWork, days_back: int, days_ahead: int) -> tuple[datetime, datetime]:
    """The instants [start, end) the booking KPIs cover, in the tenant's calendar."""
    zone = ZoneInfo(uow.repos.tenants.current().timezone)
    day = today(uow)
    first, last = day - timedelta(days=days_back), day + timedelta(days=days_ahead + 1)
    # Local midnights, so a day with a clock change is still one calendar day.
    return (
        datetime.combine(first, datetime.min.time(), zone),
        datetime.combine(last, datetime.min.time(), zone),
    )


def hot_prospects(
    uow: UnitOfWork,
    principal: Principal,
    *,
    min_score: int = HOT_SCORE,
    location_id: uuid.UUID | None = None,
    after: tuple[int, datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> list[HotProspect]:
    """Open leads scoring at least `min_score` (70 or more), best first: by score, then the
    newest; `after` is the (score, created_at, id) of the last lead of the previous page."""
    principal.require(Action.READ)
    _bounded("min_score", min_score, HOT_SCORE, 100)
    return uow.repos.dashboard.hot_prospects(
        min_score, limit, _scope(principal, location_id), after
    )


def tuv_due(
    uow: UnitOfWork,
    principal: Principal,
    *,
    days: int,
    after: tuple[date, uuid.UUID] | None = None,
    limit: int = 50,
) -> tuple[date, list[TuvDue]]:
    """Active vehicles whose TÜV falls due within `days` days of today (the tenant's day), the
    overdue ones included (they need the reminder most), earliest first; with today's date."""
    principal.require(Action.READ)
    _bounded("days", days, 1, MAX_TUV_DAYS)
    day = today(uow)
    rows = uow.repos.dashboard.tuv_due(day + timedelta(days=days), limit, principal.scope(), after)
    return day, rows


def bookings_between(
    uow: UnitOfWork,
    principal: Principal,
    start: datetime,
    end: datetime,
    *,
    where: Mapping[str, Any] | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[Booking]:
    """Bookings starting in [start, end) (at most `MAX_RANGE_DAYS` long), by start time then
    id; `after` is the (starts_at, id) of the last booking of the previous page."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("from and to need a timezone (for example 2026-05-01T00:00:00Z)")
    if not start < end:
        raise ValidationError("from must be before to")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise ValidationError(f"a period of bookings may span at most {MAX_RANGE_DAYS} days")
    stmt = select_records(
        uow,
        principal,
        KINDS["booking"],
        Booking.starts_at >= start,
        Booking.starts_at < end,
        where=where,
    )
    if after is not None:
        stmt = stmt.where(sa.tuple_(Booking.starts_at, Booking.id) > sa.tuple_(*after))
    stmt = stmt.order_by(Booking.starts_at, Booking.id).limit(page_limit(limit))
    return uow.session.scalars(stmt).all()
