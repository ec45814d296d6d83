"""Personal data at rest: only ciphertext, under the subject's key, opened only with the keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import ConfigurationError, ValidationError
from tenantry.models import Connection, Customer, Lead, Subject, Vehicle
from tenantry.privacy.crypto import blind_index
from tenantry.privacy.vault import keyring
from tests.conftest import TenantFixture


def _raw(db: Database, table: str, column: str, row_id) -> bytes | None:
    with db.platform_uow() as uow:
        return uow.session.execute(
            sa.text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": row_id}
        ).scalar_one()


def _customer(db: Database, tenant: TenantFixture, email: str) -> Customer:
    with db.tenant_uow(tenant.id) as uow:
        customer = uow.repos.customers.add(
            Customer(email=email, first_name="Erika", last_name="Musterfrau", phone="030 1234567")
        )
        uow.commit()
    return customer


def test_a_customer_is_stored_as_ciphertext_and_read_back_as_text(
    db: Database, tenant: TenantFixture
) -> None:
    customer = _customer(db, tenant, "sealed@example.org")
    stored = _raw(db, "crm.customers", "email", customer.id)
    assert stored is not None and stored.startswith(b"T1") and b"example.org" not in stored
    with db.tenant_uow(tenant.id) as uow:
        loaded = uow.repos.customers.get(customer.id)
        assert (loaded.email, loaded.last_name) == ("sealed@example.org", "Musterfrau")
        subject = uow.session.get(Subject, (tenant.id, loaded.subject_id))
        assert subject is not None and subject.email_bidx is not None


def test_a_lead_with_the_same_address_shares_the_customers_subject(
    db: Database, tenant: TenantFixture
) -> None:
    customer = _customer(db, tenant, "Shared@Example.org")
    with db.tenant_uow(tenant.id) as uow:
        lead = uow.repos.leads.add(
            Lead(location_id=tenant.locations[0], source="web_quote", email="shared@example.org")
        )
        uow.commit()
    assert lead.subject_id == customer.subject_id


def test_children_inherit_the_subject_and_plates_are_found_by_blind_index(
    db: Database, tenant: TenantFixture
) -> None:
    customer = _customer(db, tenant, "driver@example.org")
    with db.tenant_uow(tenant.id) as uow:
        vehicle = uow.repos.vehicles.add(
            Vehicle(customer_id=customer.id, make="VW", model="Golf", license_plate="B-XY 123")
        )
        uow.commit()
    assert vehicle.subject_id == customer.subject_id
    with db.tenant_uow(tenant.id) as uow:
        index = keyring(uow).field_index_key("license_plate")
        found = uow.session.scalars(
            sa.select(Vehicle).where(
                Vehicle.tenant_id == tenant.id,
                Vehicle.license_plate_bidx == blind_index(index, "BXY123"),
            )
        ).all()
        assert [v.id for v in found] == [vehicle.id] and found[0].license_plate == "B-XY 123"


def test_a_ciphertext_moved_to_another_row_does_not_open(
    db: Database, tenant: TenantFixture
) -> None:
    a = _customer(db, tenant, "first@example.org")
    with db.tenant_uow(tenant.id) as uow:
        b = uow.repos.customers.add(Customer(first_name="Other"))
        uow.commit()
    with db.platform_uow() as uow:
        uow.session.execute(
            sa.text(
                "UPDATE crm.customers SET email = (SELECT email FROM crm.customers WHERE id = :a),"
                " subject_id = :s WHERE id = :b"
            ),
            {"a": a.id, "b": b.id, "s": a.subject_id},
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        assert uow.repos.customers.get(b.id).email is None


def test_destroying_the_subject_key_shreds_every_copy(db: Database, tenant: TenantFixture) -> None:
    customer = _customer(db, tenant, "shred@example.org")
    with db.tenant_uow(tenant.id) as uow:
        assert keyring(uow).destroy_subject_key(customer.subject_id) == 1
        uow.commit()
    assert _raw(db, "crm.customers", "email", customer.id) is not None  # a "backup" copy
    with db.tenant_uow(tenant.id) as uow:
        loaded = uow.repos.customers.get(customer.id)
        assert (loaded.email, loaded.phone, loaded.first_name) == (None, None, None)


def test_oauth_tokens_are_sealed_under_the_tenants_records_key(
    db: Database, tenant: TenantFixture
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        conn = Connection(
            tenant_id=tenant.id,
            id=uow.ids(),
            location_id=tenant.locations[0],
            provider="google_business_profile",
            access_token="ya29.secret-token",
        )
        uow.session.add(conn)
        uow.commit()
    assert b"secret-token" not in (_raw(db, "channel.connections", "access_token", conn.id) or b"")
    with db.tenant_uow(tenant.id) as uow:
        assert uow.session.get(Connection, (tenant.id, conn.id)).access_token == "ya29.secret-token"


def test_personal_data_cannot_be_written_without_a_tenants_keys(db: Database) -> None:
    with pytest.raises(ConfigurationError), db.platform_uow() as uow:
        uow.session.add(Customer(tenant_id=db.ids(), id=db.ids(), email="x@example.org"))
        uow.flush()


def test_sealed_columns_refuse_sql_comparison_and_overlong_values() -> None:
    with pytest.raises(TypeError, match="sealed"):
        _ = Customer.email == "x@example.org"
    with pytest.raises(ValidationError):
        Customer(email="x" * 400)


def test_a_row_moved_to_another_subject_is_sealed_again_under_its_key(
    db: Database, tenant: TenantFixture
) -> None:
    customer = _customer(db, tenant, "before@example.org")
    other = _customer(db, tenant, "after@example.org")
    with db.tenant_uow(tenant.id) as uow:
        loaded = uow.repos.customers.get(customer.id)
        loaded.subject_id = other.subject_id
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        assert keyring(uow).destroy_subject_key(customer.subject_id) == 1  # the old key
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        moved = uow.repos.customers.get(customer.id)
        assert (moved.email, moved.last_name) == ("before@example.org", "Musterfrau")


def test_a_new_address_becomes_the_subjects_lookup_value(
    db: Database, tenant: TenantFixture
) -> None:
    customer = _customer(db, tenant, "old.address@example.org")
    with db.tenant_uow(tenant.id) as uow:
        uow.repos.customers.get(customer.id).email = "new.address@example.org"
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        found = uow.repos.customers.by_email("New.Address@example.org")
        assert found is not None and found.id == customer.id
        assert uow.repos.customers.by_email("old.address@example.org") is None


def test_a_wrong_master_key_is_an_error_not_missing_data(
    db: Database, tenant: TenantFixture
) -> None:
    from tenantry.privacy.master import LocalMasterKey
    from tenantry.privacy.vault import KeyVault

    customer = _customer(db, tenant, "wrong.master@example.org")
    other = Database(
        target=db.target,
        app_engine=db.app_engine,
        owner_engine=db.owner_engine,
        sealing=KeyVault(LocalMasterKey(bytes(32), "other")),
    )
    with pytest.raises(ConfigurationError, match="master key"), other.tenant_uow(tenant.id) as uow:
        _ = uow.repos.customers.get(customer.id).email


def test_a_vehicle_written_with_its_new_owner_shares_the_owners_subject(
    db: Database, tenant: TenantFixture
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        owner = uow.repos.customers.add(Customer(email="same.flush@example.org"))
        car = uow.repos.vehicles.add(
            Vehicle(customer_id=owner.id, make="Opel", model="Corsa", license_plate="K-AB 12")
        )
        uow.commit()
    assert car.subject_id is not None and car.subject_id == owner.subject_id


def test_a_refresh_before_the_flush_keeps_the_staged_value(
    db: Database, tenant: TenantFixture
) -> None:
    customer = _customer(db, tenant, "refresh.before@example.org")
    with db.tenant_uow(tenant.id) as uow:
        loaded = uow.repos.customers.get(customer.id)
        loaded.city = "Köln"
        uow.session.refresh(loaded, ["country"])
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        again = uow.repos.customers.get(customer.id)
        assert (again.city, again.email) == ("Köln", "refresh.before@example.org")
