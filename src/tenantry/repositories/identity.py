"""Repositories of the `identity` schema: the tenant row, locations, memberships."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tenantry.errors import NotFoundError
from tenantry.models import Location, Membership, MembershipLocation, Tenant, User
from tenantry.repositories.base import TenantRepository

if TYPE_CHECKING:
    from tenantry.db.uow import UnitOfWork

__all__ = ["LocationRepository", "MembershipRepository", "TenantRepositoryRoot"]


class TenantRepositoryRoot:
    """The tenant rows. Tenant-bound units of work see only their own."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def add(self, tenant: Tenant) -> Tenant:
        if getattr(tenant, "id", None) is None:
            tenant.id = self.uow.ids()
        self.uow.session.add(tenant)
        return tenant

    def get(self, tenant_id: uuid.UUID) -> Tenant:
        tenant = self.uow.session.get(Tenant, tenant_id)
        if tenant is None or tenant.deleted_at is not None:
            raise NotFoundError("tenant not found", id=str(tenant_id))
        return tenant

    def current(self) -> Tenant:
        return self.get(self.uow.require_tenant())

    def by_slug(self, slug: str) -> Tenant | None:
        return self.uow.session.scalars(sa.select(Tenant).where(Tenant.slug == slug)).one_or_none()

    def all(self) -> list[Tenant]:
        return list(self.uow.session.scalars(sa.select(Tenant).order_by(Tenant.slug)))


class LocationRepository(TenantRepository[Location]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, Location)


class MembershipRepository(TenantRepository[Membership]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, Membership)

    def for_user(self, user_id: uuid.UUID) -> Membership | None:
        stmt = sa.select(Membership).where(
            Membership.tenant_id == self.tenant_id,
            Membership.user_id == user_id,
            Membership.is_active,
        )
        return self.session.scalars(stmt).one_or_none()

    def location_scope(self, membership_id: uuid.UUID) -> frozenset[uuid.UUID] | None:
        """The locations a membership is limited to, or None when it covers all."""
        stmt = sa.select(MembershipLocation.location_id).where(
            MembershipLocation.tenant_id == self.tenant_id,
            MembershipLocation.membership_id == membership_id,
        )
        ids = frozenset(self.session.scalars(stmt))
        return ids or None

    def scope_to(self, membership: Membership, location_ids: frozenset[uuid.UUID]) -> None:
        for location_id in sorted(location_ids):
            self.session.add(
                MembershipLocation(
                    tenant_id=self.tenant_id, membership_id=membership.id, location_id=location_id
                )
            )

    def user(self, user_id: uuid.UUID) -> User:
        user = self.session.get(User, user_id)
        if user is None:
            raise NotFoundError("user not found", id=str(user_id))
        return user
