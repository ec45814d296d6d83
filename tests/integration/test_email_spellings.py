"""One address in many spellings is one address: stored value and blind index agree on every
path (API create through the services, platform users, consent and double opt-in, the
erasure's lookup, the scan, the seed)."""

from __future__ import annotations

import random
import uuid

import pytest

from tenantry.db.engine import Database
from tenantry.domain.contact import normalise_email
from tenantry.models.enums import ConsentPurpose, MembershipRole
from tenantry.privacy.subjects import find_subject
from tenantry.privacy.vault import keyring
from tenantry.seed.generator import _Chunk
from tenantry.services.leads import capture_lead
from tenantry.services.platform import find_user, grant_membership
from tenantry.services.privacy.consent import Notice
from tenantry.services.privacy.doi import issue_opt_in, redeem_opt_in
from tenantry.services.privacy.scan import ScanTargets
from tenantry.services.resources import create_customer
from tests.conftest import TenantFixture

CANONICAL = "erika.muster@example.com"
SPELLINGS = [
    "Erika.Muster@Example.COM",  # case
    "  erika.muster@example.com\t",  # surrounding whitespace
    "\uff45\uff52\uff49\uff4b\uff41.muster@example.com",  # full-width letters (NFKC)
    "ERIKA.MUSTER@EXAMPLE.COM",
]
NOTICE = Notice("2026-01", "We send offers by e-mail.")


def test_every_spelling_normalises_to_one_address() -> None:
    assert {normalise_email(s) for s in SPELLINGS} == {CANONICAL}


def test_records_store_the_address_their_subject_is_indexed_by(
    db: Database, tenant: TenantFixture
) -> None:
    owner = tenant.principal()
    with db.tenant_uow(tenant.id) as uow:
        customer = create_customer(
            uow, owner, home_location_id=tenant.locations[0], first_name="Erika", email=SPELLINGS[2]
        )
        lead = capture_lead(
            uow, owner, location_id=tenant.locations[0], source="web_quote", email=SPELLINGS[0]
        )
        uow.flush()
        customer_id, lead_id = customer.id, lead.id
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        subject = find_subject(uow, keyring(uow), email=SPELLINGS[3])  # the erasure's lookup
        assert subject is not None
        customer = uow.repos.customers.get(customer_id)
        lead = uow.repos.leads.get(lead_id)
        assert (customer.email, lead.email) == (CANONICAL, CANONICAL)
        assert customer.subject_id == lead.subject_id == subject.id


def test_double_opt_in_matches_the_address_in_any_spelling(
    db: Database, tenant: TenantFixture
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        pending = issue_opt_in(
            uow,
            keyring(uow),
            email=SPELLINGS[1],
            purpose=ConsentPurpose.MARKETING_EMAIL,
            notice=NOTICE,
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        entry = redeem_opt_in(uow, keyring(uow), pending.token, notice=NOTICE, email=SPELLINGS[2])
        subject = find_subject(uow, keyring(uow), email=SPELLINGS[0])
        assert subject is not None and entry.subject_id == subject.id
        uow.commit()


def test_a_staff_account_stores_and_finds_one_spelling(db: Database, tenant: TenantFixture) -> None:
    local = f"staff.{uuid.uuid4().hex[:8]}"
    with db.platform_uow() as uow:
        grant_membership(
            uow,
            tenant_id=tenant.id,
            email=f" {local.upper()}@Example.COM",
            role=MembershipRole.STAFF,
        )
        uow.commit()
    with db.platform_uow() as uow:
        user = find_user(uow, f"{local}@EXAMPLE.com")
        assert user is not None and user.email == f"{local}@example.com"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_scan_searches_for_the_stored_spelling(spelling: str) -> None:
    targets = ScanTargets()
    targets.add_email(spelling)
    assert targets.texts == {CANONICAL}


def test_the_seed_stores_addresses_in_the_normalised_spelling() -> None:
    generator = _Chunk.__new__(_Chunk)
    generator.p = _Pools()  # type: ignore[assignment]
    for serial in range(50):
        _first, _last, email, _phone = generator.person(random.Random(serial), serial)
        assert email == normalise_email(email)


class _Pools:
    first_names = ("\u00c4nne", "J\u00fcrgen", "\uff2d\uff41\uff58")  # Änne, Jürgen, full-width Max
    last_names = ("M\u00fcller", "Schmidt von Berg")
