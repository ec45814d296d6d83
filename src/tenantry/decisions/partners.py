"""Partners, their answers to offered leads, their credits as use cases, and the report.

A partner is found by its location's id. Setting one up needs `manage_locations`; buying
or refunding credits `write_payments`; answering an offer (accept, decline, rate, record the
outcome) `write_crm`, and a member limited to some locations acts only for their partners,
as it reads only theirs (others are "not found"). Declining refunds the credits the offer
consumed and returns the lead to the pool, never to the same partner. The report gives per
partner the offers, answers, conversions, credits spent, mean rating and the seed 000 lead
quality score (share of rated leads rated 4 or 5; flagged below 70 %). Never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.decisions import credits
from tenantry.decisions.routing import GOOD_RATING
from tenantry.errors import ConflictError, IllegalTransitionError, NotFoundError, ValidationError
from tenantry.models import Location
from tenantry.models.partners import (
    AssignmentStatus,
    CapacityPeriod,
    CreditEntry,
    CreditEntryKind,
    LeadAssignment,
    Partner,
)
from tenantry.services.principal import Action, Principal

__all__ = [
    "DECLINE_REASONS",
    "QUALITY_TARGET",
    "RATING_REASONS",
    "DeclineReason",
    "PartnerFigures",
    "RatingReason",
    "answer",
    "buy_credits",
    "delete_partner",
    "get_assignment",
    "get_partner",
    "list_assignments",
    "list_partners",
    "rate",
    "refund_credits",
    "report",
    "set_partner",
]

QUALITY_TARGET = 0.70  # seed 000: lead quality above 70 % by partner feedback


class RatingReason(StrEnum):
    """Why a partner rated a lead as it did (optional)."""

    GOOD_FIT = "good_fit"
    UNREACHABLE = "unreachable"
    WRONG_CATEGORY = "wrong_category"
    OUT_OF_AREA = "out_of_area"
    DUPLICATE = "duplicate"
    NOT_INTERESTED = "not_interested"
    FAKE = "fake"
    OTHER = "other"


RATING_REASONS = tuple(r.value for r in RatingReason)


class DeclineReason(StrEnum):
    """Why a partner declined an offer: a code, never free text about the prospect."""

    NO_CAPACITY = "no_capacity"
    OUT_OF_AREA = "out_of_area"
    WRONG_CATEGORY = "wrong_category"
    NOT_INTERESTED = "not_interested"
    DUPLICATE = "duplicate"
    UNREACHABLE = "unreachable"
    OTHER = "other"


DECLINE_REASONS = tuple(r.value for r in DeclineReason)
# What each answer may follow.
_ANSWERS = {
    AssignmentStatus.ACCEPTED: {AssignmentStatus.OFFERED},
    AssignmentStatus.DECLINED: {AssignmentStatus.OFFERED},
    AssignmentStatus.CONVERTED: {AssignmentStatus.ACCEPTED},
    AssignmentStatus.LOST: {AssignmentStatus.ACCEPTED},
}


def get_partner(
    uow: UnitOfWork, principal: Principal, location_id: uuid.UUID, *, for_update: bool = False
) -> Partner:
    principal.require(Action.READ)
    principal.require_location(location_id, "partner")
    stmt = sa.select(Partner).where(
        Partner.tenant_id == uow.require_tenant(), Partner.location_id == location_id
    )
    partner = uow.session.scalar(stmt.with_for_update() if for_update else stmt)
    if partner is None:
        raise NotFoundError("partner not found")
    return partner


def list_partners(
    uow: UnitOfWork,
    principal: Principal,
    *,
    after: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[Partner]:
    """The partners the principal may see, in creation order (by id), after `after`."""
    principal.require(Action.READ)
    stmt = sa.select(Partner).where(Partner.tenant_id == uow.require_tenant())
    if principal.location_ids is not None:
        stmt = stmt.where(Partner.location_id.in_(principal.location_ids))
    if after is not None:
        stmt = stmt.where(Partner.id > after)
    return list(uow.session.scalars(stmt.order_by(Partner.id).limit(limit)))


def set_partner(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    radius_km: float | Decimal | None = None,
    capacity: int | None = None,
    capacity_period: CapacityPeriod | str | None = None,
    price_credits: int | None = None,
    categories: list[str] | None = None,
    accepts_leads: bool | None = None,
    paused: bool | None = None,
) -> tuple[Partner, bool]:
    """Create the location's partner record or change the fields given; (partner, created)."""
    principal.require(Action.MANAGE_LOCATIONS)
    principal.require_location(location_id, "location")
    t = uow.require_tenant()
    loc = uow.session.scalar(
        sa.select(Location.id).where(
            Location.tenant_id == t, Location.id == location_id, Location.deleted_at.is_(None)
        )
    )
    if loc is None:
        raise NotFoundError("location not found")
    partner = uow.session.scalar(
        sa.select(Partner)
        .where(Partner.tenant_id == t, Partner.location_id == location_id)
        .with_for_update()
    )
    created = partner is None
    if partner is None:
        missing = [
            n
            for n, v in (
                ("radius_km", radius_km),
                ("capacity", capacity),
                ("price_credits", price_credits),
            )
            if v is None
        ]
        if missing:
            raise ValidationError(f"a new partner needs {', '.join(missing)}")
        partner = Partner(location_id=location_id, categories=[])
        partner.tenant_id, partner.id = t, uow.ids()
        uow.session.add(partner)
    if radius_km is not None:
        if not 0 < float(radius_km) <= 1000:
            raise ValidationError("radius_km must be above 0 and at most 1000")
        partner.radius_km = Decimal(str(radius_km)).quantize(Decimal("0.01"))
    if capacity is not None:
        if not 0 <= capacity <= 100_000:
            raise ValidationError("capacity must be between 0 and 100000")
        partner.capacity = capacity
    if capacity_period is not None:
        try:
            partner.capacity_period = CapacityPeriod(capacity_period)
        except ValueError:
            raise ValidationError("capacity_period must be week or month") from None
    if price_credits is not None:
        if not 1 <= price_credits <= 100_000:
            raise ValidationError("price_credits must be between 1 and 100000")
        partner.price_credits = price_credits
    if categories is not None:
        clean = sorted({c.strip().lower() for c in categories if c.strip()})
        if any(len(c) > 60 for c in clean) or len(clean) > 50:
            raise ValidationError("at most 50 categories of at most 60 characters each")
        partner.categories = clean
    if accepts_leads is not None:
        partner.accepts_leads = accepts_leads
    if paused is not None:
        partner.paused = paused
    uow.session.flush()
    if created:
        credits.lock_balance(uow, partner, uow.clock.now(), principal.actor)
    return partner, created


def delete_partner(uow: UnitOfWork, principal: Principal, location_id: uuid.UUID) -> None:
    """Remove a partner that never had credits or leads (otherwise pause it: the ledger stays)."""
    principal.require(Action.MANAGE_LOCATIONS)
    partner = get_partner(uow, principal, location_id, for_update=True)
    for model in (CreditEntry, LeadAssignment):
        used = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(model)
            .where(model.tenant_id == partner.tenant_id, model.partner_id == partner.id)
        )
        if used:
            raise ConflictError("this partner has a credit ledger or leads: pause it instead")
    uow.session.delete(partner)
    uow.session.flush()


def buy_credits(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    amount: int,
    *,
    valid_days: int = credits.DEFAULT_VALID_DAYS,
) -> CreditEntry:
    principal.require(Action.WRITE_PAYMENTS, "buy or refund partner credits")
    partner = get_partner(uow, principal, location_id)
    return credits.purchase(
        uow, partner, amount, now=uow.clock.now(), actor=principal.actor, valid_days=valid_days
    )


def refund_credits(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    assignment_id: uuid.UUID,
    amount: int | None = None,
) -> list[CreditEntry]:
    principal.require(Action.WRITE_PAYMENTS, "buy or refund partner credits")
    partner = get_partner(uow, principal, location_id)
    return credits.refund(
        uow, partner, assignment_id, now=uow.clock.now(), actor=principal.actor, amount=amount
    )


def _assignments(uow: UnitOfWork, principal: Principal) -> sa.Select[Any]:
    stmt = sa.select(LeadAssignment).where(LeadAssignment.tenant_id == uow.require_tenant())
    if principal.location_ids is not None:
        scoped = sa.select(Partner.id).where(
            Partner.tenant_id == uow.require_tenant(),
            Partner.location_id.in_(principal.location_ids),
        )
        stmt = stmt.where(LeadAssignment.partner_id.in_(scoped))
    return stmt


def get_assignment(
    uow: UnitOfWork, principal: Principal, assignment_id: uuid.UUID, *, for_update: bool = False
) -> LeadAssignment:
    principal.require(Action.READ)
    stmt = _assignments(uow, principal).where(LeadAssignment.id == assignment_id)
    found = uow.session.scalar(stmt.with_for_update() if for_update else stmt)
    if not isinstance(found, LeadAssignment):
        raise NotFoundError("assignment not found")
    return found


def list_assignments(
    uow: UnitOfWork,
    principal: Principal,
    *,
    status: AssignmentStatus | None = None,
    location_id: uuid.UUID | None = None,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> list[tuple[LeadAssignment, uuid.UUID]]:
    """Assignments with their partner's location id, in creation order (by id)."""
    principal.require(Action.READ)
    stmt = (
        _assignments(uow, principal)
        .add_columns(Partner.location_id)
        .join(
            Partner,
            sa.and_(
                Partner.tenant_id == LeadAssignment.tenant_id,
                Partner.id == LeadAssignment.partner_id,
            ),
        )
    )
    if status is not None:
        stmt = stmt.where(LeadAssignment.status == status)
    if location_id is not None:
        stmt = stmt.where(Partner.location_id == location_id)
    if after is not None:
        stmt = stmt.where(LeadAssignment.id > after)
    stmt = stmt.order_by(LeadAssignment.id).limit(limit)
    return [(a, loc) for a, loc in uow.session.execute(stmt).all()]


def answer(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: uuid.UUID,
    target: AssignmentStatus,
    *,
    reason: str | None = None,
) -> LeadAssignment:
    """Accept or decline an offer, or record the outcome (converted, lost) of an accepted one."""
    principal.require(Action.WRITE_CRM, "answer lead offers")
    if target not in _ANSWERS:
        raise ValidationError("an answer is accepted, declined, converted or lost")
    a = get_assignment(uow, principal, assignment_id, for_update=True)
    if a.status not in _ANSWERS[target]:
        raise IllegalTransitionError(f"an assignment that is {a.status} cannot become {target}")
    if reason is not None and reason not in DECLINE_REASONS:
        raise ValidationError(f"reason must be one of {', '.join(DECLINE_REASONS)}")
    now = uow.clock.now()
    if target is AssignmentStatus.DECLINED:
        partner = uow.session.get(Partner, (a.tenant_id, a.partner_id))
        assert partner is not None
        # The balance lock before the first write: every credit change takes it first, so
        # none waits for it while holding what a write holds (the tenant's audit chain head).
        credits.lock_balance(uow, partner, now, principal.actor)
        a.decline_reason = reason
        a.status = target
        uow.session.flush()  # the lead is back in the pool before the credits come back
        # What was not already refunded by hand (POST .../credits kind refund) comes back.
        if credits.refundable(uow, partner, a.id) > 0:
            credits.refund(uow, partner, a.id, now=now, actor=principal.actor)
    else:
        a.status = target
    if target in (AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED):
        a.responded_at = now
    else:
        a.closed_at = now
    uow.session.flush()
    return a


def rate(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: uuid.UUID,
    rating: int,
    reason: str | None = None,
) -> LeadAssignment:
    """The partner's rating of the lead's quality (1-5), with an optional reason code."""
    principal.require(Action.WRITE_CRM, "rate leads")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError("rating must be a whole number from 1 to 5")
    if reason is not None and reason not in RATING_REASONS:
        raise ValidationError(f"reason must be one of {', '.join(RATING_REASONS)}")
    a = get_assignment(uow, principal, assignment_id, for_update=True)
    a.rating, a.rating_reason, a.rated_at = rating, reason, uow.clock.now()
    uow.session.flush()
    return a


@dataclass(frozen=True)
class PartnerFigures:
    partner_id: uuid.UUID
    location_id: uuid.UUID
    offered: int
    accepted: int
    declined: int
    converted: int
    acceptance_rate: float | None  # accepted / answered
    conversion_rate: float | None  # converted / accepted
    credits_spent: int  # consumed minus refunded
    rated: int
    mean_rating: float | None
    quality_score: float | None  # share of rated leads rated 4 or 5
    below_target: bool

    def as_json(self) -> dict[str, object]:
        return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in vars(self).items()}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def report(uow: UnitOfWork, principal: Principal) -> list[PartnerFigures]:
    partners = list_partners(uow, principal)
    if not partners:
        return []
    ids = [p.id for p in partners]
    s = LeadAssignment.status
    a_rows = {
        r.partner_id: r
        for r in uow.session.execute(
            sa.select(
                LeadAssignment.partner_id,
                sa.func.count().label("offered"),
                sa.func.count().filter(s.in_(["accepted", "converted", "lost"])).label("accepted"),
                sa.func.count().filter(s == "declined").label("declined"),
                sa.func.count().filter(s == "converted").label("converted"),
                sa.func.count(LeadAssignment.rating).label("rated"),
                sa.func.avg(LeadAssignment.rating).label("mean"),
                sa.func.count().filter(LeadAssignment.rating >= GOOD_RATING).label("good"),
            )
            .where(
                LeadAssignment.tenant_id == uow.require_tenant(), LeadAssignment.partner_id.in_(ids)
            )
            .group_by(LeadAssignment.partner_id)
        ).all()
    }
    spent = dict(
        uow.session.execute(
            sa.select(CreditEntry.partner_id, -sa.func.sum(CreditEntry.amount))
            .where(
                CreditEntry.tenant_id == uow.require_tenant(),
                CreditEntry.partner_id.in_(ids),
                CreditEntry.kind.in_([CreditEntryKind.CONSUMPTION, CreditEntryKind.REFUND]),
            )
            .group_by(CreditEntry.partner_id)
        ).all()
    )
    out = []
    for p in partners:
        r = a_rows.get(p.id)
        offered, acc, dec, conv, rated, good = (
            (r.offered, r.accepted, r.declined, r.converted, r.rated, r.good) if r else (0,) * 6
        )
        quality = _ratio(good, rated)
        out.append(
            PartnerFigures(
                partner_id=p.id,
                location_id=p.location_id,
                offered=offered,
                accepted=acc,
                declined=dec,
                converted=conv,
                acceptance_rate=_ratio(acc, acc + dec),
                conversion_rate=_ratio(conv, acc),
                credits_spent=int(spent.get(p.id) or 0),
                rated=rated,
                mean_rating=round(float(r.mean), 2)
                if r is not None and r.mean is not None
                else None,
                quality_score=quality,
                below_target=quality is not None and quality < QUALITY_TARGET,
            )
        )
    return out
