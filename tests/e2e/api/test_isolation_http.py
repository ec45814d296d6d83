"""Tenant isolation and roles through HTTP.

With tenant A's key, every route that takes an id answers 404 for tenant B's ids (never 403,
which would reveal that the id exists), and no list shows B's rows. Each role can do exactly
what its row in the permission table allows.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.models.enums import MembershipRole
from tenantry.services.principal import PERMISSIONS, Action
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key
from tests.factories import populate_every_table

# The table whose row an id parameter names.
PARAM_TABLES = {
    "lead_id": "crm.leads",
    "customer_id": "crm.customers",
    "vehicle_id": "crm.vehicles",
    "location_id": "identity.locations",
    "membership_id": "identity.memberships",
    "service_id": "commerce.services",
    "booking_id": "commerce.bookings",
    "payment_id": "commerce.payments",
    "review_id": "engage.reviews",
    "connection_id": "channel.connections",
    "check_id": "insight.visibility_checks",
    "evidence_id": "insight.evidence",
    "recommendation_id": "insight.recommendations",
    "request_id": "privacy.dsar_requests",
    "thread_id": "engage.threads",
    "escalation_id": "engage.escalations",
    "resource_id": "scheduling.resources",
    "closure_id": "scheduling.date_exceptions",
    "notification_id": "commerce.payment_notifications",
    "invoice_id": "commerce.invoices",
    "coupon_id": "commerce.coupons",
    "experiment_id": "decisions.experiments",
    "decision_id": "decisions.decisions",
    "assignment_id": "decisions.lead_assignments",
}
# Valid bodies, so that a 404 is about the id and not about the input.
BODIES: dict[str, dict[str, Any]] = {
    "/v1/decisions/{decision_id}/outcome": {"success": True},
    "/v1/leads/{lead_id}/lose": {"reason": "gone"},
    "/v1/leads/{lead_id}/rescore": {"score": 1, "reason": "x"},
    "/v1/bookings/{booking_id}/payments": {"kind": "full", "method": "card", "amount_cents": 1},
    "/v1/reviews/{review_id}/reply": {"body": "thanks"},
    "/v1/threads/{thread_id}/messages": {"body": "Hallo", "direction": "outbound"},
    "/v1/threads/{thread_id}/escalate": {"reason": "manager please"},
    "/v1/reviews/{review_id}/escalate": {"reason": "manager please"},
    "/v1/leads/{lead_id}/interactions": {"kind": "note"},
    "/v1/threads/{thread_id}": {"status": "open"},
    "/v1/escalations/{escalation_id}": {"status": "acknowledged"},
    "/v1/resources/{resource_id}": {"name": "Lift 2"},
    "/v1/locations/{location_id}/opening-hours": {"intervals": []},
    "/v1/locations/{location_id}/closures": {"on_date": "2027-01-01"},
    "/v1/locations/{location_id}/capacity": {"on_date": "2027-01-01", "max_events": 2},
    "/v1/services/{service_id}/requirements": {"resources": []},
    "/v1/bookings/{booking_id}/reschedule": {"starts_at": "2027-03-01T10:00:00Z"},
    "/v1/leads/{lead_id}": {"interest": "x"},
    "/v1/customers/{customer_id}": {"city": "x"},
    "/v1/vehicles/{vehicle_id}": {"mileage_km": 1},
    "/v1/locations/{location_id}": {"capacity": 10},
    "/v1/memberships/{membership_id}": {"is_active": True},
    "/v1/services/{service_id}": {"price_cents": 1},
    "/v1/bookings/{booking_id}": {"notes": "x"},
    "/v1/payments/{payment_id}": {"provider_ref": "x"},
    "/v1/reviews/{review_id}": {"escalated": True},
    "/v1/connections/{connection_id}": {"display_name": "x"},
    "/v1/tenants/{tenant_id}": {"display_name": "x"},
    "/v1/recommendations/{recommendation_id}": {"status": "accepted"},
    "/v1/payment-notifications/{notification_id}/match": {"booking_id": str(uuid.UUID(int=7))},
    "/v1/payment-notifications/{notification_id}/reassign": {"booking_id": str(uuid.UUID(int=7))},
    "/v1/payment-notifications/{notification_id}/reject": {"reason": "not_ours"},
    "/v1/invoices/{invoice_id}/credit-notes": {"amount_cents": 1},
    "/v1/payments/{payment_id}/refunds": {"amount_cents": 1, "reason": "x"},
    "/v1/partners/{location_id}": {"capacity": 5},
    "/v1/partners/{location_id}/credits": {"kind": "purchase", "amount": 1},
    "/v1/lead-assignments/{assignment_id}/rating": {"rating": 3},
    "/v1/lead-assignments/{assignment_id}/conversion": {"converted": True},
}


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in item
    ]


def _id_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in _operations(app) if "{" in p]


@pytest.fixture(scope="module")
def world(db: Database) -> dict[str, Any]:
    a, b = make_tenant(db), make_tenant(db)
    rows_a, rows_b = populate_every_table(db, a.id), populate_every_table(db, b.id)
    # Each tenant's lead a hot prospect (score >= 70), so /v1/leads/hot-prospects lists it.
    with db.owner_engine.begin() as conn:
        for rows in (rows_a, rows_b):
            conn.execute(
                sa.text("UPDATE crm.leads SET score = 80 WHERE id = :id"),
                {"id": rows["crm.leads"].id},
            )
    return {"a": a, "b": b, "rows_a": rows_a, "rows_b": rows_b, "key_a": issue_key(db, a.id)}


def _ids_of(rows: dict[str, Any], tenant: TenantFixture) -> dict[str, uuid.UUID]:
    ids = {p: rows[t].id for p, t in PARAM_TABLES.items()}
    ids["user_id"] = rows["identity.memberships"].user_id
    ids["tenant_id"] = tenant.id
    return ids


def test_every_route_with_an_id_is_covered(app: FastAPI) -> None:
    params = {p for _m, path in _id_routes(app) for p in re.findall(r"{(\w+)}", path)}
    assert params <= set(PARAM_TABLES) | {"user_id", "tenant_id"}


def test_other_tenants_ids_are_404_on_every_route(
    app: FastAPI, client: TestClient, world: dict[str, Any]
) -> None:
    ids_b = _ids_of(world["rows_b"], world["b"])
    ids_a = _ids_of(world["rows_a"], world["a"])
    checked = 0
    for method, path in _id_routes(app):
        url_b = path.format(**ids_b)
        body = BODIES.get(path) if method != "DELETE" else None
        r = client.request(method, url_b, json=body, headers=world["key_a"])
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.json()["type"] == "urn:tenantry:problem:not-found"
        if method == "GET":  # the same route works for A's own id: the 404 is about ownership
            own = client.get(path.format(**ids_a), headers=world["key_a"])
            assert own.status_code == 200, (path, own.text)
        checked += 1
    assert checked >= 30


# GET routes without an id that list no tenant rows: the processing register, the tenant's KPIs
# (aggregates) and the benchmarks (cross-tenant percentiles, belonging to no tenant).
NOT_TENANT_LISTS = {"/v1/privacy/register", "/v1/insight/kpis", "/v1/insight/benchmarks"}
# Dashboards: figures over the tenant's rows, not lists of them (scoped by tests of their own).
NOT_TENANT_LISTS |= {"/v1/dashboard/leads", "/v1/dashboard/bookings"}
# A search, not a list: it needs its parameters and shows free times, not rows.
NOT_TENANT_LISTS |= {"/v1/availability"}
# The tenant's current lead scoring model and its report: one resource each, not lists.
NOT_TENANT_LISTS |= {"/v1/lead-models/current", "/v1/lead-models/current/report"}
# A report: figures per partner, not a list of rows (scoped by tests of its own).
NOT_TENANT_LISTS |= {"/v1/partners/report"}
# One user's decision (the user a query parameter), not a list: another tenant's user is a 404
# there (tests/e2e/api/test_personalization_http.py).
NOT_TENANT_LISTS |= {"/v1/decide", "/v1/personalize"}


def test_lists_never_show_other_tenants_rows(
    app: FastAPI, client: TestClient, world: dict[str, Any]
) -> None:
    ids_b = {str(v) for v in _ids_of(world["rows_b"], world["b"]).values()}
    lists = [
        p for m, p in _operations(app) if m == "GET" and "{" not in p and p not in NOT_TENANT_LISTS
    ]
    assert len(lists) >= 12
    for path in lists:
        r = client.get(path, params={"limit": 200}, headers=world["key_a"])
        assert r.status_code == 200, (path, r.text)
        items = r.json()["items"]
        assert items, f"{path} shows none of tenant A's rows"
        assert not {str(x["id"]) for x in items} & ids_b, path


def _attempts(t: TenantFixture, customer_id: str, booking_id: str) -> dict[Action, tuple]:
    loc = str(t.locations[0])
    return {
        Action.READ: ("GET", "/v1/leads", None),
        Action.WRITE_CRM: (
            "POST",
            "/v1/leads",
            {"location_id": loc, "source": "walk_in", "phone": "+49 30 1234567"},
        ),
        Action.WRITE_BOOKINGS: (
            "POST",
            "/v1/bookings",
            {
                "location_id": loc,
                "customer_id": customer_id,
                "kind": "appointment",
                "starts_at": "2027-03-01T10:00:00Z",
                "items": [{"quantity": 1, "description": "x", "unit_price_cents": 100}],
            },
        ),
        Action.WRITE_PAYMENTS: (
            "POST",
            f"/v1/bookings/{booking_id}/payments",
            {"kind": "tip", "method": "cash", "amount_cents": 1},
        ),
        Action.MANAGE_LOCATIONS: (
            "POST",
            "/v1/locations",
            {"name": "X", "slug": f"x-{uuid.uuid4().hex[:8]}", "vertical": "other"},
        ),
        Action.INGEST_EVENTS: ("POST", "/v1/events", []),
        Action.PRIVACY: (
            "POST",
            "/v1/privacy/dsar",
            {"kind": "objection", "email": "o@example.org"},
        ),
        Action.MANAGE_MEMBERS: (
            "POST",
            "/v1/memberships",
            {"email": f"m-{uuid.uuid4().hex[:8]}@example.com", "role": "analyst"},
        ),
    }


@pytest.fixture(scope="module")
def role_world(client: TestClient, db: Database) -> dict[str, Any]:
    """A fresh tenant (keys under the app's master key) with a confirmed booking."""
    t = make_tenant(db)
    owner = issue_key(db, t.id)
    customer = client.post(
        "/v1/customers", json={"home_location_id": str(t.locations[0])}, headers=owner
    ).json()["id"]
    booking = client.post(
        "/v1/bookings",
        json={
            "location_id": str(t.locations[0]),
            "customer_id": customer,
            "kind": "appointment",
            "starts_at": "2027-03-01T10:00:00Z",
            "items": [{"quantity": 1, "description": "x", "unit_price_cents": 100}],
        },
        headers=owner,
    ).json()["id"]
    assert client.post(f"/v1/bookings/{booking}/confirm", headers=owner).status_code == 200
    return {"tenant": t, "customer": customer, "booking": booking}


@pytest.mark.parametrize("role", list(MembershipRole))
def test_each_role_can_do_exactly_what_the_permission_table_says(
    client: TestClient, db: Database, role_world: dict[str, Any], role: MembershipRole
) -> None:
    t = role_world["tenant"]
    headers = issue_key(db, t.id, role.value)
    attempts = _attempts(t, role_world["customer"], role_world["booking"])
    for action, (method, path, body) in attempts.items():
        r = client.request(method, path, json=body, headers=headers)
        if action in PERMISSIONS[role]:
            assert r.status_code < 400, (role, action, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, action, r.status_code, r.text)
            assert r.json()["type"] == "urn:tenantry:problem:permission-denied"


def test_customer_search_never_finds_another_tenants_customer(
    client: TestClient, world: dict[str, Any]
) -> None:
    own, other = world["rows_a"]["crm.customers"], world["rows_b"]["crm.customers"]
    for customer in (own, other):  # the fixture may give both the same address
        r = client.post(
            "/v1/customers/search", json={"email": customer.email}, headers=world["key_a"]
        )
        assert r.status_code == 200, r.text
        found = [x["id"] for x in r.json()["items"]]
        assert found == ([str(own.id)] if customer.email == own.email else [])
        assert str(other.id) not in found


def _edits(t: TenantFixture, customer_id: str, booking_id: str) -> dict[Action, tuple]:
    return {
        Action.WRITE_CRM: ("PATCH", f"/v1/customers/{customer_id}", {"city": "Berlin"}),
        Action.WRITE_BOOKINGS: ("PATCH", f"/v1/bookings/{booking_id}", {"notes": "Tor 2"}),
        Action.MANAGE_LOCATIONS: ("PATCH", f"/v1/locations/{t.locations[1]}", {"capacity": 9}),
        Action.MANAGE_MEMBERS: ("PATCH", f"/v1/tenants/{t.id}", {"display_name": "Muster"}),
    }


@pytest.mark.parametrize("role", list(MembershipRole))
def test_each_role_may_edit_exactly_what_the_permission_table_says(
    client: TestClient, db: Database, role_world: dict[str, Any], role: MembershipRole
) -> None:
    t = role_world["tenant"]
    headers = issue_key(db, t.id, role.value)
    for action, (method, path, body) in _edits(
        t, role_world["customer"], role_world["booking"]
    ).items():
        r = client.request(method, path, json=body, headers=headers)
        if action in PERMISSIONS[role]:
            assert r.status_code == 200, (role, action, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, action, r.status_code, r.text)
            assert r.json()["type"] == "urn:tenantry:problem:permission-denied"
