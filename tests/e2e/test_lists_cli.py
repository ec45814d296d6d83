"""`tenantry dashboard leads|bookings`, `leads hot`, `vehicles tuv-due` and `customers search`
through `main()` (its error handling included), on the test session's database: figures and
lists as the API gives them, personal data masked, bad input one line and a non-zero exit."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tenantry.cli import main as cli_main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.models.enums import Vertical
from tenantry.services import leads
from tenantry.services.resources import create_customer, create_vehicle
from tests.conftest import TenantFixture, make_tenant


@pytest.fixture(scope="module")
def home_db(settings: Settings, target: DatabaseTarget) -> Iterator[Database]:
    """The database the CLI opens (by name, under the home's master key)."""
    if settings.database_url is not None:
        pytest.skip("needs the embedded server: the CLI finds the database by its name")
    env = {
        "TENANTRY_HOME": str(settings.home),
        "TENANTRY_DATABASE_NAME": str(target.owner_url.database),
        "COLUMNS": "200",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("TENANTRY_")]:
            mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        db = open_database(Settings(), target=target)
        yield db
        db.dispose()


@pytest.fixture(scope="module")
def shop(home_db: Database) -> dict[str, Any]:
    t: TenantFixture = make_tenant(home_db, vertical=Vertical.WORKSHOP, locations=1)
    p = t.principal()
    today = datetime.now(UTC).date()  # the tenant keeps the default Europe/Berlin
    with home_db.tenant_uow(t.id) as uow:
        hot = leads.capture_lead(
            uow, p, location_id=t.locations[0], source="web_quote", email="a@example.com", score=88
        )
        leads.capture_lead(
            uow, p, location_id=t.locations[0], source="web_quote", email="b@example.com", score=69
        )
        customer = create_customer(
            uow,
            p,
            home_location_id=t.locations[0],
            last_name="Mustermann",
            email="erika.mustermann@example.org",
            phone="+49 30 1234567",
        )
        vehicle = create_vehicle(
            uow,
            p,
            customer_id=customer.id,
            make="VW",
            model="Golf",
            license_plate="M-AB 123",
            tuv_due_on=today + timedelta(days=3),
        )
        uow.commit()
    return {"t": t, "hot": hot.id, "customer": customer.id, "vehicle": vehicle.id}


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    assert cli_main.main(list(args)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_dashboard_leads_prints_the_figures(home_db, shop, capsys) -> None:
    out, _ = cli(capsys, "dashboard", "leads", "--tenant", shop["t"].slug, "--json")
    figures = json.loads(out)
    assert (figures["today_leads"], figures["open_leads"], figures["total_leads"]) == (2, 2, 2)
    assert figures["timezone"] == "Europe/Berlin"
    table, _ = cli(capsys, "dashboard", "leads", "--tenant", shop["t"].slug, "--location", "loc-0")
    assert "today_leads" in table and "Lead dashboard" in table


def test_dashboard_bookings_refuses_a_long_window(home_db, shop, capsys) -> None:
    out, _ = cli(capsys, "dashboard", "bookings", "--tenant", shop["t"].slug, "--format", "json")
    assert json.loads(out) == []
    _, err = cli(
        capsys, "dashboard", "bookings", "--tenant", shop["t"].slug, "--days-back", "3650", code=2
    )
    assert err.count("\n") == 1 and "--days-back" in err


def test_leads_hot_lists_only_hot_prospects(home_db, shop, capsys) -> None:
    out, _ = cli(capsys, "leads", "hot", "--tenant", shop["t"].slug, "--json")
    assert [row["id"] for row in json.loads(out)] == [str(shop["hot"])]
    assert "example.com" not in out


def test_vehicles_tuv_due_lists_the_vehicle_without_its_plate(home_db, shop, capsys) -> None:
    out, _ = cli(capsys, "vehicles", "tuv-due", "--tenant", shop["t"].slug, "--days", "3")
    assert str(shop["vehicle"]) in out and str(shop["customer"]) in out
    assert "M-AB" not in out and "MAB123" not in out
    out, _ = cli(capsys, "vehicles", "tuv-due", "--tenant", shop["t"].slug, "--days", "2", "--json")
    assert json.loads(out) == []


@pytest.mark.parametrize(
    "query",
    [
        ["--email", " Erika.Mustermann@Example.ORG"],
        ["--phone", "030 1234567"],
        ["--plate", "m ab123"],
    ],
)
def test_customers_search_finds_and_masks(home_db, shop, capsys, query: list[str]) -> None:
    out, _ = cli(capsys, "customers", "search", "--tenant", shop["t"].slug, *query, "--json")
    (row,) = json.loads(out)
    assert row["id"] == str(shop["customer"])
    assert row["email"] == "e***@e***" and row["phone"] == "***67" and row["name"] == "M***"
    assert "ustermann" not in out and "1234567" not in out


@pytest.mark.parametrize(
    "query",
    [
        [],
        ["--email", "erika.mustermann@example.org", "--plate", "M-AB 123"],
        ["--email", "erika.mustermann"],
        ["--phone", "Mustermann"],
        ["--plate", "M-AB 123!"],
    ],
)
def test_customers_search_refuses_bad_input_in_one_line(
    home_db, shop, capsys, query: list[str]
) -> None:
    _, err = cli(capsys, "customers", "search", "--tenant", shop["t"].slug, *query, code=2)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "ustermann" not in err
