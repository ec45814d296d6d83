"""Free slots: when a service can start at a location, and which resources it would hold.

Owns the availability search: load a location's calendar (timezone, week, exceptions, the
candidate resources, their reservations in the window, the capacity rows) with the `SQL_*`
statements below, then walk the open intervals in steps of `STEP_MINUTES` and keep each start
whose held interval [start - buffer before, end + buffer after], widened to the
`GRANULE_MINUTES` grid, finds enough free resources (and capacity left that day). The
benchmark runs the same statements on a bare connection as its baseline. Must not write.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models.enums import ResourceKind
from tenantry.models.scheduling import GRANULE_MINUTES
from tenantry.scheduling.hours import local_instant, open_intervals
from tenantry.scheduling.resources import Need, Plan, needs_of, service_at
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = [
    "MAX_PERIOD_DAYS",
    "SEARCH_SQL",
    "STEP_MINUTES",
    "Calendar",
    "Slot",
    "assign",
    "ceil_granule",
    "check_period",
    "describe",
    "find_slots",
    "floor_granule",
    "held_interval",
    "load_calendar",
    "search",
    "seconds",
    "slots_for",
]

STEP_MINUTES = 15
MAX_PERIOD_DAYS = 92
_GRANULE = GRANULE_MINUTES * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SQL_LOCATION = (
    "SELECT timezone FROM identity.locations"
    " WHERE tenant_id = :tenant AND id = :location AND deleted_at IS NULL"
)
SQL_WEEK = (
    "SELECT weekday, opens_minute, closes_minute FROM scheduling.opening_hours"
    " WHERE tenant_id = :tenant AND location_id = :location"
)
SQL_EXCEPTIONS = (
    "SELECT on_date, opens_minute, closes_minute FROM scheduling.date_exceptions"
    " WHERE tenant_id = :tenant AND location_id = :location AND on_date BETWEEN :d0 AND :d1"
    " AND resource_id IS NULL"
)
SQL_RESOURCES = (
    "SELECT id, kind FROM scheduling.resources"
    " WHERE tenant_id = :tenant AND location_id = :location AND deleted_at IS NULL AND is_active"
    " AND (kind = ANY(CAST(:kinds AS text[])) OR id = ANY(CAST(:ids AS uuid[])))"
    " ORDER BY name, id"
)
SQL_BUSY = (
    "SELECT resource_id, extract(epoch FROM starts_at)::bigint, extract(epoch FROM ends_at)::bigint"
    " FROM scheduling.reservations"
    " WHERE tenant_id = :tenant AND resource_id = ANY(CAST(:resources AS uuid[]))"
    " AND starts_at < :hi AND ends_at > :lo ORDER BY resource_id, starts_at"
)
SQL_CAPACITY = (
    "SELECT on_date, max_events, max_guests, max_party_size, events_booked, guests_booked"
    " FROM scheduling.daily_capacity"
    " WHERE tenant_id = :tenant AND location_id = :location AND on_date BETWEEN :d0 AND :d1"
)
SQL_ABSENCES = (
    "SELECT resource_id, on_date, opens_minute, closes_minute FROM scheduling.date_exceptions"
    " WHERE tenant_id = :tenant AND location_id = :location AND on_date BETWEEN :d0 AND :d1"
    " AND resource_id IS NOT NULL"
)
SEARCH_SQL = (
    SQL_LOCATION,
    SQL_WEEK,
    SQL_EXCEPTIONS,
    SQL_RESOURCES,
    SQL_BUSY,
    SQL_CAPACITY,
    SQL_ABSENCES,
)


def floor_granule(at: datetime) -> datetime:
    seconds = int((at - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % _GRANULE)


def ceil_granule(at: datetime) -> datetime:
    floored = floor_granule(at)
    return floored if floored == at else floored + timedelta(seconds=_GRANULE)


def held_interval(
    starts_at: datetime, ends_at: datetime, before_minutes: int, after_minutes: int
) -> tuple[datetime, datetime]:
    """What a booking holds: its time plus buffers, widened outward to the granule grid."""
    return (
        floor_granule(starts_at - timedelta(minutes=before_minutes)),
        ceil_granule(ends_at + timedelta(minutes=after_minutes)),
    )


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    resource_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class DayCapacity:
    max_events: int | None
    max_guests: int | None
    max_party_size: int | None
    events_booked: int
    guests_booked: int

    def admits(self, guests: int) -> bool:
        if self.max_events is not None and self.events_booked + 1 > self.max_events:
            return False
        if self.max_guests is not None and self.guests_booked + guests > self.max_guests:
            return False
        return self.max_party_size is None or guests <= self.max_party_size


def seconds(at: datetime) -> int:
    """An instant as whole seconds since the epoch (the search compares integers)."""
    return int((at - _EPOCH).total_seconds())


@dataclass
class Calendar:
    """A location's calendar over a window, as loaded for one search.

    Resources are numbered in their order; `spans[i]` holds resource i's reservations as
    sorted epoch seconds (starts, ends), which never overlap each other.
    """

    zone: ZoneInfo
    week: dict[int, list[tuple[int, int]]]
    exceptions: dict[date, list[tuple[int, int]] | None]
    resources: list[tuple[uuid.UUID, ResourceKind]]
    capacity: dict[date, DayCapacity] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {rid: i for i, (rid, _kind) in enumerate(self.resources)}
        self.kinds = [kind for _rid, kind in self.resources]
        self.by_kind: dict[ResourceKind, list[int]] = {}
        for i, kind in enumerate(self.kinds):
            self.by_kind.setdefault(kind, []).append(i)
        self.spans: list[tuple[list[int], list[int]]] = [([], []) for _ in self.resources]

    def free_at(self, i: int, lo: int, hi: int) -> bool:
        """No reservation of resource i overlaps [lo, hi) (epoch seconds)."""
        starts, ends = self.spans[i]
        j = bisect.bisect_left(starts, hi)
        return j == 0 or ends[j - 1] <= lo

    def free(self, resource_id: uuid.UUID, lo: int, hi: int) -> bool:
        i = self.index.get(resource_id)
        return i is not None and self.free_at(i, lo, hi)


def load_calendar(
    uow: UnitOfWork,
    location_id: uuid.UUID,
    plan: Plan,
    named: Sequence[uuid.UUID],
    lo: datetime,
    hi: datetime,
) -> Calendar:
    """Everything a search over [lo, hi) needs, in six statements."""
    session = uow.session
    tenant = uow.require_tenant()
    zone_name = session.scalar(sa.text(SQL_LOCATION), {"tenant": tenant, "location": location_id})
    if zone_name is None:
        raise NotFoundError("location not found")
    zone = ZoneInfo(zone_name)
    d0 = lo.astimezone(zone).date() - timedelta(days=2)
    d1 = hi.astimezone(zone).date() + timedelta(days=1)
    at = {"tenant": tenant, "location": location_id, "d0": d0, "d1": d1}
    week: dict[int, list[tuple[int, int]]] = {}
    for weekday, opens, closes in session.execute(sa.text(SQL_WEEK), at):
        week.setdefault(weekday, []).append((opens, closes))
    exceptions: dict[date, list[tuple[int, int]] | None] = {}
    for on, opens, closes in session.execute(sa.text(SQL_EXCEPTIONS), at):
        if opens is None or (on in exceptions and exceptions[on] is None):
            exceptions[on] = None
        else:
            exceptions.setdefault(on, []).append((opens, closes))  # type: ignore[union-attr]
    kinds = [str(n.kind) for n in plan.needs if n.kind is not None]
    ids = [n.resource_id for n in plan.needs if n.resource_id is not None] + list(named)
    resources = [
        (rid, ResourceKind(kind))
        for rid, kind in session.execute(sa.text(SQL_RESOURCES), {**at, "kinds": kinds, "ids": ids})
    ]
    calendar = Calendar(zone, week, exceptions, resources)
    if resources:
        index, spans = calendar.index, calendar.spans
        busy = session.execute(
            sa.text(SQL_BUSY),
            {"tenant": tenant, "resources": [r for r, _k in resources], "lo": lo, "hi": hi},
        ).all()
        for rid, starts_at, ends_at in busy:
            starts, ends = spans[index[rid]]
            starts.append(starts_at)
            ends.append(ends_at)
    for on, *numbers in session.execute(sa.text(SQL_CAPACITY), at):
        calendar.capacity[on] = DayCapacity(*numbers)
    absent: set[int] = set()
    for rid, on, opens, closes in session.execute(sa.text(SQL_ABSENCES), at):
        i = calendar.index.get(rid)
        if i is None:
            continue
        lo_m, hi_m = (0, 1440) if opens is None else (opens, closes)
        starts, ends = calendar.spans[i]
        starts.append(seconds(local_instant(on, lo_m, zone)))
        ends.append(seconds(local_instant(on, hi_m, zone)))
        absent.add(i)
    for i in absent:  # absences may overlap reservations: merge, so the spans stay disjoint
        calendar.spans[i] = _merged(*calendar.spans[i])
    return calendar


def _merged(starts: list[int], ends: list[int]) -> tuple[list[int], list[int]]:
    merged: list[list[int]] = []
    for lo, hi in sorted(zip(starts, ends, strict=True)):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [lo for lo, _hi in merged], [hi for _lo, hi in merged]


def assign(
    calendar: Calendar,
    needs: Sequence[Need],
    named: Sequence[uuid.UUID],
    lo: int,
    hi: int,
    *,
    prefer: Sequence[uuid.UUID] = (),
) -> tuple[uuid.UUID, ...] | None:
    """Resources free over [lo, hi) (epoch seconds) that meet every need (named ones first),
    or None."""
    index, kinds, free = calendar.index, calendar.kinds, calendar.free_at
    chosen: list[int] = []
    left: list[int] = []
    for rid in named:
        if rid not in index:
            return None
        left.append(index[rid])
    for need in needs:
        if need.resource_id is not None:
            i = index.get(need.resource_id)
            if i is None:
                return None
            if i in chosen:
                continue
            if not free(i, lo, hi):
                return None
            chosen.append(i)
            continue
        wanted = need.quantity
        for i in [i for i in left if kinds[i] == need.kind][:wanted]:
            if i in chosen or not free(i, lo, hi):
                return None
            chosen.append(i)
            left.remove(i)
            wanted -= 1
        candidates = calendar.by_kind.get(need.kind, []) if need.kind is not None else []
        if prefer:
            first = [index[r] for r in prefer if r in index and kinds[index[r]] == need.kind]
            candidates = first + [i for i in candidates if i not in first]
        for i in candidates:
            if wanted == 0:
                break
            if i not in chosen and free(i, lo, hi):
                chosen.append(i)
                wanted -= 1
        if wanted:
            return None
    for i in left:
        if i in chosen:
            continue
        if not free(i, lo, hi):
            return None
        chosen.append(i)
    return tuple(calendar.resources[i][0] for i in chosen)


def _step_after(at: datetime) -> datetime:
    seconds = int((at - _EPOCH).total_seconds())
    step = STEP_MINUTES * 60
    return _EPOCH + timedelta(seconds=-(-seconds // step) * step)


def find_slots(
    calendar: Calendar,
    plan: Plan,
    named: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    *,
    guest_count: int | None = None,
    limit: int | None = None,
) -> list[Slot]:
    """The free starts within [start, end) whose whole service time lies within opening hours."""
    if plan.duration_minutes is None:
        raise ValidationError("the service has no duration: give it duration_minutes")
    duration = timedelta(minutes=plan.duration_minutes)
    step = timedelta(minutes=STEP_MINUTES)
    guests = guest_count or 0
    before, after = plan.buffer_before_minutes * 60, plan.buffer_after_minutes * 60
    span = plan.duration_minutes * 60
    found: list[Slot] = []
    zone = calendar.zone
    limited = bool(calendar.capacity)
    for opens, closes in open_intervals(
        calendar.week, calendar.exceptions, zone, start, end + duration
    ):
        at = _step_after(opens)
        while at < end and at + duration <= closes:
            day = calendar.capacity.get(at.astimezone(zone).date()) if limited else None
            if day is None or day.admits(guests):
                at_s = seconds(at)
                lo = (at_s - before) // _GRANULE * _GRANULE
                hi = -(-(at_s + span + after) // _GRANULE) * _GRANULE
                chosen = assign(calendar, plan.needs, named, lo, hi)
                if chosen is not None:
                    found.append(Slot(at, at + duration, chosen))
                    if limit is not None and len(found) >= limit:
                        return found
            at += step
    return found


def check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("from and to must carry a timezone")
    if start >= end:
        raise ValidationError("from must be before to")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise ValidationError(f"the period may span at most {MAX_PERIOD_DAYS} days")


def search(
    uow: UnitOfWork,
    principal: Principal,
    *,
    location_id: uuid.UUID,
    service_id: uuid.UUID,
    start: datetime,
    end: datetime,
    guest_count: int | None = None,
    resource_id: uuid.UUID | None = None,
) -> list[Slot]:
    """The free slots of a service at a location within [start, end)."""
    principal.require(Action.READ)
    check_period(start, end)
    get_record(uow, principal, KINDS["location"], location_id)
    service_at(uow, principal, service_id, location_id)
    named = [resource_id] if resource_id is not None else []
    if resource_id is not None:
        resource = get_record(uow, principal, KINDS["resource"], resource_id)
        if resource.location_id != location_id:
            raise ValidationError("the resource belongs to another location")
    plan = needs_of(uow, [service_id])
    return slots_for(uow, location_id, plan, named, start, end, guest_count=guest_count)


def slots_for(
    uow: UnitOfWork,
    location_id: uuid.UUID,
    plan: Plan,
    named: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    *,
    guest_count: int | None = None,
    limit: int | None = None,
) -> list[Slot]:
    pad = timedelta(minutes=plan.buffer_before_minutes + plan.buffer_after_minutes + 60)
    duration = timedelta(minutes=plan.duration_minutes or 0)
    calendar = load_calendar(uow, location_id, plan, named, start - pad, end + duration + pad)
    return find_slots(calendar, plan, named, start, end, guest_count=guest_count, limit=limit)


def describe(slots: Sequence[Slot]) -> list[Mapping[str, Any]]:
    return [
        {"starts_at": s.starts_at, "ends_at": s.ends_at, "resource_ids": list(s.resource_ids)}
        for s in slots
    ]
