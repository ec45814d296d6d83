"""`/v1/customers` and `/v1/vehicles`: the tenant's end customers and their vehicles."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import Field

from tenantry.api.deps import CtxDep, Cursor, Limit, Page
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import (
    ERRORS,
    Email,
    IdempotencyKey,
    In,
    Integer,
    Out,
    get_one,
    list_page,
    renderer,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models.enums import Channel, FuelType, LeadSource
from tenantry.services.resources import create_customer, create_vehicle

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


class CustomerIn(In):
    home_location_id: uuid.UUID | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    company_name: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=40)
    street: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    language: str = Field(default="de", max_length=10)
    preferred_channel: Channel | None = None
    source: LeadSource | None = None
    notes: str | None = Field(default=None, max_length=5000)
    tags: list[Annotated[str, Field(max_length=60)]] = Field(default_factory=list, max_length=50)


class CustomerOut(Out):
    home_location_id: uuid.UUID | None
    first_name: str | None
    last_name: str | None
    company_name: str | None
    email: str | None
    phone: str | None
    street: str | None
    postal_code: str | None
    city: str | None
    country: str
    language: str
    preferred_channel: Channel | None
    source: LeadSource | None
    notes: str | None
    tags: list[str]
    first_seen_at: datetime | None


class VehicleIn(In):
    customer_id: uuid.UUID
    make: str = Field(min_length=1, max_length=60)
    model: str = Field(min_length=1, max_length=60)
    model_year: Integer | None = Field(default=None, ge=1900, le=2100)
    fuel_type: FuelType | None = None
    license_plate: str | None = Field(default=None, max_length=20)
    vin: str | None = Field(default=None, min_length=17, max_length=17)
    mileage_km: Integer | None = Field(default=None, ge=0, le=2_000_000_000)
    tuv_due_on: date | None = None
    last_service_on: date | None = None


class VehicleOut(Out):
    customer_id: uuid.UUID
    make: str
    model: str
    model_year: int | None
    fuel_type: FuelType | None
    license_plate: str | None
    vin: str | None
    mileage_km: int | None
    tuv_due_on: date | None
    last_service_on: date | None
    is_active: bool


@router.post(
    "/customers",
    status_code=201,
    response_model=CustomerOut,
    tags=["customers"],
    summary="Create a customer",
)
def post_customer(
    body: CustomerIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        c = create_customer(uow, ctx.principal, **body.model_dump())
        return Written(201, CustomerOut.model_validate(c), "customer", c.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    tags=["customers"],
    summary="Get a customer",
)
async def get_customer(customer_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "customer", CustomerOut, customer_id)


@router.get(
    "/customers", response_model=Page[CustomerOut], tags=["customers"], summary="List customers"
)
async def list_customers(
    ctx: CtxDep,
    home_location_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"home_location_id": home_location_id}
    return await list_page(ctx, "customer", CustomerOut, filters, cursor, limit)


@router.post(
    "/vehicles",
    status_code=201,
    response_model=VehicleOut,
    tags=["vehicles"],
    summary="Register a customer's vehicle",
)
def post_vehicle(
    body: VehicleIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        v = create_vehicle(uow, ctx.principal, **body.model_dump())
        return Written(201, VehicleOut.model_validate(v), "vehicle", v.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/vehicles/{vehicle_id}", response_model=VehicleOut, tags=["vehicles"], summary="Get a vehicle"
)
async def get_vehicle(vehicle_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "vehicle", VehicleOut, vehicle_id)


@router.get(
    "/vehicles", response_model=Page[VehicleOut], tags=["vehicles"], summary="List vehicles"
)
async def list_vehicles(
    ctx: CtxDep,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"customer_id": customer_id}
    return await list_page(ctx, "vehicle", VehicleOut, filters, cursor, limit)


RENDERERS = {
    "customer": renderer("customer", CustomerOut),
    "vehicle": renderer("vehicle", VehicleOut),
}
