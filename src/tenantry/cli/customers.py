"""`tenantry customers show|edit|search`: one customer with its ETag, changing one, and finding
customers (`search` is `tenantry.cli.lists`' command, joined to this group here).

A customer is personal data: `show` masks every sealed field (`e***@example.org`) unless
`--reveal` is given, and `edit` names the fields it changed, never their values. Both read
and write through the services the API uses, acting as the tenant's owner.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer

from tenantry.api.resources.common import etag_of, matching
from tenantry.api.resources.crm import CustomerOut
from tenantry.api.resources.edit_crm import CustomerPatch
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.edits import IF_MATCH, SET, mask, patch_body, print_record
from tenantry.cli.lists import search_customers_command
from tenantry.cli.locations import operator
from tenantry.cli.params import OutputFormat, format_option, tenant_option, uuid_value
from tenantry.models import Customer
from tenantry.models.sealed import sealed_fields
from tenantry.services.edits import update_customer
from tenantry.services.records import KINDS, get_record

__all__ = ["app"]

app = typer.Typer(help="A tenant's customers (personal data: masked unless revealed).")

_CUSTOMER = typer.Option(
    ..., "--customer", parser=uuid_value, metavar="ID", help="The customer's id."
)


def _shown(body: CustomerOut, reveal: bool) -> dict[str, Any]:
    data = body.model_dump(mode="json")
    if not reveal:
        for name, field in sealed_fields(Customer).items():
            data[name] = mask(data.get(name), field.kind)
    return data


@app.command("show")
def show_(
    tenant: str = tenant_option(),
    customer: uuid.UUID = _CUSTOMER,
    reveal: bool = typer.Option(
        False, "--reveal", help="Print personal data in plaintext (masked by default)."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """Show a customer (personal data masked) and the ETag `customers edit --if-match` takes."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            body = CustomerOut.model_validate(
                get_record(uow, operator(tenant_id), KINDS["customer"], customer)
            )
    print_record(_shown(body, reveal), etag_of(body), fmt, "Customer")


@app.command("edit")
def edit(
    tenant: str = tenant_option(),
    customer: uuid.UUID = _CUSTOMER,
    sets: list[str] = SET,
    if_match: str | None = IF_MATCH,
) -> None:
    """Change a customer (`--set email=new@example.org --set tags='["vip"]'`).

    The fields and their checks are those of `PATCH /v1/customers/{id}`: a new e-mail moves
    the person's lookup with it, and one that belongs to another person is refused.
    """
    changes = patch_body(CustomerPatch, sets).changes()
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            check = matching(if_match, CustomerOut.model_validate)
            changed = update_customer(uow, operator(tenant_id), customer, changes, check)
            out = CustomerOut.model_validate(changed)
            uow.commit()
    print(f"updated customer {out.id}: {', '.join(sorted(changes))}; ETag {etag_of(out)}")


app.command("search")(search_customers_command)
