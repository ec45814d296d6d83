"""A tenant is born with its keys: no read creates them, no two first writes race for them."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.models import Lead, Location, TenantKey
from tenantry.models.enums import KeyPurpose, LeadSource, LegalForm, MembershipRole, Vertical
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services import leads
from tenantry.services.platform import create_tenant
from tenantry.services.principal import Principal


def _new_tenant(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    slug = f"born-{uuid.uuid4().hex[:10]}"
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug=slug,
            legal_name="Born GmbH",
            vertical=Vertical.WORKSHOP,
            legal_form=LegalForm.GMBH,
        )
        location = Location(
            tenant_id=tenant.id,
            id=uow.ids(),
            name="Werkstatt",
            slug="w",
            vertical=Vertical.WORKSHOP,
            city="Berlin",
        )
        uow.session.add(location)
        uow.commit()
        return tenant.id, location.id


def _keys(db: Database, tenant_id: uuid.UUID) -> set[KeyPurpose]:
    with db.platform_uow() as uow:
        return set(
            uow.session.scalars(
                sa.select(TenantKey.purpose).where(TenantKey.tenant_id == tenant_id)
            )
        )


def test_creating_a_tenant_creates_every_key_it_will_need(db: Database) -> None:
    tenant_id, _ = _new_tenant(db)
    assert _keys(db, tenant_id) == set(KeyPurpose)


def _race_first_writes(db: Database, tenant_id: uuid.UUID, location_id: uuid.UUID) -> list[str]:
    """Two first writes of the tenant started together; the errors they raised."""
    principal = Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)
    start = threading.Barrier(2, timeout=10)
    errors: list[str] = []

    def first_write(n: int) -> None:
        try:
            with db.tenant_uow(tenant_id) as uow:
                start.wait()
                if n % 2:  # a data subject first: the blind index's key, then a subject key
                    resolve_subject(uow, keyring(uow), email=f"first-{n}@example.com")
                else:  # a sealed record first
                    leads.capture_lead(
                        uow,
                        principal,
                        location_id=location_id,
                        source=LeadSource.WEB_QUOTE,
                        first_name="Erika",
                        phone="+49 151 0000000",
                    )
                uow.commit()
        except Exception as exc:  # reported by the test, with its type
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=first_write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_two_concurrent_first_writes_of_a_new_tenant_both_succeed(db: Database) -> None:
    for _round in range(10):
        tenant_id, location_id = _new_tenant(db)
        assert _race_first_writes(db, tenant_id, location_id) == []
        with db.tenant_uow(tenant_id) as uow:
            assert uow.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1
