"""`tenantry locations list|show|edit`: a tenant's locations, one with its ETag, changing one.

The operator acts as the tenant's owner; the services check that role as they do for the API.
A location's contact data is the business's, not a person's, and is shown as it is.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import typer

from tenantry.api.resources.common import etag_of, matching
from tenantry.api.resources.edit_identity import LocationPatch
from tenantry.api.resources.identity import LocationOut
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.edits import IF_MATCH, SET, patch_body, print_record
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, location_ref, tenant_option
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError
from tenantry.models import Location
from tenantry.models.enums import MembershipRole
from tenantry.services.edits import update_location
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, get_record, list_records

__all__ = ["app", "operator"]

app = typer.Typer(help="A tenant's locations.", no_args_is_help=True)

_LOCATION = typer.Option(
    ..., "--location", parser=location_ref, metavar="LOCATION", help="Its UUID or slug."
)


def operator(tenant_id: uuid.UUID) -> Principal:
    """Who the CLI acts as inside a tenant: its owner (the operator holds the master key)."""
    return Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)


def _location_id(uow: UnitOfWork, ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        found = uow.session.scalar(
            sa.select(Location.id).where(
                Location.tenant_id == uow.require_tenant(),
                Location.slug == ref,
                Location.deleted_at.is_(None),
            )
        )
        if found is None:
            raise NotFoundError("location not found (see `tenantry locations list`)") from None
        return found


@app.command("list")
def list_(tenant: str = tenant_option(), fmt: OutputFormat = format_option()) -> None:
    """List the tenant's locations: slug, name, vertical, city, whether active, id."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        rows: list[LocationOut] = []
        with db.tenant_uow(tenant_id) as uow:
            after = None
            while True:
                page = list_records(
                    uow, operator(tenant_id), KINDS["location"], after=after, limit=500
                )
                rows += [LocationOut.model_validate(r) for r in page]
                if len(page) < 500:
                    break
                after = page[-1].id
    if fmt is OutputFormat.JSON:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    out = table("slug", "name", "vertical", "city", "active", "id", title="Locations")
    for r in rows:
        out.add_row(r.slug, r.name, r.vertical.value, r.city or "", str(r.is_active), str(r.id))
    show(out)


@app.command("show")
def show_(
    tenant: str = tenant_option(), location: str = _LOCATION, fmt: OutputFormat = format_option()
) -> None:
    """Show a location and the ETag that `locations edit --if-match` takes."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            found = get_record(
                uow, operator(tenant_id), KINDS["location"], _location_id(uow, location)
            )
            body = LocationOut.model_validate(found)
    print_record(body.model_dump(mode="json"), etag_of(body), fmt, "Location")


@app.command("edit")
def edit(
    tenant: str = tenant_option(),
    location: str = _LOCATION,
    sets: list[str] = SET,
    if_match: str | None = IF_MATCH,
) -> None:
    """Change a location (`--set name="Filiale Nord" --set capacity=40`).

    The fields and their checks are those of `PATCH /v1/locations/{id}`.
    """
    changes = patch_body(LocationPatch, sets).changes()
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            location_id = _location_id(uow, location)
            check = matching(if_match, LocationOut.model_validate)
            changed = update_location(uow, operator(tenant_id), location_id, changes, check)
            out = LocationOut.model_validate(changed)
            uow.commit()
    print(f"updated location {out.slug}: {', '.join(sorted(changes))}; ETag {etag_of(out)}")
