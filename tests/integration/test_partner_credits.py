"""The partner credits ledger on PostgreSQL: lots spent oldest-first, refunds, expiry, bad input
writing nothing, an append-only ledger, and a balance that never goes below zero when
purchases, refunds and routing runs race each other (threads, separate transactions)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.db.engine import Database
from tenantry.decisions import credits, partners, routing
from tenantry.errors import NotFoundError, PermissionDeniedError, TenantryError, ValidationError
from tenantry.models.enums import MembershipRole
from tenantry.models.partners import AssignmentStatus, CreditEntry, CreditEntryKind, CreditLot
from tests.conftest import TenantFixture
from tests.partners import lead, partner


def _ledger(db: Database, tenant: TenantFixture) -> list[tuple[str, int, int]]:
    with db.tenant_uow(tenant.id) as uow:
        rows = uow.session.execute(
            sa.select(CreditEntry.kind, CreditEntry.amount, CreditEntry.balance_after)
            .where(CreditEntry.tenant_id == tenant.id)
            .order_by(CreditEntry.id)
        ).all()
    return [(str(k), a, b) for k, a, b in rows]


def _balance(db: Database, tenant: TenantFixture, location_id: object) -> credits.Balance:
    with db.tenant_uow(tenant.id) as uow:
        p = partners.get_partner(uow, tenant.principal(), location_id)  # type: ignore[arg-type]
        return credits.balance_of(uow, p, uow.clock.now())


def test_credits_are_spent_oldest_lot_first_and_refunded_to_their_lots(
    clocked_db: Database, clock: FixedClock, tenant: TenantFixture
) -> None:
    db, loc = clocked_db, tenant.locations[0]
    partner(db, tenant, loc, price=5)
    with db.tenant_uow(tenant.id) as uow:
        partners.buy_credits(uow, tenant.principal(), loc, 4, valid_days=30)
        partners.buy_credits(uow, tenant.principal(), loc, 10, valid_days=10)
        uow.commit()
    lead(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        result = routing.route_leads(uow, tenant.principal())
        uow.commit()
    assert len(result.routed) == 1
    with db.tenant_uow(tenant.id) as uow:
        lots = uow.session.scalars(sa.select(CreditLot).order_by(CreditLot.expires_at)).all()
        # The lot expiring first (10 credits, 10 days) pays the whole price.
        assert [(lot.amount, lot.remaining) for lot in lots] == [(10, 5), (4, 4)]
    assignment = result.routed[0].assignment_id
    assert assignment is not None
    with db.tenant_uow(tenant.id) as uow:
        partners.refund_credits(uow, tenant.principal(), loc, assignment, 2)
        uow.commit()
    with (
        pytest.raises(ValidationError, match="at most 3 credits"),
        db.tenant_uow(tenant.id) as uow,
    ):
        partners.refund_credits(uow, tenant.principal(), loc, assignment, 4)
    assert _balance(db, tenant, loc).balance == 11
    assert _ledger(db, tenant) == [
        ("purchase", 4, 4),
        ("purchase", 10, 14),
        ("consumption", -5, 9),
        ("refund", 2, 11),
    ]


def test_expiry_writes_off_the_unspent_remainder_once(
    clocked_db: Database, clock: FixedClock, tenant: TenantFixture
) -> None:
    db, loc = clocked_db, tenant.locations[0]
    partner(db, tenant, loc)
    with db.tenant_uow(tenant.id) as uow:
        partners.buy_credits(uow, tenant.principal(), loc, 7, valid_days=1)
        partners.buy_credits(uow, tenant.principal(), loc, 3, valid_days=90)
        uow.commit()
    clock.advance(timedelta(days=2))
    assert _balance(db, tenant, loc).spendable == 3
    for _ in range(2):
        with db.tenant_uow(tenant.id) as uow:
            credits.expire_due(uow, uow.clock.now(), "test")
            uow.commit()
    assert _ledger(db, tenant)[-1] == ("expiry", -7, 3)
    assert [k for k, _a, _b in _ledger(db, tenant)].count("expiry") == 1
    assert _balance(db, tenant, loc).balance == 3


@pytest.mark.parametrize("amount", [0, -5, True, 10**9])
def test_bad_amounts_and_unknown_partners_write_nothing(
    db: Database, tenant: TenantFixture, amount: int
) -> None:
    loc = tenant.locations[0]
    partner(db, tenant, loc)
    with pytest.raises(ValidationError), db.tenant_uow(tenant.id) as uow:
        partners.buy_credits(uow, tenant.principal(), loc, amount)
    with pytest.raises(NotFoundError), db.tenant_uow(tenant.id) as uow:
        partners.buy_credits(uow, tenant.principal(), tenant.locations[1], 5)
    analyst = tenant.principal(MembershipRole.ANALYST)
    with pytest.raises(PermissionDeniedError), db.tenant_uow(tenant.id) as uow:
        partners.buy_credits(uow, analyst, loc, 5)
    assert _ledger(db, tenant) == []


def test_the_ledger_is_append_only_for_the_application(db: Database, tenant: TenantFixture) -> None:
    loc = tenant.locations[0]
    partner(db, tenant, loc, credits=5)
    for statement in (
        "UPDATE decisions.credit_entries SET amount = 50",
        "DELETE FROM decisions.credit_entries",
    ):
        with pytest.raises(TenantryError), db.tenant_uow(tenant.id) as uow:
            uow.session.execute(sa.text(statement))
    with pytest.raises(TenantryError), db.tenant_uow(tenant.id) as uow:
        uow.session.execute(sa.text("UPDATE decisions.credit_balances SET balance = -1"))
    assert _ledger(db, tenant) == [("purchase", 5, 5)]


def _race(workers: list[threading.Thread]) -> None:
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)


def test_concurrent_routing_runs_never_spend_credits_twice(
    db: Database, tenant: TenantFixture
) -> None:
    loc = tenant.locations[0]
    partner(db, tenant, loc, price=3, credits=10, capacity=50)  # pays for 3 leads
    leads = [lead(db, tenant) for _ in range(6)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            with db.tenant_uow(tenant.id) as uow:
                routing.route_leads(uow, tenant.principal())
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    _race([threading.Thread(target=run) for _ in range(4)])
    assert errors == []
    with db.tenant_uow(tenant.id) as uow:
        offered = (
            uow.session.execute(
                sa.text("SELECT lead_id FROM decisions.lead_assignments WHERE status = 'offered'")
            )
            .scalars()
            .all()
        )
    assert len(offered) == 3 and len(set(offered)) == 3 and set(offered) <= set(leads)
    ledger = _ledger(db, tenant)
    assert [k for k, _a, _b in ledger].count("consumption") == 3
    assert ledger[-1][2] == 1 and all(b >= 0 for _k, _a, b in ledger)


def test_concurrent_purchases_refunds_and_declines_keep_the_balance_consistent(
    db: Database, tenant: TenantFixture
) -> None:
    loc = tenant.locations[0]
    partner(db, tenant, loc, price=2, credits=8, capacity=50)
    for _ in range(4):
        lead(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        routed = routing.route_leads(uow, tenant.principal()).routed
        uow.commit()
    assert len(routed) == 4
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def act(i: int) -> None:
        try:
            barrier.wait()
            with db.tenant_uow(tenant.id) as uow:
                a = routed[i % 4].assignment_id
                assert a is not None
                if i < 4:
                    partners.answer(uow, tenant.principal(), a, AssignmentStatus.DECLINED)
                else:
                    partners.buy_credits(uow, tenant.principal(), loc, 1)
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    _race([threading.Thread(target=act, args=(i,)) for i in range(8)])
    assert errors == []
    ledger = _ledger(db, tenant)
    # 8 bought, 8 spent on four leads, 8 refunded by four declines, 4 more bought.
    assert sum(a for _k, a, _b in ledger) == 12 == _balance(db, tenant, loc).balance
    kinds = [k for k, _a, _b in ledger]
    assert kinds.count(CreditEntryKind.REFUND.value) == 4 and kinds.count("purchase") == 5
    assert all(b >= 0 for _k, _a, b in ledger)


def test_routing_runs_racing_purchases_keep_ledger_and_offers_consistent(
    db: Database, tenant: TenantFixture
) -> None:
    a, b = tenant.locations
    partner(db, tenant, a, price=2, credits=3, capacity=50)
    partner(db, tenant, b, at=(52.53, 13.41), price=3, credits=3, capacity=50)
    leads = {lead(db, tenant) for _ in range(8)}
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def act(i: int) -> None:
        try:
            barrier.wait()
            with db.tenant_uow(tenant.id) as uow:
                if i % 2:
                    routing.route_leads(uow, tenant.principal())
                else:
                    partners.buy_credits(uow, tenant.principal(), (a, b)[i % 4 // 2], 4)
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    _race([threading.Thread(target=act, args=(i,)) for i in range(6)])
    assert errors == []
    with db.tenant_uow(tenant.id) as uow:
        offers = uow.session.execute(
            sa.text("SELECT id, lead_id, price_credits FROM decisions.lead_assignments")
        ).all()
        spent = uow.session.execute(
            sa.text(
                "SELECT assignment_id, -sum(amount) FROM decisions.credit_entries"
                " WHERE kind = 'consumption' GROUP BY assignment_id"
            )
        ).all()
    assert len({o.lead_id for o in offers}) == len(offers) and {o.lead_id for o in offers} <= leads
    assert dict(spent) == {o.id: o.price_credits for o in offers}  # each offer paid exactly once
    for loc in (a, b):
        bal = _balance(db, tenant, loc)
        assert bal.balance >= 0
    total = sum(amount for _k, amount, _b in _ledger(db, tenant))
    assert total == _balance(db, tenant, a).balance + _balance(db, tenant, b).balance
