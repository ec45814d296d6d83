"""`tenantry personalize` and `tenantry experiments decide` through `main()` (its error
handling included), on profiles the pipeline built from ingested events: the rule, the bandit
(decision logged), no consent (the default arm), and bad input as one line on stderr.

The commands run in this process against a database of the test's own (`tests.private_db`,
reached as an external server) and the lake the world was published to.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tenantry.cli import main as cli_main
from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions.experiments import ExperimentSpec, create_experiment
from tests.personalize_support import World, build_world
from tests.private_db import private_database

SLOT = "onboarding-tip"


@pytest.fixture(scope="module")
def world(
    server: DatabaseTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if settings.database_url is not None:
        pytest.skip("needs the embedded server (the private database is reached by its URL)")
    home = tmp_path_factory.mktemp("personalize-cli-home")
    with private_database(server, settings, "personalize_cli") as db:
        w = build_world(db, home)
        with db.tenant_uow(w.tenant) as uow:
            spec = ExperimentSpec(slot=SLOT, arms=("plain", "encouraging", "factual"))
            create_experiment(uow, spec)
            uow.commit()
        (home / "master.key").write_bytes(bytes(range(32)))  # the tests' master key
        (home / "master.key").chmod(0o600)
        url = db.target.admin_url.set(database=db.target.owner_url.database)
        env = {
            "TENANTRY_HOME": str(home),
            "TENANTRY_DATABASE_URL": url.render_as_string(hide_password=False),
            "COLUMNS": "200",
        }
        with pytest.MonkeyPatch.context() as mp:
            for key in [k for k in os.environ if k.startswith("TENANTRY_")]:
                mp.delenv(key)
            for key, value in env.items():
                mp.setenv(key, value)
            yield w


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    assert cli_main.main(list(args)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    return captured.out, captured.err


def _args(world: World, kind: str) -> list[str]:
    return ["--tenant", str(world.tenant), "--slot", SLOT, "--user", str(world.users[kind])]


def _decisions(world: World) -> int:
    with world.db.tenant_uow(world.tenant) as uow:
        return int(uow.session.scalar(sa.text("SELECT count(*) FROM decisions.decisions")) or 0)


def test_personalize_applies_the_rule_then_the_bandit(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = cli(capsys, "personalize", *_args(world, "low"), "--json")
    body = json.loads(out)
    assert (body["copy"], body["source"], body["rule"], body["decision_id"]) == (
        "encouraging",
        "rule",
        "low_engagement",
        None,
    )
    before = _decisions(world)
    out, _ = cli(capsys, "personalize", *_args(world, "bandit"))
    arm, rest = out.split(" ", 1)
    assert arm in ("plain", "encouraging", "factual") and "decision " in rest
    assert _decisions(world) == before + 1


def test_decide_logs_a_decision_and_takes_overrides(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = cli(
        capsys, "experiments", "decide", *_args(world, "facts"), "--persona", "solo-sarah", "--json"
    )
    body = json.loads(out)
    assert body["decision_id"] is not None and body["slot"] == SLOT
    with world.db.tenant_uow(world.tenant) as uow:
        arm = uow.session.scalar(
            sa.text("SELECT arm FROM decisions.decisions WHERE id = :id"),
            {"id": uuid.UUID(body["decision_id"])},
        )
    assert arm == body["arm"]


def test_without_consent_the_default_arm_and_nothing_written(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _decisions(world)
    out, _ = cli(capsys, "experiments", "decide", *_args(world, "no_consent"))
    assert out.startswith("plain (default, no_consent") and "not logged" in out
    out, _ = cli(capsys, "personalize", *_args(world, "no_consent"), "--json")
    assert json.loads(out)["source"] == "default"
    assert _decisions(world) == before


def test_bad_input_is_one_line_on_stderr(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = str(world.tenant)
    unknown = ["--tenant", tenant, "--slot", "no-such-slot", "--user", str(world.users["low"])]
    _, err = cli(capsys, "personalize", *unknown, code=1)
    assert err.count("\n") == 1 and err.startswith("tenantry: error:")
    stranger = ["--tenant", tenant, "--slot", SLOT, "--user", str(world.stranger)]
    _, err = cli(capsys, "experiments", "decide", *stranger, code=1)
    assert "user not found" in err and err.count("\n") == 1
    _, err = cli(capsys, "experiments", "decide", *_args(world, "low"), "--persona", "x", code=2)
    assert err.count("\n") == 1 and "--persona" in err
