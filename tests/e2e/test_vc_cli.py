"""`tenantry vc run|show|request|confirm|kpis` and `tenantry evidence recheck|verify|export` end
to end against local sources: as `tenantry` itself in a subprocess for the main path, through
`main()` for the rest (its error handling included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantry.cli import main as cli_main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tests.conftest import TenantFixture, make_tenant
from tests.insight_support.internet import LocalInternet, local_internet


@pytest.fixture(scope="module")
def internet() -> Iterator[LocalInternet]:
    with local_internet() as net:
        yield net


@pytest.fixture(scope="module")
def env(settings: Settings, target: DatabaseTarget, internet: LocalInternet) -> dict[str, str]:
    if settings.database_url is not None:
        pytest.skip("needs the embedded server: the CLI finds the database by its name")
    name = target.owner_url.database
    assert name is not None
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    return (
        clean
        | internet.env()
        | {
            "TENANTRY_HOME": str(settings.home),
            "TENANTRY_DATABASE_NAME": name,
            "COLUMNS": "200",
        }
    )


@pytest.fixture(scope="module")
def home_db(env: dict[str, str], target: DatabaseTarget) -> Iterator[Database]:
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("TENANTRY_")]:
            mp.delenv(key)
        for key, value in env.items():
            if key.startswith("TENANTRY_") or key == "COLUMNS":
                mp.setenv(key, value)
        db = open_database(Settings(), target=target)
        yield db
        db.dispose()


@pytest.fixture
def shop(home_db: Database, internet: LocalInternet) -> TenantFixture:
    tenant = make_tenant(home_db, locations=1)
    internet.provision(home_db, tenant.id, tenant.locations[0])
    return tenant


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    assert cli_main.main(list(args)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_vc_run_checks_a_location_and_prints_the_result(
    shop: TenantFixture, env: dict[str, str]
) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("tenantry")), "vc", "run", "--tenant", shop.slug,
         "--location", "loc-0", "--format", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["failures"] == []
    assert result["overall_score"] is not None and result["persona"]
    assert result["statements"] and all(s["evidence"] for s in result["statements"])
    assert "Mustermann" not in done.stdout + done.stderr


def test_show_kpis_recheck_verify_and_export_read_the_same_check(
    shop: TenantFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out, _ = cli(capsys, "vc", "run", "--tenant", shop.slug, "--location", "loc-0",
                 "--format", "json")  # fmt: skip
    check = json.loads(out)["id"]
    out, _ = cli(capsys, "vc", "show", "--tenant", shop.slug, "--check", check)
    assert "strength" in out or "weakness" in out
    out, _ = cli(capsys, "vc", "kpis", "--tenant", shop.slug, "--json")
    kpis = json.loads(out)
    assert kpis["checks_completed"] == 1 and kpis["evidence_coverage"] == 1.0
    assert kpis["source_diversity"] >= 3
    out, _ = cli(capsys, "evidence", "recheck", "--tenant", shop.slug, "--check", check,
                 "--format", "json")  # fmt: skip
    recheck = json.loads(out)
    assert recheck["changed"] == 0 and recheck["unchanged"] == recheck["fetched"] > 0
    cli(capsys, "evidence", "verify", "--tenant", shop.slug, "--check", check)
    target = tmp_path / "prov.json"
    cli(capsys, "evidence", "export", "--tenant", shop.slug, "--check", check,
        "--format", "prov-json", "--output", str(target))  # fmt: skip
    assert json.loads(target.read_text())["activity"]


def test_the_anonymous_flow_from_the_command_line(
    home_db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path, internet: LocalInternet
) -> None:
    tenant = make_tenant(home_db, locations=1)
    notice = tmp_path / "notice.txt"
    notice.write_text("We check your listing and e-mail you the result.", encoding="utf-8")
    out, _ = cli(
        capsys,
        "vc", "request", "--tenant", tenant.slug, "--business-name", "Trattoria Esempio",
        "--email", "visitor@example.org", "--website", internet.website,
        "--notice-version", "2026-12", "--notice-file", str(notice), "--format", "json",
    )  # fmt: skip
    asked = json.loads(out)
    assert asked["status"] == "awaiting_confirmation" and "visitor@example.org" not in out
    out, _ = cli(
        capsys,
        "vc", "confirm", "--tenant", tenant.slug, "--token", asked["token"],
        "--notice-version", "2026-12", "--notice-file", str(notice), "--wait", "--format", "json",
    )  # fmt: skip
    assert json.loads(out)["status"] == "completed"
    _, err = cli(
        capsys,
        "vc", "confirm", "--tenant", tenant.slug, "--token", asked["token"],
        "--notice-version", "2026-12", "--notice-file", str(notice), code=1,
    )  # fmt: skip
    assert err.count("\n") == 1 and "already been used" in err


def test_bad_usage_and_unknown_things_are_one_line_errors(
    shop: TenantFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = cli(capsys, "vc", "run", "--tenant", shop.slug, "--location", "no such!", code=2)
    assert "--location" in err
    _, err = cli(capsys, "vc", "run", "--tenant", shop.slug, "--location", "elsewhere", code=1)
    assert err.strip() == "tenantry: error: location not found"
    _, err = cli(capsys, "vc", "request", "--tenant", shop.slug, "--business-name", "X",
                 "--email", "x@example.org", "--website", "ftp://example.org",
                 "--notice-version", "1", "--notice-file", "/nonexistent", code=2)  # fmt: skip
    assert "--website" in err or "--notice-file" in err
