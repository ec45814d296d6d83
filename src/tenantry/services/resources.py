"""Use cases for the plainer records: customers, vehicles, locations, catalog services,
channel connections, review replies, memberships and the tenant list of a platform admin.

Each checks the principal's role and location scope, stages the row and flushes (so
constraint violations surface as tenantry errors); none commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from tenantry.db.paging import page_limit
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, PermissionDeniedError, ValidationError
from tenantry.models import (
    Connection,
    Customer,
    Location,
    Membership,
    MembershipLocation,
    Review,
    Service,
    Tenant,
    User,
    Vehicle,
)
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = [
    "create_connection",
    "create_customer",
    "create_location",
    "create_service",
    "create_vehicle",
    "get_user",
    "list_tenants",
    "list_users",
    "membership_scope",
    "respond_to_review",
]


def _stamp(uow: UnitOfWork, fields: dict[str, Any]) -> dict[str, Any]:
    now = uow.clock.now()
    return {**fields, "created_at": now, "updated_at": now}


def create_customer(uow: UnitOfWork, principal: Principal, **fields: Any) -> Customer:
    principal.require(Action.WRITE_CRM)
    home = fields.get("home_location_id")
    if principal.location_ids is not None:
        principal.require_location(home, "location")
    customer = uow.repos.customers.add(Customer(**_stamp(uow, fields)))
    uow.flush()
    return customer


def create_vehicle(uow: UnitOfWork, principal: Principal, **fields: Any) -> Vehicle:
    principal.require(Action.WRITE_CRM)
    get_record(uow, principal, KINDS["customer"], fields["customer_id"])
    vehicle = uow.repos.vehicles.add(Vehicle(**_stamp(uow, fields)))
    uow.flush()
    return vehicle


def create_location(uow: UnitOfWork, principal: Principal, **fields: Any) -> Location:
    principal.require(Action.MANAGE_LOCATIONS)
    if principal.location_ids is not None:
        raise PermissionDeniedError("a principal limited to locations cannot create locations")
    location = uow.repos.locations.add(Location(**_stamp(uow, fields)))
    uow.flush()
    return location


def create_service(uow: UnitOfWork, principal: Principal, **fields: Any) -> Service:
    principal.require(Action.MANAGE_LOCATIONS)
    location_id = fields.get("location_id")
    if location_id is not None or principal.location_ids is not None:
        principal.require_location(location_id, "location")
    service = uow.repos.services.add(Service(**_stamp(uow, fields)))
    uow.flush()
    return service


def create_connection(uow: UnitOfWork, principal: Principal, **fields: Any) -> Connection:
    principal.require(Action.MANAGE_LOCATIONS)
    principal.require_location(fields["location_id"], "location")
    connection = Connection(**_stamp(uow, fields))
    connection.tenant_id = uow.require_tenant()
    connection.id = uow.ids()
    uow.session.add(connection)
    uow.flush()
    return connection


def respond_to_review(
    uow: UnitOfWork, principal: Principal, review_id: uuid.UUID, body: str
) -> Review:
    """Publish the business's reply to a review (replacing an earlier reply)."""
    principal.require(Action.WRITE_CRM)
    review: Review = get_record(uow, principal, KINDS["review"], review_id, for_update=True)
    if not body.strip():
        raise ValidationError("a reply needs text")
    review.response_body = body
    review.responded_at = uow.clock.now()
    uow.flush()
    return review


def membership_scope(
    uow: UnitOfWork, membership_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The location scope of each membership (absent: all locations)."""
    ids = list(membership_ids)
    scopes: dict[uuid.UUID, list[uuid.UUID]] = {}
    if not ids:
        return scopes
    rows = uow.session.execute(
        sa.select(MembershipLocation.membership_id, MembershipLocation.location_id)
        .where(
            MembershipLocation.tenant_id == uow.require_tenant(),
            MembershipLocation.membership_id.in_(ids),
        )
        .order_by(MembershipLocation.location_id)
    )
    for membership_id, location_id in rows:
        scopes.setdefault(membership_id, []).append(location_id)
    return scopes


def _member_users(uow: UnitOfWork) -> sa.Select[Any]:
    members = sa.select(Membership.user_id).where(Membership.tenant_id == uow.require_tenant())
    return sa.select(User).where(User.id.in_(members))


def list_users(
    uow: UnitOfWork, principal: Principal, *, after: uuid.UUID | None, limit: int
) -> Sequence[User]:
    """Users who are members of the tenant, by id."""
    principal.require(Action.READ)
    stmt = _member_users(uow)
    if after is not None:
        stmt = stmt.where(User.id > after)
    users: Sequence[User] = uow.session.scalars(
        stmt.order_by(User.id).limit(page_limit(limit))
    ).all()
    return users


def get_user(uow: UnitOfWork, principal: Principal, user_id: uuid.UUID) -> User:
    principal.require(Action.READ)
    user: User | None = uow.session.scalars(
        _member_users(uow).where(User.id == user_id)
    ).one_or_none()
    if user is None:
        raise NotFoundError("user not found")
    return user


def list_tenants(uow: UnitOfWork, *, after: uuid.UUID | None, limit: int) -> Sequence[Tenant]:
    """Every live tenant, by id (platform unit of work)."""
    stmt = sa.select(Tenant).where(Tenant.deleted_at.is_(None))
    if after is not None:
        stmt = stmt.where(Tenant.id > after)
    tenants: Sequence[Tenant] = uow.session.scalars(
        stmt.order_by(Tenant.id).limit(page_limit(limit))
    ).all()
    return tenants
