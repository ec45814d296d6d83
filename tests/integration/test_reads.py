"""Reads on the event loop (`read_records` over `AsyncReader`) agree with the unit of work."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from tenantry.config import Settings
from tenantry.db.aio import AsyncReader
from tenantry.db.engine import Database
from tenantry.errors import NotFoundError
from tenantry.models import Lead
from tenantry.models.enums import LeadSource, LeadStatus, MembershipRole
from tenantry.services.principal import Principal
from tenantry.services.reads import read_query, read_records
from tenantry.services.records import KINDS, get_record, list_records
from tests.conftest import TenantFixture

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _leads(db: Database, tenant: TenantFixture) -> list[Lead]:
    with db.tenant_uow(tenant.id) as uow:
        leads = [
            uow.repos.leads.add(
                Lead(
                    location_id=tenant.locations[i % 2],
                    source=LeadSource.WEB_QUOTE,
                    status=LeadStatus.NEW,
                    email=f"reader-{i}-{uuid.uuid4().hex[:6]}@example.com",
                    first_name="Erika",
                    last_name=f"Muster {i}",
                    phone="030 1234567" if i == 0 else None,
                    message="Bitte um Rückruf" if i == 1 else None,
                )
            )
            for i in range(4)
        ]
        uow.commit()
    return leads


async def _read(db: Database, settings: Settings, principal: Principal, **query: Any) -> Any:
    reader = AsyncReader(db.target, size=2, statement_timeout_ms=settings.statement_timeout_ms)
    await reader.open()
    try:
        return await read_records(reader, db, principal, "test", "lead", **query)
    finally:
        await reader.close()


def _orm_view(lead: Lead) -> dict[str, Any]:
    names = read_query("lead", True, (), False, False).names
    return {name: getattr(lead, name) for name in names}


def test_reads_return_what_the_unit_of_work_reads(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    leads = _leads(db, tenant)
    principal = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        expected = [_orm_view(lead) for lead in list_records(uow, principal, KINDS["lead"])]
        one = _orm_view(get_record(uow, principal, KINDS["lead"], leads[1].id))
    assert run(_read(db, settings, principal)) == expected
    assert run(_read(db, settings, principal, id_=leads[1].id)) == [one]
    assert one["message"] == "Bitte um Rückruf" and one["email"] == leads[1].email


def test_filters_cursor_and_limit_page_in_id_order(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    leads = sorted(_leads(db, tenant), key=lambda lead: lead.id)
    principal = tenant.principal()
    at_first = [lead.id for lead in leads if lead.location_id == tenant.locations[0]]
    page = run(_read(db, settings, principal, filters={"location_id": tenant.locations[0]}))
    assert len(at_first) == 2 and [r["id"] for r in page] == at_first
    after = run(_read(db, settings, principal, after=leads[0].id, limit=2))
    assert [r["id"] for r in after] == [leads[1].id, leads[2].id]
    none = run(_read(db, settings, principal, filters={"status": LeadStatus.LOST}))
    assert none == []


def test_a_destroyed_subject_key_reads_as_none_like_in_the_unit_of_work(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    leads = _leads(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        uow.keyring.destroy_subject_key(leads[0].subject_id)
        uow.commit()
    (record,) = run(_read(db, settings, tenant.principal(), id_=leads[0].id))
    assert record["email"] is None and record["phone"] is None and record["last_name"] is None
    assert record["status"] == LeadStatus.NEW.value and record["id"] == leads[0].id
    with db.tenant_uow(tenant.id) as uow:
        assert _orm_view(uow.repos.leads.get(leads[0].id)) == record


def test_other_tenants_and_other_locations_are_not_found(
    db: Database, settings: Settings, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    leads = _leads(db, tenant)
    with pytest.raises(NotFoundError):
        run(_read(db, settings, other_tenant.principal(), id_=leads[0].id))
    assert run(_read(db, settings, other_tenant.principal())) == []
    scoped = tenant.principal(MembershipRole.STAFF, locations=[tenant.locations[1]])
    with pytest.raises(NotFoundError):
        run(_read(db, settings, scoped, id_=leads[0].id))
    visible = run(_read(db, settings, scoped))
    assert {r["location_id"] for r in visible} == {tenant.locations[1]}


def test_the_tenant_binding_ends_with_the_read(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    _leads(db, tenant)

    async def scenario() -> tuple[int, Any]:
        reader = AsyncReader(db.target, size=1)
        await reader.open()
        try:
            rows = await read_records(reader, db, tenant.principal(), "test", "lead")
            # The same (only) pooled connection, now without a binding: nothing is visible.
            async with reader._pools[asyncio.get_running_loop()].connection() as conn:
                cur = await conn.execute(
                    "SELECT current_setting('tenantry.tenant_id', true),"
                    " (SELECT count(*) FROM crm.leads)"
                )
                after = await cur.fetchone()
            return len(rows), after
        finally:
            await reader.close()

    count, (binding, visible) = run(scenario())
    assert count == 4
    assert not binding and visible == 0


def test_a_reader_without_an_open_pool_still_reads(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    leads = _leads(db, tenant)
    reader = AsyncReader(db.target, size=1)  # never opened: one connection per read
    rows = run(read_records(reader, db, tenant.principal(), "test", "lead", id_=leads[2].id))
    assert rows[0]["email"] == leads[2].email
