"""PATCH and DELETE of `/v1/locations`, `/v1/memberships` and `/v1/tenants`.

The bodies are `Patch` models (only the fields sent change; read-only fields refused by
name); the rules are `tenantry.services.edits` and `edits_identity`'s. A tenant's details are
changed by its owner or admin, its plan and its deletion by a platform administrator; another
tenant's id is a 404 for everyone else.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from tenantry.api.deps import CtxDep
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    Boolean,
    Email,
    IdempotencyKey,
    IfMatch,
    Integer,
    NoContent,
    Number,
    Patch,
    TimeZone,
    deleted,
    edited,
    matching,
    write,
)
from tenantry.api.resources.identity import LocationOut, MembershipOut, TenantOut, _memberships
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError
from tenantry.models.enums import (
    LegalForm,
    MembershipRole,
    OnboardingStatus,
    Plan,
    Vertical,
)
from tenantry.services import edits, edits_identity
from tenantry.services.principal import Action

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class LocationPatch(Patch):
    __read_only__ = (
        *Patch.__read_only__,
        "verification_status",
        "opening_hours",
        "deleted_at",
    )
    __not_null__ = (
        "name",
        "slug",
        "vertical",
        "country",
        "categories",
        "onboarding_status",
        "onboarding_step",
        "timezone",
        "is_active",
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    vertical: Vertical | None = None
    street: str | None = Field(default=None, max_length=200)
    house_number: str | None = Field(default=None, max_length=20)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    latitude: Number | None = Field(default=None, ge=-90, le=90, decimal_places=6)
    longitude: Number | None = Field(default=None, ge=-180, le=180, decimal_places=6)
    phone: str | None = Field(default=None, max_length=40)
    email: Email | None = None
    website: str | None = Field(default=None, max_length=500)
    categories: list[Annotated[str, Field(max_length=60)]] | None = Field(
        default=None, max_length=50
    )
    cuisine: str | None = Field(default=None, max_length=60)
    price_range: Integer | None = Field(default=None, ge=1, le=4)
    capacity: Integer | None = Field(default=None, ge=1, le=1_000_000)
    onboarding_status: OnboardingStatus | None = None
    onboarding_step: Integer | None = Field(default=None, ge=0, le=100)
    google_place_id: str | None = Field(default=None, max_length=255)
    timezone: TimeZone | None = None
    is_active: Boolean | None = None


class MembershipPatch(Patch):
    __read_only__ = (*Patch.__read_only__, "user_id", "email", "display_name")
    __not_null__ = ("role", "is_active")

    role: MembershipRole | None = None
    is_active: Boolean | None = None
    location_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=100, description="Limit the member to these (null: all)."
    )


class TenantPatch(Patch):
    """A tenant's details; `plan` only by a platform administrator."""

    __read_only__ = (*Patch.__read_only__, "slug", "status", "deleted_at")
    __not_null__ = (
        "legal_name",
        "display_name",
        "legal_form",
        "vertical",
        "country",
        "plan",
        "locale",
        "timezone",
        "currency",
    )

    legal_name: str | None = Field(default=None, min_length=1, max_length=200)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    legal_form: LegalForm | None = None
    vertical: Vertical | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    vat_id: str | None = Field(default=None, max_length=20)
    plan: Plan | None = None
    locale: str | None = Field(default=None, max_length=10)
    timezone: TimeZone | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


@router.patch(
    "/locations/{location_id}",
    response_model=LocationOut,
    tags=["locations"],
    summary="Change a location",
)
def patch_location(
    location_id: uuid.UUID,
    body: LocationPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, LocationOut.model_validate)
        loc = edits.update_location(uow, ctx.principal, location_id, body.changes(), check)
        return Written(200, LocationOut.model_validate(loc), "location", loc.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/locations/{location_id}",
    status_code=204,
    response_class=Response,
    tags=["locations"],
    summary="Delete a location (soft)",
)
def delete_location(
    location_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, LocationOut.model_validate)
        edits.delete_location(uow, ctx.principal, location_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


def _membership_out(uow: UnitOfWork) -> Any:
    return lambda m: _memberships(uow, [m])[0]


@router.patch(
    "/memberships/{membership_id}",
    response_model=MembershipOut,
    tags=["memberships"],
    summary="Change a member's role, activity or location scope",
)
def patch_membership(
    membership_id: uuid.UUID,
    body: MembershipPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, _membership_out(uow))
        m = edits_identity.update_membership(
            uow, ctx.principal, membership_id, body.changes(), check
        )
        return Written(200, _memberships(uow, [m])[0], "membership", m.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/memberships/{membership_id}",
    status_code=204,
    response_class=Response,
    tags=["memberships"],
    summary="Remove a member from the tenant (never the last owner)",
)
def delete_membership(
    membership_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, _membership_out(uow))
        edits_identity.delete_membership(uow, ctx.principal, membership_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


def _own_or_admin(ctx: CtxDep, tenant_id: uuid.UUID) -> bool:
    """Whether the caller acts as a platform administrator; another tenant's id is a 404
    for everyone else."""
    if ctx.caller.platform_admin:
        return True
    ctx.principal.require(Action.READ)
    if tenant_id != ctx.caller.tenant_id:
        raise NotFoundError("tenant not found")
    return False


@router.patch(
    "/tenants/{tenant_id}",
    response_model=TenantOut,
    tags=["tenants"],
    summary="Change a tenant's details (its owner or admin; the plan: platform administrators)",
)
def patch_tenant(
    tenant_id: uuid.UUID,
    body: TenantPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    admin = _own_or_admin(ctx, tenant_id)

    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, TenantOut.model_validate)
        principal = None if admin else ctx.principal
        t = edits_identity.update_tenant(uow, principal, tenant_id, body.changes(), check)
        return Written(200, TenantOut.model_validate(t), "tenant", t.id)

    return edited(write(ctx, request, body, idempotency_key, run, platform=admin))


@router.delete(
    "/tenants/{tenant_id}",
    status_code=204,
    response_class=Response,
    tags=["tenants"],
    summary="Delete a tenant (soft; platform administrators)",
)
def delete_tenant(
    tenant_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    _own_or_admin(ctx, tenant_id)
    ctx.require_platform_admin()

    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, TenantOut.model_validate)
        edits_identity.delete_tenant(uow, tenant_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run, platform=True))


RENDERERS: dict[str, Any] = {}
