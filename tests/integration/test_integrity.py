"""Composite tenant foreign keys and bad input: clear errors, nothing written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tenantry.db.engine import Database
from tenantry.errors import (
    PermissionDeniedError,
    ReferenceNotFoundError,
    TenantryError,
    ValidationError,
)
from tenantry.models import Customer, Lead, Location, Service
from tenantry.services import leads
from tests.conftest import TenantFixture


def _leads(db: Database, tenant: TenantFixture) -> int:
    with db.platform_uow() as uow:
        return int(
            uow.session.scalar(
                text("SELECT count(*) FROM crm.leads WHERE tenant_id = :t"), {"t": tenant.id}
            )
            or 0
        )


def test_lead_cannot_reference_another_tenants_location(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    with pytest.raises(ReferenceNotFoundError) as info, db.tenant_uow(tenant.id) as uow:
        uow.repos.leads.add(
            Lead(location_id=other_tenant.locations[0], source="google", email="x@example.com")
        )
        uow.flush()
    assert info.value.context["constraint"] == "fk_leads_tenant_id_location_id_locations"
    assert info.value.message == "location_id names a location that does not exist in this tenant"
    assert _leads(db, tenant) == 0


def test_lead_cannot_reference_another_tenants_customer_even_as_the_owner(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    """The composite key holds without RLS too: the owner role bypasses RLS, not constraints."""
    with db.platform_uow(tenant_id=other_tenant.id) as uow:
        foreign = Customer(tenant_id=other_tenant.id, id=db.ids(), email="b@example.com")
        uow.session.add(foreign)
        uow.commit()
    with pytest.raises(ReferenceNotFoundError), db.platform_uow(tenant_id=tenant.id) as uow:
        uow.session.add(
            Lead(
                tenant_id=tenant.id,
                id=db.ids(),
                location_id=tenant.locations[0],
                customer_id=foreign.id,
                source="google",
                status="converted",
                email="x@example.com",
            )
        )
        uow.flush()
    assert _leads(db, tenant) == 0


def test_invalid_enum_value_is_refused_by_the_service(db: Database, tenant: TenantFixture) -> None:
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="carrier_pigeon",
            email="x@example.com",
        )
    assert _leads(db, tenant) == 0


def test_invalid_enum_value_is_refused_by_the_database_too(
    db: Database, tenant: TenantFixture
) -> None:
    with pytest.raises(ValidationError) as info, db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            text(
                "INSERT INTO crm.leads (tenant_id, id, location_id, source, email)"
                " VALUES (:t, gen_random_uuid(), :l, 'carrier_pigeon', 'x@example.com')"
            ),
            {"t": tenant.id, "l": tenant.locations[0]},
        )
    assert info.value.context["constraint"] == "ck_leads_lead_source"
    assert info.value.message == "source is not one of the allowed values"
    assert _leads(db, tenant) == 0


@pytest.mark.parametrize("price", [-1, -10_000])
def test_negative_price_is_refused(db: Database, tenant: TenantFixture, price: int) -> None:
    with pytest.raises(ValidationError) as info, db.tenant_uow(tenant.id) as uow:
        uow.repos.services.add(Service(kind="menu_item", name="Soup", price_cents=price))
        uow.flush()
    assert info.value.message == "price must not be negative"
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.services.count() == 0


@pytest.mark.parametrize(("column", "value"), [("score", 101), ("score", -1)])
def test_out_of_range_score_is_refused(
    db: Database, tenant: TenantFixture, column: str, value: int
) -> None:
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        uow.repos.leads.add(
            Lead(
                location_id=tenant.locations[0],
                source="google",
                email="x@example.com",
                **{column: value},
            )
        )
        uow.flush()
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="google",
            email="x@example.com",
            score=value,
        )
    assert _leads(db, tenant) == 0


def test_unknown_tenant_id_cannot_receive_rows(db: Database) -> None:
    ghost = uuid.uuid4()
    with pytest.raises(ReferenceNotFoundError), db.tenant_uow(ghost) as uow:
        uow.repos.locations.add(Location(name="Nowhere", slug="nowhere", vertical="other"))
        uow.flush()
    with db.platform_uow() as uow:
        assert (
            uow.session.scalar(
                text("SELECT count(*) FROM identity.locations WHERE tenant_id = :t"), {"t": ghost}
            )
            == 0
        )


def test_malformed_uuid_in_sql_is_a_validation_error_without_the_value(
    db: Database, tenant: TenantFixture
) -> None:
    with pytest.raises(ValidationError) as info, db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            text("SELECT * FROM crm.leads WHERE id = CAST(:id AS uuid)"), {"id": "jane@example.com"}
        )
    assert "jane@example.com" not in info.value.message
    assert "uuid" in info.value.message


def test_malformed_tenant_binding_fails_closed(db: Database) -> None:
    with pytest.raises(TenantryError), db.unbound_uow() as uow:
        uow.session.execute(text("SELECT set_config('tenantry.tenant_id', 'not-a-uuid', true)"))
        uow.session.execute(text("SELECT count(*) FROM crm.leads")).scalar()


def test_duplicate_key_is_a_conflict_without_the_value(db: Database, tenant: TenantFixture) -> None:
    with pytest.raises(TenantryError) as info, db.tenant_uow(tenant.id) as uow:
        uow.repos.locations.add(Location(name="A", slug="same-slug", vertical="restaurant"))
        uow.repos.locations.add(Location(name="B", slug="same-slug", vertical="restaurant"))
        uow.flush()
    assert type(info.value).__name__ == "ConflictError"
    assert "same-slug" not in info.value.message


def test_deleting_a_referenced_location_is_refused(db: Database, tenant: TenantFixture) -> None:
    with db.tenant_uow(tenant.id) as uow:
        leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="google",
            email="x@example.com",
        )
        uow.commit()
    with pytest.raises(ReferenceNotFoundError), db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            text("DELETE FROM identity.locations WHERE id = :l"), {"l": tenant.locations[0]}
        )
    assert _leads(db, tenant) == 1


def test_app_role_cannot_alter_the_schema(db: Database, tenant: TenantFixture) -> None:
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        uow.session.execute(text("ALTER TABLE crm.leads DISABLE ROW LEVEL SECURITY"))
