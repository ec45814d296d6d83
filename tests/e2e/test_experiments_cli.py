"""`tenantry experiments` as an operator runs it (in process): create, list, decide (through
the service), outcome, report, fairness, replay, project, pause/stop, and bad input."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from tenantry.cli.main import main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.decisions.context import Context, Profile
from tenantry.decisions.experiments import decide
from tests.conftest import make_tenant
from tests.e2e.test_cli import env  # noqa: F401  (the module's environment fixture)


@pytest.fixture
def cli(
    env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> object:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str, code: int = 0) -> str:
        assert main(list(args)) == code, capsys.readouterr().err
        captured = capsys.readouterr()
        return captured.out if code == 0 else captured.err

    return run


@pytest.fixture(scope="module")
def cli_db(settings: Settings, env: dict[str, str]) -> Iterator[Database]:  # noqa: F811
    db = open_database(settings, migrate=True)
    yield db
    db.dispose()


def test_an_operator_runs_an_experiment_from_the_command_line(
    cli: object, cli_db: Database
) -> None:
    run = cli  # type: ignore[assignment]
    t = make_tenant(cli_db)
    exp = run("experiments", "create", "--tenant", t.slug, "--slot", "welcome",  # type: ignore[operator]
              "--arm", "encouraging", "--arm", "factual", "--context", "persona",
              "--guardrail", "unsubscribe:0.02:200", "--floor", "0.05").strip()  # fmt: skip
    listed = json.loads(run("experiments", "list", "--tenant", t.slug, "--format", "json"))  # type: ignore[operator]
    assert [e["id"] for e in listed] == [exp]
    with cli_db.tenant_uow(t.id) as uow:
        rng = np.random.default_rng(4)
        ids = [
            decide(
                uow,
                "welcome",
                Profile(uuid.uuid4(), None, True, Context(persona="solo-sarah")),
                rng=rng,
            ).decision_id
            for _ in range(6)
        ]
        uow.commit()
    for i in ids:
        run("experiments", "outcome", str(i), "--tenant", t.slug, "--success")  # type: ignore[operator]
    report = json.loads(run("experiments", "report", exp, "--tenant", t.slug, "--format", "json"))  # type: ignore[operator]
    assert sum(a["successes"] for a in report["arms"]) == 6
    assert "solo-sarah" in run("experiments", "fairness", exp, "--tenant", t.slug)  # type: ignore[operator]
    replayed = json.loads(run("experiments", "replay", "--tenant", t.slug, "--slot", "welcome",  # type: ignore[operator]
                              "--policy", "uniform", "--json"))  # fmt: skip
    assert replayed["decisions"] == 6 and replayed["ips"] == pytest.approx(1.0)
    projected = json.loads(run("experiments", "project", "--tenant", t.slug))  # type: ignore[operator]
    assert projected["outcomes"] == 0
    assert "paused" in run("experiments", "pause", exp, "--tenant", t.slug)  # type: ignore[operator]
    assert "stopped" in run("experiments", "stop", exp, "--tenant", t.slug)  # type: ignore[operator]
    err = run("experiments", "outcome", str(ids[0]), "--tenant", t.slug, "--failure", code=1)  # type: ignore[operator]
    assert len(err.strip().splitlines()) == 1 and "already" in err


def test_bad_experiment_input_is_one_line_and_a_failure(cli: object, cli_db: Database) -> None:
    run = cli  # type: ignore[assignment]
    t = make_tenant(cli_db)
    err = run("experiments", "create", "--tenant", t.slug, "--slot", "s", "--arm", "a",  # type: ignore[operator]
              "--context", "gender", code=2)  # fmt: skip
    assert "gender" in err and len(err.strip().splitlines()) == 1
    err = run("experiments", "replay", "--tenant", t.slug, "--slot", "nowhere",  # type: ignore[operator]
              "--policy", "uniform", code=1)  # fmt: skip
    assert "no experiment" in err
    # A guardrail's min_samples beyond the API's bound is refused by the service for the CLI too.
    err = run("experiments", "create", "--tenant", t.slug, "--slot", "s", "--arm", "a",  # type: ignore[operator]
              "--arm", "b", "--guardrail", "bounce:0.5:99999999", code=1)  # fmt: skip
    assert "min_samples" in err and len(err.strip().splitlines()) == 1
    assert run("experiments", "list", "--tenant", t.slug, "--format", "json").strip() == "[]"  # type: ignore[operator]
