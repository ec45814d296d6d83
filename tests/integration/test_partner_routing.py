"""Routing leads to partners on PostgreSQL: one assignment over the open leads, capacity per
period, a decline that refunds and re-routes elsewhere, dry runs, reasons for open leads,
location scope, and the partner report with the seed 000 lead quality score."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.db.engine import Database
from tenantry.decisions import credits, partners, routing
from tenantry.errors import IllegalTransitionError, NotFoundError, PermissionDeniedError
from tenantry.models import Lead
from tenantry.models.enums import LeadSource, MembershipRole
from tenantry.models.partners import AssignmentStatus, CapacityPeriod, LeadAssignment
from tenantry.services.leads import capture_lead
from tenantry.services.privacy.erasure import erase_subject
from tests.conftest import TenantFixture
from tests.partners import lead, partner


def _route(db: Database, tenant: TenantFixture, *, dry_run: bool = False) -> routing.RouteResult:
    with db.tenant_uow(tenant.id) as uow:
        result = routing.route_leads(uow, tenant.principal(), dry_run=dry_run)
        uow.commit()
        return result


def _answer(
    db: Database, tenant: TenantFixture, assignment: object, target: AssignmentStatus
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        partners.answer(uow, tenant.principal(), assignment, target)  # type: ignore[arg-type]
        uow.commit()


def _balance(db: Database, tenant: TenantFixture, location_id: object) -> int:
    with db.tenant_uow(tenant.id) as uow:
        p = partners.get_partner(uow, tenant.principal(), location_id)  # type: ignore[arg-type]
        return credits.balance_of(uow, p, uow.clock.now()).balance


def test_a_decline_refunds_and_the_next_run_offers_the_lead_elsewhere(
    db: Database, tenant: TenantFixture
) -> None:
    near, far = tenant.locations
    partner(db, tenant, near, credits=10, price=4)
    partner(db, tenant, far, at=(52.60, 13.50), credits=10, price=4)
    the_lead = lead(db, tenant)
    first = _route(db, tenant)
    assert [(r.lead_id, r.location_id) for r in first.routed] == [(the_lead, near)]
    assert _balance(db, tenant, near) == 6
    _answer(db, tenant, first.routed[0].assignment_id, AssignmentStatus.DECLINED)
    assert _balance(db, tenant, near) == 10
    second = _route(db, tenant)
    assert [(r.lead_id, r.location_id) for r in second.routed] == [(the_lead, far)]
    _answer(db, tenant, second.routed[0].assignment_id, AssignmentStatus.DECLINED)
    third = _route(db, tenant)
    assert third.routed == []
    assert [(s.lead_id, s.reason) for s in third.stranded] == [(the_lead, "declined")]
    with pytest.raises(IllegalTransitionError):
        _answer(db, tenant, first.routed[0].assignment_id, AssignmentStatus.ACCEPTED)


def test_capacity_counts_in_the_current_period_and_frees_up_in_the_next(
    clocked_db: Database, clock: FixedClock, tenant: TenantFixture
) -> None:
    db, loc = clocked_db, tenant.locations[0]
    partner(db, tenant, loc, credits=100, capacity=2)
    for _ in range(3):
        lead(db, tenant)
    assert len(_route(db, tenant).routed) == 2
    again = _route(db, tenant)
    assert again.routed == [] and [s.reason for s in again.stranded] == ["no_capacity"]
    clock.advance(timedelta(days=7))  # the next week
    assert len(_route(db, tenant).routed) == 1
    with db.tenant_uow(tenant.id) as uow:
        partners.set_partner(uow, tenant.principal(), loc, capacity_period=CapacityPeriod.MONTH)
        uow.commit()
    lead(db, tenant)
    assert [s.reason for s in _route(db, tenant).stranded] == ["no_capacity"]  # 3 this month


def test_a_dry_run_writes_nothing_and_open_leads_say_why(
    db: Database, tenant: TenantFixture
) -> None:
    loc = tenant.locations[0]
    partner(db, tenant, loc, credits=3, price=2, categories=["catering"], radius_km=10)
    ok = lead(db, tenant, category="catering")
    poor = lead(db, tenant, category="catering")
    other = lead(db, tenant, category="tyres")
    hamburg = lead(db, tenant, at=(53.55, 10.0), category="catering")
    # far away and of a category nobody serves: the category is the first limit
    hamburg_tyres = lead(db, tenant, at=(53.55, 10.0), category="tyres")
    nowhere = lead(db, tenant, at=None)
    dry = _route(db, tenant, dry_run=True)
    assert len(dry.routed) == 1 and dry.routed[0].assignment_id is None
    reasons = {s.lead_id: s.reason for s in dry.stranded}
    assert reasons == {
        ({ok, poor} - {dry.routed[0].lead_id}).pop(): "taken",
        other: "no_category",
        hamburg: "out_of_range",
        hamburg_tyres: "no_category",
        nowhere: "no_coordinates",
    }
    assert _balance(db, tenant, loc) == 3
    with db.tenant_uow(tenant.id) as uow:
        assert uow.session.scalar(sa.text("SELECT count(*) FROM decisions.lead_assignments")) == 0
    real = _route(db, tenant)
    assert len(real.routed) == 1 and _balance(db, tenant, loc) == 1
    assert {s.reason for s in _route(db, tenant).stranded if s.lead_id in (ok, poor)} == {
        "no_credits"
    }


def test_a_member_limited_to_a_location_acts_only_for_its_partner(
    db: Database, tenant: TenantFixture
) -> None:
    mine, theirs = tenant.locations
    partner(db, tenant, mine, credits=10)
    partner(db, tenant, theirs, at=(52.60, 13.50), credits=10, capacity=1)
    lead(db, tenant)
    lead(db, tenant, at=(52.60, 13.50))
    routed = {r.location_id: r.assignment_id for r in _route(db, tenant).routed}
    staff = tenant.principal(MembershipRole.STAFF, [mine])
    with db.tenant_uow(tenant.id) as uow:
        listed = partners.list_assignments(uow, staff)
        assert [loc for _a, loc in listed] == [mine]
        with pytest.raises(NotFoundError):
            partners.answer(uow, staff, routed[theirs], AssignmentStatus.ACCEPTED)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            partners.get_partner(uow, staff, theirs)
        with pytest.raises(PermissionDeniedError):
            routing.route_leads(uow, staff)
        partners.answer(uow, staff, routed[mine], AssignmentStatus.ACCEPTED)  # type: ignore[arg-type]
        uow.commit()


def test_the_report_gives_rates_credits_and_the_seed_quality_score(
    db: Database, tenant: TenantFixture
) -> None:
    loc = tenant.locations[0]
    partner(db, tenant, loc, credits=20, price=2)
    for _ in range(4):
        lead(db, tenant)
    offers = [r.assignment_id for r in _route(db, tenant).routed]
    assert len(offers) == 4
    _answer(db, tenant, offers[0], AssignmentStatus.DECLINED)
    for a in offers[1:]:
        _answer(db, tenant, a, AssignmentStatus.ACCEPTED)
    _answer(db, tenant, offers[1], AssignmentStatus.CONVERTED)
    _answer(db, tenant, offers[2], AssignmentStatus.LOST)
    with db.tenant_uow(tenant.id) as uow:
        for a, stars in zip(offers[1:], (5, 4, 2), strict=True):
            partners.rate(uow, tenant.principal(), a, stars, "good_fit" if stars > 3 else "fake")  # type: ignore[arg-type]
        uow.commit()
        (figures,) = partners.report(uow, tenant.principal())
    assert (figures.offered, figures.accepted, figures.declined, figures.converted) == (4, 3, 1, 1)
    assert figures.acceptance_rate == 0.75 and figures.conversion_rate == round(1 / 3, 4)
    assert figures.credits_spent == 6  # four offers at 2, one refunded
    assert figures.mean_rating == round(11 / 3, 2)
    assert figures.quality_score == round(2 / 3, 4) and figures.below_target


def test_an_erasure_detaches_the_leads_offers_and_keeps_the_ledger(
    db: Database, tenant: TenantFixture
) -> None:
    loc = tenant.locations[0]
    partner(db, tenant, loc, credits=5, price=2)
    with db.tenant_uow(tenant.id) as uow:
        gone = capture_lead(
            uow,
            tenant.principal(),
            location_id=loc,
            source=LeadSource.WEB_QUOTE,
            email="erika.mustermann@example.org",
            latitude=52.52,
            longitude=13.405,
        )
        uow.commit()
    (offer,) = _route(db, tenant).routed
    with db.tenant_uow(tenant.id) as uow:
        erase_subject(uow, tenant.principal(MembershipRole.DPO), "erika.mustermann@example.org")
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        assert uow.session.get(Lead, (tenant.id, gone.id)) is None
        kept = uow.session.get(LeadAssignment, (tenant.id, offer.assignment_id))
        assert kept is not None and kept.lead_id is None
    assert _balance(db, tenant, loc) == 3
