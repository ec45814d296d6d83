"""`tenantry events ingest|relay|project` end to end, as a user runs them.

`run` starts `tenantry` as a subprocess; repeats and further cases of a command already run so
call `main()` in this process (`in_process`, same environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from deltalake import DeltaTable

from tenantry.config import Settings
from tenantry.ids import uuid7
from tests.cli_support import in_process


@pytest.fixture(scope="module")
def env(settings: Settings, server) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    e["TENANTRY_HOME"] = str(settings.home)
    if settings.database_url is not None:
        e["TENANTRY_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.app_password is not None:
        e["TENANTRY_APP_PASSWORD"] = settings.app_password.get_secret_value()
    return e


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tenantry")
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tenant_slug(env: dict[str, str]) -> str:
    assert in_process(env, "db", "upgrade").returncode == 0
    url = in_process(env, "db", "url").stdout.strip()
    slug = f"events-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO identity.tenants (id, slug, legal_name, display_name, legal_form,"
            " vertical) VALUES (%s, %s, 'Events Test GmbH', 'Events Test', 'gmbh', 'restaurant')",
            (uuid7(), slug),
        )
    return slug


def test_ingest_relay_and_project_from_the_command_line(
    env: dict[str, str], tenant_slug: str, tmp_path: Path
) -> None:
    lines = [
        {
            "event_id": str(uuid7()),
            "timestamp": "2026-01-10T10:00:00Z",
            "event_type": "step_completed",
            "properties": {"step_id": f"s{i}"},
        }
        for i in range(5)
    ]
    lines.append(lines[0] | {"event_id": str(uuid7()), "event_type": "nope"})
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(json.dumps(x) for x in lines) + "\n")

    first = run(env, "events", "ingest", str(file), "--tenant", tenant_slug)
    assert first.returncode == 1, first.stderr  # one line was rejected
    assert first.stderr == "tenantry: error: 1 of 6 lines rejected\n"
    assert "accepted 5, duplicate 0, suppressed 0, rejected 1" in first.stdout
    assert "line 6: event_type: unknown event type" in first.stdout
    again = in_process(env, "events", "ingest", str(file), "--tenant", tenant_slug)
    assert "accepted 0, duplicate 5" in again.stdout

    relayed = run(env, "events", "relay", "--once")
    assert relayed.returncode == 0, relayed.stderr
    assert "relayed inbox" in relayed.stdout
    table = DeltaTable(str(Path(env["TENANTRY_HOME"]) / "lake/raw/events")).to_pyarrow_table()
    # the lake may hold other tests' events too (the demo's), so look for ours
    steps = {json.loads(p).get("step_id") for p in table["properties"].to_pylist()}
    assert {f"s{i}" for i in range(5)} <= steps

    projected = run(env, "events", "project", "--tenant", tenant_slug)
    assert projected.returncode == 0 and "events read" in projected.stdout


def test_bad_input_is_one_line_on_stderr(
    env: dict[str, str], tenant_slug: str, tmp_path: Path
) -> None:
    missing = run(env, "events", "ingest", str(tmp_path / "nope.jsonl"), "--tenant", tenant_slug)
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("tenantry: error: Invalid value for 'FILE'")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    bad = in_process(env, "events", "ingest", str(broken), "--tenant", tenant_slug)
    assert bad.returncode == 1 and bad.stderr.strip() == "tenantry: error: 1 of 1 lines rejected"
    assert "line 1: the line is not valid JSON" in bad.stdout


def test_malformed_lines_are_rejected_with_their_line_numbers_and_the_rest_goes_in(
    env: dict[str, str], tenant_slug: str, tmp_path: Path
) -> None:
    def event(step: str) -> bytes:
        body = {
            "event_id": str(uuid7()),
            "timestamp": "2026-01-10T10:00:00Z",
            "event_type": "step_completed",
            "properties": {"step_id": step},
        }
        return json.dumps(body).encode()

    file = tmp_path / "mixed.jsonl"
    file.write_bytes(
        b"\n".join(
            [
                event("m1"),
                b"",  # blank lines are skipped but still counted
                '{"event_type": "step_completed", "note": "Jürgen"}'.encode("latin-1"),
                b'{"event_id": "x", "broken": ',
                event("m2"),
                b'["an", "array"]',
                b"[" * 100_000,
                event("m3"),
            ]
        )
        + b"\n"
    )
    proc = in_process(env, "events", "ingest", str(file), "--tenant", tenant_slug)
    assert proc.returncode == 1
    assert proc.stderr == "tenantry: error: 4 of 7 lines rejected\n"
    assert "accepted 3, duplicate 0, suppressed 0, rejected 4" in proc.stdout
    reported = [line.strip() for line in proc.stdout.splitlines()[1:]]
    assert reported == [
        "line 3: the line is not UTF-8 text",
        "line 4: the line is not valid JSON",
        "line 6: an event must be a JSON object",
        "line 7: the line nests too deeply",
    ]
    assert "Jürgen" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
