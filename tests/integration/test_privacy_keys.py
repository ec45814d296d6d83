"""Key hierarchy on a real database: subject keys, crypto-shredding, rotation and resume."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.models import SubjectKey, TenantKey
from tenantry.models.enums import KeyPurpose
from tenantry.privacy.crypto import DecryptionError
from tenantry.privacy.keys import KeyRing, rotate_tenant_key
from tenantry.privacy.subjects import find_subject, resolve_subject
from tests.conftest import TenantFixture, make_tenant
from tests.factories import TEST_MASTER


def _subject_with_secret(db: Database, tenant: TenantFixture, email: str) -> tuple[object, bytes]:
    with db.tenant_uow(tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        subject = resolve_subject(uow, ring, email=email)
        ct = ring.encrypt(subject.id, "crm.customers", "email", subject.id, email)
        uow.commit()
        return subject.id, ct


def _decrypt(db: Database, tenant: TenantFixture, subject_id, ct: bytes) -> str:
    with db.tenant_uow(tenant.id) as uow:
        return KeyRing(uow, TEST_MASTER).decrypt(
            subject_id, "crm.customers", "email", subject_id, ct
        )


def test_keys_are_stored_only_wrapped(db: Database, tenant: TenantFixture) -> None:
    subject_id, _ct = _subject_with_secret(db, tenant, "wrapped@example.org")
    with db.tenant_uow(tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        stored = uow.session.get(SubjectKey, (tenant.id, subject_id, 1))
        plain_key = ring.subject_key(subject_id)[1]
        assert stored is not None and plain_key not in (stored.wrapped_key or b"")
        tenant_rows = uow.session.scalars(sa.select(TenantKey)).all()
        assert {r.purpose for r in tenant_rows} == {KeyPurpose.WRAPPING, KeyPurpose.INDEXING}
        assert all(ring.tenant_key(r.purpose, r.version) not in r.wrapped_key for r in tenant_rows)


def test_same_email_in_two_tenants_gets_different_blind_indexes_and_pseudonyms(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    found = []
    for t in (tenant, other_tenant):
        with db.tenant_uow(t.id) as uow:
            s = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email="same@example.org")
            uow.commit()
            found.append((s.email_bidx, s.pseudonym))
    assert found[0][0] != found[1][0] and found[0][1] != found[1][1]


def test_lookup_by_email_and_phone_uses_normalised_blind_indexes(
    db: Database, tenant: TenantFixture
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        created = resolve_subject(uow, ring, email="Lookup@Example.org", phone="030 555 1234")
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        assert find_subject(uow, ring, email="  lookup@example.ORG").id == created.id
        assert find_subject(uow, ring, phone="+49 30 5551234").id == created.id
        assert find_subject(uow, ring, email="other@example.org") is None


def test_destroying_the_subject_key_makes_its_data_unreadable(
    db: Database, tenant: TenantFixture
) -> None:
    subject_id, ct = _subject_with_secret(db, tenant, "shred@example.org")
    assert _decrypt(db, tenant, subject_id, ct) == "shred@example.org"
    with db.tenant_uow(tenant.id) as uow:
        assert KeyRing(uow, TEST_MASTER).destroy_subject_key(subject_id) == 1
        uow.commit()
    with pytest.raises(DecryptionError):
        _decrypt(db, tenant, subject_id, ct)


def test_rotation_rewraps_subject_keys_and_old_ciphertexts_still_decrypt(db: Database) -> None:
    tenant = make_tenant(db)
    secrets = [_subject_with_secret(db, tenant, f"rot{i}@example.org") for i in range(30)]
    report = rotate_tenant_key(db, TEST_MASTER, tenant.id, batch=7)
    assert (report.old_version, report.new_version, report.rewrapped) == (1, 2, 30)
    assert not report.resumed
    with db.tenant_uow(tenant.id) as uow:
        versions = set(uow.session.scalars(sa.select(SubjectKey.wrapping_version)))
        statuses = {
            r.version: r.status.value
            for r in uow.session.scalars(
                sa.select(TenantKey).where(TenantKey.purpose == KeyPurpose.WRAPPING)
            )
        }
    assert versions == {2}
    assert statuses == {1: "retired", 2: "active"}
    for i, (subject_id, ct) in enumerate(secrets):
        assert _decrypt(db, tenant, subject_id, ct) == f"rot{i}@example.org"


def test_interrupted_rotation_resumes_without_a_new_version(db: Database) -> None:
    tenant = make_tenant(db)
    secrets = [_subject_with_secret(db, tenant, f"resume{i}@example.org") for i in range(10)]
    rotate_tenant_key(db, TEST_MASTER, tenant.id)
    with db.platform_uow() as uow:  # simulate a crash: some keys left on the old version
        rows = uow.session.scalars(
            sa.select(SubjectKey).where(SubjectKey.tenant_id == tenant.id)
        ).all()
        assert len(rows) == 10
    # Re-create the crashed state: rotate again but stop after the first batch.
    import tenantry.privacy.keys as keys

    original = keys._rewrap_batch
    calls = {"n": 0}

    def crash_after_first(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("simulated crash")
        return original(*args, **kwargs)

    keys._rewrap_batch = crash_after_first
    try:
        with pytest.raises(RuntimeError):
            rotate_tenant_key(db, TEST_MASTER, tenant.id, batch=4)
    finally:
        keys._rewrap_batch = original
    with db.tenant_uow(tenant.id) as uow:
        mixed = set(uow.session.scalars(sa.select(SubjectKey.wrapping_version)))
    assert mixed == {2, 3}
    for i, (subject_id, ct) in enumerate(secrets):  # both versions still decrypt
        assert _decrypt(db, tenant, subject_id, ct) == f"resume{i}@example.org"
    report = rotate_tenant_key(db, TEST_MASTER, tenant.id, batch=4)
    assert report.resumed and report.new_version == 3 and report.rewrapped == 6
    with db.tenant_uow(tenant.id) as uow:
        assert set(uow.session.scalars(sa.select(SubjectKey.wrapping_version))) == {3}
