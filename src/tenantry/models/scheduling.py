"""Schema `scheduling`: bookable resources, opening hours and their exceptions, what a service
needs, daily catering capacity, and the reservations that hold resources for bookings.

The no-double-booking guarantee lives in `reservation_slots`: one row per resource and
5-minute granule a reservation holds, primary key `(tenant_id, resource_id, slot)`. A trigger
expands each inserted reservation into its granules in the same statement, so of two bookings
that want one resource at overlapping times the second insert meets a unique violation, however
the two transactions interleave. Daily capacity is a counter row per location and date with
CHECK constraints, moved by triggers on `capacity_claims` (its row lock serialises claims).
Times of day are minutes after local midnight in the location's timezone; an interval may run
past midnight (up to 2880, i.e. 48:00).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import (
    Base,
    SoftDeleteMixin,
    TenantOwned,
    TimestampMixin,
    str_enum,
    tenant_fk,
)
from tenantry.models.enums import ResourceKind

__all__ = [
    "GRANULE_MINUTES",
    "CapacityClaim",
    "DailyCapacity",
    "DateException",
    "OpeningInterval",
    "Reservation",
    "ReservationSlot",
    "Resource",
    "ServiceRequirement",
]

SCHEMA = {"schema": "scheduling"}
# The grid reservations are held on (see `reservation_slots`); the migration's trigger uses it.
GRANULE_MINUTES = 5
_MINUTES = "opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 2880"


class Resource(TenantOwned, SoftDeleteMixin, Base):
    """Something a booking holds: a staff member, a lift or bay, a chef, equipment, a room."""

    __tablename__ = "resources"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations"),
        sa.Index("ix_resources_tenant_location_kind", "tenant_id", "location_id", "kind"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    kind: Mapped[ResourceKind] = mapped_column(str_enum(ResourceKind, "resource_kind"))
    name: Mapped[str] = mapped_column(sa.String(200))
    is_active: Mapped[bool] = mapped_column(server_default=sa.true())


class OpeningInterval(TenantOwned, Base):
    """One interval of a location's week (several per weekday: a lunch break is a gap)."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations", ondelete="CASCADE"),
        sa.CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday_range"),
        sa.CheckConstraint(_MINUTES, name="minutes_range"),
        sa.Index("ix_opening_hours_tenant_location_weekday", "tenant_id", "location_id", "weekday"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)  # ISO: 1 Monday .. 7 Sunday
    opens_minute: Mapped[int] = mapped_column(sa.Integer)
    closes_minute: Mapped[int] = mapped_column(sa.Integer)


class DateException(TenantOwned, Base):
    """A date whose hours differ from the week: closed (no minutes) or special hours.

    The location's rows of a date replace that weekday's intervals; one closed row closes the
    whole day. A row naming a resource is that resource's absence instead (a chef's day off):
    all day, or between the minutes given.
    """

    __tablename__ = "date_exceptions"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations", ondelete="CASCADE"),
        tenant_fk("resource_id", "scheduling.resources", ondelete="CASCADE"),
        sa.CheckConstraint(
            "(opens_minute IS NULL) = (closes_minute IS NULL)", name="minutes_together"
        ),
        sa.CheckConstraint(f"opens_minute IS NULL OR ({_MINUTES})", name="minutes_range"),
        sa.Index("ix_date_exceptions_tenant_location_on", "tenant_id", "location_id", "on_date"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    on_date: Mapped[date]
    opens_minute: Mapped[int | None] = mapped_column(sa.Integer)
    closes_minute: Mapped[int | None] = mapped_column(sa.Integer)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    resource_id: Mapped[uuid.UUID | None]


class ServiceRequirement(TenantOwned, Base):
    """What one booking of a service holds: `quantity` resources of a kind, or one resource."""

    __tablename__ = "service_requirements"
    __table_args__ = (
        tenant_fk("service_id", "commerce.services", ondelete="CASCADE"),
        tenant_fk("resource_id", "scheduling.resources", ondelete="CASCADE"),
        sa.CheckConstraint(
            "(resource_kind IS NULL) <> (resource_id IS NULL)", name="kind_or_resource"
        ),
        sa.CheckConstraint("quantity BETWEEN 1 AND 100", name="quantity_range"),
        sa.CheckConstraint("resource_id IS NULL OR quantity = 1", name="one_named_resource"),
        sa.Index("ix_service_requirements_tenant_service", "tenant_id", "service_id"),
        SCHEMA,
    )

    service_id: Mapped[uuid.UUID]
    resource_kind: Mapped[ResourceKind | None] = mapped_column(
        str_enum(ResourceKind, "resource_kind")
    )
    resource_id: Mapped[uuid.UUID | None]
    quantity: Mapped[int] = mapped_column(sa.Integer, server_default="1")


class DailyCapacity(TenantOwned, Base):
    """Catering capacity of a location on a date; the booked counters cannot pass the maxima."""

    __tablename__ = "daily_capacity"
    __table_args__ = (
        tenant_fk("location_id", "identity.locations", ondelete="CASCADE"),
        sa.UniqueConstraint("tenant_id", "location_id", "on_date"),
        sa.CheckConstraint(
            "max_events IS NULL OR events_booked <= max_events", name="events_within_capacity"
        ),
        sa.CheckConstraint(
            "max_guests IS NULL OR guests_booked <= max_guests", name="guests_within_capacity"
        ),
        sa.CheckConstraint("events_booked >= 0 AND guests_booked >= 0", name="booked_non_negative"),
        sa.CheckConstraint(
            "(max_events IS NULL OR max_events >= 0) AND (max_guests IS NULL OR max_guests >= 0)"
            " AND (max_party_size IS NULL OR max_party_size > 0)",
            name="maxima_range",
        ),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    on_date: Mapped[date]
    max_events: Mapped[int | None] = mapped_column(sa.Integer)
    max_guests: Mapped[int | None] = mapped_column(sa.Integer)
    max_party_size: Mapped[int | None] = mapped_column(sa.Integer)
    events_booked: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    guests_booked: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class CapacityClaim(TimestampMixin, Base):
    """The share of a date's capacity one catering booking takes (released with the booking)."""

    __tablename__ = "capacity_claims"
    __table_args__ = (
        tenant_fk("booking_id", "commerce.bookings", ondelete="CASCADE"),
        tenant_fk("location_id", "identity.locations"),
        sa.CheckConstraint("guests >= 0", name="guests_non_negative"),
        sa.Index("ix_capacity_claims_tenant_location_on", "tenant_id", "location_id", "on_date"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-20)
    booking_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-19)
    location_id: Mapped[uuid.UUID]
    on_date: Mapped[date]
    guests: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class Reservation(TenantOwned, Base):
    """A booking holding one resource over [start - buffer before, end + buffer after)."""

    __tablename__ = "reservations"
    __table_args__ = (
        tenant_fk("booking_id", "commerce.bookings", ondelete="CASCADE"),
        tenant_fk("resource_id", "scheduling.resources"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_reservations_tenant_resource_starts", "tenant_id", "resource_id", "starts_at"),
        sa.Index("ix_reservations_tenant_booking", "tenant_id", "booking_id"),
        SCHEMA,
    )

    booking_id: Mapped[uuid.UUID]
    resource_id: Mapped[uuid.UUID]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class ReservationSlot(TimestampMixin, Base):
    """One granule of one resource held by a reservation: the unique key is the guarantee.

    Written only by the trigger on `reservations` (never by hand), removed with the reservation.
    """

    __tablename__ = "reservation_slots"
    __table_args__ = (
        tenant_fk("reservation_id", "scheduling.reservations", ondelete="CASCADE"),
        tenant_fk("resource_id", "scheduling.resources"),
        sa.Index("ix_reservation_slots_tenant_reservation", "tenant_id", "reservation_id"),
        SCHEMA,
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slot: Mapped[datetime] = mapped_column(primary_key=True)
    reservation_id: Mapped[uuid.UUID]
