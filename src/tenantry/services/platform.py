"""Platform use cases that span tenants: creating tenants and users, granting memberships.

They run in a platform unit of work (as `tenantry_owner`); tenant-bound units of work cannot
create tenants or users by design.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, ValidationError
from tenantry.models import Membership, MembershipLocation, Tenant, User
from tenantry.models.enums import LegalForm, MembershipRole, Plan, TenantStatus, Vertical
from tenantry.privacy.crypto import blind_index, normalise_email
from tenantry.privacy.keys import create_tenant_keys
from tenantry.privacy.sealing import FieldSealer
from tenantry.privacy.vault import platform_keys
from tenantry.services.principal import Principal

__all__ = ["create_tenant", "find_user", "grant_membership", "principal_for", "tenant_exists"]


def create_tenant(
    uow: UnitOfWork,
    *,
    slug: str,
    legal_name: str,
    vertical: Vertical,
    legal_form: LegalForm = LegalForm.GMBH,
    display_name: str | None = None,
    country: str = "DE",
    vat_id: str | None = None,
    plan: Plan = Plan.STARTER,
    tenant_id: uuid.UUID | None = None,
) -> Tenant:
    """Register a new business account, with its keys (when the unit of work holds the master
    key: personal data of the tenant can only be written with it anyway)."""
    if uow.repos.tenants.by_slug(slug) is not None:
        raise ConflictError("a tenant with this slug already exists", slug=slug)
    tenant = Tenant(
        id=tenant_id or uow.ids(),
        slug=slug,
        legal_name=legal_name,
        display_name=display_name or legal_name,
        legal_form=legal_form,
        vertical=vertical,
        country=country,
        vat_id=vat_id,
        plan=plan,
        status=TenantStatus.ACTIVE,
    )
    uow.repos.tenants.add(tenant)
    uow.flush()
    if isinstance(uow.sealer, FieldSealer):
        create_tenant_keys(uow, uow.sealer.platform.master, tenant.id)
    return tenant


def tenant_exists(uow: UnitOfWork, tenant_id: uuid.UUID) -> bool:
    """Whether a tenant with this id exists and has not been deleted."""
    stmt = sa.select(Tenant.id).where(Tenant.id == tenant_id, Tenant.deleted_at.is_(None))
    return uow.session.scalar(stmt) is not None


def find_user(uow: UnitOfWork, email: str) -> User | None:
    """The staff account with this e-mail, found by its blind index (the address is sealed)."""
    index = blind_index(platform_keys(uow).field_index_key("email"), normalise_email(email))
    return uow.session.scalars(sa.select(User).where(User.email_bidx == index)).one_or_none()


def grant_membership(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    email: str,
    role: MembershipRole,
    display_name: str | None = None,
    location_ids: Iterable[uuid.UUID] | None = None,
) -> Membership:
    """Create the user if new and make them a member of the tenant with a role and scope."""
    email = normalise_email(email)
    session = uow.session
    user = find_user(uow, email)
    if user is None:
        user = User(id=uow.ids(), email=email, display_name=display_name)
        session.add(user)
        uow.flush()  # no ORM relationship orders these inserts: the user must exist first
    membership = Membership(tenant_id=tenant_id, id=uow.ids(), user_id=user.id, role=role)
    session.add(membership)
    uow.flush()
    for location_id in sorted(set(location_ids or ())):
        session.add(
            MembershipLocation(
                tenant_id=tenant_id, membership_id=membership.id, location_id=location_id
            )
        )
    uow.flush()
    return membership


def principal_for(uow: UnitOfWork, user_id: uuid.UUID) -> Principal:
    """The principal of a user in the unit of work's tenant (from membership and scope)."""
    membership = uow.repos.memberships.for_user(user_id)
    if membership is None:
        raise ValidationError("user is not a member of this tenant")
    return Principal(
        tenant_id=uow.require_tenant(),
        role=membership.role,
        user_id=user_id,
        location_ids=uow.repos.memberships.location_scope(membership.id),
    )
