"""Reading tenant records within the principal's scope: one get and one keyset list for all.

Each kind of record declares how a location scope applies to it: directly (`location_id`),
through a parent (a payment through its booking, a vehicle through its customer's home
location) or not at all (records of the tenant as a whole). A record outside the scope is
reported as not found, like a record of another tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tenantry.db.paging import page_limit
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError
from tenantry.models import (
    Booking,
    Connection,
    Customer,
    Evidence,
    Lead,
    Location,
    Membership,
    MembershipLocation,
    Payment,
    Recommendation,
    Review,
    Service,
    Vehicle,
    VisibilityCheck,
)
from tenantry.models.base import TenantOwned
from tenantry.services.principal import Action, Principal

__all__ = ["KINDS", "SCOPE_TYPE", "RecordKind", "get_record", "list_records"]

M = TypeVar("M", bound=TenantOwned)
# A scope clause is built around a bind parameter holding the principal's location ids (a
# uuid[]), so a statement's text does not depend on how many locations the scope has.
ScopeClause = Callable[[Any], Any]
SCOPE_TYPE = postgresql.ARRAY(sa.Uuid())


@dataclass(frozen=True)
class RecordKind(Generic[M]):
    """A kind of record: its model, display name and how a location scope filters it."""

    name: str
    model: type[M]
    scope: ScopeClause | None = None


def _direct(model: Any, column: str = "location_id") -> ScopeClause:
    return lambda ids: getattr(model, column) == sa.any_(ids)


def _via_booking(ids: Any) -> Any:
    sub = sa.select(Booking.id).where(
        Booking.tenant_id == Payment.tenant_id, Booking.location_id == sa.any_(ids)
    )
    return Payment.booking_id.in_(sub)


def _via_customer(ids: Any) -> Any:
    sub = sa.select(Customer.id).where(
        Customer.tenant_id == Vehicle.tenant_id, Customer.home_location_id == sa.any_(ids)
    )
    return Vehicle.customer_id.in_(sub)


def _member_in_scope(ids: Any) -> Any:
    sub = sa.select(MembershipLocation.membership_id).where(
        MembershipLocation.tenant_id == Membership.tenant_id,
        MembershipLocation.location_id == sa.any_(ids),
    )
    return Membership.id.in_(sub)


KINDS: dict[str, RecordKind[Any]] = {
    k.name: k
    for k in (
        RecordKind("lead", Lead, _direct(Lead)),
        RecordKind("customer", Customer, _direct(Customer, "home_location_id")),
        RecordKind("vehicle", Vehicle, _via_customer),
        RecordKind("location", Location, _direct(Location, "id")),
        RecordKind("service", Service, _direct(Service)),
        RecordKind("booking", Booking, _direct(Booking)),
        RecordKind("payment", Payment, _via_booking),
        RecordKind("review", Review, _direct(Review)),
        RecordKind("membership", Membership, _member_in_scope),
        RecordKind("connection", Connection, _direct(Connection)),
        RecordKind("visibility_check", VisibilityCheck, _direct(VisibilityCheck)),
        RecordKind("evidence", Evidence, _direct(Evidence)),
        RecordKind("recommendation", Recommendation, _direct(Recommendation)),
    )
}


def _base(uow: UnitOfWork, principal: Principal, kind: RecordKind[M]) -> sa.Select[Any]:
    principal.require(Action.READ)
    model = kind.model
    stmt = sa.select(model).where(model.tenant_id == uow.require_tenant())
    if hasattr(model, "deleted_at"):
        stmt = stmt.where(model.deleted_at.is_(None))  # type: ignore[attr-defined]
    if principal.location_ids is not None and kind.scope is not None:
        ids = sa.bindparam("scope", sorted(principal.location_ids), type_=SCOPE_TYPE)
        stmt = stmt.where(kind.scope(ids))
    return stmt


def get_record(
    uow: UnitOfWork,
    principal: Principal,
    kind: RecordKind[M],
    id_: uuid.UUID,
    *,
    for_update: bool = False,
) -> M:
    """The record with this id in the tenant and the principal's scope, or `NotFoundError`."""
    stmt = _base(uow, principal, kind).where(kind.model.id == id_)
    if for_update:
        stmt = stmt.with_for_update()
    obj: M | None = uow.session.scalars(stmt).one_or_none()
    if obj is None:
        raise NotFoundError(f"{kind.name.replace('_', ' ')} not found")
    return obj


def list_records(
    uow: UnitOfWork,
    principal: Principal,
    kind: RecordKind[M],
    *clauses: Any,
    where: Mapping[str, Any] | None = None,
    after: uuid.UUID | None = None,
    limit: int = 50,
) -> Sequence[M]:
    """Up to `limit` records ordered by id (UUIDv7: creation order), after a cursor.

    `where` filters by equality on columns (None values are ignored), `clauses` by anything.
    """
    table: Any = kind.model.__table__  # type: ignore[attr-defined]
    equal = [table.c[k] == v for k, v in (where or {}).items() if v is not None]
    stmt = _base(uow, principal, kind).where(*clauses, *equal)
    if after is not None:
        stmt = stmt.where(kind.model.id > after)
    rows: Sequence[M] = uow.session.scalars(
        stmt.order_by(kind.model.id).limit(page_limit(limit))
    ).all()
    return rows
