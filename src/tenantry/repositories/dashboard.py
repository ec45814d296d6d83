"""Dashboard queries: the lead dashboard of seed 002 and booking KPIs per location.

The SQL is kept as module constants so the benchmark runs exactly the statement the application
runs (once through `tenantry_app` under RLS, once as the owner without it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

if TYPE_CHECKING:
    from tenantry.db.uow import UnitOfWork

__all__ = [
    "BOOKING_KPIS_SQL",
    "LEAD_DASHBOARD_SQL",
    "BookingKpis",
    "DashboardRepository",
    "LeadDashboard",
]

# One pass over the tenant's live leads, served by ix_leads_tenant_status_created
# (an index-only scan: status, created_at and the included score are all in the index).
LEAD_DASHBOARD_SQL = """
SELECT count(*) FILTER (WHERE created_at >= :since)              AS today_leads,
       count(*) FILTER (WHERE status = 'converted')              AS converted_leads,
       avg(score) FILTER (WHERE status = 'qualified')            AS avg_qualified_score,
       count(*) FILTER (WHERE status IN ('new', 'contacted', 'qualified')) AS open_leads,
       count(*)                                                  AS total_leads
FROM crm.leads
WHERE tenant_id = :tenant_id AND deleted_at IS NULL
"""

_SCOPED = " AND location_id = ANY(:location_ids)"

BOOKING_KPIS_SQL = """
SELECT b.location_id,
       l.name                                                                AS location_name,
       count(*)                                                              AS bookings,
       count(*) FILTER (WHERE b.status IN ('fulfilled', 'reviewed'))         AS fulfilled,
       count(*) FILTER (WHERE b.status = 'cancelled')                        AS cancelled,
       count(*) FILTER (WHERE b.status = 'no_show')                          AS no_shows,
       coalesce(sum(b.total_cents) FILTER (WHERE b.status NOT IN ('inquiry', 'cancelled')), 0)
                                                                             AS booked_cents,
       coalesce(sum(p.paid_cents), 0)                                        AS collected_cents
FROM commerce.bookings b
JOIN identity.locations l ON l.tenant_id = b.tenant_id AND l.id = b.location_id
LEFT JOIN LATERAL (
    SELECT sum(CASE WHEN pay.kind = 'refund' THEN -pay.amount_cents ELSE pay.amount_cents END)
           AS paid_cents
    FROM commerce.payments pay
    WHERE pay.tenant_id = b.tenant_id AND pay.booking_id = b.id
      AND pay.status = 'succeeded' AND pay.kind <> 'tip'
) p ON true
WHERE b.tenant_id = :tenant_id AND b.deleted_at IS NULL
  AND b.starts_at >= :start AND b.starts_at < :end
"""


@dataclass(frozen=True)
class LeadDashboard:
    today_leads: int
    converted_leads: int
    avg_qualified_score: float | None
    open_leads: int
    total_leads: int

    @property
    def conversion_rate(self) -> float | None:
        return self.converted_leads / self.total_leads if self.total_leads else None


@dataclass(frozen=True)
class BookingKpis:
    location_id: uuid.UUID
    location_name: str
    bookings: int
    fulfilled: int
    cancelled: int
    no_shows: int
    booked_cents: int
    collected_cents: int

    @property
    def no_show_rate(self) -> float:
        return self.no_shows / self.bookings if self.bookings else 0.0


def _ids_param(sql: str) -> object:
    return text(sql).bindparams(bindparam("location_ids", type_=ARRAY(UUID(as_uuid=True))))


class DashboardRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def lead_dashboard(
        self, since: datetime, location_ids: Iterable[uuid.UUID] | None = None
    ) -> LeadDashboard:
        params: dict[str, object] = {"tenant_id": self.uow.require_tenant(), "since": since}
        stmt: object = text(LEAD_DASHBOARD_SQL)
        if location_ids is not None:
            stmt = _ids_param(LEAD_DASHBOARD_SQL + _SCOPED)
            params["location_ids"] = list(location_ids)
        row = self.uow.session.execute(stmt, params).one()  # type: ignore[call-overload]
        avg = row.avg_qualified_score
        return LeadDashboard(
            today_leads=row.today_leads,
            converted_leads=row.converted_leads,
            avg_qualified_score=float(avg) if avg is not None else None,
            open_leads=row.open_leads,
            total_leads=row.total_leads,
        )

    def booking_kpis(
        self, start: datetime, end: datetime, location_ids: Iterable[uuid.UUID] | None = None
    ) -> list[BookingKpis]:
        params: dict[str, object] = {
            "tenant_id": self.uow.require_tenant(),
            "start": start,
            "end": end,
        }
        sql = BOOKING_KPIS_SQL
        stmt: object
        if location_ids is not None:
            sql += " AND b.location_id = ANY(:location_ids)"
            params["location_ids"] = list(location_ids)
            stmt = _ids_param(sql + " GROUP BY b.location_id, l.name ORDER BY l.name")
        else:
            stmt = text(sql + " GROUP BY b.location_id, l.name ORDER BY l.name")
        rows = self.uow.session.execute(stmt, params).all()  # type: ignore[call-overload]
        return [BookingKpis(**row._mapping) for row in rows]
