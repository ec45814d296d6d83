"""Dashboard queries: the lead dashboard of seed 002, booking KPIs per location, hot prospects
and vehicles whose TÜV is due.

Each figure or list is one statement. The SQL is kept as module constants so the benchmark runs
exactly the statement the application runs (once through `tenantry_app` under RLS, once as the
owner without it); a location scope and a keyset cursor are appended as fixed fragments. The
lists return no personal data (no names, addresses, e-mails or plates): ids and business fields.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

if TYPE_CHECKING:
    from tenantry.db.uow import UnitOfWork

__all__ = [
    "BOOKING_KPIS_SQL",
    "HOT_PROSPECTS_AFTER",
    "HOT_PROSPECTS_ORDER",
    "HOT_PROSPECTS_SCOPED",
    "HOT_PROSPECTS_SQL",
    "LEAD_DASHBOARD_SQL",
    "TUV_DUE_AFTER",
    "TUV_DUE_ORDER",
    "TUV_DUE_SCOPED",
    "TUV_DUE_SQL",
    "BookingKpis",
    "DashboardRepository",
    "HotProspect",
    "LeadDashboard",
    "TuvDue",
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

# Open leads with a score of at least 70, best first (seed 002). The WHERE clause repeats the
# predicate of the partial index ix_leads_tenant_hot_prospects word for word, with 70 as a
# literal, so the planner can prove the index applies to every plan, generic ones included;
# a higher `min_score` narrows further. Ties in score and time are broken by id, so the keyset
# (score, created_at, id) names exactly one position.
HOT_PROSPECTS_SQL = """
SELECT id, location_id, customer_id, status, score, source, persona, interest,
       estimated_value_cents, created_at
FROM crm.leads
WHERE tenant_id = :tenant_id
  AND status IN ('new', 'contacted', 'qualified') AND deleted_at IS NULL AND score >= 70
  AND score >= :min_score
"""
HOT_PROSPECTS_SCOPED = _SCOPED
HOT_PROSPECTS_AFTER = " AND (score, created_at, id) < (:after_score, :after_created_at, :after_id)"
HOT_PROSPECTS_ORDER = " ORDER BY score DESC, created_at DESC, id DESC LIMIT {limit}"

# Vehicles whose TÜV falls due on or before :until (overdue ones included), earliest first,
# served by the partial index ix_vehicles_tenant_tuv_due (its predicate repeated literally).
# A vehicle of a soft-deleted customer is not listed; the location scope applies through the
# owner's home location, as it does for every read of a vehicle.
TUV_DUE_SQL = """
SELECT v.id, v.customer_id, v.make, v.model, v.model_year, v.tuv_due_on, v.last_service_on
FROM crm.vehicles v
JOIN crm.customers c
  ON c.tenant_id = v.tenant_id AND c.id = v.customer_id AND c.deleted_at IS NULL
WHERE v.tenant_id = :tenant_id
  AND v.tuv_due_on IS NOT NULL AND v.is_active AND v.deleted_at IS NULL
  AND v.tuv_due_on <= :until
"""
TUV_DUE_SCOPED = " AND c.home_location_id = ANY(:location_ids)"
TUV_DUE_AFTER = " AND (v.tuv_due_on, v.id) > (:after_due_on, :after_id)"
TUV_DUE_ORDER = " ORDER BY v.tuv_due_on, v.id LIMIT {limit}"


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


@dataclass(frozen=True)
class HotProspect:
    id: uuid.UUID
    location_id: uuid.UUID
    customer_id: uuid.UUID | None
    status: str
    score: int
    source: str
    persona: str | None
    interest: str | None
    estimated_value_cents: int | None
    created_at: datetime

    @property
    def key(self) -> tuple[int, datetime, uuid.UUID]:
        """Its position in the list's order (the keyset of the next page)."""
        return (self.score, self.created_at, self.id)


@dataclass(frozen=True)
class TuvDue:
    id: uuid.UUID
    customer_id: uuid.UUID
    make: str
    model: str
    model_year: int | None
    tuv_due_on: date
    last_service_on: date | None

    @property
    def key(self) -> tuple[date, uuid.UUID]:
        return (self.tuv_due_on, self.id)


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

    def hot_prospects(
        self,
        min_score: int,
        limit: int,
        location_ids: Iterable[uuid.UUID] | None = None,
        after: tuple[int, datetime, uuid.UUID] | None = None,
    ) -> list[HotProspect]:
        params: dict[str, object] = {"tenant_id": self.uow.require_tenant(), "min_score": min_score}
        sql = HOT_PROSPECTS_SQL
        if location_ids is not None:
            sql += HOT_PROSPECTS_SCOPED
            params["location_ids"] = list(location_ids)
        if after is not None:
            sql += HOT_PROSPECTS_AFTER
            params |= dict(zip(("after_score", "after_created_at", "after_id"), after, strict=True))
        return [
            HotProspect(**r._mapping) for r in self._rows(sql + HOT_PROSPECTS_ORDER, params, limit)
        ]

    def tuv_due(
        self,
        until: date,
        limit: int,
        location_ids: Iterable[uuid.UUID] | None = None,
        after: tuple[date, uuid.UUID] | None = None,
    ) -> list[TuvDue]:
        params: dict[str, object] = {"tenant_id": self.uow.require_tenant(), "until": until}
        sql = TUV_DUE_SQL
        if location_ids is not None:
            sql += TUV_DUE_SCOPED
            params["location_ids"] = list(location_ids)
        if after is not None:
            sql += TUV_DUE_AFTER
            params |= dict(zip(("after_due_on", "after_id"), after, strict=True))
        return [TuvDue(**r._mapping) for r in self._rows(sql + TUV_DUE_ORDER, params, limit)]

    def _rows(self, sql: str, params: dict[str, object], limit: int) -> list[Any]:
        # The page size is written into the statement (see `tenantry.db.paging`).
        text_ = sql.format(limit=int(limit))
        stmt = _ids_param(text_) if "location_ids" in params else text(text_)
        return list(self.uow.session.execute(stmt, params).all())  # type: ignore[call-overload]
