"""Scheduling on a real database: availability (hours, exceptions, buffers, taken resources,
capacity), bookings that hold resources or are refused with nothing written, releasing on
cancel, no-show, soft delete and reschedule, and 32 concurrent attempts at one resource."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import (
    CapacityExceededError,
    ConflictError,
    SlotTakenError,
    ValidationError,
)
from tenantry.models import Booking, Reservation, ReservationSlot
from tenantry.models.enums import BookingKind, BookingStatus, ServiceKind
from tenantry.scheduling import availability, hours
from tenantry.scheduling.booking import reschedule_booking
from tenantry.services import bookings
from tenantry.services.bookings import ItemLine
from tests.conftest import TenantFixture
from tests.scheduling_support import Shop, make_shop, set_capacity

# Monday 1 March 2027; Berlin is UTC+1 until the end of March.
MONDAY = date(2027, 3, 1)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """Local Berlin time (UTC+1 in March 2027) as UTC."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return midnight + timedelta(hours=hh - 1, minutes=mm)


def _search(db: Database, tenant: TenantFixture, shop: Shop, day: date, **kw: object) -> list:
    with db.tenant_uow(tenant.id) as uow:
        return availability.search(
            uow,
            tenant.principal(),
            location_id=shop.location_id,
            service_id=shop.service_id,
            start=at(day, 0),
            end=at(day + timedelta(days=1), 0),
            **kw,  # type: ignore[arg-type]
        )


def _book(
    db: Database,
    tenant: TenantFixture,
    shop: Shop,
    starts_at: datetime,
    *,
    kind: BookingKind = BookingKind.APPOINTMENT,
    guest_count: int | None = None,
) -> Booking:
    with db.tenant_uow(tenant.id) as uow:
        booking = bookings.create_booking(
            uow,
            tenant.principal(),
            location_id=shop.location_id,
            customer_id=shop.customer_id,
            kind=kind,
            starts_at=starts_at,
            guest_count=guest_count,
            items=[ItemLine(quantity=1, service_id=shop.service_id)],
        )
        uow.commit()
        return booking


def _count(db: Database, tenant: TenantFixture, model: type) -> int:
    with db.tenant_uow(tenant.id) as uow:
        return int(
            uow.session.scalar(
                sa.select(sa.func.count()).select_from(model).where(model.tenant_id == tenant.id)
            )
            or 0
        )


@pytest.fixture
def shop(db: Database, tenant: TenantFixture) -> Shop:
    return make_shop(db, tenant.principal(), tenant.locations[0])


def test_slots_follow_the_hours_with_the_lunch_break(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    slots = _search(db, tenant, shop, MONDAY)
    starts = [s.starts_at for s in slots]
    morning = [at(MONDAY, 9, m) for m in range(0, 121, 15)]  # 09:00 .. 11:00
    afternoon = [at(MONDAY, 13, m) for m in range(0, 181, 15)]  # 13:00 .. 16:00
    assert starts == morning + afternoon
    assert all(s.ends_at - s.starts_at == timedelta(hours=1) for s in slots)
    assert {s.resource_ids for s in slots} == {(shop.staff[0],)}


def test_exceptions_close_a_day_or_give_it_special_hours(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    with db.tenant_uow(tenant.id) as uow:
        hours.add_exception(uow, tenant.principal(), shop.location_id, on_date=tuesday)
        hours.add_exception(
            uow,
            tenant.principal(),
            shop.location_id,
            on_date=wednesday,
            opens_minute=10 * 60,
            closes_minute=11 * 60,
        )
        uow.commit()
    assert _search(db, tenant, shop, tuesday) == []
    assert [s.starts_at for s in _search(db, tenant, shop, wednesday)] == [at(wednesday, 10)]


def test_buffers_and_taken_resources_remove_slots(db: Database, tenant: TenantFixture) -> None:
    shop = make_shop(db, tenant.principal(), tenant.locations[1], buffer_after=15)
    _book(db, tenant, shop, at(MONDAY, 10))
    starts = [s.starts_at for s in _search(db, tenant, shop, MONDAY)]
    # Held 10:00-11:15; a start at 09:00 would hold until 10:15, one at 11:00 from 11:00.
    assert not [s for s in starts if s < at(MONDAY, 12)]
    assert starts[0] == at(MONDAY, 13)


def test_a_taken_time_is_refused_with_the_next_free_starts_and_nothing_written(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    _book(db, tenant, shop, at(MONDAY, 10))
    before = _count(db, tenant, Booking)
    with pytest.raises(SlotTakenError) as caught:
        _book(db, tenant, shop, at(MONDAY, 10, 30))
    assert caught.value.next_free_slots[0] == at(MONDAY, 11)
    assert caught.value.extensions()["next_free_slots"][0] == "2027-03-01T10:00:00Z"
    assert _count(db, tenant, Booking) == before


def test_outside_opening_hours_is_refused_and_nothing_written(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    with pytest.raises(ValidationError, match="opening hours"):
        _book(db, tenant, shop, at(MONDAY, 11, 30))  # runs into the lunch break
    with pytest.raises(ValidationError, match="opening hours"):
        _book(db, tenant, shop, at(MONDAY, 7))
    assert _count(db, tenant, Booking) == 0
    assert _count(db, tenant, Reservation) == 0


def test_a_period_of_ten_years_or_backwards_is_refused(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    for start, end in (
        (at(MONDAY, 0), at(MONDAY, 0) + timedelta(days=3650)),
        (at(MONDAY, 10), at(MONDAY, 9)),
    ):
        with db.tenant_uow(tenant.id) as uow, pytest.raises(ValidationError):
            availability.search(
                uow,
                tenant.principal(),
                location_id=shop.location_id,
                service_id=shop.service_id,
                start=start,
                end=end,
            )


def test_cancel_no_show_and_soft_delete_free_the_resources(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    for ending in ("cancel", "no_show", "delete"):
        booking = _book(db, tenant, shop, at(MONDAY, 10))
        assert at(MONDAY, 10) not in [s.starts_at for s in _search(db, tenant, shop, MONDAY)]
        with db.tenant_uow(tenant.id) as uow:
            if ending == "cancel":
                bookings.transition_booking(
                    uow, tenant.principal(), booking.id, BookingStatus.CANCELLED
                )
            elif ending == "no_show":
                bookings.transition_booking(
                    uow, tenant.principal(), booking.id, BookingStatus.CONFIRMED
                )
                bookings.transition_booking(
                    uow, tenant.principal(), booking.id, BookingStatus.NO_SHOW
                )
            else:
                uow.repos.bookings.get(booking.id).deleted_at = uow.clock.now()
            uow.commit()
        assert at(MONDAY, 10) in [s.starts_at for s in _search(db, tenant, shop, MONDAY)], ending
    assert _count(db, tenant, ReservationSlot) == 0


def test_reschedule_moves_the_reservation_or_changes_nothing(
    db: Database, tenant: TenantFixture
) -> None:
    shop = make_shop(db, tenant.principal(), tenant.locations[1])
    first = _book(db, tenant, shop, at(MONDAY, 9))
    second = _book(db, tenant, shop, at(MONDAY, 14))
    with db.tenant_uow(tenant.id) as uow:
        moved = reschedule_booking(uow, tenant.principal(), first.id, starts_at=at(MONDAY, 10))
        uow.commit()
        assert moved.ends_at == at(MONDAY, 11)
    starts = [s.starts_at for s in _search(db, tenant, shop, MONDAY)]
    assert at(MONDAY, 9) in starts and at(MONDAY, 10) not in starts
    with db.tenant_uow(tenant.id) as uow, pytest.raises(SlotTakenError) as caught:
        reschedule_booking(uow, tenant.principal(), second.id, starts_at=at(MONDAY, 10, 15))
    assert caught.value.next_free_slots
    with db.tenant_uow(tenant.id) as uow:
        kept = uow.repos.bookings.get(second.id)
        assert kept.starts_at == at(MONDAY, 14)
        held = uow.session.scalars(
            sa.select(Reservation.starts_at).where(Reservation.booking_id == second.id)
        ).all()
        assert held == [at(MONDAY, 14)]


def test_daily_capacity_limits_catering_events_and_party_size(
    db: Database, tenant: TenantFixture
) -> None:
    shop = make_shop(
        db, tenant.principal(), tenant.locations[1], staff=3, kind=ServiceKind.CATERING_PACKAGE
    )
    set_capacity(
        db,
        tenant.principal(),
        shop,
        on_date=MONDAY,
        max_events=2,
        max_guests=50,
        max_party_size=40,
    )
    catering = BookingKind.CATERING_EVENT
    with pytest.raises(ValidationError, match="larger"):
        _book(db, tenant, shop, at(MONDAY, 9), kind=catering, guest_count=45)
    _book(db, tenant, shop, at(MONDAY, 9), kind=catering, guest_count=30)
    assert _search(db, tenant, shop, MONDAY, guest_count=30) == []  # 60 guests > 50
    assert _search(db, tenant, shop, MONDAY, guest_count=20)
    with pytest.raises(CapacityExceededError):
        _book(db, tenant, shop, at(MONDAY, 13), kind=catering, guest_count=25)
    _book(db, tenant, shop, at(MONDAY, 13), kind=catering, guest_count=20)
    with pytest.raises(CapacityExceededError):  # third event of the day
        _book(db, tenant, shop, at(MONDAY, 15), kind=catering, guest_count=1)
    assert _count(db, tenant, Booking) == 2


def test_32_concurrent_attempts_at_one_resource_and_time_yield_one_booking(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    attempts = 32
    barrier = threading.Barrier(attempts)
    won: list[Booking] = []
    refused: list[SlotTakenError] = []
    other: list[BaseException] = []

    def attempt() -> None:
        barrier.wait()
        try:
            won.append(_book(db, tenant, shop, at(MONDAY, 10)))
        except SlotTakenError as exc:
            refused.append(exc)
        except BaseException as exc:  # pragma: no cover - reported below
            other.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert other == []
    assert len(won) == 1 and len(refused) == attempts - 1
    assert all(r.next_free_slots and r.next_free_slots[0] == at(MONDAY, 11) for r in refused)
    with db.tenant_uow(tenant.id) as uow:
        overlapping = uow.session.scalar(
            sa.text(
                "SELECT count(*) FROM scheduling.reservations a JOIN scheduling.reservations b"
                " ON a.tenant_id = b.tenant_id AND a.resource_id = b.resource_id AND a.id < b.id"
                " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
                " WHERE a.tenant_id = :t"
            ),
            {"t": tenant.id},
        )
    assert overlapping == 0
    assert _count(db, tenant, Booking) == 1


def test_the_database_refuses_a_second_holder_of_a_granule_whatever_the_code_path(
    db: Database, tenant: TenantFixture, shop: Shop
) -> None:
    first = _book(db, tenant, shop, at(MONDAY, 10))
    second = _book(db, tenant, shop, at(MONDAY, 13))
    with db.tenant_uow(tenant.id) as uow, pytest.raises(ConflictError):
        # Off the grid: 10:58-11:01 widens to 10:55-11:05 and meets the first booking's 10:55.
        uow.session.add(
            Reservation(
                tenant_id=tenant.id,
                id=uow.ids(),
                booking_id=second.id,
                resource_id=shop.staff[0],
                starts_at=at(MONDAY, 10, 58),
                ends_at=at(MONDAY, 11, 1),
            )
        )
        uow.flush()
    assert first.id != second.id


def test_a_resource_absence_removes_its_slots_and_refuses_bookings(
    db: Database, tenant: TenantFixture
) -> None:
    """Seed 004: a chef's day off, or an afternoon away."""
    shop = make_shop(db, tenant.principal(), tenant.locations[1], staff=1)
    tuesday = MONDAY + timedelta(days=1)
    with db.tenant_uow(tenant.id) as uow:
        hours.add_exception(
            uow, tenant.principal(), shop.location_id, on_date=MONDAY, resource_id=shop.staff[0]
        )
        hours.add_exception(
            uow,
            tenant.principal(),
            shop.location_id,
            on_date=tuesday,
            opens_minute=13 * 60,
            closes_minute=17 * 60,
            resource_id=shop.staff[0],
        )
        uow.commit()
    assert _search(db, tenant, shop, MONDAY) == []
    assert all(s.starts_at < at(tuesday, 12) for s in _search(db, tenant, shop, tuesday))
    with pytest.raises(SlotTakenError) as caught:
        _book(db, tenant, shop, at(MONDAY, 10))
    assert caught.value.next_free_slots[0] == at(tuesday, 9)
    # Only the resource is away: the location's own hours are untouched.
    with db.tenant_uow(tenant.id) as uow:
        assert len(hours.get_week(uow, tenant.principal(), shop.location_id)) == 14
