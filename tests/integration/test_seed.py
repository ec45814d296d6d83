"""The generator loads with COPY into the real schema, idempotently, with consistent data."""

from __future__ import annotations

import os
import re

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, text

from tenantry.composition import open_database
from tenantry.db.migrate import upgrade
from tenantry.db.provider import DatabaseTarget
from tenantry.domain.contact import normalise_email
from tenantry.models import Tenant, Vehicle
from tenantry.models.enums import MembershipRole
from tenantry.seed.loader import derive_tenants, load
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, list_records
from tests.conftest import TEST_MASTER, create_database, drop_database

ANCHOR = 1_780_000_000


@pytest.fixture(scope="module")
def seeded(server: DatabaseTarget):
    name = f"tenantry_seed_{os.getpid()}"
    target = create_database(server, name)
    upgrade(target)
    conninfo = target.libpq(target.owner_url)
    first = load(
        conninfo, derive_tenants(6, 11), master=TEST_MASTER, scale="small", seed=11, anchor_s=ANCHOR
    )
    engine = create_engine(target.owner_url)
    yield target, conninfo, first, engine
    engine.dispose()
    drop_database(server, name)


def scalar(engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def test_load_reports_the_rows_it_wrote(seeded) -> None:
    _t, _c, stats, engine = seeded
    assert stats.tenants == 6
    assert stats.rows["crm.leads"] == scalar(engine, "SELECT count(*) FROM crm.leads")
    assert stats.rows["commerce.payments"] == scalar(
        engine, "SELECT count(*) FROM commerce.payments"
    )
    assert stats.total_rows > 500


def test_second_load_with_the_same_seed_adds_nothing(seeded) -> None:
    _t, conninfo, _first, engine = seeded
    before = scalar(engine, "SELECT count(*) FROM crm.leads")
    again = load(
        conninfo, derive_tenants(6, 11), master=TEST_MASTER, scale="small", seed=11, anchor_s=ANCHOR
    )
    assert again.tenants == 0 and again.skipped_tenants == 6
    assert scalar(engine, "SELECT count(*) FROM crm.leads") == before


def test_more_tenants_for_the_same_seed_adds_only_the_new_ones(seeded) -> None:
    _t, conninfo, _first, engine = seeded
    more = load(
        conninfo, derive_tenants(8, 11), master=TEST_MASTER, scale="small", seed=11, anchor_s=ANCHOR
    )
    assert (more.tenants, more.skipped_tenants) == (2, 6)
    assert scalar(engine, "SELECT count(*) FROM identity.tenants") == 8


def test_loaded_data_satisfies_the_business_rules(seeded) -> None:
    _t, _c, _s, engine = seeded
    overpaid = """
        SELECT count(*) FROM commerce.bookings b
        WHERE (SELECT coalesce(sum(amount_cents), 0) FROM commerce.payments p
               WHERE p.tenant_id = b.tenant_id AND p.booking_id = b.id) > b.total_cents"""
    assert scalar(engine, overpaid) == 0
    workshop_vehicles = """
        SELECT count(*) FROM crm.vehicles v JOIN identity.tenants t ON t.id = v.tenant_id
        WHERE t.vertical = 'workshop' AND v.tuv_due_on IS NOT NULL"""
    assert scalar(engine, workshop_vehicles) > 0
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM crm.vehicles v JOIN identity.tenants t"
            " ON t.id = v.tenant_id WHERE t.vertical <> 'workshop'",
        )
        == 0
    )


def test_loaded_tables_are_analysed(seeded) -> None:
    _t, _c, _s, engine = seeded
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'leads'"
            " AND last_analyze IS NULL AND last_autoanalyze IS NULL",
        )
        == 0
    )


def test_seeded_personal_data_is_sealed_and_opens_through_the_key_ring(seeded, settings) -> None:
    target, _c, _s, engine = seeded
    for table, column in (("crm.customers", "email"), ("crm.leads", "phone")):
        assert scalar(engine, f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL") > 0
        # ciphertext with the versioned header, never plaintext
        assert (
            scalar(
                engine,
                f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL"
                f" AND substring({column} from 1 for 2) <> 'T1'::bytea",
            )
            == 0
        )
    db = open_database(settings, target=target, master=TEST_MASTER)
    try:
        with db.platform_uow() as uow:
            tenant = uow.session.scalars(
                sa.select(Tenant).where(Tenant.vertical == "workshop").limit(1)
            ).one()
        owner = Principal(tenant_id=tenant.id, role=MembershipRole.OWNER)
        with db.tenant_uow(tenant.id) as uow:
            customers = list_records(uow, owner, KINDS["customer"], limit=20)
            vehicles = uow.session.scalars(sa.select(Vehicle).limit(20)).all()
            leads = list_records(uow, owner, KINDS["lead"], limit=20)
            emails = [c.email for c in customers] + [x.email for x in leads if x.email]
            plates = [v.license_plate for v in vehicles]
            found = uow.repos.customers.by_email(customers[0].email)
    finally:
        db.dispose()
    assert emails and all(re.search(r"@example\.(com|org|net)$", e) for e in emails)
    assert all(normalise_email(e) == e for e in emails)  # stored as their blind index reads
    assert plates and all(re.fullmatch(r"[A-Z]{1,2}-[A-Z]{2} \d{1,4}", p) for p in plates)
    assert found is not None and found.id == customers[0].id  # the blind index matches
