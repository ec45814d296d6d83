"""PATCH and DELETE of `/v1/customers`, `/v1/vehicles` and `/v1/leads` (soft deletes).

A new e-mail or phone is resealed and becomes the data subject's lookup value; a new plate
moves its blind index (`tenantry.services.edits`). A lead's status and score move only by
their actions.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from tenantry.api.deps import CtxDep
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    Boolean,
    Cents,
    Email,
    IdempotencyKey,
    IfMatch,
    Integer,
    NoContent,
    Number,
    Patch,
    deleted,
    edited,
    matching,
    write,
)
from tenantry.api.resources.crm import CustomerOut, VehicleOut
from tenantry.api.resources.leads import LeadOut
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models.enums import Channel, FuelType, LeadSource, Persona
from tenantry.services import edits

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class CustomerPatch(Patch):
    __read_only__ = (*Patch.__read_only__, "first_seen_at", "subject_id", "deleted_at")
    __not_null__ = ("country", "language", "tags")

    home_location_id: uuid.UUID | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    company_name: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=40)
    street: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    language: str | None = Field(default=None, max_length=10)
    preferred_channel: Channel | None = None
    source: LeadSource | None = None
    notes: str | None = Field(default=None, max_length=5000)
    tags: list[Annotated[str, Field(max_length=60)]] | None = Field(default=None, max_length=50)


class VehiclePatch(Patch):
    __read_only__ = (*Patch.__read_only__, "subject_id", "deleted_at")
    __not_null__ = ("customer_id", "make", "model", "is_active")

    customer_id: uuid.UUID | None = None
    make: str | None = Field(default=None, min_length=1, max_length=60)
    model: str | None = Field(default=None, min_length=1, max_length=60)
    model_year: Integer | None = Field(default=None, ge=1900, le=2100)
    fuel_type: FuelType | None = None
    license_plate: str | None = Field(default=None, max_length=20)
    vin: str | None = Field(default=None, min_length=17, max_length=17)
    mileage_km: Integer | None = Field(default=None, ge=0, le=2_000_000_000)
    tuv_due_on: date | None = None
    last_service_on: date | None = None
    is_active: Boolean | None = None


@router.patch(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    tags=["customers"],
    summary="Change a customer's fields",
)
def patch_customer(
    customer_id: uuid.UUID,
    body: CustomerPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, CustomerOut.model_validate)
        c = edits.update_customer(uow, ctx.principal, customer_id, body.changes(), check)
        return Written(200, CustomerOut.model_validate(c), "customer", c.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/customers/{customer_id}",
    status_code=204,
    response_class=Response,
    tags=["customers"],
    summary="Delete a customer (soft)",
)
def delete_customer(
    customer_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, CustomerOut.model_validate)
        edits.delete_customer(uow, ctx.principal, customer_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


@router.patch(
    "/vehicles/{vehicle_id}",
    response_model=VehicleOut,
    tags=["vehicles"],
    summary="Change a vehicle's fields",
)
def patch_vehicle(
    vehicle_id: uuid.UUID,
    body: VehiclePatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, VehicleOut.model_validate)
        v = edits.update_vehicle(uow, ctx.principal, vehicle_id, body.changes(), check)
        return Written(200, VehicleOut.model_validate(v), "vehicle", v.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/vehicles/{vehicle_id}",
    status_code=204,
    response_class=Response,
    tags=["vehicles"],
    summary="Delete a vehicle (soft)",
)
def delete_vehicle(
    vehicle_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, VehicleOut.model_validate)
        edits.delete_vehicle(uow, ctx.principal, vehicle_id, check)
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


class LeadPatch(Patch):
    """Contact, interest and attribution; status and score move by their actions."""

    __read_only__ = (
        *Patch.__read_only__,
        "status",
        "score",
        "customer_id",
        "source",
        "lost_reason",
        "contacted_at",
        "qualified_at",
        "converted_at",
        "lost_at",
        "deleted_at",
    )
    __not_null__ = ("location_id",)

    location_id: uuid.UUID | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=40)
    message: str | None = Field(default=None, max_length=5000)
    interest: str | None = Field(default=None, max_length=120)
    persona: Persona | None = None
    estimated_value_cents: Cents | None = None
    utm_source: str | None = Field(default=None, max_length=100)
    utm_medium: str | None = Field(default=None, max_length=100)
    utm_campaign: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, min_length=1, max_length=60)
    latitude: Number | None = Field(default=None, ge=-90, le=90)
    longitude: Number | None = Field(default=None, ge=-180, le=180)


@router.patch(
    "/leads/{lead_id}", response_model=LeadOut, tags=["leads"], summary="Change a lead's fields"
)
def patch_lead(
    lead_id: uuid.UUID,
    body: LeadPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        check = matching(if_match, LeadOut.model_validate)
        lead = edits.update_lead(uow, ctx.principal, lead_id, body.changes(), check)
        return Written(200, LeadOut.model_validate(lead), "lead", lead.id)

    return edited(write(ctx, request, body, idempotency_key, run))


@router.delete(
    "/leads/{lead_id}",
    status_code=204,
    response_class=Response,
    tags=["leads"],
    summary="Delete a lead (soft)",
)
def delete_lead(
    lead_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        edits.delete_lead(uow, ctx.principal, lead_id, matching(if_match, LeadOut.model_validate))
        return Written(204, NoContent())

    return deleted(write(ctx, request, None, idempotency_key, run))


RENDERERS: dict[str, Any] = {}
