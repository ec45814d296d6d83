"""The `tenantry` command end to end, as a user runs it, on the test session's server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.models import Customer, Payment


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


@pytest.fixture(scope="module")
def demo(env: dict[str, str]) -> None:
    """The demo tenants, seeded once for the tests that need them."""
    run(env, "demo")


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
    assert "scan of every column of every table" in first and "0 hit(s)" in first
    assert "erased in an earlier run" in second
    assert "already done" in second and "ran" in first
    assert "@" not in first + second

    def tenant_rows(out: str) -> list[str]:
        return [line for line in out.splitlines() if "Trattoria Sole " in line and "│" in line][:1]

    assert tenant_rows(first) == tenant_rows(second)


def test_privacy_catalog_exports_the_register_as_json(env: dict[str, str]) -> None:
    out = run(env, "privacy", "catalog", "--format", "json").stdout
    entries = json.loads(out)["record_of_processing_activities"]
    assert {"table", "column", "category", "purpose", "legal_basis", "retention"} <= set(entries[0])
    assert not [e for e in entries if "UNCLASSIFIED" in e.values()]


def test_retention_dry_run_then_run_is_idempotent(env: dict[str, str], demo: None) -> None:
    dry = run(env, "retention", "run", "--dry-run").stdout
    assert "nothing changed" in dry
    run(env, "retention", "run")
    again = run(env, "retention", "run").stdout
    assert "affected 0 rows" in again


def _demo_customer_email(settings: Settings) -> str:
    """A paying demo customer's address, opened with the home's master key as the CLI does."""
    db = open_database(settings)
    try:
        with db.platform_uow() as uow:
            tenant = uow.repos.tenants.by_slug("demo-trattoria-sole")
            assert tenant is not None
        with db.tenant_uow(tenant.id) as uow:
            customer = uow.session.scalars(
                sa.select(Customer)
                .join(
                    Payment,
                    (Payment.tenant_id == Customer.tenant_id)
                    & (Payment.customer_id == Customer.id),
                )
                .where(Customer.email_sealed.is_not(None))
                .limit(1)
            ).one()
            email = customer.email
    finally:
        db.dispose()
    assert email is not None
    return str(email)


def _grep(folder: Path, needles: list[str]) -> list[str]:
    """Files (and zip members) under the folder whose bytes hold a needle, case-insensitive."""
    found = []
    for file in (p for p in folder.rglob("*") if p.is_file()):
        parts = [file.read_bytes()]
        if zipfile.is_zipfile(file):
            with zipfile.ZipFile(file) as zf:
                parts += [zf.read(n) for n in zf.namelist()]
        if any(n.lower().encode() in p.lower() for n in needles for p in parts):
            found.append(file.name)
    return found


def test_the_demo_leaves_no_plain_copy_of_the_erased_person_in_the_exports_folder(
    env: dict[str, str], demo: None, settings: Settings
) -> None:
    exports = settings.home / "exports"
    assert (exports / "privacy-demo.zip.sealed").exists()
    assert _grep(exports, ["privacy.demo@example.org", "Paula Privacy", "Datenweg 17"]) == []
    tenant = ["--tenant", "demo-hibachi-heroes"]
    scan = run(env, "privacy", "scan", *tenant, "--email", "privacy.demo@example.org")
    assert "0 hit(s)" in scan.stdout and "exports folder" in scan.stdout


def test_dsar_export_erase_and_scan_end_to_end(
    env: dict[str, str], demo: None, tmp_path: Path, settings: Settings
) -> None:
    email = _demo_customer_email(settings)
    tenant = ["--tenant", "demo-trattoria-sole"]
    found = run(env, "privacy", "scan", *tenant, "--email", email, ok=False)
    assert found.returncode == 1 and "hit: crm.customers.email" in found.stderr
    out = tmp_path / "bundle.zip"
    run(env, "dsar", "export", *tenant, "--email", email, "--out", str(out))
    assert out.exists()
    exports = settings.home / "exports"
    kept = sorted(exports.glob("dsar-*.zip.sealed"))
    assert kept and _grep(exports, [email]) == []  # the kept copy is sealed
    refused = run(env, "dsar", "erase", *tenant, "--email", email, "--as-role", "analyst", ok=False)
    assert refused.returncode == 1 and "may not erase" in refused.stderr
    assert "Traceback" not in refused.stderr
    erase = ["dsar", "erase", *tenant, "--email", email, "--json", "--checkpoint"]
    receipt = json.loads(run(env, *erase).stdout)
    assert receipt["scan_hits"] == 0
    assert receipt["wal"].startswith("WAL switched")  # the embedded server's superuser may
    assert email not in json.dumps(receipt)
    clean = run(env, "privacy", "scan", *tenant, "--email", email)
    assert "0 hit(s)" in clean.stdout and "exports folder" in clean.stdout
    shredded = run(
        env,
        "dsar",
        "open",
        *tenant,
        "--file",
        str(kept[-1]),
        "--out",
        str(tmp_path / "x.zip"),
        ok=False,
    )
    assert shredded.returncode == 1 and "shredded" in shredded.stderr
    again = run(env, "dsar", "erase", *tenant, "--email", email, ok=False)
    assert again.returncode == 1 and "already been erased" in again.stderr
    for proc in (found, again):
        assert email not in proc.stdout + proc.stderr


def test_keys_rotate_reports_the_new_version(env: dict[str, str], demo: None) -> None:
    first = run(env, "keys", "rotate", "--tenant", "demo-hibachi-heroes").stdout
    second = run(env, "keys", "rotate", "--tenant", "demo-hibachi-heroes").stdout
    v1 = int(re.search(r"key version (\d+)", first).group(1))
    v2 = int(re.search(r"key version (\d+)", second).group(1))
    assert v2 == v1 + 1


@pytest.mark.parametrize(
    "args",
    [
        ["dsar", "erase", "--tenant", "no-such-tenant", "--email", "x@example.org"],
        ["dsar", "erase", "--tenant", "demo-trattoria-sole", "--email", "not-an-address"],
        [
            "dsar",
            "export",
            "--tenant",
            "demo-trattoria-sole",
            "--email",
            "x@example.org",
            "--out",
            "bundle.tar",
        ],
        [
            "retention",
            "hold",
            "--tenant",
            "demo-trattoria-sole",
            "--scope",
            "row",
            "--dataset",
            "commerce.invoices",
            "--reason",
            "audit",
            "--target",
            "not-a-uuid",
        ],
        ["privacy", "catalog", "--format", "xml"],
    ],
)
def test_privacy_commands_reject_bad_input_in_one_line(
    env: dict[str, str], args: list[str]
) -> None:
    run(env, "demo")
    proc = run(env, *args, ok=False)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_audit_prune_dry_run_reports_the_cutoff_and_changes_nothing(
    env: dict[str, str], demo: None
) -> None:
    out = run(env, "audit", "prune", "--dry-run").stdout
    assert re.search(r"entries recorded before \d{4}-\d{2}-01: 0; would remove", out)
    run(env, "audit", "verify")
