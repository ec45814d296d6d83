"""Attacks on the decision services (issue 21) over HTTP: each test pins a problem a hostile
client or a careful reviewer found, and failed before its fix."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.decisions.context import Context, Profile
from tenantry.decisions.experiments import decide
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key
from tests.partners import lead, partner

PROBLEM = "application/problem+json"


def _offer(client: TestClient, db: Database, tenant: TenantFixture) -> tuple[dict[str, str], Any]:
    """An owner's key and the one offer that routing made to location a's partner."""
    owner = issue_key(db, tenant.id)
    a = tenant.locations[0]
    partner(db, tenant, a, credits=10, price=3)
    lead(db, tenant)
    run = client.post("/v1/lead-routing", headers=owner)
    assert run.status_code == 200 and len(run.json()["assigned"]) == 1, run.text
    (offer,) = client.get("/v1/lead-assignments", headers=owner).json()["items"]
    return owner, offer


def test_an_offer_refunded_by_hand_can_still_be_declined(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner, offer = _offer(client, db, tenant)
    a = tenant.locations[0]
    url = f"/v1/partners/{a}/credits"
    back = client.post(url, json={"kind": "refund", "assignment_id": offer["id"]}, headers=owner)
    assert back.status_code == 201, back.text
    declined = client.post(f"/v1/lead-assignments/{offer['id']}/decline", headers=owner)
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    got = client.get(url, headers=owner).json()
    # Refunded once: the decline does not give the credits back a second time.
    assert got["balance"] == 10
    assert [e["kind"] for e in got["history"]] == ["refund", "consumption", "purchase"]


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    return body


def test_two_experiments_for_one_slot_at_once_one_wins_the_other_is_a_409(
    client: TestClient, db: Database
) -> None:
    t = make_tenant(db)
    h = issue_key(db, t.id)
    body = {"slot": "race", "arms": [{"key": "a"}, {"key": "b"}]}
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: client.post("/v1/experiments", json=body, headers=h), range(4))
        )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409, 409, 409], [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            _problem(r, 409)
    assert len(client.get("/v1/experiments", headers=h).json()["items"]) == 1


def test_other_tenants_decisions_and_read_only_keys(client: TestClient, db: Database) -> None:
    mine, theirs = make_tenant(db), make_tenant(db)
    h_theirs = issue_key(db, theirs.id)
    assert (
        client.post(
            "/v1/experiments", json={"slot": "s", "arms": [{"key": "a"}]}, headers=h_theirs
        ).status_code
        == 201
    )
    with db.tenant_uow(theirs.id) as uow:
        d = decide(
            uow, "s", Profile(uuid.uuid4(), None, True, Context()), rng=np.random.default_rng(1)
        )
        uow.commit()
    h_mine = issue_key(db, mine.id)
    url = f"/v1/decisions/{d.decision_id}/outcome"
    _problem(client.post(url, json={"success": True}, headers=h_mine), 404)
    analyst = issue_key(db, theirs.id, "analyst")
    _problem(client.post(url, json={"success": True}, headers=analyst), 403)
    _problem(
        client.post("/v1/experiments", json={"slot": "t", "arms": [{"key": "a"}]}, headers=analyst),
        403,
    )
    with db.tenant_uow(theirs.id) as uow:
        outcome = uow.session.scalar(sa.text("SELECT outcome FROM decisions.decisions"))
    assert outcome is None
    assert client.post(url, json={"success": True}, headers=h_theirs).status_code == 200


def test_two_outcomes_for_one_decision_at_once_count_once(client: TestClient, db: Database) -> None:
    t = make_tenant(db)
    h = issue_key(db, t.id)
    assert (
        client.post(
            "/v1/experiments", json={"slot": "s", "arms": [{"key": "a"}]}, headers=h
        ).status_code
        == 201
    )
    with db.tenant_uow(t.id) as uow:
        d = decide(
            uow, "s", Profile(uuid.uuid4(), None, True, Context()), rng=np.random.default_rng(1)
        )
        uow.commit()
    url = f"/v1/decisions/{d.decision_id}/outcome"
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda i: client.post(url, json={"success": i % 2 == 0}, headers=h), range(4))
        )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    with db.tenant_uow(t.id) as uow:
        s, f = uow.session.execute(
            sa.text("SELECT sum(successes), sum(failures) FROM decisions.posteriors")
        ).one()
    assert s + f == 1


def test_routing_to_a_partner_of_capacity_zero_offers_nothing_and_spends_nothing(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    owner = issue_key(db, tenant.id)
    a = tenant.locations[0]
    partner(db, tenant, a, credits=10, price=3, capacity=0)
    lead(db, tenant)
    lead(db, tenant, at=None)
    run = client.post("/v1/lead-routing", headers=owner)
    assert run.status_code == 200, run.text
    assert run.json()["assigned"] == [] and len(run.json()["unassigned"]) == 2
    assert client.get(f"/v1/partners/{a}/credits", headers=owner).json()["balance"] == 10


def test_routing_while_partners_buy_refund_and_decline_keeps_the_ledger_whole(
    client: TestClient, db: Database
) -> None:
    t = make_tenant(db, locations=2)
    owner = issue_key(db, t.id)
    a, b = t.locations
    partner(db, t, a, credits=12, price=2, capacity=100)
    partner(db, t, b, credits=12, price=3, capacity=100)
    for _ in range(6):
        lead(db, t)
    first = client.post("/v1/lead-routing", headers=owner)
    assert first.status_code == 200, first.text
    offers = client.get("/v1/lead-assignments", headers=owner).json()["items"]
    assert offers

    def act(i: int) -> Any:
        key = {**owner, "Idempotency-Key": f"k-{i}-{uuid.uuid4().hex}"}
        if i < len(offers):
            return client.post(f"/v1/lead-assignments/{offers[i]['id']}/decline", headers=key)
        if i % 3 == 0:
            return client.post("/v1/lead-routing", headers=key)
        loc = a if i % 2 else b
        return client.post(
            f"/v1/partners/{loc}/credits", json={"kind": "purchase", "amount": 1}, headers=key
        )

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(act, range(len(offers) + 9)))
    assert all(r.status_code < 300 for r in answers), [
        r.text for r in answers if r.status_code >= 300
    ]
    with db.tenant_uow(t.id) as uow:
        rows = uow.session.execute(
            sa.text(
                "SELECT b.partner_id, b.balance,"
                " (SELECT coalesce(sum(amount), 0) FROM decisions.credit_entries e"
                "   WHERE e.tenant_id = b.tenant_id AND e.partner_id = b.partner_id) AS ledger,"
                " (SELECT coalesce(sum(remaining), 0) FROM decisions.credit_lots l"
                "   WHERE l.tenant_id = b.tenant_id AND l.partner_id = b.partner_id) AS lots"
                " FROM decisions.credit_balances b"
            )
        ).all()
        live = uow.session.scalar(
            sa.text(
                "SELECT count(*) FROM decisions.lead_assignments WHERE status <> 'declined'"
                " GROUP BY lead_id ORDER BY count(*) DESC LIMIT 1"
            )
        )
    assert len(rows) == 2
    for r in rows:
        assert r.balance >= 0 and r.balance == r.ledger == r.lots, r
    assert live is None or live == 1  # a lead is offered to one partner at a time


def test_a_repeated_slot_or_user_is_refused_not_silently_one_of_them(
    client: TestClient, db: Database
) -> None:
    h = issue_key(db, make_tenant(db).id, "analyst")
    one, other = uuid.uuid4(), uuid.uuid4()
    for route in ("decide", "personalize"):
        for query in (
            f"slot=a&slot=b&user={one}",
            f"slot=a&user={one}&user={other}",
            f"slot=a&user={one}&user={one}",
        ):
            body = _problem(client.get(f"/v1/{route}?{query}", headers=h), 422)
            assert "more than once" in body["detail"], body
            assert str(other) not in body["detail"]
