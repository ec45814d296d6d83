"""Opening hours of a location: the week, the exceptions per date, and the open intervals they
give over a period in the location's timezone.

Owns the weekly intervals (`scheduling.opening_hours`), the date exceptions
(`scheduling.date_exceptions`: a location's closures and special hours, a resource's absences)
and the pure computation of open intervals. Times of day are
minutes after local midnight; an interval may end after midnight (up to 48:00) and then belongs
to the day it starts on. Must not decide about resources or bookings.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models import DateException, Location, OpeningInterval, Resource
from tenantry.services.principal import Action, Principal

__all__ = [
    "DayHours",
    "Week",
    "add_exception",
    "delete_exception",
    "find_location",
    "format_minute",
    "get_week",
    "list_exceptions",
    "local_instant",
    "location_zone",
    "open_intervals",
    "parse_minute",
    "set_week",
]

# weekday (ISO 1..7) -> intervals in minutes after local midnight
Week = Mapping[int, Sequence[tuple[int, int]]]
# date -> None (closed all day) or the special intervals of that date
Exceptions = Mapping[date, Sequence[tuple[int, int]] | None]
MAX_MINUTE = 2880


@dataclass(frozen=True)
class DayHours:
    weekday: int
    opens_minute: int
    closes_minute: int


def parse_minute(text: str) -> int:
    """ "HH:MM" (00:00 .. 48:00) as minutes after midnight."""
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValidationError(f"a time of day is written HH:MM, not {text!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > MAX_MINUTE:
        raise ValidationError("a time of day lies between 00:00 and 48:00")
    return value


def format_minute(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def find_location(uow: UnitOfWork, principal: Principal, ref: str) -> uuid.UUID:
    """A location's id from its id or slug, if the principal may see it (else not found)."""
    try:
        location_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        location_id = uow.session.scalar(
            sa.select(Location.id).where(
                Location.tenant_id == uow.require_tenant(),
                Location.slug == ref,
                Location.deleted_at.is_(None),
            )
        )
    if location_id is None or not principal.sees(location_id):
        raise NotFoundError("location not found")
    location_zone(uow, location_id)
    return location_id


def location_zone(uow: UnitOfWork, location_id: uuid.UUID) -> ZoneInfo:
    """The timezone of a (not deleted) location of the tenant."""
    name = uow.session.scalar(
        sa.select(Location.timezone).where(
            Location.tenant_id == uow.require_tenant(),
            Location.id == location_id,
            Location.deleted_at.is_(None),
        )
    )
    if name is None:
        raise NotFoundError("location not found")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _check_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    ordered = sorted(intervals)
    for opens, closes in ordered:
        if not 0 <= opens < closes <= MAX_MINUTE:
            raise ValidationError("an interval must open before it closes, within 00:00..48:00")
    for (_o1, c1), (o2, _c2) in itertools.pairwise(ordered):
        if o2 < c1:
            raise ValidationError("the intervals of a day must not overlap")
    return ordered


def _manage(uow: UnitOfWork, principal: Principal, location_id: uuid.UUID) -> None:
    principal.require(Action.MANAGE_LOCATIONS)
    principal.require_location(location_id, "location")
    location_zone(uow, location_id)


def set_week(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    week: Week,
    *,
    precondition: Callable[[], None] | None = None,
) -> list[DayHours]:
    """Replace the location's weekly hours (a weekday not named is closed).

    The location's row is locked first, so concurrent replacements follow one another (rather
    than each deleting the old week and both inserting theirs); `precondition` (an `If-Match`)
    then sees the week as it stands.
    """
    _manage(uow, principal, location_id)
    tenant = uow.require_tenant()
    uow.session.execute(
        sa.select(Location.id)
        .where(Location.tenant_id == tenant, Location.id == location_id)
        .with_for_update(key_share=True)
    )
    if precondition is not None:
        precondition()
    checked = {}
    for weekday, intervals in week.items():
        if not 1 <= weekday <= 7:
            raise ValidationError("weekdays are numbered 1 (Monday) to 7 (Sunday)")
        checked[weekday] = _check_intervals(intervals)
    uow.session.execute(
        sa.delete(OpeningInterval).where(
            OpeningInterval.tenant_id == tenant, OpeningInterval.location_id == location_id
        )
    )
    now = uow.clock.now()
    for weekday, intervals in sorted(checked.items()):
        for opens, closes in intervals:
            uow.session.add(
                OpeningInterval(
                    tenant_id=tenant,
                    id=uow.ids(),
                    location_id=location_id,
                    weekday=weekday,
                    opens_minute=opens,
                    closes_minute=closes,
                    created_at=now,
                    updated_at=now,
                )
            )
    uow.flush()
    return get_week(uow, principal, location_id)


def get_week(uow: UnitOfWork, principal: Principal, location_id: uuid.UUID) -> list[DayHours]:
    principal.require(Action.READ)
    principal.require_location(location_id, "location")
    location_zone(uow, location_id)
    rows = uow.session.execute(
        sa.select(
            OpeningInterval.weekday, OpeningInterval.opens_minute, OpeningInterval.closes_minute
        )
        .where(
            OpeningInterval.tenant_id == uow.require_tenant(),
            OpeningInterval.location_id == location_id,
        )
        .order_by(OpeningInterval.weekday, OpeningInterval.opens_minute)
    )
    return [DayHours(w, o, c) for w, o, c in rows]


def add_exception(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    on_date: date,
    opens_minute: int | None = None,
    closes_minute: int | None = None,
    reason: str | None = None,
    resource_id: uuid.UUID | None = None,
) -> DateException:
    """Close a date (no minutes) or give it special hours (one interval per call); with a
    resource, that resource's absence (all day, or between the minutes given)."""
    _manage(uow, principal, location_id)
    if resource_id is not None:
        located = uow.session.scalar(
            sa.select(Resource.location_id).where(
                Resource.tenant_id == uow.require_tenant(),
                Resource.id == resource_id,
                Resource.deleted_at.is_(None),
            )
        )
        if located is None:
            raise NotFoundError("resource not found")
        if located != location_id:
            raise ValidationError("the resource belongs to another location")
    if (opens_minute is None) != (closes_minute is None):
        raise ValidationError("special hours need both an opening and a closing time")
    if opens_minute is not None and closes_minute is not None:
        _check_intervals([(opens_minute, closes_minute)])
    now = uow.clock.now()
    row = DateException(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        location_id=location_id,
        on_date=on_date,
        opens_minute=opens_minute,
        closes_minute=closes_minute,
        reason=reason,
        resource_id=resource_id,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    uow.flush()
    return row


def list_exceptions(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    *,
    start: date | None = None,
    end: date | None = None,
) -> list[DateException]:
    principal.require(Action.READ)
    principal.require_location(location_id, "location")
    location_zone(uow, location_id)
    stmt = sa.select(DateException).where(
        DateException.tenant_id == uow.require_tenant(), DateException.location_id == location_id
    )
    if start is not None:
        stmt = stmt.where(DateException.on_date >= start)
    if end is not None:
        stmt = stmt.where(DateException.on_date <= end)
    order = (DateException.on_date, DateException.opens_minute, DateException.id)
    return list(uow.session.scalars(stmt.order_by(*order)))


def delete_exception(
    uow: UnitOfWork, principal: Principal, location_id: uuid.UUID, exception_id: uuid.UUID
) -> None:
    _manage(uow, principal, location_id)
    done = uow.session.execute(
        sa.delete(DateException).where(
            DateException.tenant_id == uow.require_tenant(),
            DateException.location_id == location_id,
            DateException.id == exception_id,
        )
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError("closure not found")


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """`minute` minutes after local midnight of `day` in `zone`, as UTC."""
    return _at(day, minute, zone)


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day + timedelta(days=minute // 1440), time(), zone)
    local = local.replace(hour=(minute % 1440) // 60, minute=minute % 60)
    return local.astimezone(UTC)


def open_intervals(
    week: Week, exceptions: Exceptions, zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The open intervals (UTC) within [start, end), merged where they touch."""
    first = start.astimezone(zone).date() - timedelta(days=2)  # intervals past midnight
    last = end.astimezone(zone).date()
    found: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        closed_or_special = day in exceptions
        minutes = (exceptions[day] or ()) if closed_or_special else week.get(day.isoweekday(), ())
        for opens, closes in minutes:
            lo, hi = max(_at(day, opens, zone), start), min(_at(day, closes, zone), end)
            if lo < hi:
                found.append((lo, hi))
        day += timedelta(days=1)
    found.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in found:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged
