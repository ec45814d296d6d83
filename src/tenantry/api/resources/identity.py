"""`/v1/locations`, `/v1/users`, `/v1/memberships` and `/v1/tenants`.

Tenants are platform objects: a platform administrator lists, reads and creates any tenant;
every other principal sees only its own tenant (another tenant's id is a 404).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, decode_cursor, json_response, page_of
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    Email,
    IdempotencyKey,
    In,
    Integer,
    Number,
    Out,
    TimeZone,
    get_one,
    list_page,
    renderer,
    tagged,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, PermissionDeniedError
from tenantry.models import Membership, Tenant
from tenantry.models.enums import (
    LegalForm,
    MembershipRole,
    OnboardingStatus,
    Plan,
    TenantStatus,
    UserStatus,
    VerificationStatus,
    Vertical,
)
from tenantry.services.platform import create_tenant, grant_membership
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record, list_records
from tenantry.services.resources import (
    create_location,
    get_user,
    list_tenants,
    list_users,
    membership_scope,
)

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class LocationIn(In):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    vertical: Vertical
    street: str | None = Field(default=None, max_length=200)
    house_number: str | None = Field(default=None, max_length=20)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    latitude: Number | None = Field(default=None, ge=-90, le=90, decimal_places=6)
    longitude: Number | None = Field(default=None, ge=-180, le=180, decimal_places=6)
    phone: str | None = Field(default=None, max_length=40)
    email: Email | None = None
    website: str | None = Field(default=None, max_length=500)
    categories: list[Annotated[str, Field(max_length=60)]] = Field(
        default_factory=list, max_length=50
    )
    cuisine: str | None = Field(default=None, max_length=60)
    price_range: Integer | None = Field(default=None, ge=1, le=4)
    capacity: Integer | None = Field(default=None, ge=1, le=1_000_000)
    google_place_id: str | None = Field(default=None, max_length=255)
    timezone: TimeZone = "Europe/Berlin"


class LocationOut(Out):
    name: str
    slug: str
    vertical: Vertical
    street: str | None
    house_number: str | None
    postal_code: str | None
    city: str | None
    region: str | None
    country: str
    latitude: Decimal | None
    longitude: Decimal | None
    phone: str | None
    email: str | None
    website: str | None
    categories: list[str]
    cuisine: str | None
    price_range: int | None
    capacity: int | None
    opening_hours: dict[str, Any]
    onboarding_status: OnboardingStatus
    onboarding_step: int
    verification_status: VerificationStatus
    google_place_id: str | None
    timezone: str
    is_active: bool


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    locale: str
    status: UserStatus
    created_at: datetime


class MembershipIn(In):
    email: Email
    role: MembershipRole
    display_name: str | None = Field(default=None, max_length=200)
    location_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=100, description="Limit the member to these locations."
    )


class MembershipOut(Out):
    user_id: uuid.UUID
    role: MembershipRole
    is_active: bool
    location_ids: list[uuid.UUID] | None = Field(description="Null: every location.")


class TenantIn(In):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    legal_name: str = Field(min_length=1, max_length=200)
    vertical: Vertical
    legal_form: LegalForm = LegalForm.GMBH
    display_name: str | None = Field(default=None, max_length=200)
    country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    vat_id: str | None = Field(default=None, max_length=20)
    plan: Plan = Plan.STARTER


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    legal_name: str
    display_name: str
    legal_form: LegalForm
    vertical: Vertical
    country: str
    vat_id: str | None
    plan: Plan
    status: TenantStatus
    locale: str
    timezone: str
    currency: str
    created_at: datetime
    updated_at: datetime


# -- locations ---------------------------------------------------------------------------


@router.post(
    "/locations",
    status_code=201,
    response_model=LocationOut,
    tags=["locations"],
    summary="Create a location",
)
def post_location(
    body: LocationIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        loc = create_location(uow, ctx.principal, **body.model_dump())
        return Written(201, LocationOut.model_validate(loc), "location", loc.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/locations/{location_id}",
    response_model=LocationOut,
    tags=["locations"],
    summary="Get a location",
)
async def get_location(location_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "location", LocationOut, location_id)


@router.get(
    "/locations", response_model=Page[LocationOut], tags=["locations"], summary="List locations"
)
async def list_locations(
    ctx: CtxDep,
    vertical: Annotated[Vertical | None, Query()] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"vertical": vertical, "city": city}
    return await list_page(ctx, "location", LocationOut, filters, cursor, limit)


# -- users and memberships ---------------------------------------------------------------


@router.get("/users", response_model=Page[UserOut], tags=["users"], summary="List member users")
def get_users(ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50) -> Response:
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        rows = list_users(uow, ctx.principal, after=after, limit=limit + 1)
        items = [UserOut.model_validate(u) for u in rows]
    return json_response(page_of(items, [u.id for u in rows], limit))


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"], summary="Get a user")
def get_user_by_id(user_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = UserOut.model_validate(get_user(uow, ctx.principal, user_id))
    return tagged(body)


def _memberships(uow: UnitOfWork, rows: list[Membership]) -> list[MembershipOut]:
    scopes = membership_scope(uow, [m.id for m in rows])
    return [
        MembershipOut(
            id=m.id,
            user_id=m.user_id,
            role=m.role,
            is_active=m.is_active,
            location_ids=scopes.get(m.id),
            created_at=m.created_at,
            updated_at=m.updated_at,
        )
        for m in rows
    ]


def _render_membership(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    return _memberships(uow, [get_record(uow, principal, KINDS["membership"], id_)])[0]


@router.post(
    "/memberships",
    status_code=201,
    response_model=MembershipOut,
    tags=["memberships"],
    summary="Add a member (creating the user if new)",
)
def post_membership(
    body: MembershipIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    ctx.principal.require(Action.MANAGE_MEMBERS)
    if ctx.principal.location_ids is not None:
        # A member limited to locations can only grant access within its own scope.
        if not body.location_ids:
            raise PermissionDeniedError("a principal limited to locations cannot grant all")
        for location_id in body.location_ids:
            ctx.principal.require_location(location_id, "location")

    def run(uow: UnitOfWork) -> Written:
        m = grant_membership(
            uow,
            tenant_id=ctx.caller.tenant_id,
            email=body.email,
            role=body.role,
            display_name=body.display_name,
            location_ids=body.location_ids,
        )
        return Written(201, _memberships(uow, [m])[0], "membership", m.id)

    return write(ctx, request, body, idempotency_key, run, platform=True)


@router.get(
    "/memberships/{membership_id}",
    response_model=MembershipOut,
    tags=["memberships"],
    summary="Get a membership",
)
def get_membership(membership_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = _render_membership(uow, ctx.principal, membership_id)
    return tagged(body)


@router.get(
    "/memberships",
    response_model=Page[MembershipOut],
    tags=["memberships"],
    summary="List memberships",
)
def list_memberships(
    ctx: CtxDep,
    role: Annotated[MembershipRole | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    after = decode_cursor(cursor)
    filters = {"role": role}
    with ctx.read() as uow:
        rows = list(
            list_records(
                uow, ctx.principal, KINDS["membership"], where=filters, after=after, limit=limit + 1
            )
        )
        items = _memberships(uow, rows)
    return json_response(page_of(items, [m.id for m in rows], limit))


# -- tenants -----------------------------------------------------------------------------


def _render_tenant(uow: UnitOfWork, _principal: Principal, id_: uuid.UUID) -> BaseModel:
    return TenantOut.model_validate(uow.repos.tenants.get(id_))


@router.post(
    "/tenants",
    status_code=201,
    response_model=TenantOut,
    tags=["tenants"],
    summary="Create a tenant (platform administrators)",
)
def post_tenant(
    body: TenantIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    ctx.require_platform_admin()

    def run(uow: UnitOfWork) -> Written:
        t = create_tenant(uow, **body.model_dump())
        return Written(201, TenantOut.model_validate(t), "tenant", t.id)

    return write(ctx, request, body, idempotency_key, run, platform=True)


@router.get(
    "/tenants/{tenant_id}", response_model=TenantOut, tags=["tenants"], summary="Get a tenant"
)
def get_tenant(tenant_id: uuid.UUID, ctx: CtxDep) -> Response:
    ctx.principal.require(Action.READ)
    if not ctx.caller.platform_admin and tenant_id != ctx.caller.tenant_id:
        raise NotFoundError("tenant not found")
    with ctx.read(platform=ctx.caller.platform_admin) as uow:
        body = TenantOut.model_validate(uow.repos.tenants.get(tenant_id))
    return tagged(body)


@router.get(
    "/tenants",
    response_model=Page[TenantOut],
    tags=["tenants"],
    summary="List tenants (all for platform administrators, else the own one)",
)
def get_tenants(ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50) -> Response:
    ctx.principal.require(Action.READ)
    after = decode_cursor(cursor)
    if not ctx.caller.platform_admin:
        with ctx.read() as uow:
            own = uow.repos.tenants.current()
            rows: list[Tenant] = [own] if after is None or own.id > after else []
    else:
        with ctx.read(platform=True) as uow:
            rows = list(list_tenants(uow, after=after, limit=limit + 1))
    items = [TenantOut.model_validate(t) for t in rows]
    return json_response(page_of(items, [t.id for t in rows], limit))


RENDERERS = {
    "location": renderer("location", LocationOut),
    "membership": _render_membership,
    "tenant": _render_tenant,
}
