"""`tenantry payments stripe-secret ...` and `tenantry payments watch` as an operator runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenantry.cli.main import main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.uow import UnitOfWork
from tenantry.payments import wiring
from tenantry.payments.cursors import DatabaseCursors
from tenantry.payments.notices import Notice, Rejected
from tenantry.services.principal import Principal
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.test_cli import env, run  # noqa: F401  (the module's environment fixture)
from tests.imap_server import ImapTestServer

SECRET = "whsec_cli_test_0123456789abcd"
IMAP_PASSWORD = "not-a-real-imap-password"


def tenantry(
    env: dict[str, str],  # noqa: F811
    *args: str,
    stdin: str = "",
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tenantry")
    return subprocess.run(
        [str(exe), *args],
        env={**env, **(extra or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def shop(settings: Settings, env: dict[str, str]) -> TenantFixture:  # noqa: F811
    db = open_database(settings, migrate=True)  # the database (and master key) the CLI uses
    try:
        return make_tenant(db, locations=1)
    finally:
        db.dispose()


@pytest.fixture
def imap() -> Iterator[ImapTestServer]:
    with ImapTestServer(password=IMAP_PASSWORD) as server:
        yield server


def test_an_operator_sets_lists_rotates_and_revokes_a_stripe_secret(
    env: dict[str, str],  # noqa: F811
    shop: TenantFixture,
) -> None:
    added = tenantry(env, "payments", "stripe-secret", "set", "--tenant", shop.slug,
                     stdin=SECRET + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    first = added.stdout.strip()
    rolled = tenantry(env, "payments", "stripe-secret", "set", "--tenant", shop.slug,
                      "--from-env", "ROLLED", "--label", "rolled",
                      extra={"ROLLED": "whsec_cli_rolled_0123456789"})  # fmt: skip
    assert rolled.returncode == 0, rolled.stderr
    listed = tenantry(env, "payments", "stripe-secret", "list", "--tenant", shop.slug,
                      "--format", "json")  # fmt: skip
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [first, rolled.stdout.strip()]
    assert [r["secret"] for r in rows] == ["whsec_****abcd", "whsec_****6789"]
    assert SECRET not in listed.stdout + added.stdout + added.stderr
    table = tenantry(env, "payments", "stripe-secret", "list", "--tenant", shop.slug)
    assert "whsec_****abcd" in table.stdout and SECRET not in table.stdout
    revoked = tenantry(env, "payments", "stripe-secret", "revoke", first, "--tenant", shop.slug)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    rows = json.loads(tenantry(env, "payments", "stripe-secret", "list", "--tenant", shop.slug,
                               "--format", "json").stdout)  # fmt: skip
    assert rows[0]["revoked_at"] is not None and rows[1]["revoked_at"] is None


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["stripe-secret", "set", "--tenant", "t", "--secret", SECRET], 2, "--secret"),
        (["stripe-secret", "set", "--tenant", "t", "--from-env", "no such var"], 2, "--from-env"),
        (["stripe-secret", "revoke", "not-an-id", "--tenant", "t"], 2, "SECRET_ID"),
        (["watch", "--tenant", "t", "--imap", "https://pay@example.com/INBOX"], 2, "--imap"),
        (["watch", "--tenant", "t", "--imap", "imaps://pay:pw@example.com/"], 2, "password"),
        (["watch", "--tenant", "t", "--imap", "imaps://pay@example.com/", "--interval", "1"],
         2, "--interval"),
        (["watch", "--tenant", "t"], 2, "--imap"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line_and_exit_2(
    env: dict[str, str],  # noqa: F811
    args: list[str],
    code: int,
    says: str,
) -> None:
    proc = tenantry(env, "payments", *args)
    assert proc.returncode == code
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert "pw@" not in proc.stderr


def test_a_secret_missing_from_stdin_or_env_is_one_line_and_exit_1(
    env: dict[str, str],  # noqa: F811
    shop: TenantFixture,
) -> None:
    empty = tenantry(env, "payments", "stripe-secret", "set", "--tenant", shop.slug)
    assert empty.returncode == 1 and len(empty.stderr.strip().splitlines()) == 1
    unset = tenantry(env, "payments", "stripe-secret", "set", "--tenant", shop.slug,
                     "--from-env", "TENANTRY_TEST_UNSET_VARIABLE")  # fmt: skip
    assert unset.returncode == 1 and "TENANTRY_TEST_UNSET_VARIABLE" in unset.stderr
    short = tenantry(env, "payments", "stripe-secret", "set", "--tenant", shop.slug,
                     stdin="whsec_x")  # fmt: skip
    assert short.returncode == 1 and "whsec_x" not in short.stderr


def test_plain_imap_to_another_host_needs_insecure(
    env: dict[str, str],  # noqa: F811
    shop: TenantFixture,
) -> None:
    proc = tenantry(env, "payments", "watch", "--tenant", shop.slug, "--once",
                    "--imap", "imap://pay@mail.example.com/INBOX",
                    extra={"TENANTRY_IMAP_PASSWORD": IMAP_PASSWORD})  # fmt: skip
    assert proc.returncode == 1 and "--insecure" in proc.stderr


def test_watch_once_records_what_arrived_and_moves_its_cursor(
    env: dict[str, str],  # noqa: F811
    settings: Settings,
    shop: TenantFixture,
    imap: ImapTestServer,
) -> None:
    url = f"imap://{imap.user}@127.0.0.1:{imap.port}/INBOX"
    args = ["payments", "watch", "--tenant", shop.slug, "--imap", url, "--once"]
    extra = {"TENANTRY_IMAP_PASSWORD": IMAP_PASSWORD}
    empty = tenantry(env, *args, extra=extra)
    assert empty.returncode == 0, empty.stderr
    assert empty.stderr.strip() == "payments watch: 0 new message(s) handed on"
    # Not from a payment provider: recorded as rejected, and not fetched again.
    imap.add(b"From: Zelle <alerts@bank.example.com>\r\nSubject: You received $40.00\r\n\r\nx\r\n")
    done = tenantry(env, *args, extra=extra)
    assert done.returncode == 0, done.stderr
    assert "rejected 1" in done.stderr
    assert IMAP_PASSWORD not in done.stderr + empty.stderr
    db = open_database(settings)
    try:
        assert DatabaseCursors(db, shop.id).load(url) == (1000, 1)
    finally:
        db.dispose()
    wrong = tenantry(env, *args, extra={"TENANTRY_IMAP_PASSWORD": "wrong"})
    assert wrong.returncode == 1 and "refused the login" in wrong.stderr


@dataclass(frozen=True)
class Verdict:
    origin: str | None
    status: str
    notification_id: None = None


def test_watch_hands_each_new_message_to_intake_and_reports_counts(
    env: dict[str, str],  # noqa: F811
    shop: TenantFixture,
    imap: ImapTestServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TENANTRY_IMAP_PASSWORD", IMAP_PASSWORD)
    parsed: list[tuple[bytes, str]] = []

    def parse(raw: bytes, origin: str) -> Sequence[Notice | Rejected]:
        parsed.append((raw, origin))
        return [Rejected("not a payment", origin, raw)]

    def record(
        uow: UnitOfWork, principal: Principal, items: Sequence[Notice | Rejected]
    ) -> list[Verdict]:
        assert principal.tenant_id == shop.id == uow.tenant_id
        return [Verdict(i.origin, "rejected") for i in items]

    monkeypatch.setattr(wiring, "parse_message", parse)
    monkeypatch.setattr(wiring, "record_items", record)
    imap.add(b"Subject: one\r\n\r\n1\r\n")
    imap.add(b"Subject: two\r\n\r\n2\r\n")
    url = f"imap://{imap.user}@localhost:{imap.port}/INBOX"
    args = ["payments", "watch", "--tenant", str(shop.id), "--imap", url, "--once"]
    assert main(args) == 0
    assert [origin for _, origin in parsed] == ["imap:1", "imap:2"]
    assert parsed[0][0] == b"Subject: one\r\n\r\n1\r\n"
    err = capsys.readouterr().err
    assert err.strip() == "payments watch: 2 new message(s) handed on: rejected 2"
    assert main(args) == 0  # nothing new
    assert len(parsed) == 2
    assert "0 new message(s)" in capsys.readouterr().err


def test_ctrl_c_stops_a_running_watch_cleanly(
    env: dict[str, str],  # noqa: F811
    shop: TenantFixture,
    imap: ImapTestServer,
) -> None:
    exe = Path(sys.executable).with_name("tenantry")
    url = f"imap://{imap.user}@127.0.0.1:{imap.port}/INBOX"
    proc = subprocess.Popen(
        [str(exe), "payments", "watch", "--tenant", shop.slug, "--imap", url, "--interval", "5"],
        env={**env, "TENANTRY_IMAP_PASSWORD": IMAP_PASSWORD},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # after the first pass
        assert first.startswith("payments watch: 0 new message(s)")
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert rest.strip() == "payments watch: stopped"
    assert any(c.endswith("LOGOUT") for c in imap.commands)
