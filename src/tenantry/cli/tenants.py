"""`tenantry tenants list|show|edit`: which tenants exist, by the slug every other command
accepts; a tenant's details with their ETag; changing them as the platform operator."""

from __future__ import annotations

import typer

from tenantry.api.resources.common import etag_of, matching
from tenantry.api.resources.edit_identity import TenantPatch
from tenantry.api.resources.identity import TenantOut
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.edits import IF_MATCH, SET, patch_body, print_record
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, tenant_option
from tenantry.services.edits_identity import update_tenant
from tenantry.services.tenants import list_tenants

__all__ = ["app"]

app = typer.Typer(help="The platform's tenants.", no_args_is_help=True)


@app.command("list")
def list_(fmt: OutputFormat = format_option()) -> None:
    """List every tenant: slug (what --tenant takes), name, vertical and status."""
    with database() as db, db.platform_uow() as uow:
        tenants = list_tenants(uow)
    if fmt is OutputFormat.JSON:
        print_json([t.as_json() for t in tenants])
        return
    out = table("slug", "name", "vertical", "status", title="Tenants")
    for t in tenants:
        out.add_row(t.slug, t.name, t.vertical, t.status)
    show(out)


@app.command("show")
def show_(tenant: str = tenant_option(), fmt: OutputFormat = format_option()) -> None:
    """Show a tenant's details and the ETag that `tenants edit --if-match` takes."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow() as uow:
            body = TenantOut.model_validate(uow.repos.tenants.get(tenant_id))
    print_record(body.model_dump(mode="json"), etag_of(body), fmt, "Tenant")


@app.command("edit")
def edit(
    tenant: str = tenant_option(),
    sets: list[str] = SET,
    if_match: str | None = IF_MATCH,
) -> None:
    """Change a tenant's details as a platform operator (`--set plan=professional`).

    The fields and their checks are those of `PATCH /v1/tenants/{id}`; slug and status are
    read-only.
    """
    body = patch_body(TenantPatch, sets)
    changes = body.changes()
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow(actor="cli") as uow:
            check = matching(if_match, TenantOut.model_validate)
            out = TenantOut.model_validate(update_tenant(uow, None, tenant_id, changes, check))
            uow.commit()
    print(f"updated tenant {out.slug}: {', '.join(sorted(changes))}; ETag {etag_of(out)}")
