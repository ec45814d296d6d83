"""Reservations: a booking holds the resources its services need, or is refused.

Owns writing `scheduling.reservations` for a booking (the database expands them into granules
of `reservation_slots`, whose unique key is the no-double-booking guarantee) and releasing
them. `hold` checks the opening hours, chooses free resources of the kinds needed, inserts
them in one statement inside a savepoint and, when a concurrent booking took a granule first
(unique violation), chooses again or refuses with `SlotTakenError` naming the next free starts.
Releasing on cancel, no-show and soft delete is the database's job (trigger on
`commerce.bookings`); `release` is for the reschedule path. Must not commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tenantry.db.uow import UnitOfWork
from tenantry.errors import SlotTakenError, ValidationError
from tenantry.models import Booking, Reservation
from tenantry.scheduling.availability import (
    assign,
    held_interval,
    load_calendar,
    seconds,
    slots_for,
)
from tenantry.scheduling.hours import format_minute, open_intervals
from tenantry.scheduling.resources import Plan, needs_of

__all__ = ["NEXT_FREE", "held_resources", "hold", "next_free_starts", "release"]

NEXT_FREE = 5  # starts named in a refusal
_LOOK_AHEAD = timedelta(days=14)
_ATTEMPTS = 3


def next_free_starts(
    uow: UnitOfWork,
    location_id: uuid.UUID,
    plan: Plan,
    named: Sequence[uuid.UUID],
    after: datetime,
    guest_count: int | None = None,
) -> list[datetime]:
    """The next few starts (from `after`, within two weeks) at which the booking would fit."""
    if plan.duration_minutes is None:
        return []
    slots = slots_for(
        uow,
        location_id,
        plan,
        named,
        after,
        after + _LOOK_AHEAD,
        guest_count=guest_count,
        limit=NEXT_FREE,
    )
    return [s.starts_at for s in slots]


def held_resources(uow: UnitOfWork, booking_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        uow.session.scalars(
            sa.select(Reservation.resource_id)
            .where(
                Reservation.tenant_id == uow.require_tenant(),
                Reservation.booking_id == booking_id,
            )
            .order_by(Reservation.id)
        )
    )


def release(uow: UnitOfWork, booking_id: uuid.UUID) -> None:
    """Free what a booking holds (its granules go with the reservations)."""
    uow.session.execute(
        sa.delete(Reservation).where(
            Reservation.tenant_id == uow.require_tenant(), Reservation.booking_id == booking_id
        )
    )


def _unique_violation(exc: IntegrityError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "23505"


def hold(
    uow: UnitOfWork,
    booking: Booking,
    *,
    service_ids: Sequence[uuid.UUID],
    resource_ids: Sequence[uuid.UUID] = (),
    prefer: Sequence[uuid.UUID] = (),
) -> list[uuid.UUID] | None:
    """Reserve what the booking needs; None (and nothing checked) when it needs nothing.

    Sets `booking.ends_at` from the services' durations when it has none.
    """
    plan = needs_of(uow, service_ids)
    named = list(dict.fromkeys(resource_ids))
    if not plan.needs and not named:
        return None
    start = booking.starts_at
    if booking.ends_at is None:
        if plan.duration_minutes is None:
            raise ValidationError("give ends_at: the booked services have no duration")
        booking.ends_at = start + timedelta(minutes=plan.duration_minutes)
    end = booking.ends_at
    if plan.duration_minutes is None:
        plan = Plan(
            int((end - start).total_seconds() // 60),
            plan.buffer_before_minutes,
            plan.buffer_after_minutes,
            plan.needs,
        )
    lo, hi = held_interval(start, end, plan.buffer_before_minutes, plan.buffer_after_minutes)
    calendar = load_calendar(uow, booking.location_id, plan, named, lo, hi)
    missing = [r for r in named if r not in calendar.index]
    if missing:
        raise ValidationError("a named resource is not an active resource of this location")
    opened = open_intervals(calendar.week, calendar.exceptions, calendar.zone, start, end)
    if opened != [(start, end)]:
        local = start.astimezone(calendar.zone)
        minute = local.hour * 60 + local.minute
        raise ValidationError(
            f"the booking lies outside the location's opening hours"
            f" ({local.date().isoformat()} {format_minute(minute)}, local time)"
        )
    plan = Plan(
        int((end - start).total_seconds() // 60),
        plan.buffer_before_minutes,
        plan.buffer_after_minutes,
        plan.needs,
    )
    for _attempt in range(_ATTEMPTS):
        chosen = assign(calendar, plan.needs, named, seconds(lo), seconds(hi), prefer=prefer)
        if chosen is None:
            break
        now = uow.clock.now()
        rows = [
            {
                "tenant_id": booking.tenant_id,
                "id": uow.ids(),
                "booking_id": booking.id,
                "resource_id": rid,
                "starts_at": lo,
                "ends_at": hi,
                "created_at": now,
                "updated_at": now,
            }
            for rid in sorted(chosen)
        ]
        try:
            with uow.session.begin_nested():
                uow.session.execute(sa.insert(Reservation), rows)
        except IntegrityError as exc:
            if not _unique_violation(exc):
                raise
            # A concurrent booking committed first: look again at what is free now.
            calendar = load_calendar(uow, booking.location_id, plan, named, lo, hi)
            continue
        return list(chosen)
    raise SlotTakenError(
        "the resources this booking needs are taken at that time",
        next_free_slots=next_free_starts(
            uow, booking.location_id, plan, named, start, booking.guest_count
        ),
    )
