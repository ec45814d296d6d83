"""The production path: tenantry on an external PostgreSQL, as docs/configuration.md describes it.

The server is a second one (`tests/pgcluster.py`): TCP, passwords, an admin role that may create
databases and roles but is neither a superuser nor the owner of anything tenantry creates, and a
database `tenantry` that this admin created. The user's flow runs through the real `tenantry`
command with nothing but `TENANTRY_DATABASE_URL`, `TENANTRY_APP_PASSWORD` and `TENANTRY_HOME`.
Skipped (with the reason) where no PostgreSQL server binaries are installed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.pgcluster import PgCluster, find_bindir, skip_reason, start_cluster

EXE = Path(sys.executable).with_name("tenantry")
TENANT = "demo-trattoria-sole"
SUBJECT = "flow.instagram@example.com"  # a lead of the demo's restaurant flow


APP_PASSWORD = "app pass+word/1"  # characters a URL would have to escape


def _env(home: Path, url: str, app_password: str | None = APP_PASSWORD) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(TENANTRY_HOME=str(home), TENANTRY_DATABASE_URL=url, COLUMNS="160")
    if app_password is not None:
        env["TENANTRY_APP_PASSWORD"] = app_password
    return env


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(EXE), *args], env=env, capture_output=True, text=True, timeout=600)
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("tenantry: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def env(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _env(tmp_path_factory.mktemp("exthome"), pg_cluster.admin_url)


@pytest.fixture(scope="module")
def upgraded(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(env, "db", "upgrade")


def _superuser(cluster: PgCluster, database: str = "tenantry") -> psycopg.Connection:
    return psycopg.connect(
        cluster.url("postgres", cluster.superuser_password, database), autocommit=True
    )


def test_db_upgrade_as_an_admin_that_owns_the_database_but_is_no_superuser(
    pg_cluster: PgCluster, upgraded: subprocess.CompletedProcess[str], env: dict[str, str]
) -> None:
    assert "database at revision" in upgraded.stderr
    with _superuser(pg_cluster) as su:
        # Nothing in public (PostgreSQL 15 lets only the database owner create there) ...
        in_public = su.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public'"
        ).fetchone()
        assert in_public == (0,)
        # ... and everything tenantry made is owned by tenantry_owner, not by the admin.
        owners = su.execute(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        ).fetchall()
        assert owners == [("tenantry_owner",)]
        schemas = su.execute(
            "SELECT DISTINCT pg_get_userbyid(nspowner) FROM pg_namespace"
            " WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('public', 'information_schema')"
        ).fetchall()
        assert schemas == [("tenantry_owner",)]
        assert su.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'tenantry'"
        ).fetchone() == ("tenantry_admin",)
    again = run(env, "db", "upgrade")  # idempotent
    assert "database at revision" in again.stderr
    assert run(env, "db", "status").returncode == 0


def test_db_url_connects_as_the_owner_role_over_tcp_and_unix_socket(
    pg_cluster: PgCluster, upgraded: subprocess.CompletedProcess[str], env: dict[str, str]
) -> None:
    by_socket = dict(env)
    admin = env["TENANTRY_DATABASE_URL"].replace(f"@127.0.0.1:{pg_cluster.port}/", "@/")
    by_socket["TENANTRY_DATABASE_URL"] = (
        f"{admin}?host={pg_cluster.socket_dir}&port={pg_cluster.port}"
    )
    for e in (env, by_socket):
        owner = run(e, "db", "url").stdout.strip()
        with psycopg.connect(owner) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("tenantry_owner",)
        app = run(e, "db", "url", "--app").stdout.strip()
        with psycopg.connect(app) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("tenantry_app",)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo(env: dict[str, str], upgraded: subprocess.CompletedProcess[str]) -> str:
    run(env, "seed", "--tenants", "1", "--scale", "small")
    return run(env, "demo").stdout


def test_seed_and_demo_run(demo: str) -> None:
    assert "Trattoria Sole" in demo


def test_serve_is_ready_and_answers_an_authenticated_read(env: dict[str, str], demo: str) -> None:
    key = run(env, "apikeys", "create", "--tenant", TENANT, "--role", "analyst").stdout.strip()
    port = _free_port()
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port)],
        env={**env, "TENANTRY_API_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "tenantry serve exited"
            assert time.monotonic() < deadline, "tenantry serve did not become ready"
            time.sleep(0.2)
        assert ready.json()["status"] == "ready"
        leads = httpx.get(f"{base}/v1/leads", headers={"X-API-Key": key}, timeout=10)
        assert leads.status_code == 200, leads.text
        assert leads.json()["items"], "the demo tenant's leads are visible to its key"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_audit_verify(env: dict[str, str], demo: str) -> None:
    run(env, "audit", "verify")


def test_dsar_export_then_erase_a_demo_subject(
    env: dict[str, str], demo: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "subject.zip"
    run(env, "dsar", "export", "--tenant", TENANT, "--email", SUBJECT, "--out", str(bundle))
    assert bundle.stat().st_size > 0
    erased = run(env, "dsar", "erase", "--tenant", TENANT, "--email", SUBJECT, "--json")
    assert erased.stdout.strip().startswith("{")


def test_pipeline_run(env: dict[str, str], demo: str) -> None:
    run(env, "pipeline", "run")
    run(env, "pipeline", "status")


# --- a failing `db upgrade` is one line on stderr, exit 1, with the reason ---------------------


def test_unreachable_server_is_one_line_with_the_reason(tmp_path: Path) -> None:
    url = f"postgresql://tenantry_admin:secret@127.0.0.1:{_free_port()}/tenantry"
    proc = run(_env(tmp_path, url), "db", "upgrade", ok=False)
    assert_one_line_error(proc, "PostgreSQL cannot be reached", "refused")
    assert "secret" not in proc.stderr


def test_wrong_password_is_one_line_with_the_reason(pg_cluster: PgCluster, tmp_path: Path) -> None:
    proc = run(_env(tmp_path, pg_cluster.url("tenantry_admin", "wrong")), "db", "upgrade", ok=False)
    assert_one_line_error(proc, "PostgreSQL cannot be reached", "password authentication failed")


def test_admin_that_may_not_act_as_the_owner_is_told_what_to_ask_for(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    with _superuser(pg_cluster, "postgres") as su:
        # Both roles exist (whichever test runs first): only the membership is missing.
        if not su.execute("SELECT 1 FROM pg_roles WHERE rolname = 'tenantry_app'").fetchone():
            su.execute("CREATE ROLE tenantry_app LOGIN NOINHERIT")
        su.execute("CREATE ROLE plain_admin LOGIN CREATEDB PASSWORD 'plain'")
        su.execute("CREATE DATABASE plain OWNER plain_admin")
    try:
        url = pg_cluster.url("plain_admin", "plain", "plain")
        proc = run(_env(tmp_path, url, None), "db", "upgrade", ok=False)
        assert_one_line_error(proc, "GRANT tenantry_owner TO plain_admin")
    finally:
        with _superuser(pg_cluster, "postgres") as su:
            su.execute("DROP DATABASE plain")
            su.execute("DROP ROLE plain_admin")


@pytest.fixture(scope="module")
def bare_cluster() -> Iterator[PgCluster]:
    """A server where no one has created `tenantry_owner` (the DBA's part of the setup)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(skip_reason())
    cluster = start_cluster(bindir)
    try:
        with _superuser(cluster, "postgres") as su:
            su.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier("tenantry_owner")))
        yield cluster
    finally:
        cluster.stop()


def test_admin_that_may_not_create_the_owner_role_is_told_the_sql(
    bare_cluster: PgCluster, tmp_path: Path
) -> None:
    proc = run(_env(tmp_path, bare_cluster.admin_url), "db", "upgrade", ok=False)
    assert_one_line_error(
        proc, "role tenantry_owner does not exist", "CREATE ROLE tenantry_owner", "BYPASSRLS"
    )


def test_without_the_app_password_the_user_is_told_to_set_it(
    env: dict[str, str], demo: str
) -> None:
    no_password = {k: v for k, v in env.items() if k != "TENANTRY_APP_PASSWORD"}
    app = conninfo_to_dict(run(no_password, "db", "url", "--app").stdout.strip())
    assert app["user"] == "tenantry_app" and "password" not in app  # not the admin's
    proc = run(no_password, "dsar", "list", "--tenant", TENANT, ok=False)
    assert_one_line_error(proc, "TENANTRY_APP_PASSWORD")
    wrong = {
        **no_password,
        "TENANTRY_APP_DATABASE_URL": env["TENANTRY_DATABASE_URL"].replace(
            "tenantry_admin:", "tenantry_app:wrong-"
        ),
    }
    proc = run(wrong, "dsar", "list", "--tenant", TENANT, ok=False)
    assert_one_line_error(proc, "refused the login of tenantry_app")
