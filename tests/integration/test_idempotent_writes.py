"""The idempotent write runner of the service layer, without the API: one commit point."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import IdempotencyKeyReusedError
from tenantry.models import Lead
from tenantry.services.idempotency import IdempotentWrite, Writer, Written, run_write
from tenantry.services.leads import capture_lead
from tenantry.services.principal import Principal
from tests.conftest import TenantFixture


class Captured(BaseModel):
    id: uuid.UUID
    email: str | None


def _render(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    lead = uow.session.get(Lead, (principal.tenant_id, id_))
    assert lead is not None
    return Captured(id=lead.id, email=lead.email)


def _capture(db: Database, tenant: TenantFixture, email: str, key: str | None) -> IdempotentWrite:
    principal = tenant.principal()
    writer = Writer(
        principal=principal,
        ref=f"test:{tenant.slug}",
        open_uow=lambda: db.tenant_uow(tenant.id, actor=f"test:{tenant.slug}"),
        renderers={"lead": _render},
    )
    body = Captured(id=uuid.UUID(int=0), email=email)

    def write(uow: UnitOfWork) -> Written:
        lead = capture_lead(
            uow, principal, location_id=tenant.locations[0], source="web_quote", email=email
        )
        return Written(201, Captured(id=lead.id, email=lead.email), "lead", lead.id)

    return IdempotentWrite(writer, "POST", "/leads", body, key, write)


def _leads(db: Database, tenant: TenantFixture) -> int:
    with db.tenant_uow(tenant.id) as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(Lead)) or 0)


def test_a_keyed_write_commits_once_and_replays_by_rendering_the_resource(
    db: Database, tenant: TenantFixture
) -> None:
    first = run_write(_capture(db, tenant, "erika@example.com", "k-1"))
    again = run_write(_capture(db, tenant, "erika@example.com", "k-1"))
    assert (first.status, first.replayed) == (201, False)
    assert (again.status, again.replayed) == (201, True)
    assert again.body == first.body
    assert _leads(db, tenant) == 1


def test_a_key_reused_for_another_request_is_refused_and_writes_nothing(
    db: Database, tenant: TenantFixture
) -> None:
    run_write(_capture(db, tenant, "erika@example.com", "k-2"))
    with pytest.raises(IdempotencyKeyReusedError):
        run_write(_capture(db, tenant, "max@example.com", "k-2"))
    assert _leads(db, tenant) == 1


def test_a_write_without_a_key_commits(db: Database, tenant: TenantFixture) -> None:
    result = run_write(_capture(db, tenant, "max@example.com", None))
    assert result.status == 201 and not result.replayed
    assert _leads(db, tenant) == 1
