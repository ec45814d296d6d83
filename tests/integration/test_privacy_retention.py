"""Retention across simulated years: end-of-year periods, legal holds, idempotence, dry runs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.models import Customer, Invoice, Lead, RetentionPolicy
from tenantry.models.enums import HoldScope, MembershipRole
from tenantry.services.principal import Principal
from tenantry.services.privacy.retention import place_hold, release_hold, run_retention
from tests.conftest import TenantFixture


def _invoice(db: Database, tenant: TenantFixture, issued: date, customer_id=None) -> Invoice:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        if customer_id is None:
            customer = Customer(tenant_id=tenant.id, id=db.ids(), email="c@example.org")
            uow.session.add(customer)
            uow.session.flush()
            customer_id = customer.id
        inv = Invoice(
            tenant_id=tenant.id,
            id=db.ids(),
            customer_id=customer_id,
            number=f"R-{uuid.uuid4().hex[:12]}",
            issued_on=issued,
            net_cents=100,
            tax_cents=19,
            gross_cents=119,
            billing_name="Erika Example",
        )
        uow.session.add(inv)
        uow.commit()
        return inv


def _invoices(db: Database, tenant: TenantFixture) -> set:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        return set(uow.session.scalars(sa.select(Invoice.id).where(Invoice.tenant_id == tenant.id)))


def _dpo(tenant: TenantFixture) -> Principal:
    return Principal(tenant_id=tenant.id, role=MembershipRole.DPO)


def _run(db: Database, tenant: TenantFixture, **kw):
    return {o.dataset: o for o in run_retention(db, _dpo(tenant), **kw)}


def test_invoices_expire_eight_years_after_the_end_of_their_year(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    early, late = (
        _invoice(clocked_db, tenant, date(2017, 1, 2)),
        _invoice(clocked_db, tenant, date(2017, 12, 30)),
    )
    next_year = _invoice(clocked_db, tenant, date(2018, 6, 1))
    clock.set(datetime(2025, 12, 31, 23, 0, tzinfo=UTC))
    assert _run(clocked_db, tenant)["commerce.invoices"].affected == 0
    assert _invoices(clocked_db, tenant) == {early.id, late.id, next_year.id}
    clock.set(datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    assert _run(clocked_db, tenant)["commerce.invoices"].affected == 2
    assert _invoices(clocked_db, tenant) == {next_year.id}
    assert _run(clocked_db, tenant)["commerce.invoices"].affected == 0  # idempotent
    clock.set(datetime(2027, 1, 1, 0, 30, tzinfo=UTC))
    assert _run(clocked_db, tenant)["commerce.invoices"].affected == 1
    assert _invoices(clocked_db, tenant) == set()


def test_dry_run_counts_and_changes_nothing(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    inv = _invoice(clocked_db, tenant, date(2010, 5, 5))
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    outcome = _run(clocked_db, tenant, dry_run=True)["commerce.invoices"]
    assert outcome.affected == 1
    assert _invoices(clocked_db, tenant) == {inv.id}


@pytest.mark.parametrize("scope", [HoldScope.DATASET, HoldScope.ROW, HoldScope.CUSTOMER])
def test_legal_hold_blocks_deletion_until_released(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock, scope: HoldScope
) -> None:
    held = _invoice(clocked_db, tenant, date(2012, 3, 3))
    free = _invoice(clocked_db, tenant, date(2012, 4, 4))
    target = {
        HoldScope.DATASET: None,
        HoldScope.ROW: held.id,
        HoldScope.CUSTOMER: held.customer_id,
    }[scope]
    with clocked_db.tenant_uow(tenant.id) as uow:
        hold = place_hold(
            uow,
            _dpo(tenant),
            scope=scope,
            reason="tax audit 2012",
            placed_by="dpo",
            dataset=None if scope is HoldScope.CUSTOMER else "commerce.invoices",
            target_id=target,
        )
        uow.commit()
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    outcome = _run(clocked_db, tenant)["commerce.invoices"]
    expected_left = {held.id, free.id} if scope is HoldScope.DATASET else {held.id}
    assert _invoices(clocked_db, tenant) == expected_left
    assert outcome.held == len(expected_left)
    with clocked_db.tenant_uow(tenant.id) as uow:
        release_hold(uow, _dpo(tenant), hold.id)
        uow.commit()
    _run(clocked_db, tenant)
    assert _invoices(clocked_db, tenant) == set()


def test_inactive_leads_are_anonymised_keeping_their_figures(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    with clocked_db.platform_uow(tenant_id=tenant.id) as uow:
        old = Lead(
            tenant_id=tenant.id,
            id=clocked_db.ids(),
            location_id=tenant.locations[0],
            source="google",
            score=77,
            first_name="Old",
            email="old@example.org",
            updated_at=datetime(2022, 1, 1, tzinfo=UTC),
        )
        recent = Lead(
            tenant_id=tenant.id,
            id=clocked_db.ids(),
            location_id=tenant.locations[0],
            source="google",
            score=12,
            email="recent@example.org",
            updated_at=datetime(2025, 6, 1, tzinfo=UTC),
        )
        uow.session.add_all([old, recent])
        uow.commit()
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    assert _run(clocked_db, tenant)["crm.leads"].affected == 1
    with clocked_db.platform_uow(tenant_id=tenant.id) as uow:
        rows = {
            lead.id: lead
            for lead in uow.session.scalars(sa.select(Lead).where(Lead.tenant_id == tenant.id))
        }
    assert rows[old.id].email is None and rows[old.id].first_name is None
    assert rows[old.id].score == 77 and rows[old.id].source.value == "google"
    assert rows[recent.id].email == "recent@example.org"
    assert _run(clocked_db, tenant)["crm.leads"].affected == 0


def test_tenant_override_changes_the_period(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    with clocked_db.platform_uow(tenant_id=tenant.id) as uow:
        uow.session.add(
            RetentionPolicy(
                tenant_id=tenant.id,
                dataset="crm.leads",
                period_months=12,
                action="anonymise",
                reason="shorter by contract",
            )
        )
        uow.session.add(
            Lead(
                tenant_id=tenant.id,
                id=clocked_db.ids(),
                location_id=tenant.locations[0],
                source="google",
                email="two-years@example.org",
                updated_at=datetime(2024, 1, 1, tzinfo=UTC),
            )
        )
        uow.commit()
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    assert _run(clocked_db, tenant)["crm.leads"].affected == 1


def test_superseded_consent_entries_expire_but_the_latest_stays(
    clocked_db: Database, tenant: TenantFixture, clock: FixedClock
) -> None:
    from tenantry.models import ConsentEntry
    from tenantry.models.enums import ConsentPurpose
    from tenantry.privacy.keys import KeyRing
    from tenantry.privacy.subjects import resolve_subject
    from tenantry.services.privacy.consent import append_consent, require_consent
    from tests.factories import NOTICE, TEST_MASTER

    clock.set(datetime(2020, 1, 1, tzinfo=UTC))
    with clocked_db.tenant_uow(tenant.id) as uow:
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email="journal@example.org")
        append_consent(
            uow, subject.id, ConsentPurpose.ANALYTICS, "denied", source="form", notice=NOTICE
        )
        uow.commit()
    clock.set(datetime(2020, 6, 1, tzinfo=UTC))
    with clocked_db.tenant_uow(tenant.id) as uow:
        append_consent(
            uow, subject.id, ConsentPurpose.ANALYTICS, "granted", source="form", notice=NOTICE
        )
        uow.commit()
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    assert _run(clocked_db, tenant)["privacy.consent_journal"].affected == 1
    with clocked_db.tenant_uow(tenant.id) as uow:
        left = uow.session.scalars(sa.select(ConsentEntry.decision)).all()
        assert [d.value for d in left] == ["granted"]
        require_consent(uow, subject.id, ConsentPurpose.ANALYTICS)


def test_a_hold_needs_a_reason_and_a_known_dataset(db: Database, tenant: TenantFixture) -> None:
    with db.tenant_uow(tenant.id) as uow:
        with pytest.raises(ValidationError):
            place_hold(
                uow,
                _dpo(tenant),
                scope=HoldScope.DATASET,
                dataset="commerce.invoices",
                reason=" ",
                placed_by="x",
            )
        with pytest.raises(ValidationError):
            place_hold(
                uow,
                _dpo(tenant),
                scope=HoldScope.DATASET,
                dataset="crm.nothing",
                reason="r",
                placed_by="x",
            )
        with pytest.raises(ValidationError):
            place_hold(
                uow,
                _dpo(tenant),
                scope=HoldScope.ROW,
                dataset="commerce.invoices",
                reason="r",
                placed_by="x",
            )


def test_defaults_follow_german_law_since_2025(db: Database, tenant: TenantFixture) -> None:
    from tenantry.services.privacy.retention import effective_policies

    with db.tenant_uow(tenant.id) as uow:
        policies = {p.dataset: p for p in effective_policies(uow, _dpo(tenant))}
    assert policies["commerce.invoices"].period_months == 96
    assert policies["commerce.payments"].period_months == 96
    assert policies["accounting.books"].period_months == 120
    assert policies["engage.messages"].period_months == 72
    assert policies["privacy.doi_tokens"].period_days == 7
    assert {
        policies[d].start_event
        for d in ("commerce.invoices", "accounting.books", "engage.messages")
    } == {"end_of_calendar_year"}
