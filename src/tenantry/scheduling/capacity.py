"""Daily catering capacity of a location: maxima per date and the claims bookings make on them.

Owns `scheduling.daily_capacity` and `scheduling.capacity_claims`. A catering booking claims
one event and its guests on its local date; triggers move the date's counters, whose CHECK
constraints refuse to pass the maxima, and the counter row's lock serialises concurrent claims.
A date without a capacity row is not limited. Must not reserve resources.
"""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tenantry.db.uow import UnitOfWork
from tenantry.errors import CapacityExceededError, ConflictError, ValidationError
from tenantry.models import CapacityClaim, DailyCapacity
from tenantry.scheduling.hours import location_zone
from tenantry.services.principal import Action, Principal

__all__ = ["claim", "delete_capacity", "list_capacity", "release_claim", "set_capacity"]


def set_capacity(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    on_date: date,
    max_events: int | None,
    max_guests: int | None,
    max_party_size: int | None,
) -> DailyCapacity:
    """Create or change the date's maxima; refused below what is already booked."""
    principal.require(Action.MANAGE_LOCATIONS)
    principal.require_location(location_id, "location")
    location_zone(uow, location_id)
    tenant = uow.require_tenant()
    row = uow.session.scalars(
        sa.select(DailyCapacity)
        .where(
            DailyCapacity.tenant_id == tenant,
            DailyCapacity.location_id == location_id,
            DailyCapacity.on_date == on_date,
        )
        .with_for_update()
    ).one_or_none()
    now = uow.clock.now()
    if row is None:
        events, guests = uow.session.execute(
            sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(CapacityClaim.guests), 0)
            ).where(
                CapacityClaim.tenant_id == tenant,
                CapacityClaim.location_id == location_id,
                CapacityClaim.on_date == on_date,
            )
        ).one()
        row = DailyCapacity(
            tenant_id=tenant,
            id=uow.ids(),
            location_id=location_id,
            on_date=on_date,
            events_booked=events,
            guests_booked=guests,
            created_at=now,
        )
        uow.session.add(row)
    row.max_events, row.max_guests, row.max_party_size = max_events, max_guests, max_party_size
    row.updated_at = now
    try:
        uow.flush()
    except ConflictError as exc:
        raise ConflictError("the new maxima are below what is already booked that day") from exc
    return row


def list_capacity(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    start: date | None = None,
    end: date | None = None,
) -> list[DailyCapacity]:
    principal.require(Action.READ)
    principal.require_location(location_id, "location")
    location_zone(uow, location_id)
    stmt = sa.select(DailyCapacity).where(
        DailyCapacity.tenant_id == uow.require_tenant(), DailyCapacity.location_id == location_id
    )
    if start is not None:
        stmt = stmt.where(DailyCapacity.on_date >= start)
    if end is not None:
        stmt = stmt.where(DailyCapacity.on_date <= end)
    return list(uow.session.scalars(stmt.order_by(DailyCapacity.on_date)))


def delete_capacity(
    uow: UnitOfWork, principal: Principal, location_id: uuid.UUID, on_date: date
) -> None:
    principal.require(Action.MANAGE_LOCATIONS)
    principal.require_location(location_id, "location")
    location_zone(uow, location_id)
    uow.session.execute(
        sa.delete(DailyCapacity).where(
            DailyCapacity.tenant_id == uow.require_tenant(),
            DailyCapacity.location_id == location_id,
            DailyCapacity.on_date == on_date,
        )
    )


def claim(
    uow: UnitOfWork,
    *,
    booking_id: uuid.UUID,
    location_id: uuid.UUID,
    on_date: date,
    guests: int,
) -> None:
    """Claim one event and `guests` on the date, or refuse (nothing is written then)."""
    tenant = uow.require_tenant()
    row = uow.session.execute(
        sa.select(DailyCapacity.max_party_size).where(
            DailyCapacity.tenant_id == tenant,
            DailyCapacity.location_id == location_id,
            DailyCapacity.on_date == on_date,
        )
    ).one_or_none()
    if row is not None and row.max_party_size is not None and guests > row.max_party_size:
        raise ValidationError(
            f"the party of {guests} is larger than the {row.max_party_size} guests"
            f" one event may have on {on_date.isoformat()}"
        )
    insert = sa.insert(CapacityClaim).values(
        tenant_id=tenant,
        booking_id=booking_id,
        location_id=location_id,
        on_date=on_date,
        guests=guests,
    )
    try:
        with uow.session.begin_nested():
            uow.session.execute(insert)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != "23514":
            raise
        raise CapacityExceededError(
            f"the capacity of {on_date.isoformat()} is used up (events or guests)"
        ) from exc


def release_claim(uow: UnitOfWork, booking_id: uuid.UUID) -> None:
    uow.session.execute(
        sa.delete(CapacityClaim).where(
            CapacityClaim.tenant_id == uow.require_tenant(), CapacityClaim.booking_id == booking_id
        )
    )
