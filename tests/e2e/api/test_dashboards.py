"""The dashboards and lists of seed 002 through HTTP: lead dashboard, booking KPIs, hot
prospects, TÜV due dates, bookings by date range and customer search.

The tenant lives in Pacific/Auckland, so its day starts hours away from UTC midnight: a figure
computed for the wrong day shows. Each figure has rows on both sides of its boundary (a lead a
second before and at local midnight, scores 69 and 70, vehicles due in N-1, N and N+1 days,
bookings at the edges of a range), rows that must never count (soft-deleted, lost, inactive,
another location, another tenant), and a manager of one location sees only that location.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.models.enums import Vertical
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.api.conftest import issue_key

ZONE = "Pacific/Auckland"
EMAIL = "erika.mustermann@example.org"


def _owner_sql(db: Database, sql: str, **params: Any) -> None:
    with db.owner_engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _since() -> datetime:
    return (
        datetime.now(UTC)
        .astimezone(ZoneInfo(ZONE))
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )


def _today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()


class Shop:
    """A workshop tenant with leads, customers, vehicles and bookings made through the API."""

    def __init__(self, client: TestClient, db: Database) -> None:
        self.client, self.db = client, db
        self.t: TenantFixture = make_tenant(db, vertical=Vertical.WORKSHOP)
        _owner_sql(
            db, "UPDATE identity.tenants SET timezone = :z WHERE id = :t", z=ZONE, t=self.t.id
        )
        self.owner = issue_key(db, self.t.id)
        self.manager1 = issue_key(db, self.t.id, "manager", [self.t.locations[1]])
        self.leads: dict[str, str] = {}
        self.customers: dict[str, str] = {}
        self.vehicles: dict[str, str] = {}
        self.bookings: dict[str, str] = {}

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=self.owner)
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=headers or self.owner)

    def search(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self.client.post("/v1/customers/search", json=body, headers=headers or self.owner)

    def lead(self, name: str, score: int, at: datetime, loc: int = 0, then: tuple[str, ...] = ()):
        body = {
            "location_id": str(self.t.locations[loc]),
            "source": "web_quote",
            "email": f"{name.lower()}@example.com",
            "score": score,
        }
        lead_id = self.post("/v1/leads", body)["id"]
        for action in then:
            extra = {"reason": "chose another workshop"} if action == "lose" else None
            self.post(f"/v1/leads/{lead_id}/{action}", extra)
        _owner_sql(
            self.db, "UPDATE crm.leads SET created_at = :at WHERE id = :id", at=at, id=lead_id
        )
        self.leads[name] = lead_id

    def customer(self, name: str, loc: int = 0, **fields: Any) -> str:
        body = {"home_location_id": str(self.t.locations[loc]), "last_name": "Mustermann"}
        self.customers[name] = self.post("/v1/customers", body | fields)["id"]
        return self.customers[name]

    def vehicle(self, name: str, customer: str, due: date | None, **fields: Any) -> None:
        body = {"customer_id": self.customers[customer], "make": "VW", "model": "Golf"}
        if due is not None:
            body["tuv_due_on"] = due.isoformat()
        self.vehicles[name] = self.post("/v1/vehicles", body | fields)["id"]

    def booking(self, name: str, customer: str, starts_at: str, loc: int = 0) -> None:
        body = {
            "location_id": str(self.t.locations[loc]),
            "customer_id": self.customers[customer],
            "kind": "appointment",
            "starts_at": starts_at,
            "items": [{"quantity": 1, "description": "Inspection", "unit_price_cents": 12_000}],
        }
        self.bookings[name] = self.post("/v1/bookings", body)["id"]


@pytest.fixture(scope="module")
def shop(client: TestClient, db: Database) -> Shop:
    s = Shop(client, db)
    since = _since()
    day = timedelta(days=1)
    s.lead("L1", 69, since - timedelta(seconds=1))  # yesterday, one second before midnight
    s.lead("L2", 70, since)  # today, at local midnight
    s.lead("L10", 70, since)  # the same score and time as L2: the id decides
    s.lead("L3", 90, since - 2 * day, then=("contact",))
    s.lead("L9", 90, since - day, then=("contact", "qualify"))  # L3's score, newer
    s.lead("L4", 85, since - 3 * day, then=("contact", "qualify"))
    s.lead("L5", 95, since - 4 * day, then=("contact", "qualify", "convert"))
    s.lead("L6", 99, since - 5 * day, then=("lose",))
    s.lead("L7", 80, since + timedelta(seconds=1), loc=1)
    s.lead("L8", 75, since + timedelta(seconds=2))
    _owner_sql(s.db, "UPDATE crm.leads SET deleted_at = now() WHERE id = :id", id=s.leads["L8"])

    today = _today()
    s.customer("C1", email="Erika.Mustermann@example.org", phone="+49 30 1234567")
    s.customer("C2", loc=1)
    s.customer("C3", email="gone@example.org")
    s.vehicle("overdue", "C1", today - 10 * day, license_plate="M-AB 123")
    s.vehicle("n-1", "C1", today + 29 * day)
    s.vehicle("n", "C1", today + 30 * day)
    s.vehicle("n+1", "C1", today + 31 * day)
    s.vehicle("inactive", "C1", today + 5 * day)
    _owner_sql(
        s.db, "UPDATE crm.vehicles SET is_active = false WHERE id = :id", id=s.vehicles["inactive"]
    )
    s.vehicle("undated", "C1", None)
    s.vehicle("loc1", "C2", today + 3 * day)
    s.vehicle("gone", "C3", today + 1 * day, license_plate="B-XY 99")
    _owner_sql(
        s.db, "UPDATE crm.customers SET deleted_at = now() WHERE id = :id", id=s.customers["C3"]
    )

    s.booking("B5", "C1", "2027-03-01T09:59:00Z")
    s.booking("B1", "C1", "2027-03-01T10:00:00Z")
    s.booking("B6", "C2", "2027-03-01T10:30:00Z", loc=1)
    s.booking("B2", "C1", "2027-03-01T11:00:00Z")
    s.booking("B3", "C1", "2027-03-01T11:00:00Z")
    s.booking("B4", "C1", "2027-03-03T10:00:00Z")
    s.post(f"/v1/bookings/{s.bookings['B2']}/confirm")
    payment = {"kind": "full", "method": "card", "amount_cents": 12_000}
    s.post(f"/v1/bookings/{s.bookings['B2']}/payments", payment)
    s.post(f"/v1/bookings/{s.bookings['B2']}/fulfil")
    s.post(f"/v1/bookings/{s.bookings['B1']}/confirm")
    s.post(f"/v1/bookings/{s.bookings['B1']}/no-show")
    s.post(f"/v1/bookings/{s.bookings['B5']}/cancel", {"reason": "ill"})
    return s


def _walk(fetch: Callable[[str | None], Any]) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        r = fetch(cursor)
        assert r.status_code == 200, r.text
        page = r.json()
        ids += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the cursor never ended")


# -- lead dashboard ---------------------------------------------------------------------------


def test_lead_dashboard_counts_the_tenants_own_day(shop: Shop) -> None:
    body = shop.get("/v1/dashboard/leads").json()
    assert datetime.fromisoformat(body["since"]) == _since()
    assert body["timezone"] == ZONE
    # Live leads: L1-L7, L9, L10 (L8 is deleted). Today: L2, L10 at midnight, L7 after it.
    assert body["today_leads"] == 3
    assert body["converted_leads"] == 1
    assert body["avg_qualified_score"] == 87.5  # L4 (85) and L9 (90)
    assert body["open_leads"] == 7  # L1, L2, L3, L4, L7, L9, L10
    assert body["total_leads"] == 9
    assert body["conversion_rate"] == pytest.approx(1 / 9)


def test_lead_dashboard_of_one_location_and_of_a_location_manager(shop: Shop) -> None:
    loc0 = shop.get("/v1/dashboard/leads", location_id=str(shop.t.locations[0])).json()
    assert (loc0["today_leads"], loc0["open_leads"], loc0["total_leads"]) == (2, 6, 8)
    mine = shop.get("/v1/dashboard/leads", headers=shop.manager1).json()
    assert (mine["today_leads"], mine["open_leads"], mine["total_leads"]) == (1, 1, 1)
    assert mine["converted_leads"] == 0 and mine["avg_qualified_score"] is None
    # Asking for a location outside the scope shows nothing, and says nothing more.
    other = shop.get(
        "/v1/dashboard/leads", headers=shop.manager1, location_id=str(shop.t.locations[0])
    ).json()
    assert other["total_leads"] == 0 and other["conversion_rate"] is None


# -- booking KPIs -----------------------------------------------------------------------------


def test_booking_kpis_per_location_in_the_window(shop: Shop) -> None:
    body = shop.get("/v1/dashboard/bookings", days_back=0, days_ahead=366).json()
    by_loc = {k["location_id"]: k for k in body["locations"]}
    loc0 = by_loc[str(shop.t.locations[0])]
    assert (loc0["bookings"], loc0["fulfilled"], loc0["cancelled"], loc0["no_shows"]) == (
        5,
        1,
        1,
        1,
    )
    assert loc0["no_show_rate"] == pytest.approx(0.2)
    # B1 (no-show) and B2 (fulfilled) count; inquiries (B3, B4) and the cancelled B5 do not.
    assert loc0["booked_cents"] == 24_000
    assert loc0["collected_cents"] == 12_000  # B2's payment
    assert by_loc[str(shop.t.locations[1])]["bookings"] == 1
    # The bookings lie months ahead: a 30-day window holds none of them.
    assert shop.get("/v1/dashboard/bookings").json()["locations"] == []
    scoped = shop.get("/v1/dashboard/bookings", headers=shop.manager1, days_ahead=366).json()
    assert [k["location_id"] for k in scoped["locations"]] == [str(shop.t.locations[1])]


@pytest.mark.parametrize(
    "params", [{"days_back": 367}, {"days_ahead": 3650}, {"days_back": -1}, {"days_ahead": "x"}]
)
def test_booking_kpis_refuse_periods_out_of_bounds(shop: Shop, params: dict[str, Any]) -> None:
    r = shop.get("/v1/dashboard/bookings", **params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


# -- hot prospects ----------------------------------------------------------------------------


def test_hot_prospects_are_open_leads_of_70_or_more_best_first(shop: Shop) -> None:
    ids = shop.leads
    tied = sorted([ids["L2"], ids["L10"]], key=uuid.UUID, reverse=True)
    expected = [ids["L9"], ids["L3"], ids["L4"], ids["L7"], *tied]
    body = shop.get("/v1/leads/hot-prospects").json()
    assert [x["id"] for x in body["items"]] == expected
    assert body["items"][0]["score"] == 90 and "email" not in body["items"][0]
    for limit in (1, 2, 4):
        walked = _walk(
            lambda c, n=limit: shop.get(
                "/v1/leads/hot-prospects", limit=n, **({"cursor": c} if c else {})
            )
        )
        assert walked == expected, limit


def test_hot_prospects_filters_by_score_and_location_and_scope(shop: Shop) -> None:
    ids = shop.leads
    best = shop.get("/v1/leads/hot-prospects", min_score=85).json()["items"]
    assert [x["id"] for x in best] == [ids["L9"], ids["L3"], ids["L4"]]
    loc1 = shop.get("/v1/leads/hot-prospects", location_id=str(shop.t.locations[1])).json()
    assert [x["id"] for x in loc1["items"]] == [ids["L7"]]
    mine = shop.get("/v1/leads/hot-prospects", headers=shop.manager1).json()
    assert [x["id"] for x in mine["items"]] == [ids["L7"]]


@pytest.mark.parametrize(
    "params", [{"min_score": 69}, {"min_score": 101}, {"cursor": "!!"}, {"limit": 0}]
)
def test_hot_prospects_refuse_bad_input(shop: Shop, params: dict[str, Any]) -> None:
    assert shop.get("/v1/leads/hot-prospects", **params).status_code == 422


def test_hot_prospects_is_not_read_as_a_lead_id(shop: Shop) -> None:
    lead = shop.get(f"/v1/leads/{shop.leads['L9']}")
    assert lead.status_code == 200 and lead.json()["score"] == 90


# -- TÜV due ----------------------------------------------------------------------------------


def test_tuv_due_lists_vehicles_due_within_n_days_overdue_included(shop: Shop) -> None:
    v = shop.vehicles
    body = shop.get("/v1/vehicles/tuv-due", days=30).json()
    assert [x["id"] for x in body["items"]] == [v["overdue"], v["loc1"], v["n-1"], v["n"]]
    assert [x["days_left"] for x in body["items"]] == [-10, 3, 29, 30]
    assert body["items"][0]["customer_id"] == shop.customers["C1"]
    assert "license_plate" not in body["items"][0]
    walked = _walk(
        lambda c: shop.get("/v1/vehicles/tuv-due", days=31, limit=1, **({"cursor": c} if c else {}))
    )
    assert walked == [v["overdue"], v["loc1"], v["n-1"], v["n"], v["n+1"]]
    mine = shop.get("/v1/vehicles/tuv-due", headers=shop.manager1, days=30).json()
    assert [x["id"] for x in mine["items"]] == [v["loc1"]]


@pytest.mark.parametrize("days", [0, 731, 3650, -5])
def test_tuv_due_refuses_a_horizon_out_of_bounds(shop: Shop, days: int) -> None:
    assert shop.get("/v1/vehicles/tuv-due", days=days).status_code == 422


# -- bookings by date range -------------------------------------------------------------------


def test_bookings_by_date_range_in_start_order_with_a_consistent_cursor(shop: Shop) -> None:
    b = shop.bookings
    tied = sorted([b["B2"], b["B3"]], key=uuid.UUID)
    window = {"from": "2027-03-01T11:00:00+01:00", "to": "2027-03-02T10:00:00Z"}  # 10:00Z
    body = shop.get("/v1/bookings", **window).json()
    assert [x["id"] for x in body["items"]] == [b["B1"], b["B6"], *tied]
    assert body["items"][0]["items"][0]["description"] == "Inspection"
    walked = _walk(
        lambda c: shop.get("/v1/bookings", limit=1, **window, **({"cursor": c} if c else {}))
    )
    assert walked == [b["B1"], b["B6"], *tied]
    # `to` is exclusive; the existing filters still apply.
    upto = shop.get("/v1/bookings", **{"from": window["from"], "to": "2027-03-01T11:00:00Z"})
    assert [x["id"] for x in upto.json()["items"]] == [b["B1"], b["B6"]]
    fulfilled = shop.get("/v1/bookings", status="fulfilled", **window).json()
    assert [x["id"] for x in fulfilled["items"]] == [b["B2"]]
    at0 = shop.get("/v1/bookings", location_id=str(shop.t.locations[0]), **window).json()
    assert [x["id"] for x in at0["items"]] == [b["B1"], *tied]
    mine = shop.get("/v1/bookings", headers=shop.manager1, **window).json()
    assert [x["id"] for x in mine["items"]] == [b["B6"]]


def test_the_plain_booking_list_still_pages_by_id(shop: Shop) -> None:
    ids = _walk(lambda c: shop.get("/v1/bookings", limit=2, **({"cursor": c} if c else {})))
    assert ids == sorted(shop.bookings.values(), key=uuid.UUID)


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2027-03-01T00:00:00Z"},
        {"to": "2027-03-01T00:00:00Z"},
        {"from": "2027-03-02T00:00:00Z", "to": "2027-03-01T00:00:00Z"},
        {"from": "2027-03-01T00:00:00Z", "to": "2027-03-01T00:00:00Z"},
        {"from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
        {"from": "2027-03-01T00:00:00", "to": "2027-03-02T00:00:00"},
        {"from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z", "cursor": "AAAA"},
    ],
)
def test_bookings_by_date_range_refuse_bad_periods(shop: Shop, params: dict[str, Any]) -> None:
    r = shop.get("/v1/bookings", **params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_an_id_cursor_does_not_page_a_date_range(shop: Shop) -> None:
    plain = shop.get("/v1/bookings", limit=1).json()["next_cursor"]
    window = {"from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z"}
    assert shop.get("/v1/bookings", cursor=plain, **window).status_code == 422


# -- customer search --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"email": "Erika.Mustermann@Example.ORG "},
        {"email": EMAIL},
        {"phone": "+49 30 1234567"},
        {"phone": "030 1234567"},
        {"phone": "+49301234567"},
        {"plate": "M-AB 123"},
        {"plate": "m ab123"},
    ],
)
def test_customer_search_finds_by_normalised_email_phone_and_plate(
    shop: Shop, params: dict[str, str]
) -> None:
    r = shop.search(params)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [x["id"] for x in items] == [shop.customers["C1"]]
    assert items[0]["email"] == EMAIL


@pytest.mark.parametrize(
    "params", [{"email": "gone@example.org"}, {"plate": "B-XY 99"}, {"email": "no@example.org"}]
)
def test_customer_search_skips_deleted_and_unknown_customers(
    shop: Shop, params: dict[str, str]
) -> None:
    r = shop.search(params)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}


def test_customer_search_stays_in_the_scope_and_the_tenant(
    shop: Shop, client: TestClient, db: Database
) -> None:
    mine = shop.search({"email": EMAIL}, headers=shop.manager1)
    assert mine.status_code == 200 and mine.json()["items"] == []
    other = make_tenant(db)
    other_key = issue_key(db, other.id)
    twin = client.post("/v1/customers", json={"email": EMAIL}, headers=other_key).json()["id"]
    found = client.post("/v1/customers/search", json={"email": EMAIL}, headers=other_key)
    assert [x["id"] for x in found.json()["items"]] == [twin]
    mine_again = shop.search({"email": EMAIL}).json()["items"]
    assert [x["id"] for x in mine_again] == [shop.customers["C1"]]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"email": EMAIL, "phone": "+49 30 1234567"},
        {"email": EMAIL, "plate": "M-AB 123"},
        {"email": "erika.mustermann"},
        {"email": "erika@mustermann"},
        {"phone": "Mustermann"},
        {"phone": "12"},
        {"plate": "M-AB 123!"},
        {"plate": "---"},
        {"email": ""},
        {"email": EMAIL, "name": "Erika"},
        {"email": None, "phone": None},
    ],
)
def test_customer_search_refuses_bad_input_without_echoing_it(
    shop: Shop, params: dict[str, str]
) -> None:
    r = shop.search(params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "ustermann" not in r.text and "1234567" not in r.text


def test_customer_search_by_phone_finds_a_customer_whose_subject_began_as_a_lead(
    client: TestClient, db: Database
) -> None:
    """A lead with an e-mail alone creates the data subject; a customer with the same e-mail
    and a phone number joins that subject, which must then carry the phone's index too."""
    shop = Shop(client, db)  # a tenant of its own: the shared one's figures stay as they are
    lead = {"location_id": str(shop.t.locations[0]), "source": "web_quote"}
    shop.post("/v1/leads", lead | {"email": "max.mustermann@example.org"})
    customer = shop.customer("C4", email="max.mustermann@example.org", phone="+49 40 7654321")
    found = shop.search({"phone": "040 7654321"}).json()["items"]
    assert [x["id"] for x in found] == [customer]
