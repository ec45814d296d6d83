"""`tenantry tenants list`: which tenants exist, by the slug every other command accepts."""

from __future__ import annotations

import typer

from tenantry.cli.common import database
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option
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
