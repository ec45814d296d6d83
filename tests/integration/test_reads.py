"""Reads on the event loop (`read_records` over `AsyncReader`) agree with the unit of work."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import psycopg
import pytest

from tenantry.config import Settings
from tenantry.db import pipelined
from tenantry.db.aio import AsyncReader
from tenantry.db.engine import Database
from tenantry.db.pipelined import PIPELINED
from tenantry.errors import ConfigurationError, NotFoundError, ValidationError
from tenantry.models import Lead
from tenantry.models.enums import ConnectionProvider, LeadSource, LeadStatus, MembershipRole
from tenantry.privacy.vault import keyring, vault_of
from tenantry.services.principal import Principal
from tenantry.services.reads import read_query, read_records
from tenantry.services.records import KINDS, get_record, list_records
from tenantry.services.resources import create_connection, create_customer, create_vehicle
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
        keyring(uow).destroy_subject_key(leads[0].subject_id)
        uow.commit()
    (record,) = run(_read(db, settings, tenant.principal(), id_=leads[0].id))
    assert record["email"] is None and record["phone"] is None and record["last_name"] is None
    assert record["status"] == LeadStatus.NEW.value and record["id"] == leads[0].id
    with db.tenant_uow(tenant.id) as uow:
        assert _orm_view(uow.repos.leads.get(leads[0].id)) == record


def test_a_key_opened_before_its_destruction_opens_nothing_after_it(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    """The process keeps unwrapped subject keys for a minute; the database still decides."""
    leads = _leads(db, tenant)
    (before,) = run(_read(db, settings, tenant.principal(), id_=leads[0].id))
    assert before["email"] == leads[0].email and len(vault_of(db).opened_keys) >= 1
    with db.tenant_uow(tenant.id) as uow:
        keyring(uow).destroy_subject_key(leads[0].subject_id)
        uow.commit()
    (after,) = run(_read(db, settings, tenant.principal(), id_=leads[0].id))
    assert after["email"] is None and after["first_name"] is None and after["phone"] is None


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


def test_a_failed_read_leaves_no_binding_on_its_connection(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    _leads(db, tenant)

    async def scenario() -> Any:
        reader = AsyncReader(db.target, size=1)
        await reader.open()
        try:
            with pytest.raises(ValidationError):  # division by zero: SQLSTATE 22012
                await reader.fetch(tenant.id, "test", "SELECT count(*) / 0 FROM crm.leads", {})
            async with reader._pools[asyncio.get_running_loop()].connection() as conn:
                cur = await conn.execute(
                    "SELECT current_setting('tenantry.tenant_id', true),"
                    " (SELECT count(*) FROM crm.leads)"
                )
                return await cur.fetchone()
        finally:
            await reader.close()

    binding, visible = run(scenario())
    assert not binding and visible == 0


def test_a_vehicle_outside_the_scope_of_its_owner_is_not_found(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    owner = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        customer = create_customer(
            uow, owner, email="owner-vehicle@example.org", home_location_id=tenant.locations[0]
        )
        vehicle = create_vehicle(
            uow, owner, customer_id=customer.id, make="VW", model="Golf", license_plate="B-TN 123"
        )
        uow.commit()

    async def read(principal: Principal) -> list[dict[str, Any]]:
        reader = AsyncReader(db.target, size=1)
        return await read_records(reader, db, principal, "test", "vehicle", id_=vehicle.id)

    (record,) = run(read(tenant.principal(MembershipRole.STAFF, [tenant.locations[0]])))
    assert record["license_plate"] == "B-TN 123" and record["subject_id"] == customer.subject_id
    with pytest.raises(NotFoundError):
        run(read(tenant.principal(MembershipRole.STAFF, [tenant.locations[1]])))


def test_tokens_sealed_under_the_records_key_open(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        connection = create_connection(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            provider=ConnectionProvider.GOOGLE_BUSINESS_PROFILE,
            access_token="ya29.token-for-tests",
        )
        uow.commit()
    reader = AsyncReader(db.target, size=1)
    (record,) = run(
        read_records(reader, db, tenant.principal(), "test", "connection", id_=connection.id)
    )
    assert record["access_token"] == "ya29.token-for-tests" and record["refresh_token"] is None


def test_personal_data_cannot_be_read_without_the_master_key(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    leads = _leads(db, tenant)
    keyless = Database(
        target=db.target, app_engine=db.app_engine, owner_engine=db.owner_engine, sealing=None
    )
    reader = AsyncReader(db.target, size=1)
    with pytest.raises(ConfigurationError):
        run(read_records(reader, keyless, tenant.principal(), "test", "lead", id_=leads[0].id))


def test_a_list_keeps_its_generic_plan_instead_of_being_planned_every_time(
    db: Database, tenant: TenantFixture
) -> None:
    # Enough rows that PostgreSQL's estimate for a parameter LIMIT (a tenth of them) made the
    # generic plan look worse than a plan for the values, so it planned each list anew.
    with psycopg.connect(db.target.libpq(db.target.owner_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.leads (tenant_id, id, location_id, source, status, score,"
            " created_at, updated_at)"
            " SELECT %s, gen_random_uuid(), (%s::uuid[])[1 + n %% 2], 'web_quote',"
            " (ARRAY['new', 'contacted', 'qualified'])[1 + n %% 3], n %% 100, now(), now()"
            " FROM generate_series(1, 3000) AS n",
            (tenant.id, list(tenant.locations)),
        )
        conn.execute("ANALYZE crm.leads")
    filters = {"location_id": tenant.locations[0], "status": LeadStatus.NEW}

    async def scenario() -> tuple[int, int]:
        reader = AsyncReader(db.target, size=1)  # one connection: its prepared statements
        await reader.open()
        try:
            for _ in range(20):
                page = await read_records(
                    reader, db, tenant.principal(), "test", "lead", filters=filters, limit=21
                )
                assert len(page) == 21
            (plans,) = await reader.fetch(
                tenant.id,
                "test",
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE %s",
                ("%FROM crm.leads%ORDER BY crm.leads.id%",),
            )
            return plans[0], plans[1]
        finally:
            await reader.close()

    generic, custom = run(scenario())
    assert generic > custom, (generic, custom)


def _everything(db: Database, settings: Settings, tenant: TenantFixture, leads: list[Lead]) -> Any:
    """The same reads in every shape: all, one, filtered, after a cursor, in a scope."""
    owner = tenant.principal()
    manager = tenant.principal(MembershipRole.MANAGER, [tenant.locations[0]])
    return [
        run(_read(db, settings, owner)),
        run(_read(db, settings, owner, id_=leads[1].id)),
        run(_read(db, settings, owner, filters={"location_id": tenant.locations[1]})),
        run(_read(db, settings, owner, after=min(lead.id for lead in leads), limit=2)),
        run(_read(db, settings, manager)),
    ]


@pytest.fixture
def pipelined_switch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> pytest.LogCaptureFixture:
    monkeypatch.setattr(PIPELINED, "on", True)
    caplog.set_level("WARNING", logger="tenantry.fastpath")
    return caplog


def _fast_path_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tenantry.fastpath"]


def test_with_the_pipelined_path_off_reads_return_the_same(
    db: Database,
    settings: Settings,
    tenant: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
    pipelined_switch: pytest.LogCaptureFixture,
) -> None:
    leads = _leads(db, tenant)
    fast = _everything(db, settings, tenant, leads)
    monkeypatch.setattr(PIPELINED, "on", False)
    assert _everything(db, settings, tenant, leads) == fast
    assert fast[0] and fast[1] and fast[4]


@pytest.mark.parametrize("where", ["before the exchange", "during the exchange"])
def test_a_psycopg_name_missing_at_the_first_read_switches_to_the_cursor(
    db: Database,
    settings: Settings,
    tenant: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
    pipelined_switch: pytest.LogCaptureFixture,
    where: str,
) -> None:
    leads = _leads(db, tenant)
    expected = _everything(db, settings, tenant, leads)

    class Renamed:  # psycopg's Transformer after a release that renamed `from_context`
        pass

    async def exchange(pgconn: Any) -> list[Any]:
        raise AttributeError("'PGconn' object has no attribute 'pipeline_sync'")

    if where == "before the exchange":
        monkeypatch.setattr(pipelined, "Transformer", Renamed)
    else:
        monkeypatch.setattr(pipelined, "_exchange", exchange)
    assert _everything(db, settings, tenant, leads) == expected
    assert not PIPELINED.on
    (warning,) = _fast_path_warnings(pipelined_switch)
    assert "db.pipelined" in warning


def _both_paths(
    db: Database, settings: Settings, tenant_id: uuid.UUID, principal: Principal, kind: str
) -> tuple[Any, Any]:
    """Every record of `kind` the principal may read, by the unit of work and by the reader
    (as dicts of the reader's output names), or the error each raised."""
    names = read_query(kind, True, (), False, False).names
    orm: Any
    try:
        with db.tenant_uow(tenant_id) as uow:
            rows = list_records(uow, principal, KINDS[kind], limit=200)
            orm = [{n: getattr(row, n) for n in names} for row in rows]
    except Exception as exc:  # compared by type below
        orm = type(exc)

    async def read() -> list[dict[str, Any]]:
        reader = AsyncReader(db.target, size=1)
        return await read_records(reader, db, principal, "test", kind, limit=200)

    fast: Any
    try:
        fast = run(read())
    except Exception as exc:
        fast = type(exc)
    return orm, fast


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_reads_the_same_through_both_paths_for_every_role(
    db: Database, settings: Settings, tenant: TenantFixture, kind: str
) -> None:
    """One record specification per kind: both paths agree on who sees which records."""
    _leads(db, tenant)
    owner = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        for i, location in enumerate(tenant.locations):
            customer = create_customer(
                uow, owner, email=f"both-{i}@example.org", home_location_id=location
            )
            create_vehicle(
                uow,
                owner,
                customer_id=customer.id,
                make="VW",
                model="Polo",
                license_plate=f"B-BP {i}",
            )
        uow.commit()
    principals = [
        owner,
        tenant.principal(MembershipRole.MANAGER, [tenant.locations[0]]),
        tenant.principal(MembershipRole.STAFF, [tenant.locations[1]]),
        tenant.principal(MembershipRole.ANALYST),
        tenant.principal(MembershipRole.DPO),
    ]
    seen = 0
    for principal in principals:
        orm, fast = _both_paths(db, settings, tenant.id, principal, kind)
        assert orm == fast, principal.role
        seen += len(orm) if isinstance(orm, list) else 0
    if kind in {"lead", "customer", "vehicle", "location"}:
        assert seen > 0, "the comparison saw records"
