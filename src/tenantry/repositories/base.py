"""The generic tenant-scoped repository: add, get by id (for a write), count.

Reads of records for a caller (permission, location scope, filters, pages) are not here:
they are built from the record specifications of `tenantry.services.records`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenantry.errors import NotFoundError
from tenantry.models.base import TenantOwned

if TYPE_CHECKING:
    from tenantry.db.uow import UnitOfWork

__all__ = ["TenantRepository"]

M = TypeVar("M", bound=TenantOwned)


class TenantRepository(Generic[M]):
    """Data access for one tenant-owned model within the unit of work's tenant."""

    def __init__(self, uow: UnitOfWork, model: type[M]) -> None:
        self.uow = uow
        self.model = model

    @property
    def session(self) -> Session:
        return self.uow.session

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.uow.require_tenant()

    def add(self, obj: M) -> M:
        """Stage a new row in the bound tenant, assigning a UUIDv7 when it has no id."""
        obj.tenant_id = self.tenant_id
        if getattr(obj, "id", None) is None:
            obj.id = self.uow.ids()
        self.session.add(obj)
        return obj

    def get(self, id_: uuid.UUID, *, for_update: bool = False, include_deleted: bool = False) -> M:
        """The row with this id in the bound tenant, or `NotFoundError`."""
        stmt = sa.select(self.model).where(
            self.model.tenant_id == self.tenant_id, self.model.id == id_
        )
        if for_update:
            stmt = stmt.with_for_update()
        obj = self.session.scalars(stmt).one_or_none()
        if obj is None or (not include_deleted and getattr(obj, "deleted_at", None) is not None):
            raise NotFoundError(f"{self.model.__name__.lower()} not found", id=str(id_))
        return obj

    def count(self, *filters: Any) -> int:
        stmt = (
            sa.select(sa.func.count())
            .select_from(self.model)
            .where(self.model.tenant_id == self.tenant_id, *filters)
        )
        return int(self.session.scalar(stmt) or 0)
