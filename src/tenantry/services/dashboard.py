"""Dashboard use cases: figures for "today" in the tenant's own timezone, within scope."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tenantry.db.uow import UnitOfWork
from tenantry.repositories.dashboard import BookingKpis, LeadDashboard
from tenantry.services.principal import Action, Principal

__all__ = ["booking_kpis", "lead_dashboard", "start_of_day"]


def start_of_day(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def lead_dashboard(uow: UnitOfWork, principal: Principal) -> LeadDashboard:
    """Today's leads, converted leads and the average score of qualified leads (seed 002)."""
    principal.require(Action.READ)
    tenant = uow.repos.tenants.current()
    since = start_of_day(uow.clock.now(), tenant.timezone)
    return uow.repos.dashboard.lead_dashboard(since, principal.scope())


def booking_kpis(
    uow: UnitOfWork, principal: Principal, *, days_back: int = 30, days_ahead: int = 30
) -> list[BookingKpis]:
    """Bookings, fulfilment, no-shows, booked and collected money per location, for bookings
    starting between `days_back` days ago and `days_ahead` days from today."""
    principal.require(Action.READ)
    tenant = uow.repos.tenants.current()
    today = start_of_day(uow.clock.now(), tenant.timezone)
    start, end = today - timedelta(days=days_back), today + timedelta(days=days_ahead + 1)
    return uow.repos.dashboard.booking_kpis(start, end, principal.scope())
