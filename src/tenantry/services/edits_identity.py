"""Editing memberships and tenants; removing members; soft-deleting tenants.

A tenant always keeps an active owner: demoting, deactivating or removing the last one is
refused (409), with every owner membership locked first (in one order, by every membership
edit) so two concurrent removals cannot each leave the other as the last. Only an owner
makes or unmakes owners. A member limited to locations manages members only within its
locations and cannot grant all of them.

Tenants are platform objects: their owner or admin edits their details; the plan is changed
and a tenant deleted (soft) only by a platform administrator, which the entrypoint
establishes (a `principal` of None here means the caller is one). Staff accounts (users) are
the platform's, not a tenant's, and are not edited here.

Nothing here commits; the edit shape is `tenantry.services.edits`'.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, NotFoundError, PermissionDeniedError
from tenantry.models import Membership, MembershipLocation, Tenant
from tenantry.models.enums import MembershipRole
from tenantry.services.edits import Precondition, apply_changes, begin_edit
from tenantry.services.principal import Action, Principal

__all__ = [
    "PLATFORM_ONLY",
    "delete_membership",
    "delete_tenant",
    "update_membership",
    "update_tenant",
]

# Tenant fields only a platform administrator changes (billing).
PLATFORM_ONLY = ("plan",)
_OWNER = MembershipRole.OWNER


def _lock_owners(uow: UnitOfWork) -> set[uuid.UUID]:
    """The tenant's active owner memberships, locked in id order until commit.

    Taken before the edited row's own lock, by every membership edit alike, so two concurrent
    removals of owners queue on the same rows in the same order (no deadlock) and the second
    sees what the first left.
    """
    rows = uow.session.scalars(
        sa.select(Membership.id)
        .where(
            Membership.tenant_id == uow.require_tenant(),
            Membership.role == _OWNER,
            Membership.is_active,
        )
        .order_by(Membership.id)
        .with_for_update()
    ).all()
    return set(rows)


def _keeps_an_owner(owners: set[uuid.UUID], membership: Membership, stays_owner: bool) -> None:
    if membership.id in owners and not stays_owner and not owners - {membership.id}:
        raise ConflictError("a tenant keeps at least one active owner")


def _scope(principal: Principal, location_ids: list[uuid.UUID] | None) -> None:
    if principal.location_ids is None:
        return
    if not location_ids:
        raise PermissionDeniedError("a principal limited to locations cannot grant all")
    for location_id in location_ids:
        principal.require_location(location_id, "location")


def update_membership(
    uow: UnitOfWork,
    principal: Principal,
    membership_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Membership:
    """Change a member's role, activity or location scope (`location_ids`: None = all)."""
    principal.require(Action.MANAGE_MEMBERS)
    owners = _lock_owners(uow)
    membership: Membership = begin_edit(
        uow, principal, "membership", membership_id, Action.MANAGE_MEMBERS, precondition
    )
    values = dict(changes)
    role = values.get("role", membership.role)
    if (role is _OWNER) != (membership.role is _OWNER) and principal.role is not _OWNER:
        raise PermissionDeniedError(f"role {principal.role.value} may not make or unmake owners")
    _keeps_an_owner(owners, membership, role is _OWNER and values.get("is_active", True) is True)
    if "location_ids" in values:
        location_ids = values.pop("location_ids")
        _scope(principal, location_ids)
        uow.session.execute(
            sa.delete(MembershipLocation).where(
                MembershipLocation.tenant_id == membership.tenant_id,
                MembershipLocation.membership_id == membership.id,
            )
        )
        uow.repos.memberships.scope_to(membership, frozenset(location_ids or ()))
        values["updated_at"] = uow.clock.now()
    return apply_changes(uow, membership, values)  # type: ignore[no-any-return]


def delete_membership(
    uow: UnitOfWork,
    principal: Principal,
    membership_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    """Remove a member from the tenant (the user's account stays: it is the platform's)."""
    principal.require(Action.MANAGE_MEMBERS)
    owners = _lock_owners(uow)
    membership: Membership = begin_edit(
        uow, principal, "membership", membership_id, Action.MANAGE_MEMBERS, precondition
    )
    if membership.role is _OWNER and principal.role is not _OWNER:
        raise PermissionDeniedError(f"role {principal.role.value} may not remove owners")
    _keeps_an_owner(owners, membership, False)
    uow.session.delete(membership)
    uow.flush()


def _tenant(uow: UnitOfWork, tenant_id: uuid.UUID) -> Tenant:
    tenant = uow.session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None or tenant.deleted_at is not None:
        raise NotFoundError("tenant not found")
    return tenant


def update_tenant(
    uow: UnitOfWork,
    principal: Principal | None,
    tenant_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Tenant:
    """Change a tenant's details: its owner or admin (`principal`), or a platform
    administrator (None: the caller has established that)."""
    if principal is not None:
        principal.require(Action.MANAGE_MEMBERS, "change the tenant's details")
        if tenant_id != principal.tenant_id:
            raise NotFoundError("tenant not found")
        fixed = sorted(k for k in changes if k in PLATFORM_ONLY)
        if fixed:
            raise PermissionDeniedError(
                f"only a platform administrator may change: {', '.join(fixed)}"
            )
    tenant = _tenant(uow, tenant_id)
    if precondition is not None:
        precondition(tenant)
    return apply_changes(uow, tenant, changes)  # type: ignore[no-any-return]


def delete_tenant(
    uow: UnitOfWork, tenant_id: uuid.UUID, precondition: Precondition | None = None
) -> None:
    """Soft delete a tenant (platform administrators; the caller has established that). Its
    data stays until the retention job and erasure remove it."""
    tenant = _tenant(uow, tenant_id)
    if precondition is not None:
        precondition(tenant)
    now = uow.clock.now()
    tenant.deleted_at = now
    tenant.updated_at = now
    uow.flush()
