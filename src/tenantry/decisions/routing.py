"""A routing run: the open leads of a tenant offered to partners by one minimum-cost assignment.

Reads what the hard limits need (partners that take leads and are not paused, at a location
with coordinates; their capacity left in the current UTC week or month; their spendable
credits; earlier declines), prefilters the leads in SQL by each partner's bounding box on the
indexed coordinates, and leaves the choice to `tenantry.decisions.matching`. Unless it is a dry
run it then writes an `offered` assignment per match and consumes the partner's price in
credits for it. One run per tenant at a time (a transaction-scoped advisory lock); the balance
rows of the partners are locked, in a fixed order, before anything is read from them. A lead
that no partner can take stays open and is reported with the reason. Never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.decisions import credits
from tenantry.decisions.geo import bounding_box
from tenantry.decisions.matching import (
    REASONS,
    Candidate,
    LeadPoint,
    Weights,
    solve,
    takes_category,
)
from tenantry.errors import PermissionDeniedError
from tenantry.models import Lead, Location
from tenantry.models.partners import (
    AssignmentStatus,
    CapacityPeriod,
    CreditBalance,
    LeadAssignment,
    Partner,
)
from tenantry.services.principal import Action, Principal

__all__ = [
    "GOOD_RATING",
    "RouteResult",
    "Routed",
    "Stranded",
    "period_start",
    "route_leads",
]

GOOD_RATING = 4  # seed 000: a lead rated 4 or 5 is a good lead
_PRIOR_GOOD, _PRIOR_N = 1.4, 2.0  # quality prior: the seed's 70 % over two pseudo-ratings
_OPEN = ("new", "contacted", "qualified")
DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Routed:
    lead_id: uuid.UUID
    partner_id: uuid.UUID
    location_id: uuid.UUID
    distance_km: float
    cost: float
    price_credits: int
    assignment_id: uuid.UUID | None


@dataclass(frozen=True)
class Stranded:
    lead_id: uuid.UUID
    reason: str
    message: str


@dataclass
class RouteResult:
    run_id: uuid.UUID
    dry_run: bool
    routed: list[Routed] = field(default_factory=list)
    stranded: list[Stranded] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "run_id": str(self.run_id),
            "dry_run": self.dry_run,
            "assigned": [
                {
                    "lead_id": str(r.lead_id),
                    "partner_id": str(r.partner_id),
                    "location_id": str(r.location_id),
                    "distance_km": round(r.distance_km, 2),
                    "cost": round(r.cost, 4),
                    "price_credits": r.price_credits,
                    "assignment_id": str(r.assignment_id) if r.assignment_id else None,
                }
                for r in self.routed
            ],
            "unassigned": [
                {"lead_id": str(s.lead_id), "reason": s.reason, "message": s.message}
                for s in self.stranded
            ],
        }


def period_start(period: CapacityPeriod, now: datetime) -> datetime:
    """The start of the UTC calendar week (Monday) or month that `now` falls in."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is CapacityPeriod.MONTH:
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def _lock_run(uow: UnitOfWork) -> None:
    uow.session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"tenantry.lead-routing:{uow.require_tenant()}"},
    )


def _candidates(
    uow: UnitOfWork, now: datetime, *, lock: bool, actor: str
) -> tuple[list[Candidate], dict[uuid.UUID, Partner], dict[uuid.UUID, CreditBalance]]:
    t = uow.require_tenant()
    rows = uow.session.execute(
        sa.select(Partner, Location.latitude, Location.longitude)
        .join(
            Location,
            sa.and_(Location.tenant_id == Partner.tenant_id, Location.id == Partner.location_id),
        )
        .where(
            Partner.tenant_id == t,
            Partner.accepts_leads.is_(True),
            Partner.paused.is_(False),
            Location.latitude.is_not(None),
            Location.deleted_at.is_(None),
        )
        .order_by(Partner.id)
    ).all()
    partners = {p.id: p for p, _lat, _lon in rows}
    balances: dict[uuid.UUID, CreditBalance] = {}
    if lock:  # all of them, in partner order, before the run writes anything
        balances = credits.lock_balances(uow, list(partners.values()), now, actor)
        spendable = {pid: b.balance for pid, b in balances.items()}
    else:
        spendable = {p.id: credits.balance_of(uow, p, now).spendable for p in partners.values()}
    used = _used_capacity(uow, list(partners.values()), now)
    quality = _quality(uow)
    out = []
    for p, lat, lon in rows:
        left = max(p.capacity - used.get(p.id, 0), 0)
        affordable = spendable[p.id] // p.price_credits
        good, n = quality.get(p.id, (0, 0))
        out.append(
            Candidate(
                id=p.id,
                latitude=float(lat or 0),
                longitude=float(lon or 0),
                categories=frozenset(p.categories),
                radius_km=float(p.radius_km),
                slots=min(left, affordable),
                price_credits=p.price_credits,
                quality=(good + _PRIOR_GOOD) / (n + _PRIOR_N),
                capacity_left=left,
                affordable=affordable,
            )
        )
    return out, partners, balances


def _used_capacity(uow: UnitOfWork, partners: list[Partner], now: datetime) -> dict[uuid.UUID, int]:
    used: dict[uuid.UUID, int] = {}
    for period in CapacityPeriod:
        ids = [p.id for p in partners if p.capacity_period is period]
        if not ids:
            continue
        rows = uow.session.execute(
            sa.select(LeadAssignment.partner_id, sa.func.count())
            .where(
                LeadAssignment.tenant_id == uow.require_tenant(),
                LeadAssignment.partner_id.in_(ids),
                LeadAssignment.status != AssignmentStatus.DECLINED,
                LeadAssignment.offered_at >= period_start(period, now),
            )
            .group_by(LeadAssignment.partner_id)
        ).all()
        used.update({pid: int(n) for pid, n in rows})
    return used


def _quality(uow: UnitOfWork) -> dict[uuid.UUID, tuple[int, int]]:
    rows = uow.session.execute(
        sa.select(
            LeadAssignment.partner_id,
            sa.func.count().filter(LeadAssignment.rating >= GOOD_RATING),
            sa.func.count(LeadAssignment.rating),
        )
        .where(LeadAssignment.tenant_id == uow.require_tenant())
        .group_by(LeadAssignment.partner_id)
    ).all()
    return {pid: (int(good), int(n)) for pid, good, n in rows}


def _in_some_box(candidates: list[Candidate]) -> sa.ColumnElement[bool]:
    boxes = []
    for c in candidates:
        b = bounding_box(c.latitude, c.longitude, c.radius_km)
        lat = Lead.latitude.between(b.min_lat, b.max_lat)
        if b.wraps:
            lon: sa.ColumnElement[bool] = sa.or_(
                Lead.longitude >= b.min_lon, Lead.longitude <= b.max_lon
            )
        else:
            lon = Lead.longitude.between(b.min_lon, b.max_lon)
        boxes.append(sa.and_(lat, lon))
    return sa.or_(*boxes) if boxes else sa.false()


def _pool(uow: UnitOfWork, candidates: list[Candidate]) -> tuple[list[LeadPoint], list[Stranded]]:
    t = uow.require_tenant()
    live = (
        sa.select(LeadAssignment.id)
        .where(
            LeadAssignment.tenant_id == Lead.tenant_id,
            LeadAssignment.lead_id == Lead.id,
            LeadAssignment.status != AssignmentStatus.DECLINED,
        )
        .exists()
    )
    open_ = sa.and_(Lead.tenant_id == t, Lead.status.in_(_OPEN), Lead.deleted_at.is_(None), ~live)
    inside = _in_some_box(candidates)
    rows = uow.session.execute(
        sa.select(Lead.id, Lead.latitude, Lead.longitude, Lead.category)
        .where(open_, Lead.latitude.is_not(None), inside)
        .order_by(Lead.id)
    ).all()
    leads = [LeadPoint(r.id, float(r.latitude), float(r.longitude), r.category) for r in rows]
    outside = uow.session.execute(
        sa.select(Lead.id, Lead.latitude.is_(None), Lead.category).where(
            open_, sa.or_(Lead.latitude.is_(None), ~inside)
        )
    ).all()
    stranded = []
    for lead_id, unlocated, category in outside:
        # the first limit that leaves the lead without a partner, in the order of REASONS
        if unlocated:
            reason = "no_coordinates"
        elif not any(takes_category(c, category) for c in candidates):
            reason = "no_category"
        else:
            reason = "out_of_range"
        stranded.append(Stranded(lead_id, reason, REASONS[reason]))
    return leads, stranded


def _declined(uow: UnitOfWork, lead_ids: list[uuid.UUID]) -> frozenset[tuple[uuid.UUID, uuid.UUID]]:
    if not lead_ids:
        return frozenset()
    rows = uow.session.execute(
        sa.select(LeadAssignment.lead_id, LeadAssignment.partner_id).where(
            LeadAssignment.tenant_id == uow.require_tenant(),
            LeadAssignment.lead_id.in_(lead_ids),
        )
    ).all()
    # Any earlier assignment to the partner rules it out (a decline, or a closed one).
    return frozenset((r.lead_id, r.partner_id) for r in rows)


def route_leads(
    uow: UnitOfWork,
    principal: Principal,
    *,
    dry_run: bool = False,
    weights: Weights = DEFAULT_WEIGHTS,
) -> RouteResult:
    """Assign the tenant's open leads to partners (see the module doc)."""
    principal.require(Action.WRITE_CRM, "route leads to partners")
    if principal.location_ids is not None:
        raise PermissionDeniedError(
            "routing covers every location: a member limited to some cannot run it"
        )
    now = uow.clock.now()
    if not dry_run:
        _lock_run(uow)
    candidates, partners, balances = _candidates(uow, now, lock=not dry_run, actor=principal.actor)
    leads, stranded = _pool(uow, candidates)
    outcome = solve(leads, candidates, _declined(uow, [x.id for x in leads]), weights)
    result = RouteResult(run_id=uow.ids(), dry_run=dry_run, stranded=stranded)
    for lead_id, reason in sorted(outcome.unassigned.items()):
        result.stranded.append(Stranded(lead_id, reason, REASONS[reason]))
    for m in sorted(outcome.matches, key=lambda x: x.lead_id):
        p = partners[m.partner_id]
        assignment_id = None
        if not dry_run:
            a = LeadAssignment(
                lead_id=m.lead_id,
                partner_id=p.id,
                run_id=result.run_id,
                status=AssignmentStatus.OFFERED,
                distance_km=round(m.distance_km, 2),
                price_credits=p.price_credits,
                cost=m.cost,
                offered_at=now,
                actor=principal.actor,
            )
            a.tenant_id, a.id = uow.require_tenant(), uow.ids()
            uow.session.add(a)
            uow.session.flush()
            credits.consume(
                uow, balances[p.id], p.price_credits, a.id, now=now, actor=principal.actor
            )
            assignment_id = a.id
        result.routed.append(
            Routed(
                m.lead_id,
                p.id,
                p.location_id,
                m.distance_km,
                m.cost,
                p.price_credits,
                assignment_id,
            )
        )
    return result
