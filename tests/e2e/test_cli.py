"""The `tenantry` command end to end, as a user runs it, on the test session's server.

Most tests start `tenantry` as a subprocess; the tables of cases (bad input, broken
environments, table layouts) call the same `main()` in this process (`in_process`), keeping a
subprocess for the cases whose group is not run as one elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.decisions.credits import balance_of
from tenantry.demo.app_events import DEMO_USERS
from tenantry.demo.decisions import ROUTED_EMAIL, SLOT, app_user_email
from tenantry.models import Customer, Lead, Payment
from tenantry.models.enums import ConsentPurpose
from tenantry.models.experiments import Decision, Experiment
from tenantry.models.lead_models import LeadModel
from tenantry.models.partners import CreditEntry, LeadAssignment, Partner
from tenantry.privacy.subjects import find_subject
from tenantry.privacy.vault import keyring
from tenantry.services.privacy.consent import consent_status
from tests.cli_support import call, in_process


@pytest.fixture(scope="module")
def env(settings: Settings, server) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    e["TENANTRY_HOME"] = str(settings.home)
    if settings.database_url is not None:
        e["TENANTRY_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.app_password is not None:
        e["TENANTRY_APP_PASSWORD"] = settings.app_password.get_secret_value()
    e["COLUMNS"] = "160"
    return e


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tenantry")
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
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
    ("args", "code", "message"),
    [
        (["seed", "--scale", "huge"], 2, "Invalid value for '--scale'"),
        (["seed", "--tenants", "many"], 2, "--tenants"),
        (["seed", "--anchor", "yesterday"], 2, "'--anchor': must be a date"),
        (["db", "downgrade", "--revision", "base"], 1, "pass --yes"),
        (["no-such-command"], 2, "No such command"),
        (["privacy", "catalog", "--format", "yaml"], 2, "'--format'"),
        (["apikeys", "create", "--tenant", "demo-x", "--role", "superuser"], 2, "'--role'"),
        (["serve", "--port", "99999"], 2, "'--port'"),
        (["pipeline", "run", "--as-of", "notadate"], 2, "'--as-of'"),
        (["pipeline", "run", "--as-of", "1900-01-01"], 2, "between 2000-01-01 and"),
        (["audit", "log", "--tenant", "demo-x", "--row", "not-a-uuid"], 2, "'--row'"),
    ],
)
def test_bad_input_gives_one_line_on_stderr_and_the_documented_exit(
    env: dict[str, str], args: list[str], code: int, message: str
) -> None:
    # `apikeys` runs as a subprocess nowhere else.
    proc = run(env, *args, ok=False) if args[0] == "apikeys" else in_process(env, *args)
    assert proc.returncode == code, proc.stderr
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
    assert "PostgreSQL cannot be reached: connection to server on socket" in proc.stderr
    assert "No such file or directory" in proc.stderr  # libpq's reason


def test_demo_runs_twice_with_the_same_result_and_prints_no_personal_data(
    env: dict[str, str], settings: Settings
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
        "Open leads scored",
        "Decision services (Trattoria Sole",
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

    def flow_results(out: str) -> list[str]:
        """The flows' result cells (the last column says whether this run did the work)."""
        flows = ("│ lead -> catering", "│ TÜV due -> ", "│ instagram lead -> ")
        rows = [line for line in out.splitlines() if line.startswith(flows)]
        return [row.split("│")[2].strip() for row in rows]

    assert len(flow_results(first)) == 3
    assert flow_results(first) == flow_results(second)
    act = _decisions_act(first)
    assert act and act == _decisions_act(second), "a rerun reports the same act"
    assert "trained " in first and "trained " not in second
    _check_decisions_rows(settings, act)


def _decisions_act(out: str) -> dict[str, str]:
    """The decision services act's steps (first column) and results (second), as printed."""
    start = out.index("Decision services (Trattoria Sole")
    rows = [line.split("│") for line in out[start:].splitlines() if line.startswith("│ ")]
    return {r[1].strip(): r[2].strip() for r in rows if len(r) > 3 and r[1].strip() != "this run"}


def _check_decisions_rows(settings: Settings, act: dict[str, str]) -> None:
    """The act's rows exist and say what it printed: a model and explained scores, the routed
    lead's accepted assignment and its credits, the experiment's decision with its outcome,
    the app user's personalisation consent."""
    assert DEMO_USERS >= 2
    db = open_database(settings)
    try:
        with db.platform_uow() as uow:
            tenant = uow.repos.tenants.by_slug("demo-trattoria-sole")
            assert tenant is not None
        with db.tenant_uow(tenant.id) as uow:
            s = uow.session
            assert s.scalar(sa.select(sa.func.count()).select_from(LeadModel)) == 1
            open_leads = s.scalars(
                sa.select(Lead).where(Lead.status.in_(("new", "contacted", "qualified")))
            ).all()
            for lead in open_leads:  # every open lead scored by the model, points adding up
                e = lead.score_explanation
                assert e is not None and e["model_version"].startswith(("logistic-v", "rules-v"))
                assert abs(e["base"] + sum(e["points"].values()) - e["raw"]) < 1e-3
                assert lead.score == round(e["raw"])
            lead = uow.repos.leads.by_email(ROUTED_EMAIL)
            assert lead is not None and lead.latitude is not None
            (assignment,) = s.scalars(
                sa.select(LeadAssignment).where(LeadAssignment.lead_id == lead.id)
            ).all()
            assert (assignment.status.value, assignment.rating) == ("accepted", 5)
            partner = s.scalars(sa.select(Partner).where(Partner.id == assignment.partner_id)).one()
            entries = s.scalars(
                sa.select(CreditEntry).where(CreditEntry.partner_id == partner.id)
            ).all()
            assert sorted((e.kind, e.amount) for e in entries) == [
                ("consumption", -assignment.price_credits),
                ("purchase", int(act["credits bought (`credits buy`)"])),
            ]
            balance = balance_of(uow, partner, uow.clock.now()).balance
            assert (
                act["credits spent / balance (`partners report`)"]
                == f"{assignment.price_credits} / {balance}"
            )
            (experiment,) = s.scalars(sa.select(Experiment).where(Experiment.slot == SLOT)).all()
            decisions = s.scalars(
                sa.select(Decision).where(Decision.experiment_id == experiment.id)
            ).all()
            demo_decided = [d for d in decisions if d.outcome_source == "demo"]
            assert len(demo_decided) == 1 and demo_decided[0].outcome is True
            assert act["decision for app user 01 (`experiments decide`)"].startswith(
                demo_decided[0].arm
            )
            # personalize logs a decision only when the bandit answered, once (not on a rerun)
            logged = "decision logged" in act["personalize: app user 01, personalisation consent"]
            assert len(decisions) == 1 + logged
            assert "not logged" in act["personalize: app user 02, no personalisation consent"]
        with db.tenant_uow(tenant.id) as uow:
            ring = keyring(uow)
            for number, active in ((1, True), (2, False)):
                subject = find_subject(uow, ring, email=app_user_email(number, tenant.slug))
                assert subject is not None
                status = consent_status(uow, subject.id, ConsentPurpose.PERSONALISATION)
                assert status.active is active
    finally:
        db.dispose()


def test_the_demo_tenants_legal_names_match_their_legal_form(
    env: dict[str, str], demo: None, settings: Settings
) -> None:
    suffix = {"gmbh": "GmbH", "ug": "UG", "ek": "e.K.", "gbr": "GbR", "kg": " KG"}
    suffix["gmbh_co_kg"] = "GmbH & Co. KG"
    url = ok(in_process(env, "db", "url")).stdout.strip()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT legal_name, legal_form FROM identity.tenants WHERE slug LIKE 'demo-%'"
        ).fetchall()
    assert len(rows) == 3
    for legal_name, legal_form in rows:
        assert legal_name.endswith(suffix[legal_form]), (legal_name, legal_form)
        others = {s for f, s in suffix.items() if f != legal_form and s not in suffix[legal_form]}
        assert not any(legal_name.endswith(s) for s in others), (legal_name, legal_form)


def test_privacy_catalog_exports_the_register_as_json(env: dict[str, str]) -> None:
    out = run(env, "privacy", "catalog", "--format", "json").stdout
    entries = json.loads(out)["record_of_processing_activities"]
    assert {"table", "column", "category", "purpose", "legal_basis", "retention"} <= set(entries[0])
    assert not [e for e in entries if "UNCLASSIFIED" in e.values()]


def test_retention_and_consent_commands_act_as_a_role_whose_permissions_are_checked(
    env: dict[str, str], demo: None
) -> None:
    tenant = ["--tenant", "demo-trattoria-sole"]
    hold = ["hold", *tenant, "--scope", "dataset", "--dataset", "crm.leads", "--reason", "audit"]
    release = ["release", *tenant, "--hold", "00000000-0000-0000-0000-000000000001"]
    for args in (["run"], ["run", "--dry-run", *tenant], hold, release):
        # the first through a real process, the others through the same main() in this one
        go = run if args == ["run"] else call
        refused = go(env, "retention", *args, "--as-role", "analyst", ok=False)
        assert refused.returncode == 1, args
        assert refused.stderr.strip().splitlines() == [refused.stderr.strip()], args
        assert "role analyst may not" in refused.stderr and "Traceback" not in refused.stderr
    policies = ok(in_process(env, "retention", "policies", *tenant, "--as-role", "analyst"))
    assert "commerce.invoices" in policies.stdout
    email = ["--email", "nobody@example.org"]
    status = run(env, "consent", "status", *tenant, *email, "--as-role", "analyst", ok=False)
    assert status.returncode == 1 and "no data subject" in status.stderr


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
    refused = in_process(env, "dsar", "erase", *tenant, "--email", email, "--as-role", "analyst")
    assert refused.returncode == 1 and "may not erase" in refused.stderr
    assert "Traceback" not in refused.stderr
    erase = ["dsar", "erase", *tenant, "--email", email, "--json", "--checkpoint"]
    receipt = json.loads(run(env, *erase).stdout)
    assert receipt["scan_hits"] == 0
    assert receipt["wal"].startswith("WAL switched")  # the embedded server's superuser may
    assert email not in json.dumps(receipt)
    clean = ok(in_process(env, "privacy", "scan", *tenant, "--email", email))
    assert "0 hit(s)" in clean.stdout and "exports folder" in clean.stdout
    shredded = call(
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
    again = in_process(env, "dsar", "erase", *tenant, "--email", email)
    assert again.returncode == 1 and "already been erased" in again.stderr
    for proc in (found, again):
        assert email not in proc.stdout + proc.stderr


def test_keys_rotate_reports_the_new_version(env: dict[str, str], demo: None) -> None:
    first = run(env, "keys", "rotate", "--tenant", "demo-hibachi-heroes").stdout
    second = ok(in_process(env, "keys", "rotate", "--tenant", "demo-hibachi-heroes")).stdout
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
    env: dict[str, str], demo: None, args: list[str]
) -> None:
    proc = in_process(env, *args)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_audit_prune_dry_run_reports_the_cutoff_and_changes_nothing(
    env: dict[str, str], demo: None
) -> None:
    out = run(env, "audit", "prune", "--dry-run").stdout
    assert re.search(r"entries recorded before \d{4}-\d{2}-01: 0; would remove", out)
    run(env, "audit", "verify")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _failures(tmp: Path) -> dict[str, tuple[list[str], dict[str, str], str]]:
    """Ways a command meets a broken environment: arguments, environment, expected words."""
    a_file = tmp / "a-file"
    a_file.write_text("not a folder")
    not_utf8 = tmp / "latin1.jsonl"
    not_utf8.write_bytes('{"event_type": "page_view", "user": "Jürgen"}\n'.encode("latin-1"))
    password = "s3cret-pw"
    dead = f"postgresql://someone:{password}@127.0.0.1:{_closed_port()}/tenantry"
    return {
        "unknown revision up": (["db", "upgrade", "--revision", "nosuchrev"], {}, "nosuchrev"),
        "unknown revision down": (
            ["db", "downgrade", "--revision", "nosuchrev", "--yes"],
            {},
            "nosuchrev",
        ),
        "events not UTF-8": (
            ["events", "ingest", str(not_utf8), "--tenant", "demo-trattoria-sole"],
            {},
            "1 of 1 lines rejected",
        ),
        "pool size not a number": (
            ["tenants", "list"],
            {"TENANTRY_POOL_SIZE": "abc"},
            "invalid setting TENANTRY_POOL_SIZE",
        ),
        "home is a file": (["db", "status"], {"TENANTRY_HOME": str(a_file)}, str(a_file)),
        "home below a file": (
            ["tenants", "list"],
            {"TENANTRY_HOME": str(a_file / "home")},
            str(a_file),
        ),
        "master key not base64": (
            ["keys", "rotate", "--tenant", "demo-trattoria-sole"],
            {"TENANTRY_MASTER_KEY": "%%%"},
            "TENANTRY_MASTER_KEY",
        ),
        "server unreachable": (
            ["tenants", "list"],
            {"TENANTRY_DATABASE_URL": dead},
            "PostgreSQL cannot be reached: connection to server at",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown revision up",
        "unknown revision down",
        "events not UTF-8",
        "pool size not a number",
        "home is a file",
        "home below a file",
        "master key not base64",
        "server unreachable",
    ],
)
def test_a_failure_is_one_line_on_stderr_and_exit_1_never_a_traceback(
    env: dict[str, str], demo: None, tmp_path: Path, case: str
) -> None:
    args, extra, words = _failures(tmp_path)[case]
    broken = dict(env, **extra)
    if "TENANTRY_HOME" in extra:  # the home matters to the embedded server only
        broken.pop("TENANTRY_DATABASE_URL", None)
    # One case goes through a real process: what reaches the terminal from libpq included.
    proc = (
        run(broken, *args, ok=False) if case == "server unreachable" else in_process(broken, *args)
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tenantry: error: "), proc.stderr
    assert words in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "s3cret-pw" not in proc.stdout + proc.stderr
    assert "Jürgen" not in proc.stdout + proc.stderr


def test_debug_adds_the_traceback_of_a_failure(env: dict[str, str]) -> None:
    proc = run(env, "--debug", "db", "upgrade", "--revision", "nosuchrev", ok=False)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("tenantry: error: db upgrade failed:")


def test_tenants_list_names_the_demo_tenants_by_slug(env: dict[str, str], demo: None) -> None:
    listed = json.loads(run(env, "tenants", "list", "--format", "json").stdout)
    by_slug = {t["slug"]: t for t in listed}
    assert by_slug["demo-schrauber-soehne"]["vertical"] == "workshop"
    assert by_slug["demo-trattoria-sole"]["name"] == "Trattoria Sole"
    text = run(dict(env, COLUMNS="40"), "tenants", "list").stdout
    assert max(len(line) for line in text.splitlines()) <= 40
    assert "demo-" in text


@pytest.mark.parametrize(
    "args",
    [
        ["privacy", "catalog", "--personal-only"],
        ["tenants", "list"],
        ["audit", "log", "--tenant", "demo-trattoria-sole", "--limit", "3"],
        ["dsar", "list", "--tenant", "demo-trattoria-sole"],
        ["apikeys", "list", "--tenant", "demo-trattoria-sole"],
        ["retention", "policies", "--tenant", "demo-trattoria-sole"],
        ["retention", "run", "--dry-run", "--tenant", "demo-trattoria-sole"],
    ],
)
def test_tables_wrap_in_a_narrow_terminal_and_json_is_offered(
    env: dict[str, str], demo: None, args: list[str]
) -> None:
    narrow = ok(in_process(dict(env, COLUMNS="50"), *args)).stdout
    wide = ok(in_process(dict(env, COLUMNS="1000"), *args)).stdout
    # Values may hold an ellipsis of their own (the audit log shortens long values); folding
    # into the narrow width adds none.
    assert narrow.count("…") == wide.count("…")
    assert max(len(line) for line in narrow.splitlines()) <= 50
    data = json.loads(ok(in_process(env, *args, "--format", "json")).stdout)
    assert isinstance(data, list | dict)
