"""`tenantry migrate` as a user runs it: a subprocess against the session's server, sources on
the logical-replication server. Bad input gives one line and exit 1; quarantine reasons name
column and problem without the value; verify exits 1 on a difference; kill -9 of a load is
resumed without loading a row twice. Checks that need no process of their own (a refused
mapping, a verify after a load) call the same `main()` in this process (`in_process`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget
from tests.cli_support import in_process
from tests.conftest import create_database, drop_database
from tests.integration.migrate.conftest import drop_source, make_source
from tests.legacy.myhibachi.data import FERNET_KEY, FERNET_KEY_OLD
from tests.legacy.server import LegacyServer

EXE = str(Path(sys.executable).with_name("tenantry"))


@pytest.fixture(scope="module")
def env(settings: Settings, server: Any) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    e["TENANTRY_HOME"] = str(settings.home)
    if settings.database_url is not None:
        e["TENANTRY_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.app_password is not None:
        e["TENANTRY_APP_PASSWORD"] = settings.app_password.get_secret_value()
    e["COLUMNS"] = "200"
    return e


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def target_url(env: dict[str, str]) -> str:
    proc = in_process(env, "db", "url")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def made(legacy_server: LegacyServer) -> Iterator[list[str]]:
    urls: list[str] = []
    yield urls
    for url in urls:
        drop_source(legacy_server, url)


def source(legacy_server: LegacyServer, made: list[str], fixture: str, scale: float) -> str:
    url = make_source(legacy_server, fixture, f"cli_{fixture}_{uuid.uuid4().hex[:6]}", scale)
    made.append(url)
    return url


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def scalar(url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, args).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return row[0]


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-500:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-1000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


# -- bad input ---------------------------------------------------------------------------------


def test_an_unreachable_source_is_one_line_without_the_password(env: dict[str, str]) -> None:
    secret = "s3cret-Pw-" + uuid.uuid4().hex[:6]
    url = f"postgresql://someone:{secret}@127.0.0.1:1/nowhere"
    for command in ("plan", "load"):
        proc = cli(env, "migrate", command, "--source", url, "--mapping", "carbot")
        line = one_line_error(proc)
        assert secret not in proc.stdout + proc.stderr, command
        assert line


def test_an_unknown_builtin_mapping_is_one_line(env: dict[str, str]) -> None:
    proc = in_process(
        env,
        "migrate",
        "plan",
        "--source",
        "postgresql://x@127.0.0.1:1/x",
        "--mapping",
        "nosuchmapping",
    )
    # A usage error (exit 2), found while the command line is read, naming the built-ins.
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--mapping" in lines[0] and "carbot" in lines[0]


def test_a_mapping_file_that_is_not_toml_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[mapping\nname = 'x'\n")
    proc = in_process(
        env, "migrate", "plan", "--source", "postgresql://x@127.0.0.1:1/x", "--mapping", str(broken)
    )
    assert one_line_error(proc)


def test_a_mapping_naming_a_missing_column_is_refused_and_nothing_loads(
    env: dict[str, str],
    legacy_server: LegacyServer,
    made: list[str],
    target_url: str,
    tmp_path: Path,
) -> None:
    url = source(legacy_server, made, "carbot", 0.002)
    builtin = Path(__file__).parents[2] / "src/tenantry/migrate/mappings/carbot.toml"
    text = builtin.read_text().replace(
        'body = { from = "content"', 'body = { from = "inhalt_fehlt"'
    )
    assert "inhalt_fehlt" in text
    wrong = tmp_path / "carbot_wrong.toml"
    wrong.write_text(text)
    plan = in_process(env, "migrate", "plan", "--source", url, "--mapping", str(wrong))
    assert plan.returncode == 1
    assert "inhalt_fehlt" in plan.stderr and "Traceback" not in plan.stderr
    run = unique("missingcol")
    proc = cli(env, "migrate", "load", "--source", url, "--mapping", str(wrong), "--run", run)
    assert "inhalt_fehlt" in one_line_error(proc)
    assert scalar(target_url, "SELECT count(*) FROM migrate.runs WHERE name = %s", run) == 0
    assert (
        scalar(url, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")
        == 0
    )


def test_follow_of_a_run_loaded_without_logical_replication_is_one_line(
    env: dict[str, str], server: DatabaseTarget, target_url: str
) -> None:
    """The session's own server has wal_level=replica: a load from it has no slot."""
    name = "cli_replica_src_" + uuid.uuid4().hex[:6]
    made_db = create_database(server, name)
    url = made_db.libpq(made_db.owner_url)
    assert scalar(url, "SHOW wal_level") != "logical"
    try:
        from tests.legacy.matbakh import data as matbakh

        matbakh.apply_schema(url)
        matbakh.populate(url, scale=0.02, seed=3)
        run = unique("nocdc")
        refused = cli(env, "migrate", "load", "--source", url, "--mapping", "matbakh", "--run", run)
        assert "wal_level" in one_line_error(refused)
        assert "nothing was written" in refused.stderr
        assert scalar(target_url, "SELECT count(*) FROM migrate.runs WHERE name = %s", run) == 0
        load = cli(
            env, "migrate", "load", "--source", url, "--mapping", "matbakh", "--run", run,
            "--no-cdc",
        )  # fmt: skip
        assert load.returncode == 0, load.stderr[-2000:]
        follow = cli(
            env,
            "migrate",
            "follow",
            "--source",
            url,
            "--mapping",
            "matbakh",
            "--run",
            run,
            "--until-caught-up",
        )
        line = one_line_error(follow)
        assert "wal_level" in line or "logical" in line
    finally:
        drop_database(server, name)


# -- quarantine and verify -----------------------------------------------------------------------


def test_quarantine_reasons_name_the_column_and_never_the_value(
    env: dict[str, str], legacy_server: LegacyServer, made: list[str]
) -> None:
    url = source(legacy_server, made, "matbakh", 0.05)
    run = unique("quar")
    load = cli(
        env,
        "migrate",
        "load",
        "--source",
        url,
        "--mapping",
        "matbakh",
        "--run",
        run,
        "--format",
        "json",
    )
    assert load.returncode == 0, load.stderr[-2000:]
    proc = cli(
        env, "migrate", "quarantine", "--mapping", "matbakh", "--run", run, "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["reason"] for r in rows)
    reasons = " | ".join(r["reason"] for r in rows)
    assert "was not loaded" in reasons  # an orphan reference
    assert "demo row" in reasons
    assert any("email" in r["reason"] for r in rows)  # an invalid e-mail names its column
    with psycopg.connect(url) as src:
        personal = [
            v
            for (v,) in src.execute(
                "SELECT email FROM auth.users UNION SELECT email FROM visibility_check_leads"
                " UNION SELECT phone FROM business_profiles"
            )
            if v and len(v) > 4
        ]
    assert personal
    assert not any(v in proc.stdout for v in personal)


def test_verify_exits_0_when_equal_and_1_naming_a_difference(
    env: dict[str, str], legacy_server: LegacyServer, made: list[str], target_url: str
) -> None:
    url = source(legacy_server, made, "carbot", 0.002)
    run = unique("cliverify")
    args = ("--source", url, "--mapping", "carbot", "--run", run)
    assert cli(env, "migrate", "load", *args).returncode == 0
    equal = in_process(env, "migrate", "verify", *args, "--format", "json")
    assert equal.returncode == 0, equal.stdout[-2000:] + equal.stderr[-2000:]
    assert json.loads(equal.stdout)["equal"] is True
    key, cid = (
        psycopg.connect(target_url)
        .execute(
            "SELECT source_key, canonical_id::text FROM migrate.id_map WHERE run = %s"
            " AND entity = 'catalogue_services' AND outcome = 'loaded' LIMIT 1",
            (run,),
        )
        .fetchone()
    )  # type: ignore[misc]
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("UPDATE commerce.services SET name = name || ' x' WHERE id = %s", (cid,))
    differ = in_process(env, "migrate", "verify", *args, "--format", "json")
    assert differ.returncode == 1
    report = json.loads(differ.stdout)
    assert report["differences"] == [
        {
            "entity": "catalogue_services",
            "source_key": key,
            "canonical_id": cid,
            "column": "name",
            "kind": "value differs",
        }
    ]


# -- kill -9 during load -------------------------------------------------------------------------


def test_a_load_killed_with_sigkill_resumes_without_loading_a_row_twice(
    env: dict[str, str], legacy_server: LegacyServer, made: list[str], target_url: str
) -> None:
    url = source(legacy_server, made, "carbot", 0.01)
    run = unique("kill")
    args = ("--source", url, "--mapping", "carbot", "--run", run)
    proc = subprocess.Popen(
        [EXE, "migrate", "load", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    rows = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                rows = scalar(target_url, "SELECT count(*) FROM migrate.id_map WHERE run = %s", run)
            except psycopg.Error:
                rows = 0
            if rows > 200:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the load finished before it could be killed"
    assert rows > 0
    again = cli(env, "migrate", "load", *args, "--format", "json")
    assert again.returncode == 0, again.stderr[-2000:]
    with psycopg.connect(target_url) as conn:
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT entity, source_key FROM migrate.id_map WHERE run = %s"
            " GROUP BY 1, 2 HAVING count(*) > 1) d",
            (run,),
        ).fetchone()
        assert dupes == (0,)
        loaded_messages, canonical = conn.execute(
            "SELECT count(*), count(m.id) FROM migrate.id_map i LEFT JOIN engage.chat_messages m"
            " ON m.id = i.canonical_id WHERE i.run = %s AND i.entity = 'chat_messages'"
            " AND i.outcome = 'loaded'",
            (run,),
        ).fetchone()  # type: ignore[misc]
        threads = {
            r[0]
            for r in conn.execute(
                "SELECT canonical_id FROM migrate.id_map WHERE run = %s AND entity = 'threads'",
                (run,),
            )
        }
        in_target = conn.execute(
            "SELECT count(*) FROM engage.chat_messages WHERE thread_id = ANY(%s)", (list(threads),)
        ).fetchone()
    assert loaded_messages == canonical == in_target[0]  # type: ignore[index]
    assert loaded_messages == scalar(url, "SELECT count(*) FROM chat_messages")
    verify = cli(env, "migrate", "verify", *args)
    assert verify.returncode == 0, verify.stdout[-2000:]


def test_a_follow_killed_with_sigkill_resumes_and_applies_every_change_once(
    env: dict[str, str], legacy_server: LegacyServer, made: list[str], target_url: str
) -> None:
    url = source(legacy_server, made, "myhibachi", 0.02)
    run = unique("killfollow")
    keys = ("--fernet-key", FERNET_KEY, "--fernet-key", FERNET_KEY_OLD)
    args = ("--source", url, "--mapping", "myhibachi", "--run", run)
    assert cli(env, "migrate", "load", *args, *keys).returncode == 0
    with psycopg.connect(url, autocommit=True) as src:
        customers = [r[0] for r in src.execute("SELECT id FROM core.customers ORDER BY id")]
        proc = subprocess.Popen(
            [EXE, "migrate", "follow", *args, *keys],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        start = scalar(target_url, "SELECT applied_lsn FROM migrate.runs WHERE name = %s", run)
        written = 0
        try:
            deadline = time.monotonic() + 60
            # Keep changing the source until the follower has applied some of it, then kill it
            # in the middle of its work.
            while time.monotonic() < deadline and proc.poll() is None:
                for _ in range(20):
                    target = customers[written % len(customers)]
                    src.execute(
                        "UPDATE core.customers SET notes = %s WHERE id = %s",
                        (f"follow note {written}", target),
                    )
                    written += 1
                applied = scalar(
                    target_url, "SELECT applied_lsn FROM migrate.runs WHERE name = %s", run
                )
                if applied != start and written > 200:
                    break
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, "follow ended before it could be killed"
        for n in range(written, written + 40):  # more changes while no follower runs
            src.execute(
                "UPDATE core.customers SET notes = %s WHERE id = %s",
                (f"follow note {n}", customers[n % len(customers)]),
            )
    again = cli(env, "migrate", "follow", *args, *keys, "--until-caught-up", "--format", "json")
    assert again.returncode == 0, again.stderr[-2000:]
    with psycopg.connect(target_url) as conn:
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT canonical_id FROM migrate.id_map WHERE run = %s"
            " AND outcome = 'loaded' GROUP BY 1 HAVING count(*) > 1) d",
            (run,),
        ).fetchone()
        assert dupes == (0,)
    verify = cli(env, "migrate", "verify", *args, *keys)
    assert verify.returncode == 0, verify.stdout[-2000:]
