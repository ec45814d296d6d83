"""`tenantry availability`, `tenantry resources` and `tenantry hours`: what an operator needs to
set a location up for bookings (resources, what a service needs, weekly hours, closures,
catering capacity) and to see its free slots.

Commands act as the tenant's owner; the rules are `tenantry.scheduling`'s.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import (
    OutputFormat,
    calendar_date,
    format_option,
    instant,
    location_ref,
    resource_need,
    tenant_option,
    time_of_day,
    uuid_value,
    week_interval,
)
from tenantry.db.engine import Database
from tenantry.models.enums import MembershipRole, ResourceKind
from tenantry.scheduling import availability as search
from tenantry.scheduling import capacity, hours, resources
from tenantry.services.principal import Principal

__all__ = ["availability", "hours_app", "resources_app"]

resources_app = typer.Typer(help="Bookable resources and what services need.", no_args_is_help=True)
hours_app = typer.Typer(help="Opening hours, closures and daily capacity.", no_args_is_help=True)


def _owner(tenant_id: uuid.UUID) -> Principal:
    return Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)


def _location_option() -> Any:
    return typer.Option(..., "--location", parser=location_ref, help="The location's UUID or slug.")


def _bound(db: Database, tenant: str, location: str) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id = resolve_tenant(db, tenant)
    with db.tenant_uow(tenant_id) as uow:
        return tenant_id, hours.find_location(uow, _owner(tenant_id), location)


def availability(
    tenant: str = tenant_option(),
    location: str = _location_option(),
    service: uuid.UUID = typer.Option(..., "--service", parser=uuid_value, help="The service id."),
    start: datetime = typer.Option(
        ..., "--from", parser=instant, help="Start, with timezone (2027-03-01T00:00+01:00)."
    ),
    end: datetime = typer.Option(..., "--to", parser=instant, help="End, with timezone."),
    guests: int | None = typer.Option(
        None, "--guests", min=1, max=100_000, help="Party size (checked against capacity)."
    ),
    resource: uuid.UUID | None = typer.Option(
        None, "--resource", parser=uuid_value, help="Only slots using this resource."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """Free slots of a service at a location (a period of at most 92 days)."""
    with database() as db:
        tenant_id, location_id = _bound(db, tenant, location)
        with db.tenant_uow(tenant_id) as uow:
            slots = search.search(
                uow,
                _owner(tenant_id),
                location_id=location_id,
                service_id=service,
                start=start,
                end=end,
                guest_count=guests,
                resource_id=resource,
            )
    rows: list[dict[str, Any]] = [
        {
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
            "resource_ids": [str(r) for r in s.resource_ids],
        }
        for s in slots
    ]
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    out = table("starts", "ends", "resources", title=f"{len(rows)} free slots")
    for r in rows:
        out.add_row(r["starts_at"], r["ends_at"], ", ".join(r["resource_ids"]) or "-")
    show(out)


@resources_app.command("add")
def add_resource(
    tenant: str = tenant_option(),
    location: str = _location_option(),
    kind: ResourceKind = typer.Option(..., "--kind", help="staff, bay, lift, chef, equipment ..."),
    name: str = typer.Option(..., "--name", help="A label: a role or first name, a bay number."),
) -> None:
    """Add a bookable resource to a location; prints its id."""
    with database() as db:
        tenant_id, location_id = _bound(db, tenant, location)
        with db.tenant_uow(tenant_id) as uow:
            made = resources.create_resource(
                uow, _owner(tenant_id), location_id=location_id, kind=kind, name=name
            )
            uow.commit()
    typer.echo(str(made.id))


@resources_app.command("list")
def list_resources(
    tenant: str = tenant_option(),
    location: str | None = typer.Option(
        None, "--location", parser=location_ref, help="Only this location (UUID or slug)."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """The tenant's resources."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        location_id = _bound(db, tenant, location)[1] if location else None
        with db.tenant_uow(tenant_id) as uow:
            found = resources.list_resources(uow, _owner(tenant_id), location_id=location_id)
            rows: list[dict[str, Any]] = [
                {
                    "id": str(r.id),
                    "location_id": str(r.location_id),
                    "kind": r.kind.value,
                    "name": r.name,
                    "active": r.is_active,
                }
                for r in found
            ]
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    out = table("id", "location", "kind", "name", "active")
    for r in rows:
        out.add_row(r["id"], r["location_id"], r["kind"], r["name"], str(r["active"]))
    show(out)


@resources_app.command("require")
def require(
    tenant: str = tenant_option(),
    service: uuid.UUID = typer.Option(..., "--service", parser=uuid_value, help="The service id."),
    need: list[str] = typer.Option(
        [], "--need", parser=resource_need, help="KIND=QUANTITY a booking holds (repeatable)."
    ),
    buffer_before: int = typer.Option(0, "--buffer-before", min=0, max=1440, help="Minutes."),
    buffer_after: int = typer.Option(0, "--buffer-after", min=0, max=1440, help="Minutes."),
) -> None:
    """Set what a booking of the service holds (replaces the service's requirements)."""
    needs = []
    for item in need:
        kind, quantity = item.split("=")
        needs.append(resources.Need(kind=ResourceKind(kind), quantity=int(quantity)))
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            resources.set_requirements(
                uow,
                _owner(tenant_id),
                service,
                needs=needs,
                buffer_before_minutes=buffer_before,
                buffer_after_minutes=buffer_after,
            )
            uow.commit()
    typer.echo(f"service {service}: {', '.join(need) or 'no resources'}")


@hours_app.command("set")
def set_hours(
    tenant: str = tenant_option(),
    location: str = _location_option(),
    interval: list[str] = typer.Option(
        [], "--interval", parser=week_interval, help="WEEKDAY=HH:MM-HH:MM (repeatable)."
    ),
) -> None:
    """Replace the weekly opening hours (a weekday not given is closed)."""
    week: dict[int, list[tuple[int, int]]] = {}
    for item in interval:
        weekday, span = item.split("=")
        opens, closes = span.split("-")
        pair = (hours.parse_minute(opens), hours.parse_minute(closes))
        week.setdefault(int(weekday), []).append(pair)
    with database() as db:
        tenant_id, location_id = _bound(db, tenant, location)
        with db.tenant_uow(tenant_id) as uow:
            hours.set_week(uow, _owner(tenant_id), location_id, week)
            uow.commit()
    typer.echo(f"{len(interval)} intervals set")


@hours_app.command("show")
def show_hours(
    tenant: str = tenant_option(),
    location: str = _location_option(),
    fmt: OutputFormat = format_option(),
) -> None:
    """The weekly opening hours."""
    with database() as db:
        tenant_id, location_id = _bound(db, tenant, location)
        with db.tenant_uow(tenant_id) as uow:
            week = hours.get_week(uow, _owner(tenant_id), location_id)
    rows: list[dict[str, Any]] = [
        {
            "weekday": d.weekday,
            "opens": hours.format_minute(d.opens_minute),
            "closes": hours.format_minute(d.closes_minute),
        }
        for d in week
    ]
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    out = table("weekday", "opens", "closes")
    for r in rows:
        out.add_row(str(r["weekday"]), r["opens"], r["closes"])
    show(out)


@hours_app.command("close")
def close(
    tenant: str = tenant_option(),
    location: str = _location_option(),
    on: date = typer.Option(..., "--date", parser=calendar_date, help="The date (YYYY-MM-DD)."),
    opens: str | None = typer.Option(
        None, "--opens", parser=time_of_day, help="Special hours from (HH:MM); none: closed."
    ),
    closes: str | None = typer.Option(
        None, "--closes", parser=time_of_day, help="Special hours until (HH:MM)."
    ),
    resource: uuid.UUID | None = typer.Option(
        None, "--resource", parser=uuid_value, help="Only this resource is away (a day off)."
    ),
) -> None:
    """Close a date or give it special hours; with --resource, that resource's absence (all day,
    or between --opens and --closes)."""
    with database() as db:
        tenant_id, location_id = _bound(db, tenant, location)
        with db.tenant_uow(tenant_id) as uow:
            hours.add_exception(
                uow,
                _owner(tenant_id),
                location_id,
                on_date=on,
                opens_minute=hours.parse_minute(opens) if opens else None,
                closes_minute=hours.parse_minute(closes) if closes else None,
                resource_id=resource,
            )
            uow.commit()
    typer.echo(f"{on.isoformat()}: {'closed' if opens is None else f'{opens}-{closes}'}")


@hours_app.command("capacity")
def set_capacity(
    tenant: str = tenant_option(),
    location: str = _location_option(),
    on: date = typer.Option(..., "--date", parser=calendar_date, help="The date (YYYY-MM-DD)."),
    max_events: int | None = typer.Option(None, "--max-events", min=0, max=100_000),
    max_guests: int | None = typer.Option(None, "--max-guests", min=0, max=100_000),
    max_party: int | None = typer.Option(None, "--max-party", min=1, max=100_000),
) -> None:
    """Set a date's catering capacity (no maxima: unlimited)."""
    with database() as db:
        tenant_id, location_id = _bound(db, tenant, location)
        with db.tenant_uow(tenant_id) as uow:
            row = capacity.set_capacity(
                uow,
                _owner(tenant_id),
                location_id,
                on_date=on,
                max_events=max_events,
                max_guests=max_guests,
                max_party_size=max_party,
            )
            uow.commit()
            booked = f"{row.events_booked} events, {row.guests_booked} guests booked"
    typer.echo(f"{on.isoformat()}: {booked}")
