"""Visibility-check use cases of the entrypoints: start a check, the anonymous lead flow,
confirm it, read a check's report, mark its result delivered.

A check is queued here and run by a worker (`tenantry.insight.worker`), never in the request.
The anonymous flow of seeds 001/003: a visitor names a business and an e-mail address; the
business becomes a prospect location of the operator's tenant, the visitor a lead (source
`visibility_check`), and the check waits in `awaiting_confirmation` until the visitor confirms
the double opt-in (purpose `vc_report`); then it is queued.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, NotFoundError, ValidationError
from tenantry.models import (
    Evidence,
    Location,
    Recommendation,
    RecommendationEvidence,
    Statement,
    StatementEvidence,
    VisibilityCheck,
)
from tenantry.models.enums import (
    ConsentPurpose,
    LeadSource,
    OnboardingStatus,
    Vertical,
    VisibilityCheckStatus,
)
from tenantry.privacy.vault import keyring
from tenantry.services.leads import capture_lead
from tenantry.services.principal import Action, Principal
from tenantry.services.privacy.consent import Notice
from tenantry.services.privacy.doi import issue_opt_in, redeem_opt_in
from tenantry.services.records import KINDS, get_record

__all__ = [
    "LeadCheck",
    "Report",
    "confirm_lead_check",
    "find_location",
    "mark_delivered",
    "report",
    "request_check",
    "request_lead_check",
]

_IN_PROGRESS = (VisibilityCheckStatus.QUEUED, VisibilityCheckStatus.RUNNING)


def find_location(uow: UnitOfWork, principal: Principal, ref: str) -> Location:
    """A location by id or slug, if the principal may see it (else not found)."""
    try:
        location_id = uuid.UUID(ref)
    except ValueError:
        found = uow.session.scalar(
            sa.select(Location.id).where(
                Location.tenant_id == uow.require_tenant(),
                Location.slug == ref,
                Location.deleted_at.is_(None),
            )
        )
        if found is None:
            raise NotFoundError("location not found") from None
        location_id = found
    location: Location = get_record(uow, principal, KINDS["location"], location_id)
    return location


def _queue(
    uow: UnitOfWork,
    location_id: uuid.UUID,
    principal: Principal,
    status: VisibilityCheckStatus,
    **extra: Any,
) -> VisibilityCheck:
    now = uow.clock.now()
    check = VisibilityCheck(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        location_id=location_id,
        status=status,
        requested_at=now,
        requested_by=principal.actor[:120],
        created_at=now,
        updated_at=now,
        **extra,
    )
    uow.session.add(check)
    uow.flush()
    return check


def request_check(uow: UnitOfWork, principal: Principal, location_ref: str) -> VisibilityCheck:
    """Queue a check of a location; a check of it already open is returned instead."""
    principal.require(Action.WRITE_CRM, "start a visibility check")
    location = find_location(uow, principal, location_ref)
    open_check = uow.session.scalar(
        sa.select(VisibilityCheck)
        .where(
            VisibilityCheck.tenant_id == uow.require_tenant(),
            VisibilityCheck.location_id == location.id,
            VisibilityCheck.status.in_(_IN_PROGRESS),
        )
        .limit(1)
    )
    if open_check is not None:
        return open_check
    return _queue(uow, location.id, principal, VisibilityCheckStatus.QUEUED)


@dataclass(frozen=True)
class LeadCheck:
    check: VisibilityCheck
    lead_id: uuid.UUID
    token: str  # the confirmation token: hand it to the visitor; never stored or logged


def _slug(name: str, suffix: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60] or "business"
    return f"{base}-{suffix}"


def request_lead_check(
    uow: UnitOfWork,
    principal: Principal,
    *,
    business_name: str,
    email: str,
    notice: Notice,
    website: str | None = None,
    city: str | None = None,
    vertical: Vertical = Vertical.RESTAURANT,
    google_place_id: str | None = None,
) -> LeadCheck:
    """The anonymous flow: a prospect location, a lead, a pending opt-in, a waiting check."""
    principal.require(Action.WRITE_CRM, "start a visibility check")
    if principal.location_ids is not None:
        raise ValidationError("a principal limited to locations cannot take visitors' checks")
    name = business_name.strip()
    if not name:
        raise ValidationError("business_name must not be empty")
    now = uow.clock.now()
    location = Location(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        name=name[:200],
        slug=_slug(name, uow.ids().hex[-8:]),
        vertical=vertical,
        city=city,
        website=website,
        google_place_id=google_place_id,
        onboarding_status=OnboardingStatus.NOT_STARTED,
        external_ids={"prospect": True},
        created_at=now,
        updated_at=now,
    )
    uow.session.add(location)
    uow.flush()
    lead = capture_lead(
        uow,
        principal,
        location_id=location.id,
        source=LeadSource.VISIBILITY_CHECK,
        email=email,
        interest="visibility check",
    )
    uow.flush()
    pending = issue_opt_in(
        uow, keyring(uow), email=email, purpose=ConsentPurpose.VC_REPORT, notice=notice
    )
    check = _queue(
        uow,
        location.id,
        principal,
        VisibilityCheckStatus.AWAITING_CONFIRMATION,
        lead_id=lead.id,
        doi_token_id=pending.token_id,
    )
    return LeadCheck(check, lead.id, pending.token)


def confirm_lead_check(
    uow: UnitOfWork, principal: Principal, token: str, *, notice: Notice, email: str | None = None
) -> VisibilityCheck:
    """The visitor confirmed: record the consent and queue the check."""
    principal.require(Action.WRITE_CRM, "confirm a visibility check")
    entry = redeem_opt_in(uow, keyring(uow), token, notice=notice, email=email)
    check = uow.session.scalar(
        sa.select(VisibilityCheck)
        .where(
            VisibilityCheck.tenant_id == uow.require_tenant(),
            VisibilityCheck.doi_token_id == entry.doi_token_id,
        )
        .with_for_update()
    )
    if check is None:
        raise NotFoundError("no visibility check waits for this confirmation")
    if check.status is not VisibilityCheckStatus.AWAITING_CONFIRMATION:
        raise ConflictError("this visibility check was confirmed already")
    now = uow.clock.now()
    check.status = VisibilityCheckStatus.QUEUED
    check.confirmed_at = now
    check.requested_at = now
    uow.flush()
    return check


@dataclass(frozen=True)
class Report:
    """A check with everything it concluded, each statement with the evidence it cites."""

    check: VisibilityCheck
    statements: list[tuple[Statement, list[Evidence]]]
    recommendations: list[tuple[Recommendation, list[Evidence]]]
    evidence: list[Evidence]


def report(uow: UnitOfWork, principal: Principal, check_id: uuid.UUID) -> Report:
    check: VisibilityCheck = get_record(uow, principal, KINDS["visibility_check"], check_id)
    tenant = uow.require_tenant()
    evidence = list(
        uow.session.scalars(
            sa.select(Evidence)
            .where(Evidence.tenant_id == tenant, Evidence.visibility_check_id == check.id)
            .order_by(Evidence.retrieved_at, Evidence.id)
        )
    )
    by_id = {e.id: e for e in evidence}
    statements = list(
        uow.session.scalars(
            sa.select(Statement)
            .where(Statement.tenant_id == tenant, Statement.visibility_check_id == check.id)
            .order_by(Statement.id)
        )
    )
    links: dict[uuid.UUID, list[Evidence]] = {}
    for sid, eid in uow.session.execute(
        sa.select(StatementEvidence.statement_id, StatementEvidence.evidence_id).where(
            StatementEvidence.tenant_id == tenant,
            StatementEvidence.statement_id.in_([s.id for s in statements]),
        )
    ):
        links.setdefault(sid, []).append(by_id[eid])
    recommendations = list(
        uow.session.scalars(
            sa.select(Recommendation)
            .where(
                Recommendation.tenant_id == tenant,
                Recommendation.visibility_check_id == check.id,
            )
            .order_by(Recommendation.priority, Recommendation.id)
        )
    )
    rec_links: dict[uuid.UUID, list[Evidence]] = {}
    for rid, eid in uow.session.execute(
        sa.select(
            RecommendationEvidence.recommendation_id, RecommendationEvidence.evidence_id
        ).where(
            RecommendationEvidence.tenant_id == tenant,
            RecommendationEvidence.recommendation_id.in_([r.id for r in recommendations]),
        )
    ):
        rec_links.setdefault(rid, []).append(by_id[eid])
    return Report(
        check,
        [(s, links.get(s.id, [])) for s in statements],
        [(r, rec_links.get(r.id, [])) for r in recommendations],
        evidence,
    )


def mark_delivered(uow: UnitOfWork, principal: Principal, check_id: uuid.UUID) -> VisibilityCheck:
    """The result reached the visitor (the operator's mailer sent it)."""
    principal.require(Action.WRITE_CRM, "mark a visibility check delivered")
    check: VisibilityCheck = get_record(
        uow, principal, KINDS["visibility_check"], check_id, for_update=True
    )
    if check.status is not VisibilityCheckStatus.COMPLETED:
        raise ConflictError("only a completed visibility check can be delivered")
    check.delivered_at = check.delivered_at or uow.clock.now()
    uow.flush()
    return check
