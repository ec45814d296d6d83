"""Repositories of the `crm` schema: customers and leads."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tenantry.models import Customer, Lead, LeadScoreHistory
from tenantry.privacy.subjects import find_subject
from tenantry.privacy.vault import keyring
from tenantry.repositories.base import TenantRepository

if TYPE_CHECKING:
    from tenantry.db.uow import UnitOfWork

__all__ = ["CustomerRepository", "LeadRepository"]


class CustomerRepository(TenantRepository[Customer]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, Customer)

    def by_email(self, email: str) -> Customer | None:
        """The customer with this e-mail, found through the subject's blind index."""
        subject = find_subject(self.uow, keyring(self.uow), email=email)
        if subject is None:
            return None
        stmt = sa.select(Customer).where(
            Customer.tenant_id == self.tenant_id,
            Customer.subject_id == subject.id,
            Customer.deleted_at.is_(None),
        )
        return self.session.scalars(stmt.order_by(Customer.id).limit(1)).first()


class LeadRepository(TenantRepository[Lead]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, Lead)

    def by_email(self, email: str) -> Lead | None:
        """The newest lead with this e-mail, found through the subject's blind index."""
        subject = find_subject(self.uow, keyring(self.uow), email=email)
        if subject is None:
            return None
        stmt = sa.select(Lead).where(
            Lead.tenant_id == self.tenant_id,
            Lead.subject_id == subject.id,
            Lead.deleted_at.is_(None),
        )
        return self.session.scalars(stmt.order_by(Lead.id.desc()).limit(1)).first()

    def add_score(self, entry: LeadScoreHistory) -> LeadScoreHistory:
        entry.tenant_id = self.tenant_id
        entry.id = self.uow.ids()
        self.session.add(entry)
        return entry

    def score_history(self, lead_id: uuid.UUID) -> list[LeadScoreHistory]:
        stmt = (
            sa.select(LeadScoreHistory)
            .where(
                LeadScoreHistory.tenant_id == self.tenant_id, LeadScoreHistory.lead_id == lead_id
            )
            .order_by(LeadScoreHistory.scored_at, LeadScoreHistory.id)
        )
        return list(self.session.scalars(stmt))
