"""The `tenantry` command end to end, as a user runs it, on the test session's server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tenantry.config import Settings


@pytest.fixture(scope="module")
def env(settings: Settings, server) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    e["TENANTRY_HOME"] = str(settings.home)
    if settings.database_url is not None:
        e["TENANTRY_DATABASE_URL"] = settings.database_url.get_secret_value()
    e["COLUMNS"] = "160"
    return e


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tenantry")
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_db_url_prints_a_working_owner_url(env: dict[str, str]) -> None:
    url = run(env, "db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "tenantry_owner"


def test_db_url_app_prints_the_application_role(env: dict[str, str]) -> None:
    url = run(env, "db", "url", "--app").stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "tenantry_app"


def test_db_upgrade_is_idempotent_and_status_reports_head(env: dict[str, str]) -> None:
    run(env, "db", "upgrade")
    run(env, "db", "upgrade")
    status = run(env, "db", "status").stdout
    assert re.search(r"revision: (\w+) \(head \1\)", status)


def test_seed_loads_and_a_rerun_adds_nothing(env: dict[str, str]) -> None:
    first = run(
        env, "seed", "--tenants", "2", "--scale", "small", "--seed", "77", "--anchor", "2026-06-01"
    )
    assert "loaded 2 tenants" in first.stderr
    second = run(
        env, "seed", "--tenants", "2", "--scale", "small", "--seed", "77", "--anchor", "2026-06-01"
    )
    assert "loaded 0 tenants (2 already present)" in second.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["seed", "--scale", "huge"], "--scale must be one of"),
        (["seed", "--tenants", "many"], "--tenants"),
        (["seed", "--anchor", "yesterday"], "--anchor must be a date"),
        (["db", "downgrade", "--revision", "base"], "pass --yes"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_input_gives_one_line_on_stderr_and_a_non_zero_exit(
    env: dict[str, str], args: list[str], message: str
) -> None:
    proc = run(env, *args, ok=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tenantry: error:"), proc.stderr
    assert message in lines[0]


def test_unreachable_external_database_is_one_clear_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = dict(env, TENANTRY_DATABASE_URL=f"postgresql://nobody@/nowhere?host={tmp_path}")
    proc = run(bad, "db", "status", ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "cannot connect to PostgreSQL" in proc.stderr


def test_demo_runs_twice_with_the_same_result_and_prints_no_personal_data(
    env: dict[str, str],
) -> None:
    first = run(env, "demo").stdout
    second = run(env, "demo").stdout
    for title in (
        "Tenants",
        "Leads by status",
        "Bookings by state",
        "Lead dashboard",
        "Booking KPIs",
        "Sample flows",
        "Row level security",
    ):
        assert title in first
    assert "Demo tenants already present" in second
    assert "already done" in second and "ran" in first
    assert "@" not in first + second

    def tenant_rows(out: str) -> list[str]:
        return [line for line in out.splitlines() if "Trattoria Sole " in line and "│" in line][:1]

    assert tenant_rows(first) == tenant_rows(second)
