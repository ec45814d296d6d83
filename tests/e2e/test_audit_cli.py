"""`tenantry audit checkpoint | verify | log` end to end, on a database of their own.

Most calls go through `main()` in this process (the CLI's own error handling included);
the last one runs the installed command, to check the exit code a shell sees.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

from tenantry.cli.main import main
from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget
from tests.conftest import drop_database
from tests.e2e.test_cli import run

EMAIL = "e2e-audit-customer@example.org"


@pytest.fixture(scope="module")
def audit_env(settings: Settings, server: DatabaseTarget, tmp_path_factory: pytest.TempPathFactory):
    if settings.database_url is not None:
        pytest.skip("needs the embedded server: the database name is chosen per test run")
    name = f"tenantry_audit_e2e_{os.getpid()}"
    e = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    e |= {
        "TENANTRY_HOME": str(settings.home),
        "TENANTRY_DATABASE_NAME": name,
        "COLUMNS": "200",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in e.items():
            if key.startswith("TENANTRY_") or key == "COLUMNS":
                mp.setenv(key, value)
        assert main(["db", "upgrade"]) == 0
        yield e, name
    drop_database(server, name)


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    assert main(list(args)) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.fixture(scope="module")
def tenant(audit_env, server: DatabaseTarget) -> tuple[uuid.UUID, str, uuid.UUID]:
    _env, name = audit_env
    url = server.libpq(server.with_database(name).owner_url)
    tenant_id, customer_id, slug = uuid.uuid4(), uuid.uuid4(), f"e2e-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO identity.tenants (id, slug, legal_name, display_name, legal_form,"
            " vertical) VALUES (%s, %s, 'E2E GmbH', 'E2E', 'gmbh', 'workshop')",
            (tenant_id, slug),
        )
        conn.execute(
            "INSERT INTO crm.customers (tenant_id, id, email, last_name) VALUES (%s, %s, %s, 'Doe')",
            (tenant_id, customer_id, EMAIL),
        )
        conn.execute(
            "UPDATE crm.customers SET email = %s, language = 'en' WHERE id = %s",
            ("e2e-new@example.org", customer_id),
        )
    return tenant_id, slug, customer_id


def test_checkpoint_writes_a_file_outside_the_database_and_verify_passes(
    audit_env, tenant, settings: Settings, capsys
) -> None:
    _env, name = audit_env
    out, _ = cli(capsys, "audit", "checkpoint")
    assert out.startswith("checkpoint ") and "chains signed" in out
    files = list((Path(settings.home) / "audit-checkpoints" / name).glob("*.json"))
    assert files
    key = Path(settings.home) / "audit-signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    verified, _ = cli(capsys, "audit", "verify")
    assert verified.startswith("audit trail intact: 2 entries in 1 chains; checkpoint")
    assert "intact" in cli(capsys, "audit", "verify", "--tenant", str(tenant[0]))[0]


def test_log_shows_a_rows_history_with_personal_data_redacted(audit_env, tenant, capsys) -> None:
    _tenant_id, slug, customer_id = tenant
    out, _ = cli(
        capsys,
        "audit",
        "log",
        "--tenant",
        slug,
        "--table",
        "crm.customers",
        "--row",
        str(customer_id),
    )
    assert "insert" in out and "update" in out
    assert 'language: "de" → "en"' in out
    assert "email: [redacted] → [redacted]" in out
    assert "@" not in out and "Doe" not in out


def test_log_shows_a_tenants_or_a_tables_history(audit_env, tenant, capsys) -> None:
    tenant_id, slug, customer_id = tenant
    whole, _ = cli(capsys, "audit", "log", "--tenant", str(tenant_id))
    assert "crm.customers" in whole and str(customer_id) in whole  # table and row columns
    table, _ = cli(capsys, "audit", "log", "--tenant", slug, "--table", "crm.customers")
    assert str(customer_id) in table and "insert" in table and "update" in table
    latest, _ = cli(capsys, "audit", "log", "--tenant", slug, "--limit", "1")
    assert "update" in latest and "insert" not in latest
    none, _ = cli(capsys, "audit", "log", "--tenant", slug, "--table", "crm.leads")
    assert none.strip() == "no entries"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["audit", "log", "--tenant", "Not A Slug!"], 2, "Invalid value for '--tenant'"),
        (["audit", "log", "--tenant", "no-such-tenant"], 1, "tenant not found"),
        (["audit", "verify", "--tenant", str(uuid.UUID(int=1))], 1, "tenant not found"),
        (["audit", "log", "--tenant", "x", "--table", "audit.log"], 2, "'--table'"),
        (["audit", "log", "--tenant", "x", "--row", "not-a-uuid"], 2, "'--row'"),
    ],
)
def test_bad_input_is_one_clear_line(
    audit_env, tenant, capsys, args: list[str], code: int, message: str
) -> None:
    _out, err = cli(capsys, *args, code=code)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tenantry: error:") and message in lines[0]


def test_verify_exits_1_and_names_the_edited_entry(audit_env, tenant, server) -> None:
    env, name = audit_env
    tenant_id = tenant[0]
    admin = server.admin_url.set(database=name)
    with psycopg.connect(server.libpq(admin), autocommit=True) as su:
        su.execute("SET session_replication_role = replica")
        su.execute(
            "UPDATE audit.log SET actor = 'user:forged' WHERE tenant_id = %s AND seq = 2",
            (tenant_id,),
        )
    proc = run(env, "audit", "verify", ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"tenantry: error: audit trail broken: tenant {tenant_id} entry 2: edited"
        " (its contents do not match its hash)"
    )
