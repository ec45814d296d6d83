"""Scheduling a booking: hold its resources and claim its day's capacity; move it atomically.

Owns the scheduling side of creating a booking (`schedule_booking`, called by
`services.bookings.create_booking` once the booking and its items are staged) and the
reschedule use case. Everything happens in the caller's unit of work: a refusal leaves nothing
written. Must not commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import Booking, BookingItem, Resource
from tenantry.models.enums import BookingKind, BookingStatus, ResourceKind
from tenantry.scheduling.capacity import claim, release_claim
from tenantry.scheduling.hours import location_zone
from tenantry.scheduling.reservations import held_resources, hold, release
from tenantry.scheduling.resources import needs_of
from tenantry.services.principal import Action, Principal

__all__ = ["reschedule_booking", "schedule_booking"]

_FINAL = frozenset(
    {
        BookingStatus.CANCELLED,
        BookingStatus.NO_SHOW,
        BookingStatus.FULFILLED,
        BookingStatus.REVIEWED,
    }
)


def schedule_booking(
    uow: UnitOfWork,
    booking: Booking,
    *,
    service_ids: Sequence[uuid.UUID],
    resource_ids: Sequence[uuid.UUID] = (),
    prefer: Sequence[uuid.UUID] = (),
) -> list[uuid.UUID] | None:
    """Hold the resources the booking needs and claim capacity for a catering event.

    Returns the held resources (None when its services need none and none were named).
    """
    held = hold(uow, booking, service_ids=service_ids, resource_ids=resource_ids, prefer=prefer)
    if booking.kind == BookingKind.CATERING_EVENT:
        zone = location_zone(uow, booking.location_id)
        claim(
            uow,
            booking_id=booking.id,
            location_id=booking.location_id,
            on_date=booking.starts_at.astimezone(zone).date(),
            guests=booking.guest_count or 0,
        )
    return held


def _service_ids(uow: UnitOfWork, booking: Booking) -> list[uuid.UUID]:
    return [
        sid
        for sid in uow.session.scalars(
            sa.select(BookingItem.service_id).where(
                BookingItem.tenant_id == booking.tenant_id,
                BookingItem.booking_id == booking.id,
                BookingItem.service_id.is_not(None),
            )
        )
        if sid is not None
    ]


def reschedule_booking(
    uow: UnitOfWork,
    principal: Principal,
    booking_id: uuid.UUID,
    *,
    starts_at: datetime,
    ends_at: datetime | None = None,
    guest_count: int | None = None,
) -> Booking:
    """Move a booking and what it holds to a new time, or refuse and change nothing.

    Without `ends_at` the booking keeps its length. The resources it held are preferred at the
    new time; resources it held beyond what its services need stay named.
    """
    principal.require(Action.WRITE_BOOKINGS)
    booking = uow.repos.bookings.get(booking_id, for_update=True)
    principal.require_location(booking.location_id, "booking")
    if booking.status in _FINAL:
        raise ConflictError(f"a {booking.status.value} booking cannot be rescheduled")
    if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
        raise ValidationError("starts_at and ends_at must carry a timezone")
    if ends_at is None and booking.ends_at is not None:
        ends_at = starts_at + (booking.ends_at - booking.starts_at)
    if ends_at is not None and ends_at <= starts_at:
        raise ValidationError("the end must be after the start")
    held = held_resources(uow, booking.id)
    rows = uow.session.execute(
        sa.select(Resource.id, Resource.kind).where(
            Resource.tenant_id == booking.tenant_id, Resource.id.in_(held)
        )
    )
    kinds: dict[uuid.UUID, ResourceKind] = {rid: kind for rid, kind in rows}  # noqa: C416
    service_ids = _service_ids(uow, booking)
    plan = needs_of(uow, service_ids)
    by_kind = {n.kind for n in plan.needs if n.kind is not None}
    by_id = {n.resource_id for n in plan.needs if n.resource_id is not None}
    named = [r for r in held if kinds.get(r) not in by_kind and r not in by_id]
    release(uow, booking.id)
    release_claim(uow, booking.id)
    before = booking.starts_at
    booking.starts_at, booking.ends_at = starts_at, ends_at
    if guest_count is not None:
        booking.guest_count = guest_count
    booking.updated_at = uow.clock.now()
    uow.flush()
    schedule_booking(uow, booking, service_ids=service_ids, resource_ids=named, prefer=held)
    uow.flush()
    record_change(
        uow,
        "booking",
        booking.id,
        "booking.rescheduled",
        {
            "location_id": str(booking.location_id),
            "from": before.isoformat(),
            "to": booking.starts_at.isoformat(),
        },
    )
    return booking
