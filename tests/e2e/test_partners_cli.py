"""`tenantry partners|credits|assignments` and `tenantry leads route` through `main()` (its
error handling included) on the test session's database: an operator sets up partners, buys
credits, routes leads, answers and rates offers and reads the report; bad input is one line
on stderr and writes nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tenantry.cli import main as cli_main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tests.conftest import make_tenant
from tests.partners import lead, place_location


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


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    assert cli_main.main(list(args)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    if code:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tenantry: error:"), lines
        return lines[0]
    return captured.out


def test_an_operator_routes_leads_to_partners_and_reads_the_report(
    home_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    t = make_tenant(home_db)
    place_location(home_db, t, t.locations[0], 52.52, 13.405)
    place_location(home_db, t, t.locations[1], 52.60, 13.50)
    slug = t.slug
    cli(capsys, "partners", "set", "loc-0", "--tenant", slug, "--radius-km", "25",
        "--capacity", "1", "--price", "3", "--category", "Catering")  # fmt: skip
    cli(capsys, "partners", "set", "loc-1", "--tenant", slug, "--radius-km", "25",
        "--capacity", "5", "--period", "month", "--price", "2")  # fmt: skip
    listed = json.loads(cli(capsys, "partners", "list", "--tenant", slug, "--json"))
    assert {p["location_id"] for p in listed} == {str(x) for x in t.locations}
    assert "bought 10 credits; balance 10" in cli(
        capsys, "credits", "buy", "loc-0", "--tenant", slug, "--amount", "10"
    )
    cli(capsys, "credits", "buy", "loc-1", "--tenant", slug, "--amount", "2")
    near = lead(home_db, t, (52.52, 13.41), "catering")
    other = lead(home_db, t, (52.53, 13.40), "catering")
    dry = json.loads(cli(capsys, "leads", "route", "--tenant", slug, "--dry-run", "--json"))
    assert len(dry["assigned"]) == 2 and all(a["assignment_id"] is None for a in dry["assigned"])
    routed = json.loads(cli(capsys, "leads", "route", "--tenant", slug, "--json"))
    by_lead = {a["lead_id"]: a for a in routed["assigned"]}
    assert set(by_lead) == {str(near), str(other)}
    assert {a["location_id"] for a in routed["assigned"]} == {str(x) for x in t.locations}
    offers = json.loads(cli(capsys, "assignments", "list", "--tenant", slug, "--json"))
    assert {o["status"] for o in offers} == {"offered"}
    mine = next(o for o in offers if o["location_id"] == str(t.locations[0]))
    theirs = next(o for o in offers if o["location_id"] == str(t.locations[1]))
    assert "is accepted" in cli(capsys, "assignments", "accept", mine["id"], "--tenant", slug)
    cli(capsys, "assignments", "convert", mine["id"], "--tenant", slug)
    cli(capsys, "assignments", "rate", mine["id"], "--tenant", slug, "--rating", "5",
        "--reason", "good_fit")  # fmt: skip
    cli(capsys, "assignments", "decline", theirs["id"], "--tenant", slug, "--reason", "no_capacity")
    balance = json.loads(cli(capsys, "credits", "balance", "loc-1", "--tenant", slug, "--json"))
    assert balance["balance"] == 2
    history = json.loads(cli(capsys, "credits", "history", "loc-0", "--tenant", slug, "--json"))
    assert [h["kind"] for h in history] == ["consumption", "purchase"]
    report = json.loads(cli(capsys, "partners", "report", "--tenant", slug, "--json"))
    first = next(r for r in report if r["location_id"] == str(t.locations[0]))
    assert (first["offered"], first["converted"], first["credits_spent"]) == (1, 1, 3)
    assert first["quality_score"] == 1.0 and not first["below_target"]
    table = cli(capsys, "partners", "report", "--tenant", slug)
    assert "quality" in table
    # The declined lead goes back to the pool; the other partner has no capacity left.
    again = cli(capsys, "leads", "route", "--tenant", slug)
    assert "assigned 0 lead(s); 1 stay open" in again and "capacity left" in again
    assert "expired 0 credits" in cli(capsys, "credits", "expire", "--tenant", slug)
    # Bad input: one line, a non-zero exit, nothing written.
    assert "not found" in cli(
        capsys, "credits", "buy", "no-such-place", "--tenant", slug, "--amount", "5", code=1
    )
    assert "--amount" in cli(
        capsys, "credits", "buy", "loc-0", "--tenant", slug, "--amount", "-5", code=2
    )
    assert "cannot become" in cli(
        capsys, "assignments", "accept", theirs["id"], "--tenant", slug, code=1
    )
    assert "at most 3 credits" in cli(
        capsys, "credits", "refund", "loc-0", "--tenant", slug, "--assignment", mine["id"],
        "--amount", "4", code=1,
    )  # fmt: skip
    after = json.loads(cli(capsys, "credits", "history", "loc-0", "--tenant", slug, "--json"))
    assert after == history
