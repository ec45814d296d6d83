"""Repositories: data access inside a unit of work, scoped to its bound tenant.

Repositories add, fetch and query; they never commit. Tenant scoping is belt and braces: every
query names the bound tenant explicitly (so indexes leading with `tenant_id` are used) and row
level security in PostgreSQL enforces it regardless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.models import Service, Vehicle
from tenantry.repositories.base import TenantRepository
from tenantry.repositories.commerce import BookingRepository, PaymentRepository
from tenantry.repositories.crm import CustomerRepository, LeadRepository
from tenantry.repositories.dashboard import DashboardRepository
from tenantry.repositories.identity import (
    LocationRepository,
    MembershipRepository,
    TenantRepositoryRoot,
)

if TYPE_CHECKING:
    from tenantry.db.uow import UnitOfWork

__all__ = ["Repositories"]


class Repositories:
    """The repositories of one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.tenants = TenantRepositoryRoot(uow)
        self.locations = LocationRepository(uow)
        self.memberships = MembershipRepository(uow)
        self.customers = CustomerRepository(uow)
        self.vehicles = TenantRepository(uow, Vehicle)
        self.leads = LeadRepository(uow)
        self.services = TenantRepository(uow, Service)
        self.bookings = BookingRepository(uow)
        self.payments = PaymentRepository(uow)
        self.dashboard = DashboardRepository(uow)
