"""Consent journal, gating per purpose (function and SQL view), and double opt-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.db.engine import Database
from tenantry.errors import PermissionDeniedError, ValidationError
from tenantry.models import DoiToken, Subject
from tenantry.models.enums import ConsentDecision, ConsentPurpose
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.services.privacy.consent import (
    ConsentRequiredError,
    append_consent,
    consent_history,
    consent_status,
    require_consent,
)
from tenantry.services.privacy.doi import (
    InvalidTokenError,
    issue_opt_in,
    purge_unconfirmed,
    redeem_opt_in,
)
from tests.conftest import TenantFixture
from tests.factories import NOTICE, TEST_MASTER

PURPOSES = list(ConsentPurpose)


def _subject(db: Database, tenant: TenantFixture, email: str = "person@example.org"):
    with db.tenant_uow(tenant.id) as uow:
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email=email)
        uow.commit()
        return subject.id


def _active_in_view(db: Database, tenant: TenantFixture, subject_id, purpose) -> bool:
    with db.tenant_uow(tenant.id) as uow:
        return bool(
            uow.session.scalar(
                sa.text(
                    "SELECT count(*) FROM privacy.active_consents WHERE subject_id = :s AND purpose = :p"
                ),
                {"s": subject_id, "p": purpose.value},
            )
        )


@pytest.mark.parametrize("purpose", PURPOSES)
def test_processing_is_refused_without_consent(
    db: Database, tenant: TenantFixture, purpose
) -> None:
    subject_id = _subject(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        with pytest.raises(ConsentRequiredError) as info:
            require_consent(uow, subject_id, purpose)
        assert "missing" in info.value.message
    assert not _active_in_view(db, tenant, subject_id, purpose)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_granted_consent_allows_only_its_own_purpose(
    db: Database, tenant: TenantFixture, purpose
) -> None:
    subject_id = _subject(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        append_consent(uow, subject_id, purpose, "granted", source="web_form", notice=NOTICE)
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        require_consent(uow, subject_id, purpose)
        for other in PURPOSES:
            if other is not purpose:
                with pytest.raises(ConsentRequiredError):
                    require_consent(uow, subject_id, other)
    assert _active_in_view(db, tenant, subject_id, purpose)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_withdrawn_consent_refuses_processing(
    db: Database, tenant: TenantFixture, clocked_db: Database, clock: FixedClock, purpose
) -> None:
    subject_id = _subject(clocked_db, tenant)
    with clocked_db.tenant_uow(tenant.id) as uow:
        append_consent(uow, subject_id, purpose, "granted", source="web_form", notice=NOTICE)
        uow.commit()
    clock.advance(timedelta(minutes=5))
    with clocked_db.tenant_uow(tenant.id) as uow:
        append_consent(
            uow, subject_id, purpose, "withdrawn", source="preference_center", notice=NOTICE
        )
        uow.commit()
    with clocked_db.tenant_uow(tenant.id) as uow:
        status = consent_status(uow, subject_id, purpose)
        assert (status.active, status.reason) == (False, "withdrawn")
        assert [e.decision for e in consent_history(uow, subject_id)] == [
            ConsentDecision.GRANTED,
            ConsentDecision.WITHDRAWN,
        ]
    assert not _active_in_view(db, tenant, subject_id, purpose)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_expired_consent_refuses_processing(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock, purpose
) -> None:
    subject_id = _subject(clocked_db, tenant)
    with clocked_db.tenant_uow(tenant.id) as uow:
        append_consent(
            uow,
            subject_id,
            purpose,
            "granted",
            source="web_form",
            notice=NOTICE,
            expires_at=clock.now() + timedelta(days=365),
        )
        uow.commit()
    clock.advance(timedelta(days=364))
    with clocked_db.tenant_uow(tenant.id) as uow:
        require_consent(uow, subject_id, purpose)
    clock.advance(timedelta(days=2))
    with clocked_db.tenant_uow(tenant.id) as uow:
        with pytest.raises(ConsentRequiredError) as info:
            require_consent(uow, subject_id, purpose)
        assert "expired" in info.value.message


def test_the_sql_view_respects_expiry(db: Database, tenant: TenantFixture) -> None:
    subject_id = _subject(db, tenant)
    with db.platform_uow(tenant_id=tenant.id) as uow:  # an entry that expired an hour ago
        uow.session.execute(
            sa.text(
                "INSERT INTO privacy.consent_journal (tenant_id, id, subject_id, purpose, legal_basis,"
                " decision, source, notice_version, notice_hash, recorded_at, expires_at) VALUES"
                " (:t, gen_random_uuid(), :s, 'analytics', 'consent', 'granted', 'import', 'v1',"
                " repeat('a', 64), now() - interval '2 days', now() - interval '1 hour')"
            ),
            {"t": tenant.id, "s": subject_id},
        )
        uow.commit()
    assert not _active_in_view(db, tenant, subject_id, ConsentPurpose.ANALYTICS)


def test_consent_journal_is_append_only_even_for_the_owner(
    db: Database, tenant: TenantFixture
) -> None:
    subject_id = _subject(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        append_consent(
            uow, subject_id, ConsentPurpose.ANALYTICS, "granted", source="web_form", notice=NOTICE
        )
        uow.commit()
    with pytest.raises(PermissionDeniedError), db.platform_uow() as uow:
        uow.session.execute(
            sa.text("UPDATE privacy.consent_journal SET decision = 'denied' WHERE subject_id = :s"),
            {"s": subject_id},
        )
    with pytest.raises(PermissionDeniedError), db.platform_uow() as uow:
        uow.session.execute(
            sa.text("DELETE FROM privacy.consent_journal WHERE subject_id = :s"), {"s": subject_id}
        )


def test_consent_for_an_unknown_subject_or_purpose_is_refused(
    db: Database, tenant: TenantFixture
) -> None:
    subject_id = _subject(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        with pytest.raises(ValidationError):
            append_consent(
                uow, db.ids(), ConsentPurpose.ANALYTICS, "granted", source="x", notice=NOTICE
            )
        with pytest.raises(ValidationError):
            append_consent(uow, subject_id, "telepathy", "granted", source="x", notice=NOTICE)
        with pytest.raises(ValidationError):
            append_consent(
                uow, subject_id, ConsentPurpose.ANALYTICS, "maybe", source="x", notice=NOTICE
            )


def _start(db: Database, tenant: TenantFixture, email: str = "optin@example.org"):
    with db.tenant_uow(tenant.id) as uow:
        pending = issue_opt_in(
            uow,
            KeyRing(uow, TEST_MASTER),
            email=email,
            purpose=ConsentPurpose.MARKETING_EMAIL,
            notice=NOTICE,
        )
        uow.commit()
        return pending


def _confirm(db: Database, tenant: TenantFixture, token: str, **kw):
    with db.tenant_uow(tenant.id) as uow:
        entry = redeem_opt_in(uow, KeyRing(uow, TEST_MASTER), token, notice=NOTICE, **kw)
        uow.commit()
        return entry


def test_double_opt_in_grants_consent_once_and_stores_only_the_token_hash(
    db: Database, tenant: TenantFixture
) -> None:
    pending = _start(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        stored = uow.session.get(DoiToken, (tenant.id, pending.token_id))
        assert stored is not None and pending.token.encode() not in stored.token_hash
        require_consent_fails = pytest.raises(ConsentRequiredError)
        with require_consent_fails:
            require_consent(uow, pending.subject_id, ConsentPurpose.MARKETING_EMAIL)
    entry = _confirm(db, tenant, pending.token, email="OptIn@example.org")
    assert entry.source == "double_opt_in" and entry.doi_token_id == pending.token_id
    with db.tenant_uow(tenant.id) as uow:
        require_consent(uow, pending.subject_id, ConsentPurpose.MARKETING_EMAIL)
    with pytest.raises(InvalidTokenError) as info:
        _confirm(db, tenant, pending.token)
    assert "already been used" in info.value.message


def test_expired_token_is_refused(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    pending = _start(clocked_db, tenant)
    clock.advance(timedelta(days=7, seconds=1))
    with pytest.raises(InvalidTokenError) as info:
        _confirm(clocked_db, tenant, pending.token)
    assert "expired" in info.value.message


def test_token_is_bound_to_its_address_and_tenant(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    pending = _start(db, tenant)
    with pytest.raises(InvalidTokenError):
        _confirm(db, tenant, pending.token, email="someone.else@example.org")
    with pytest.raises(InvalidTokenError):
        _confirm(db, other_tenant, pending.token)
    with pytest.raises(InvalidTokenError):
        _confirm(db, tenant, "guessed-token")


def test_unconfirmed_sign_ups_are_purged_after_expiry(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    stale = _start(clocked_db, tenant, "stale@example.org")
    confirmed = _start(clocked_db, tenant, "confirmed@example.org")
    _confirm(clocked_db, tenant, confirmed.token)
    clock.advance(timedelta(days=3))
    fresh = _start(clocked_db, tenant, "fresh@example.org")
    clock.advance(timedelta(days=5))
    with clocked_db.tenant_uow(tenant.id) as uow:
        assert purge_unconfirmed(uow, dry_run=True) == 1
        assert purge_unconfirmed(uow) == 1
        uow.commit()
    with clocked_db.tenant_uow(tenant.id) as uow:
        subjects = set(uow.session.scalars(sa.select(Subject.id)))
        tokens = set(uow.session.scalars(sa.select(DoiToken.id)))
        assert stale.subject_id not in subjects and stale.token_id not in tokens
        assert {confirmed.subject_id, fresh.subject_id} <= subjects
        assert purge_unconfirmed(uow) == 0
