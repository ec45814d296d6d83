"""Bookable resources of a location and what a service needs of them.

Owns `scheduling.resources` (create, change, soft delete) and `scheduling.service_requirements`
with the service's buffers (`commerce.services.buffer_*_minutes`). A requirement is a quantity
of a kind (any free staff member, any free lift) or one named resource. Must not reserve.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, ValidationError
from tenantry.models import Reservation, Resource, Service, ServiceRequirement
from tenantry.models.enums import ResourceKind
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record, list_records

__all__ = [
    "Need",
    "Plan",
    "check_move",
    "create_resource",
    "delete_resource",
    "get_requirements",
    "list_resources",
    "needs_of",
    "service_at",
    "set_requirements",
    "update_resource",
]

_CHANGEABLE = frozenset({"name", "kind", "is_active"})


@dataclass(frozen=True)
class Need:
    """`quantity` resources of `kind`, or the one resource `resource_id`."""

    kind: ResourceKind | None = None
    resource_id: uuid.UUID | None = None
    quantity: int = 1


def create_resource(
    uow: UnitOfWork,
    principal: Principal,
    *,
    location_id: uuid.UUID,
    kind: ResourceKind,
    name: str,
    is_active: bool = True,
) -> Resource:
    principal.require(Action.MANAGE_LOCATIONS)
    get_record(uow, principal, KINDS["location"], location_id)
    now = uow.clock.now()
    resource = Resource(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        location_id=location_id,
        kind=kind,
        name=name,
        is_active=is_active,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(resource)
    uow.flush()
    return resource


def _for_change(uow: UnitOfWork, principal: Principal, resource_id: uuid.UUID) -> Resource:
    principal.require(Action.MANAGE_LOCATIONS)
    resource: Resource = get_record(uow, principal, KINDS["resource"], resource_id, for_update=True)
    return resource


def update_resource(
    uow: UnitOfWork,
    principal: Principal,
    resource_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    precondition: Callable[[Resource], None] | None = None,
) -> Resource:
    """Change a resource; `precondition` (an `If-Match`) sees the locked row first."""
    unknown = sorted(set(changes) - _CHANGEABLE)
    if unknown:
        raise ValidationError(f"field(s) cannot be changed: {', '.join(unknown)}")
    resource = _for_change(uow, principal, resource_id)
    if precondition is not None:
        precondition(resource)
    if not changes:  # an empty PATCH writes nothing (as `services.edits.apply_changes`)
        return resource
    for name, value in changes.items():
        setattr(resource, name, value)
    resource.updated_at = uow.clock.now()
    uow.flush()
    return resource


def delete_resource(
    uow: UnitOfWork,
    principal: Principal,
    resource_id: uuid.UUID,
    *,
    precondition: Callable[[Resource], None] | None = None,
) -> Resource:
    """Soft delete; refused while the resource holds reservations from now on, or while a
    service's requirements name it. `precondition` sees the locked row first."""
    resource = _for_change(uow, principal, resource_id)
    if precondition is not None:
        precondition(resource)
    now = uow.clock.now()
    held = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Reservation)
        .where(
            Reservation.tenant_id == resource.tenant_id,
            Reservation.resource_id == resource.id,
            Reservation.ends_at > now,
        )
    )
    if held:
        raise ConflictError("the resource still holds reservations; cancel or move them first")
    # A service that needs this very resource could never be booked again.
    needed_by = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(ServiceRequirement)
        .join(
            Service,
            sa.and_(
                Service.tenant_id == ServiceRequirement.tenant_id,
                Service.id == ServiceRequirement.service_id,
            ),
        )
        .where(
            ServiceRequirement.tenant_id == resource.tenant_id,
            ServiceRequirement.resource_id == resource.id,
            Service.deleted_at.is_(None),
        )
    )
    if needed_by:
        raise ConflictError(
            f"{needed_by} service(s) need this resource by name; change their requirements first"
        )
    resource.deleted_at = now
    resource.updated_at = now
    uow.flush()
    return resource


def list_resources(
    uow: UnitOfWork,
    principal: Principal,
    *,
    location_id: uuid.UUID | None = None,
    kind: ResourceKind | None = None,
    limit: int = 200,
) -> Sequence[Resource]:
    where = {"location_id": location_id, "kind": kind}
    return list_records(uow, principal, KINDS["resource"], where=where, limit=limit)


def _service(uow: UnitOfWork, principal: Principal, service_id: uuid.UUID) -> Service:
    service: Service = get_record(uow, principal, KINDS["service"], service_id)
    return service


def service_at(
    uow: UnitOfWork, principal: Principal, service_id: uuid.UUID, location_id: uuid.UUID
) -> Service:
    """A service in the principal's scope that is offered at `location_id` (or everywhere).

    Searching for slots and booking apply the same rule: a service of one location is not
    bookable at another, nor visible to a principal limited to other locations.
    """
    service = _service(uow, principal, service_id)
    if service.location_id is not None and service.location_id != location_id:
        raise ValidationError("the service is offered at another location")
    return service


def check_move(uow: UnitOfWork, service: Service, location_id: uuid.UUID | None) -> None:
    """Refuse to move a service to `location_id` while its requirements name a resource of
    another location (as `set_requirements` refuses to name one): it could never be booked."""
    if location_id is None or location_id == service.location_id:
        return
    elsewhere = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(ServiceRequirement)
        .join(
            Resource,
            sa.and_(
                Resource.tenant_id == ServiceRequirement.tenant_id,
                Resource.id == ServiceRequirement.resource_id,
            ),
        )
        .where(
            ServiceRequirement.tenant_id == service.tenant_id,
            ServiceRequirement.service_id == service.id,
            Resource.location_id != location_id,
        )
    )
    if elsewhere:
        raise ConflictError(
            "the service's requirements name a resource of another location;"
            " change them before moving the service"
        )


def get_requirements(
    uow: UnitOfWork, principal: Principal, service_id: uuid.UUID
) -> tuple[Service, list[ServiceRequirement]]:
    service = _service(uow, principal, service_id)
    rows = uow.session.scalars(
        sa.select(ServiceRequirement)
        .where(
            ServiceRequirement.tenant_id == service.tenant_id,
            ServiceRequirement.service_id == service.id,
        )
        .order_by(ServiceRequirement.id)
    )
    return service, list(rows)


def set_requirements(
    uow: UnitOfWork,
    principal: Principal,
    service_id: uuid.UUID,
    *,
    needs: Sequence[Need],
    buffer_before_minutes: int = 0,
    buffer_after_minutes: int = 0,
    precondition: Callable[[], None] | None = None,
) -> tuple[Service, list[ServiceRequirement]]:
    """Replace what a booking of the service holds, and its buffers.

    The service's row is locked first, so concurrent replacements follow one another (rather
    than both inserting theirs); `precondition` (an `If-Match`) then sees what stands.
    """
    principal.require(Action.MANAGE_LOCATIONS)
    service: Service = get_record(uow, principal, KINDS["service"], service_id)
    uow.session.execute(
        sa.select(Service.id)
        .where(Service.tenant_id == service.tenant_id, Service.id == service.id)
        .with_for_update(key_share=True)
    )
    if precondition is not None:
        precondition()
    tenant = service.tenant_id
    kinds = [n.kind for n in needs if n.kind is not None]
    if len(kinds) != len(set(kinds)):
        raise ValidationError("name each resource kind once (with its quantity)")
    for need in needs:
        if (need.kind is None) == (need.resource_id is None):
            raise ValidationError("a requirement names a resource kind or one resource")
        if need.resource_id is not None:
            resource = get_record(uow, principal, KINDS["resource"], need.resource_id)
            if service.location_id is not None and resource.location_id != service.location_id:
                raise ValidationError("the resource belongs to another location")
    uow.session.execute(
        sa.delete(ServiceRequirement).where(
            ServiceRequirement.tenant_id == tenant, ServiceRequirement.service_id == service.id
        )
    )
    now = uow.clock.now()
    for need in needs:
        uow.session.add(
            ServiceRequirement(
                tenant_id=tenant,
                id=uow.ids(),
                service_id=service.id,
                resource_kind=need.kind,
                resource_id=need.resource_id,
                quantity=need.quantity if need.resource_id is None else 1,
                created_at=now,
                updated_at=now,
            )
        )
    service.buffer_before_minutes = buffer_before_minutes
    service.buffer_after_minutes = buffer_after_minutes
    service.updated_at = now
    uow.flush()
    return get_requirements(uow, principal, service_id)


@dataclass(frozen=True)
class Plan:
    """What a booking of some services needs: duration, buffers and resources."""

    duration_minutes: int | None
    buffer_before_minutes: int
    buffer_after_minutes: int
    needs: tuple[Need, ...]


def needs_of(uow: UnitOfWork, service_ids: Sequence[uuid.UUID]) -> Plan:
    """The combined needs of a booking's services: durations add up, buffers and quantities of
    a kind take the largest, named resources are all held."""
    tenant = uow.require_tenant()
    ids = sorted(set(service_ids))
    if not ids:
        return Plan(None, 0, 0, ())
    services = list(
        uow.session.execute(
            sa.select(
                Service.id,
                Service.duration_minutes,
                Service.buffer_before_minutes,
                Service.buffer_after_minutes,
            ).where(Service.tenant_id == tenant, Service.id.in_(ids))
        )
    )
    rows = uow.session.execute(
        sa.select(
            ServiceRequirement.resource_kind,
            ServiceRequirement.resource_id,
            ServiceRequirement.quantity,
        ).where(ServiceRequirement.tenant_id == tenant, ServiceRequirement.service_id.in_(ids))
    )
    by_kind: dict[ResourceKind, int] = {}
    named: set[uuid.UUID] = set()
    for kind, resource_id, quantity in rows:
        if resource_id is not None:
            named.add(resource_id)
        elif kind is not None:
            by_kind[kind] = max(by_kind.get(kind, 0), quantity)
    durations = [s.duration_minutes for s in services if s.duration_minutes]
    needs = [Need(kind=k, quantity=q) for k, q in sorted(by_kind.items())]
    needs += [Need(resource_id=r) for r in sorted(named)]
    return Plan(
        sum(durations) if durations else None,
        max((s.buffer_before_minutes for s in services), default=0),
        max((s.buffer_after_minutes for s in services), default=0),
        tuple(needs),
    )
