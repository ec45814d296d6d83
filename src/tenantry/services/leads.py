"""Lead use cases: capture, move through the pipeline, rescore, convert into a customer."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tenantry.db.uow import UnitOfWork
from tenantry.domain.leads import LEAD_PIPELINE, clamp_score, round_coordinate
from tenantry.errors import ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import Customer, Lead, LeadScoreHistory
from tenantry.models.enums import LeadSource, LeadStatus, Persona
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = ["advance_lead", "capture_lead", "convert_lead", "place", "rescore_lead"]


def _lead_to_change(uow: UnitOfWork, principal: Principal, lead_id: uuid.UUID) -> Lead:
    """The lead, locked, if the principal may read it (else not found), as every read finds it."""
    lead: Lead = get_record(uow, principal, KINDS["lead"], lead_id, for_update=True)
    return lead


def capture_lead(
    uow: UnitOfWork,
    principal: Principal,
    *,
    location_id: uuid.UUID,
    source: LeadSource | str,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    message: str | None = None,
    interest: str | None = None,
    persona: Persona | str | None = None,
    score: int = 0,
    estimated_value_cents: int | None = None,
    category: str | None = None,
    latitude: float | Decimal | None = None,
    longitude: float | Decimal | None = None,
) -> Lead:
    """Record a new lead at a location the principal may see.

    `latitude`/`longitude` (the prospect's place, for partner routing) come as a pair and are
    stored rounded to 3 decimals.
    """
    principal.require(Action.WRITE_CRM)
    principal.require_location(location_id, "location")
    if email is None and phone is None:
        raise ValidationError("a lead needs an email or a phone number")
    if not 0 <= score <= 100:
        raise ValidationError("score must be between 0 and 100")
    lat, lon = place(latitude, longitude)
    try:
        source = LeadSource(source)
        persona = Persona(persona) if persona is not None else None
    except ValueError as exc:
        raise ValidationError(f"invalid value: {exc}") from exc
    now = uow.clock.now()
    lead = uow.repos.leads.add(
        Lead(
            location_id=location_id,
            source=source,
            status=LeadStatus.NEW,
            score=score,
            persona=persona,
            first_name=first_name,
            last_name=last_name,
            email=email or None,  # normalised by the sealed field
            phone=phone,
            message=message,
            interest=interest,
            estimated_value_cents=estimated_value_cents,
            category=(category or "").strip().lower() or None,
            latitude=lat,
            longitude=lon,
            created_at=now,
            updated_at=now,
        )
    )
    # Not flushed here: the caller's flush (or commit) sends it, so leads captured together
    # in one unit of work go out as one statement per table.
    record_change(
        uow,
        "lead",
        lead.id,
        "lead.created",
        {"location_id": str(location_id), "source": str(source), "status": str(lead.status)},
    )
    return lead


def place(
    latitude: float | Decimal | None, longitude: float | Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """A prospect's place as stored: both coordinates or neither, in range, rounded."""
    if (latitude is None) != (longitude is None):
        raise ValidationError("latitude and longitude come together")
    if latitude is not None and not -90 <= latitude <= 90:
        raise ValidationError("latitude must be between -90 and 90")
    if longitude is not None and not -180 <= longitude <= 180:
        raise ValidationError("longitude must be between -180 and 180")
    return round_coordinate(latitude), round_coordinate(longitude)


def _status_changed(uow: UnitOfWork, lead: Lead, before: LeadStatus) -> None:
    record_change(
        uow,
        "lead",
        lead.id,
        "lead.status_changed",
        {"location_id": str(lead.location_id), "from": str(before), "to": str(lead.status)},
    )


def advance_lead(
    uow: UnitOfWork,
    principal: Principal,
    lead_id: uuid.UUID,
    target: LeadStatus,
    *,
    reason: str | None = None,
) -> Lead:
    """Move a lead to `contacted`, `qualified` or `lost` (conversion has its own use case)."""
    principal.require(Action.WRITE_CRM)
    if target is LeadStatus.CONVERTED:
        raise ValidationError("use convert_lead to convert a lead")
    lead = _lead_to_change(uow, principal, lead_id)
    LEAD_PIPELINE.check(lead.status, target)
    now = uow.clock.now()
    if target is LeadStatus.LOST:
        if not reason:
            raise ValidationError("losing a lead needs a reason")
        lead.lost_reason = reason
        lead.lost_at = now
    elif target is LeadStatus.CONTACTED:
        lead.contacted_at = now
    elif target is LeadStatus.QUALIFIED:
        lead.qualified_at = now
    before, lead.status = lead.status, target
    _status_changed(uow, lead, before)
    uow.flush()
    return lead


def rescore_lead(
    uow: UnitOfWork,
    principal: Principal,
    lead_id: uuid.UUID,
    score: int,
    *,
    reason: str,
    model_version: str | None = None,
) -> Lead:
    """Set a new score by hand (an override) and append it to the lead's score history."""
    principal.require(Action.WRITE_CRM)
    lead = _lead_to_change(uow, principal, lead_id)
    new = clamp_score(score)
    # A manual override: the whole score is its base; it holds until a change that feeds the
    # lead has the scoring projection rescore it.
    manual: dict[str, Any] = {
        "model_version": model_version,
        "kind": "manual",
        "base": new,
        "points": {},
        "raw": new,
    }
    uow.repos.leads.add_score(
        LeadScoreHistory(
            lead_id=lead.id,
            score=new,
            previous_score=lead.score,
            reason=reason,
            model_version=model_version,
            explanation=manual,
            scored_at=uow.clock.now(),
        )
    )
    lead.score = new
    lead.score_explanation = manual
    uow.flush()
    return lead


def convert_lead(
    uow: UnitOfWork,
    principal: Principal,
    lead_id: uuid.UUID,
    *,
    customer_id: uuid.UUID | None = None,
) -> tuple[Lead, Customer]:
    """Convert a qualified lead: link the given customer, an existing one with the same
    e-mail, or create one from the lead's contact data."""
    principal.require(Action.WRITE_CRM)
    lead = _lead_to_change(uow, principal, lead_id)
    LEAD_PIPELINE.check(lead.status, LeadStatus.CONVERTED)
    now = uow.clock.now()
    if customer_id is not None:
        customer = uow.repos.customers.get(customer_id)
    else:
        existing = uow.repos.customers.by_email(lead.email) if lead.email else None
        customer = existing or uow.repos.customers.add(
            Customer(
                home_location_id=lead.location_id,
                first_name=lead.first_name,
                last_name=lead.last_name,
                email=lead.email,
                phone=lead.phone,
                source=lead.source,
                first_seen_at=lead.created_at,
                created_at=now,
                updated_at=now,
            )
        )
    lead.customer_id = customer.id
    before, lead.status = lead.status, LeadStatus.CONVERTED
    lead.converted_at = now
    _status_changed(uow, lead, before)
    uow.flush()
    return lead, customer
