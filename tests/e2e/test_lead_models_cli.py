"""`tenantry leads model train|show|report` and `tenantry leads rescore` through `main()` on
the test session's database: a logistic model from a generated history, its report, the
rescoring of open leads, and bad input as one line with a non-zero exit."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from bench.lead_scoring import START, make_history

from tenantry.cli import main as cli_main
from tenantry.clock import FixedClock
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tests.conftest import make_tenant


@pytest.fixture(scope="module")
def home_db(settings: Settings, target: DatabaseTarget) -> Iterator[Database]:
    """The database the CLI opens (by name, under the home's master key)."""
    if settings.database_url is not None:
        pytest.skip("needs the embedded server: the CLI finds the database by its name")
    env = {
        "TENANTRY_HOME": str(settings.home),
        "TENANTRY_DATABASE_NAME": str(target.owner_url.database),
        "TENANTRY_LEAD_MODEL_MIN_OUTCOMES": "40",
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
    """A tenant with 60 decided leads and 5 open ones, entered through the services."""
    t = make_tenant(home_db, locations=1)
    clock = FixedClock(START)
    clocked = Database(
        target=home_db.target,
        app_engine=home_db.app_engine,
        owner_engine=home_db.owner_engine,
        clock=clock,
        sealing=home_db.sealing,
    )
    sims = make_history(clocked, clock, t.id, t.locations[0], decided=60, open_leads=5, seed=4)
    clock.set(START + timedelta(days=400))
    return {"t": t, "sims": sims}


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    assert cli_main.main(list(args)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_model_train_show_report_and_rescore(home_db, shop, capsys) -> None:
    slug = shop["t"].slug
    _, err = cli(capsys, "leads", "model", "report", "--tenant", slug, code=1)
    assert err.count("\n") == 1 and "no lead scoring model" in err
    out, _ = cli(capsys, "leads", "model", "train", "--tenant", slug, "--json")
    model = json.loads(out)
    assert model["kind"] == "logistic" and model["n_outcomes"] == 60
    assert model["metrics"]["min_outcomes"] == 40
    assert set(model["coefficients"]) == set(model["features"])
    shown, _ = cli(capsys, "leads", "model", "show", "--tenant", slug)
    assert "logistic-v1" in shown and "Coefficients" in shown
    out, _ = cli(capsys, "leads", "model", "report", "--tenant", slug, "--json")
    report = json.loads(out)
    assert report["model_version"] == "logistic-v1" and report["n_outcomes"] == 60
    assert len(report["calibration"]["reliability"]) == 10
    assert sum(b["n"] for b in report["calibration"]["reliability"]) == 60
    back = report["backtest"]
    assert back["n_train"] + back["n_test"] == 60 and back["brier_baseline"] is not None
    table, _ = cli(capsys, "leads", "model", "report", "--tenant", slug)
    assert "Reliability" in table and "backtest" in table
    out, _ = cli(capsys, "leads", "rescore", "--tenant", slug, "--json")
    first = json.loads(out)
    assert first["events"] > 0 and first["leads"] == 5 and first["rescored"] == 5
    out, _ = cli(capsys, "leads", "rescore", "--tenant", slug, "--all", "--json")
    assert json.loads(out) == {"events": 0, "leads": 5, "rescored": 0}
    hot, _ = cli(capsys, "leads", "hot", "--tenant", slug, "--json")
    scores = [row["score"] for row in json.loads(hot)]
    assert scores == sorted(scores, reverse=True)


def test_bad_input_is_one_line(home_db, shop, capsys) -> None:
    slug = shop["t"].slug
    _, err = cli(capsys, "leads", "model", "report", "--tenant", slug, "--cut", "soon", code=2)
    assert err.count("\n") == 1 and "Traceback" not in err
    _, err = cli(capsys, "leads", "model", "train", "--tenant", "no-such-tenant", code=1)
    assert err.count("\n") == 1
