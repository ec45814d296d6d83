"""Scheduling: resources, opening hours, exceptions, service requirements, daily capacity and
reservations held by granule, so that no resource is ever booked twice at one time.

- Schema `scheduling` with `resources`, `opening_hours`, `date_exceptions`,
  `service_requirements`, `daily_capacity`, `capacity_claims`, `reservations` and
  `reservation_slots`; `commerce.services` gains `buffer_before_minutes`/`buffer_after_minutes`.
- The guarantee without btree_gist: an AFTER INSERT trigger on `reservations` writes one
  `reservation_slots` row per resource and 5-minute granule the reservation holds (its interval
  widened outward to the grid) in the same statement. The primary key
  `(tenant_id, resource_id, slot)` then refuses any second holder of a granule; a concurrent
  insert waits for the first transaction and fails with a unique violation if it commits.
- Capacity: triggers on `capacity_claims` move the counters of the date's `daily_capacity` row,
  whose CHECK constraints refuse to pass the maxima (the row lock serialises claims).
- Releasing: a trigger on `commerce.bookings` deletes a booking's reservations (their slots
  cascade) and capacity claim when it is cancelled, marked no-show or soft-deleted.

Revision ID: 0600
Revises: 0500
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0600"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")
S = "scheduling"
KINDS = ("staff", "bay", "lift", "chef", "equipment", "room", "table", "other")
MINUTES = "opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 2880"


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def _ids() -> list[sa.Column[Any]]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> Any:
    short = target.split(".")[1]
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=f"fk_{table}_tenant_id_{column}_{short}"[:63],
        ondelete=ondelete,
    )


def _kind(nullable: bool) -> sa.Column[Any]:
    return sa.Column(
        "resource_kind" if nullable else "kind",
        sa.Enum(*KINDS, name="resource_kind", native_enum=False, create_constraint=True),
        nullable=nullable,
    )


def _protect(table: str, grants: str) -> None:
    full = f"{S}.{table}"
    op.execute(f"ALTER TABLE {full} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {full} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {full}"
        f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )
    op.execute(f"GRANT {grants} ON {full} TO {APP}")
    op.execute(f"SELECT audit.enable('{full}'::regclass)")


FUNCTIONS = """
CREATE FUNCTION scheduling.hold_slots() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    -- One statement for every granule of every new reservation, in (resource, slot) order:
    -- two bookings lock granules in the same order, so they wait for each other, never
    -- deadlock, and the later one meets the unique key.
    INSERT INTO scheduling.reservation_slots (tenant_id, resource_id, slot, reservation_id)
    SELECT r.tenant_id, r.resource_id, g.slot, r.id
      FROM new_rows r
     CROSS JOIN LATERAL generate_series(
               to_timestamp(floor(extract(epoch FROM r.starts_at) / 300) * 300),
               to_timestamp(ceil(extract(epoch FROM r.ends_at) / 300) * 300)
                 - interval '5 minutes',
               interval '5 minutes') AS g(slot)
     ORDER BY r.tenant_id, r.resource_id, g.slot;
    RETURN NULL;
END
$$;

CREATE FUNCTION scheduling.count_claims() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE scheduling.daily_capacity
           SET events_booked = events_booked + 1, guests_booked = guests_booked + NEW.guests,
               updated_at = now()
         WHERE tenant_id = NEW.tenant_id AND location_id = NEW.location_id
           AND on_date = NEW.on_date;
        RETURN NEW;
    END IF;
    UPDATE scheduling.daily_capacity
       SET events_booked = greatest(events_booked - 1, 0),
           guests_booked = greatest(guests_booked - OLD.guests, 0),
           updated_at = now()
     WHERE tenant_id = OLD.tenant_id AND location_id = OLD.location_id
       AND on_date = OLD.on_date;
    RETURN OLD;
END
$$;

CREATE FUNCTION scheduling.release_booking() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    DELETE FROM scheduling.reservations WHERE tenant_id = NEW.tenant_id AND booking_id = NEW.id;
    DELETE FROM scheduling.capacity_claims
     WHERE tenant_id = NEW.tenant_id AND booking_id = NEW.id;
    RETURN NULL;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER hold_slots AFTER INSERT ON scheduling.reservations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scheduling.hold_slots();
CREATE TRIGGER count_claims AFTER INSERT OR DELETE ON scheduling.capacity_claims
    FOR EACH ROW EXECUTE FUNCTION scheduling.count_claims();
CREATE TRIGGER release_resources AFTER UPDATE OF status, deleted_at ON commerce.bookings
    FOR EACH ROW
    WHEN (NEW.status::text IN ('cancelled', 'no_show') OR NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION scheduling.release_booking();
"""


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.execute(f"GRANT USAGE ON SCHEMA {S} TO {APP}")
    for name in ("buffer_before_minutes", "buffer_after_minutes"):
        op.add_column(
            "services",
            sa.Column(name, sa.Integer(), server_default="0", nullable=False),
            schema="commerce",
        )
    op.execute(
        "ALTER TABLE commerce.services ADD CONSTRAINT ck_services_buffers_range CHECK"
        " (buffer_before_minutes BETWEEN 0 AND 1440 AND buffer_after_minutes BETWEEN 0 AND 1440)"
    )

    op.create_table(
        "resources",
        *_ids(),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        _kind(nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_stamps(),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        _fk("resources", "location_id", "identity.locations"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_resources"),
        schema=S,
    )
    op.create_index(
        "ix_resources_tenant_location_kind",
        "resources",
        ["tenant_id", "location_id", "kind"],
        schema=S,
    )
    op.create_table(
        "opening_hours",
        *_ids(),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("opens_minute", sa.Integer(), nullable=False),
        sa.Column("closes_minute", sa.Integer(), nullable=False),
        *_stamps(),
        _fk("opening_hours", "location_id", "identity.locations", "CASCADE"),
        sa.CheckConstraint("weekday BETWEEN 1 AND 7", name="ck_opening_hours_weekday_range"),
        sa.CheckConstraint(MINUTES, name="ck_opening_hours_minutes_range"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_opening_hours"),
        schema=S,
    )
    op.create_index(
        "ix_opening_hours_tenant_location_weekday",
        "opening_hours",
        ["tenant_id", "location_id", "weekday"],
        schema=S,
    )
    op.create_table(
        "date_exceptions",
        *_ids(),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("opens_minute", sa.Integer()),
        sa.Column("closes_minute", sa.Integer()),
        sa.Column("reason", sa.String(200)),
        sa.Column("resource_id", sa.Uuid()),
        *_stamps(),
        _fk("date_exceptions", "location_id", "identity.locations", "CASCADE"),
        _fk("date_exceptions", "resource_id", "scheduling.resources", "CASCADE"),
        sa.CheckConstraint(
            "(opens_minute IS NULL) = (closes_minute IS NULL)",
            name="ck_date_exceptions_minutes_together",
        ),
        sa.CheckConstraint(
            f"opens_minute IS NULL OR ({MINUTES})", name="ck_date_exceptions_minutes_range"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_date_exceptions"),
        schema=S,
    )
    op.create_index(
        "ix_date_exceptions_tenant_location_on",
        "date_exceptions",
        ["tenant_id", "location_id", "on_date"],
        schema=S,
    )
    op.create_table(
        "service_requirements",
        *_ids(),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        _kind(nullable=True),
        sa.Column("resource_id", sa.Uuid()),
        sa.Column("quantity", sa.Integer(), server_default="1", nullable=False),
        *_stamps(),
        _fk("service_requirements", "service_id", "commerce.services", "CASCADE"),
        _fk("service_requirements", "resource_id", "scheduling.resources", "CASCADE"),
        sa.CheckConstraint(
            "(resource_kind IS NULL) <> (resource_id IS NULL)",
            name="ck_service_requirements_kind_or_resource",
        ),
        sa.CheckConstraint(
            "quantity BETWEEN 1 AND 100", name="ck_service_requirements_quantity_range"
        ),
        sa.CheckConstraint(
            "resource_id IS NULL OR quantity = 1",
            name="ck_service_requirements_one_named_resource",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_service_requirements"),
        schema=S,
    )
    op.create_index(
        "ix_service_requirements_tenant_service",
        "service_requirements",
        ["tenant_id", "service_id"],
        schema=S,
    )
    op.create_table(
        "daily_capacity",
        *_ids(),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("max_events", sa.Integer()),
        sa.Column("max_guests", sa.Integer()),
        sa.Column("max_party_size", sa.Integer()),
        sa.Column("events_booked", sa.Integer(), server_default="0", nullable=False),
        sa.Column("guests_booked", sa.Integer(), server_default="0", nullable=False),
        *_stamps(),
        _fk("daily_capacity", "location_id", "identity.locations", "CASCADE"),
        sa.UniqueConstraint(
            "tenant_id",
            "location_id",
            "on_date",
            name="uq_daily_capacity_tenant_id_location_id_on_date",
        ),
        sa.CheckConstraint(
            "max_events IS NULL OR events_booked <= max_events",
            name="ck_daily_capacity_events_within_capacity",
        ),
        sa.CheckConstraint(
            "max_guests IS NULL OR guests_booked <= max_guests",
            name="ck_daily_capacity_guests_within_capacity",
        ),
        sa.CheckConstraint(
            "events_booked >= 0 AND guests_booked >= 0",
            name="ck_daily_capacity_booked_non_negative",
        ),
        sa.CheckConstraint(
            "(max_events IS NULL OR max_events >= 0) AND (max_guests IS NULL OR max_guests >= 0)"
            " AND (max_party_size IS NULL OR max_party_size > 0)",
            name="ck_daily_capacity_maxima_range",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_daily_capacity"),
        schema=S,
    )
    op.create_table(
        "capacity_claims",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("guests", sa.Integer(), server_default="0", nullable=False),
        *_stamps(),
        _fk("capacity_claims", "booking_id", "commerce.bookings", "CASCADE"),
        _fk("capacity_claims", "location_id", "identity.locations"),
        sa.CheckConstraint("guests >= 0", name="ck_capacity_claims_guests_non_negative"),
        sa.PrimaryKeyConstraint("tenant_id", "booking_id", name="pk_capacity_claims"),
        schema=S,
    )
    op.create_index(
        "ix_capacity_claims_tenant_location_on",
        "capacity_claims",
        ["tenant_id", "location_id", "on_date"],
        schema=S,
    )
    op.create_table(
        "reservations",
        *_ids(),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        _fk("reservations", "booking_id", "commerce.bookings", "CASCADE"),
        _fk("reservations", "resource_id", "scheduling.resources"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_reservations_ends_after_start"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_reservations"),
        schema=S,
    )
    op.create_index(
        "ix_reservations_tenant_resource_starts",
        "reservations",
        ["tenant_id", "resource_id", "starts_at"],
        schema=S,
    )
    op.create_index(
        "ix_reservations_tenant_booking", "reservations", ["tenant_id", "booking_id"], schema=S
    )
    op.create_table(
        "reservation_slots",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        *_stamps(),
        _fk("reservation_slots", "reservation_id", "scheduling.reservations", "CASCADE"),
        _fk("reservation_slots", "resource_id", "scheduling.resources"),
        sa.PrimaryKeyConstraint("tenant_id", "resource_id", "slot", name="pk_reservation_slots"),
        schema=S,
    )
    op.create_index(
        "ix_reservation_slots_tenant_reservation",
        "reservation_slots",
        ["tenant_id", "reservation_id"],
        schema=S,
    )

    op.execute(FUNCTIONS)
    op.execute(TRIGGERS)
    _protect("resources", "SELECT, INSERT, UPDATE, DELETE")
    _protect("opening_hours", "SELECT, INSERT, UPDATE, DELETE")
    _protect("date_exceptions", "SELECT, INSERT, UPDATE, DELETE")
    _protect("service_requirements", "SELECT, INSERT, UPDATE, DELETE")
    _protect("daily_capacity", "SELECT, INSERT, UPDATE, DELETE")
    _protect("capacity_claims", "SELECT, INSERT, DELETE")
    _protect("reservations", "SELECT, INSERT, DELETE")
    _protect("reservation_slots", "SELECT, INSERT, DELETE")
    # Held times never change in place (a move is a delete and an insert, so granules follow).
    for table in ("capacity_claims", "reservations", "reservation_slots"):
        op.execute(f"GRANT UPDATE (updated_at) ON {S}.{table} TO {APP}")


def downgrade() -> None:
    op.execute("DROP TRIGGER release_resources ON commerce.bookings")
    for table in (
        "reservation_slots",
        "reservations",
        "capacity_claims",
        "daily_capacity",
        "service_requirements",
        "date_exceptions",
        "opening_hours",
        "resources",
    ):
        op.execute(f"DROP TABLE {S}.{table}")
    op.execute(f"DROP FUNCTION {S}.hold_slots()")
    op.execute(f"DROP FUNCTION {S}.count_claims()")
    op.execute(f"DROP FUNCTION {S}.release_booking()")
    op.execute(f"DROP SCHEMA {S}")
    op.execute("ALTER TABLE commerce.services DROP CONSTRAINT ck_services_buffers_range")
    op.drop_column("services", "buffer_after_minutes", schema="commerce")
    op.drop_column("services", "buffer_before_minutes", schema="commerce")
