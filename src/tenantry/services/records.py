"""The record specifications: who may read a record of each kind, and how a read is built.

A `RecordKind` is the one statement of the rules for reading a kind of record: the permission
it needs, its tenant, the soft-delete rule, how a location scope applies to it (directly by
`location_id`, through a parent such as a payment's booking or a vehicle's owner, or not at
all for records of the tenant as a whole), which columns it may be filtered on (never a
sealed one) and its keyset order (by id: UUIDv7, creation order). A record outside the scope
is reported as not found, like a record of another tenant.

Both read paths are built from it by `RecordKind.select`: the ORM reads here (`get_record`,
`list_records`, inside a unit of work) with values, and the compiled reads of
`tenantry.services.reads` (the API's hot path, on the event loop) with bind parameters. So the
two cannot disagree on who sees what; `tests/integration/test_reads.py` compares them.
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
    Coupon,
    Customer,
    DsarRequest,
    Escalation,
    Evidence,
    Invoice,
    Lead,
    Location,
    Membership,
    MembershipLocation,
    Payment,
    Recommendation,
    Resource,
    Review,
    Service,
    Thread,
    Vehicle,
    VisibilityCheck,
)
from tenantry.models.base import TenantOwned
from tenantry.services.principal import Action, Principal

__all__ = ["KINDS", "SCOPE_TYPE", "RecordKind", "get_record", "list_records", "select_records"]

M = TypeVar("M", bound=TenantOwned)
# A scope clause is built around a bind parameter holding the principal's location ids (a
# uuid[]), so a statement's text does not depend on how many locations the scope has.
ScopeClause = Callable[[Any], Any]
SCOPE_TYPE = postgresql.ARRAY(sa.Uuid())


@dataclass(frozen=True)
class RecordKind(Generic[M]):
    """A kind of record: its model, display name, permission and how a location scope applies."""

    name: str
    model: type[M]
    scope: ScopeClause | None = None
    action: Action = Action.READ
    noun: str | None = None  # in messages, when not the name

    @property
    def label(self) -> str:
        return self.noun or self.name.replace("_", " ")

    @property
    def table(self) -> sa.Table:
        return self.model.__table__  # type: ignore[attr-defined, no-any-return]

    @property
    def joins_subject_key(self) -> bool:
        """Whether its sealed columns open under the row's data subject's key."""
        table = self.table
        return "subject_id" in table.c and any(c.info.get("sealed") for c in table.columns)

    def authorise(self, principal: Principal) -> None:
        principal.require(self.action)

    def scoped(self, principal: Principal) -> bool:
        """Whether the principal's location scope narrows this kind."""
        return principal.location_ids is not None and self.scope is not None

    def select(
        self,
        stmt: sa.Select[Any],
        *,
        tenant: Any,
        scope: Any = None,
        id_: Any = None,
        equal: Mapping[str, Any] | None = None,
        after: Any = None,
        limit: int | None = None,
    ) -> sa.Select[Any]:
        """`stmt` narrowed to what one read returns: the tenant's records that are not
        soft-deleted, in `scope` (location ids, a uuid[]) if given, the one with `id_`, equal to
        the `equal` values, after the cursor; with a `limit`, a page in id order.

        Values or bind parameters alike: the ORM reads pass values, the compiled reads
        parameters.
        """
        table = self.table
        stmt = stmt.where(table.c.tenant_id == tenant)
        if "deleted_at" in table.c:
            stmt = stmt.where(table.c.deleted_at.is_(None))
        if scope is not None:
            if self.scope is None:
                raise ValueError(f"{self.name} has no location scope")
            stmt = stmt.where(self.scope(scope))
        if id_ is not None:
            stmt = stmt.where(table.c.id == id_)
        for name, value in (equal or {}).items():
            column = table.c[name]
            if column.info.get("sealed"):
                raise ValueError(f"{table.fullname}.{name} is sealed and cannot be filtered on")
            stmt = stmt.where(column == value)
        if after is not None:
            stmt = stmt.where(table.c.id > after)
        if limit is not None:
            if limit < 1:
                raise ValueError("a list needs a positive limit")
            stmt = stmt.order_by(table.c.id).limit(page_limit(limit))
        return stmt


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


def _invoice_via_booking(ids: Any) -> Any:
    sub = sa.select(Booking.id).where(
        Booking.tenant_id == Invoice.tenant_id, Booking.location_id == sa.any_(ids)
    )
    return Invoice.booking_id.in_(sub)


def _coupon_via_booking(ids: Any) -> Any:
    sub = sa.select(Booking.id).where(
        Booking.tenant_id == Coupon.tenant_id, Booking.location_id == sa.any_(ids)
    )
    return Coupon.booking_id.in_(sub)


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
        RecordKind("resource", Resource, _direct(Resource)),
        RecordKind("dsar", DsarRequest, action=Action.PRIVACY, noun="data-subject request"),
        RecordKind("thread", Thread, _direct(Thread)),
        RecordKind("escalation", Escalation, _direct(Escalation)),
        RecordKind("invoice", Invoice, _invoice_via_booking),
        RecordKind("coupon", Coupon, _coupon_via_booking),
    )
}


def _scope(principal: Principal, kind: RecordKind[Any]) -> Any:
    if not kind.scoped(principal):
        return None
    return sa.bindparam("scope", sorted(principal.location_ids or ()), type_=SCOPE_TYPE)


def get_record(
    uow: UnitOfWork,
    principal: Principal,
    kind: RecordKind[M],
    id_: uuid.UUID,
    *,
    for_update: bool = False,
) -> M:
    """The record with this id in the tenant and the principal's scope, or `NotFoundError`."""
    kind.authorise(principal)
    stmt = kind.select(
        sa.select(kind.model), tenant=uow.require_tenant(), scope=_scope(principal, kind), id_=id_
    )
    if for_update:
        stmt = stmt.with_for_update()
    obj: M | None = uow.session.scalars(stmt).one_or_none()
    if obj is None:
        raise NotFoundError(f"{kind.label} not found")
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
    kind.authorise(principal)
    stmt = kind.select(
        sa.select(kind.model).where(*clauses),
        tenant=uow.require_tenant(),
        scope=_scope(principal, kind),
        equal={k: v for k, v in (where or {}).items() if v is not None},
        after=after,
        limit=limit,
    )
    rows: Sequence[M] = uow.session.scalars(stmt).all()
    return rows


def select_records(
    uow: UnitOfWork,
    principal: Principal,
    kind: RecordKind[M],
    *clauses: Any,
    where: Mapping[str, Any] | None = None,
) -> sa.Select[tuple[M]]:
    """The records a principal may read, filtered like `list_records`, without an order or a
    limit: for lists in an order other than by id (the caller adds both)."""
    kind.authorise(principal)
    return kind.select(
        sa.select(kind.model).where(*clauses),
        tenant=uow.require_tenant(),
        scope=_scope(principal, kind),
        equal={k: v for k, v in (where or {}).items() if v is not None},
    )
