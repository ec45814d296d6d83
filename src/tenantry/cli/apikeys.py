"""`tenantry apikeys create | list | revoke`: API keys for the HTTP API.

The key is printed once, on creation, to stdout (nothing else goes there, so it can be piped
into a secret store); it cannot be shown again, only revoked and replaced.
"""

from __future__ import annotations

import sys
import uuid

import typer
from rich.table import Table

from tenantry.cli.common import console, open_db, resolve_tenant
from tenantry.errors import ValidationError
from tenantry.services.apikeys import create_api_key, list_api_keys, revoke_api_key

__all__ = ["app"]

app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError(f"{what} must be a UUID") from None


@app.command("create")
def create(
    tenant: str = typer.Option(..., help="Tenant id or slug."),
    role: str = typer.Option(
        ..., help="owner | admin | manager | staff | analyst | dpo | platform_admin"
    ),
    location: list[str] = typer.Option(
        None, "--location", help="Limit the key to this location id (repeatable)."
    ),
    name: str | None = typer.Option(None, help="A label for listings."),
) -> None:
    """Create a key and print it once."""
    with open_db() as db:
        tenant_id = resolve_tenant(db, tenant)
        locations = [_uuid(x, "--location") for x in location] if location else None
        with db.platform_uow(actor="cli:apikeys", tenant_id=tenant_id) as uow:
            issued = create_api_key(
                uow, tenant_id=tenant_id, role=role, name=name, location_ids=locations
            )
            uow.commit()
    print(issued.secret)
    print(
        f"api key {issued.key.id} ({issued.key.role.value}) created; it is shown only once",
        file=sys.stderr,
    )


@app.command("list")
def list_(tenant: str = typer.Option(..., help="Tenant id or slug.")) -> None:
    """List a tenant's keys (never their secrets)."""
    with open_db() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow(tenant_id=tenant_id) as uow:
            keys = list_api_keys(uow, tenant_id)
    table = Table("id", "name", "prefix", "role", "locations", "created", "revoked")
    for k in keys:
        table.add_row(
            str(k.id),
            k.name,
            k.prefix + "...",
            k.role.value,
            str(len(k.location_ids)) if k.location_ids else "all",
            k.created_at.isoformat(timespec="seconds"),
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    console().print(table)


@app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="Id of the key (from `apikeys list`).")) -> None:
    """Revoke a key; workers stop accepting it within TENANTRY_API_KEY_CACHE_SECONDS."""
    with open_db() as db, db.platform_uow(actor="cli:apikeys") as uow:
        key = revoke_api_key(uow, _uuid(key_id, "key id"))
        uow.commit()
    print(f"api key {key.id} revoked", file=sys.stderr)
