"""`tenantry apikeys create | list | revoke`: API keys for the HTTP API.

The key is printed once, on creation, to stdout (nothing else goes there, so it can be piped
into a secret store); it cannot be shown again, only revoked and replaced.
"""

from __future__ import annotations

import sys
import uuid

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, tenant_option, uuid_value
from tenantry.models import ApiRole
from tenantry.services.apikeys import create_api_key, list_api_keys, revoke_api_key

__all__ = ["app"]

app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


@app.command("create")
def create(
    tenant: str = tenant_option(),
    role: ApiRole = typer.Option(..., help="What the key may do."),
    location: list[uuid.UUID] | None = typer.Option(
        None,
        "--location",
        parser=uuid_value,
        metavar="ID",
        help="Limit the key to this location id (repeatable).",
    ),
    name: str | None = typer.Option(None, metavar="LABEL", help="A label for listings."),
) -> None:
    """Create a key and print it once."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow(actor="cli:apikeys", tenant_id=tenant_id) as uow:
            issued = create_api_key(
                uow, tenant_id=tenant_id, role=role, name=name, location_ids=location or None
            )
            uow.commit()
    print(issued.secret)
    print(
        f"api key {issued.key.id} ({issued.key.role.value}) created; it is shown only once",
        file=sys.stderr,
    )


@app.command("list")
def list_(tenant: str = tenant_option(), fmt: OutputFormat = format_option()) -> None:
    """List a tenant's keys (never their secrets)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow(tenant_id=tenant_id) as uow:
            keys = list_api_keys(uow, tenant_id)
    if fmt is OutputFormat.JSON:
        print_json(
            [
                {
                    "id": str(k.id),
                    "name": k.name,
                    "prefix": k.prefix,
                    "role": k.role.value,
                    "locations": [str(x) for x in k.location_ids] if k.location_ids else None,
                    "created_at": k.created_at.isoformat(timespec="seconds"),
                    "revoked_at": k.revoked_at.isoformat(timespec="seconds")
                    if k.revoked_at
                    else None,
                }
                for k in keys
            ]
        )
        return
    out = table("id", "name", "prefix", "role", "locations", "created", "revoked")
    for k in keys:
        out.add_row(
            str(k.id),
            k.name,
            k.prefix + "...",
            k.role.value,
            str(len(k.location_ids)) if k.location_ids else "all",
            k.created_at.isoformat(timespec="seconds"),
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    show(out)


@app.command("revoke")
def revoke(
    key_id: uuid.UUID = typer.Argument(
        ..., parser=uuid_value, metavar="KEY_ID", help="Id of the key (from `apikeys list`)."
    ),
) -> None:
    """Revoke a key; workers stop accepting it within TENANTRY_API_KEY_CACHE_SECONDS."""
    with database() as db, db.platform_uow(actor="cli:apikeys") as uow:
        key = revoke_api_key(uow, key_id)
        uow.commit()
    print(f"api key {key.id} revoked", file=sys.stderr)
