"""`tenantry payments stripe-secret ...` and `tenantry payments watch` as an operator runs them.

The watch reads the test IMAP server (`tests/imap_server.py`) and records into the database the
CLI uses: the checks read its `commerce.payment_notifications` and `commerce.payments` rows and
the bookings' status. Provider mails are DKIM-signed with a test key published in the file
`TENANTRY_DKIM_KEYS_FILE` names.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenantry.cli.main import main
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.demo import payment_mail
from tenantry.demo.payment_mail import (
    SamplePayment,
    keys_file_text,
    make_test_key,
    signed_mail,
    write_mail,
)
from tenantry.models import Booking, Payment, PaymentNotification
from tenantry.payments.cursors import DatabaseCursors
from tenantry.payments.trust import DkimVerifier
from tests.cli_support import in_process
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.test_cli import env, run  # noqa: F401  (the module's environment fixture)
from tests.imap_server import ImapTestServer
from tests.payments_support import open_booking

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
def cli_db(settings: Settings, env: dict[str, str]) -> Iterator[Database]:  # noqa: F811
    db = open_database(settings, migrate=True)  # the database (and master key) the CLI uses
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def shop(cli_db: Database) -> TenantFixture:
    return make_tenant(cli_db, locations=1)


@pytest.fixture(scope="module")
def dkim(tmp_path_factory: pytest.TempPathFactory) -> tuple[payment_mail.TestKey, Path]:
    """A DKIM test key and the keys file that publishes it for the providers' domains."""
    key = make_test_key()
    path = tmp_path_factory.mktemp("dkim") / "keys.txt"
    path.write_text(keys_file_text(key), encoding="utf-8")
    return key, path


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
    rolled = in_process({**env, "ROLLED": "whsec_cli_rolled_0123456789"},
                        "payments", "stripe-secret", "set", "--tenant", shop.slug,
                        "--from-env", "ROLLED", "--label", "rolled")  # fmt: skip
    assert rolled.returncode == 0, rolled.stderr
    listed = in_process(env, "payments", "stripe-secret", "list", "--tenant", shop.slug,
                        "--format", "json")  # fmt: skip
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [first, rolled.stdout.strip()]
    assert [r["secret"] for r in rows] == ["whsec_****abcd", "whsec_****6789"]
    assert SECRET not in listed.stdout + added.stdout + added.stderr
    table = in_process(env, "payments", "stripe-secret", "list", "--tenant", shop.slug)
    assert "whsec_****abcd" in table.stdout and SECRET not in table.stdout
    revoked = in_process(env, "payments", "stripe-secret", "revoke", first, "--tenant", shop.slug)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    rows = json.loads(in_process(env, "payments", "stripe-secret", "list", "--tenant", shop.slug,
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
    proc = in_process(env, "payments", *args)
    assert proc.returncode == code
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert "pw@" not in proc.stderr


def test_a_secret_missing_from_stdin_or_env_is_one_line_and_exit_1(
    env: dict[str, str],  # noqa: F811
    shop: TenantFixture,
) -> None:
    empty = tenantry(env, "payments", "stripe-secret", "set", "--tenant", shop.slug)
    assert empty.returncode == 1 and len(empty.stderr.strip().splitlines()) == 1
    unset = in_process(env, "payments", "stripe-secret", "set", "--tenant", shop.slug,
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


def test_watch_once_reads_what_arrived_and_moves_its_cursor(
    env: dict[str, str],  # noqa: F811
    cli_db: Database,
    imap: ImapTestServer,
) -> None:
    tenant = make_tenant(cli_db, locations=1)
    url = f"imap://{imap.user}@127.0.0.1:{imap.port}/INBOX"
    args = ["payments", "watch", "--tenant", tenant.slug, "--imap", url, "--once"]
    extra = {"TENANTRY_IMAP_PASSWORD": IMAP_PASSWORD}
    empty = tenantry(env, *args, extra=extra)
    assert empty.returncode == 0, empty.stderr
    assert empty.stderr.strip() == "payments watch: 0 new message(s) handed on"
    # Not from a payment provider: rejected (nothing is stored), and not fetched again.
    imap.add(b"From: Zelle <alerts@bank.example.com>\r\nSubject: You received $40.00\r\n\r\nx\r\n")
    done = tenantry(env, *args, extra=extra)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "payments watch: 1 new message(s) handed on: rejected 1"
    assert IMAP_PASSWORD not in done.stderr + empty.stderr
    assert DatabaseCursors(cli_db, tenant.id).load(url) == (1000, 1)
    assert _rows(cli_db, tenant.id) == ([], [])
    wrong = tenantry(env, *args, extra={"TENANTRY_IMAP_PASSWORD": "wrong"})
    assert wrong.returncode == 1 and "refused the login" in wrong.stderr


def test_a_signed_venmo_mail_in_the_mailbox_pays_the_deposit_and_a_forgery_is_queued(
    env: dict[str, str],  # noqa: F811
    cli_db: Database,
    dkim: tuple[payment_mail.TestKey, Path],
    imap: ImapTestServer,
) -> None:
    key, keys_file = dkim
    tenant = make_tenant(cli_db, locations=1)
    erika = open_booking(cli_db, tenant, "Erika", "Mustermann")
    max_ = open_booking(cli_db, tenant, "Max", "Beispiel")  # the same amounts, another name
    url = f"imap://{imap.user}@127.0.0.1:{imap.port}/INBOX"
    args = ["payments", "watch", "--tenant", tenant.slug, "--imap", url, "--once"]
    extra = {"TENANTRY_IMAP_PASSWORD": IMAP_PASSWORD, "TENANTRY_DKIM_KEYS_FILE": str(keys_file)}
    imap.add(
        signed_mail(
            "venmo", _venmo("Erika Mustermann", erika.deposit_cents, "4000000000000201"), key
        )
    )

    first = tenantry(env, *args, extra=extra)
    assert first.returncode == 0, first.stderr
    assert first.stderr.strip() == "payments watch: 1 new message(s) handed on: matched 1"
    assert "Erika" not in first.stderr + first.stdout
    [note], [payment] = _rows(cli_db, tenant.id)
    assert (note.match_status, note.matched_booking_id, note.trust) == (
        "matched",
        erika.id,
        "verified",
    )
    assert (payment.booking_id, payment.kind, payment.method, payment.amount_cents) == (
        erika.id,
        "deposit",
        "venmo",
        erika.deposit_cents,
    )
    assert payment.provider_ref == "4000000000000201"
    assert _status(cli_db, tenant.id, erika.id) == "deposit_paid"
    assert _status(cli_db, tenant.id, max_.id) == "confirmed"

    second = tenantry(env, *args, extra=extra)
    assert second.returncode == 0, second.stderr
    assert second.stderr.strip() == "payments watch: 0 new message(s) handed on"

    # The same mail unsigned, with another transaction id: stored for review, never matched.
    imap.add(
        write_mail("venmo", _venmo("Erika Mustermann", erika.deposit_cents, "4000000000000202"))
    )
    third = tenantry(env, *args, extra=extra)
    assert third.returncode == 0, third.stderr
    assert third.stderr.strip() == "payments watch: 1 new message(s) handed on: needs_review 1"
    notes, paid = _rows(cli_db, tenant.id)
    assert [n.id for n in notes[:1]] == [note.id] and [p.id for p in paid] == [payment.id]
    [queued] = notes[1:]
    assert (queued.transaction_id, queued.match_status, queued.trust) == (
        "4000000000000202",
        "needs_review",
        "unsigned",
    )
    assert queued.matched_payment_id is None
    assert _status(cli_db, tenant.id, erika.id) == "deposit_paid"
    assert _status(cli_db, tenant.id, max_.id) == "confirmed"


def _rows(db: Database, tenant_id: uuid.UUID) -> tuple[list[PaymentNotification], list[Payment]]:
    """The tenant's notifications and payments, read through its own unit of work."""
    with db.tenant_uow(tenant_id) as uow:
        notes = uow.session.scalars(
            sa.select(PaymentNotification).order_by(PaymentNotification.created_at)
        ).all()
        paid = uow.session.scalars(sa.select(Payment)).all()
        uow.session.expunge_all()
    return list(notes), list(paid)


def _status(db: Database, tenant_id: uuid.UUID, booking_id: uuid.UUID) -> str:
    with db.tenant_uow(tenant_id) as uow:
        booking = uow.session.get(Booking, (tenant_id, booking_id))
        assert booking is not None
        return str(booking.status)


def _venmo(payer: str, amount: int, tx: str) -> SamplePayment:
    return SamplePayment(
        amount_cents=amount, payer_name=payer, occurred_at=datetime.now(UTC), transaction_id=tx
    )


def test_watch_parses_and_records_each_new_message_with_one_verifier(
    env: dict[str, str],  # noqa: F811
    cli_db: Database,
    dkim: tuple[payment_mail.TestKey, Path],
    imap: ImapTestServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key, keys_file = dkim
    tenant = make_tenant(cli_db, locations=1)
    erika = open_booking(cli_db, tenant, "Erika", "Mustermann")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TENANTRY_IMAP_PASSWORD", IMAP_PASSWORD)
    monkeypatch.setenv("TENANTRY_DKIM_KEYS_FILE", str(keys_file))
    real = DkimVerifier.from_settings
    built: list[Settings] = []

    def counting(settings: Settings) -> DkimVerifier:
        built.append(settings)
        return real(settings)

    monkeypatch.setattr(DkimVerifier, "from_settings", staticmethod(counting))
    signed = signed_mail(
        "venmo", _venmo("Erika Mustermann", erika.deposit_cents, "4000000000000101"), key
    )
    imap.add(signed)
    imap.add(b"Subject: two\r\n\r\n2\r\n")  # no From: not a notification
    imap.drop_on_fetch = 1  # the first connection breaks off: the watch reconnects
    url = f"imap://{imap.user}@localhost:{imap.port}/INBOX"
    args = ["payments", "watch", "--tenant", str(tenant.id), "--imap", url, "--once"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.strip() == "payments watch: 2 new message(s) handed on: matched 1, rejected 1"
    assert len(built) == 1 and imap.logins == 2
    [note], [payment] = _rows(cli_db, tenant.id)
    assert (note.source, note.provider, note.trust, note.signing_domain) == (
        "email",
        "venmo",
        "verified",
        "venmo.com",
    )
    assert (note.transaction_id, note.match_status) == ("4000000000000101", "matched")
    assert note.raw_sha256 == hashlib.sha256(signed).hexdigest()
    assert (payment.booking_id, payment.kind, payment.amount_cents) == (
        erika.id,
        "deposit",
        erika.deposit_cents,
    )
    assert note.matched_payment_id == payment.id
    assert _status(cli_db, tenant.id, erika.id) == "deposit_paid"

    assert main(args) == 0  # nothing new
    assert capsys.readouterr().err.strip() == "payments watch: 0 new message(s) handed on"
    # A renumbered mailbox is read again: the store recognises what it has, nothing changes.
    imap.renumber(2000)
    assert main(args) == 0
    assert capsys.readouterr().err.strip() == (
        "payments watch: 2 new message(s) handed on (mailbox renumbered: read again from the"
        " start): duplicate 1, rejected 1"
    )
    assert DatabaseCursors(cli_db, tenant.id).load(url) == (2000, 2)
    notes, paid = _rows(cli_db, tenant.id)
    assert [n.id for n in notes] == [note.id] and [p.id for p in paid] == [payment.id]


def test_an_unreadable_keys_file_ends_the_watch_before_it_connects(
    env: dict[str, str],  # noqa: F811
    shop: TenantFixture,
    imap: ImapTestServer,
    tmp_path: Path,
) -> None:
    url = f"imap://{imap.user}@127.0.0.1:{imap.port}/INBOX"
    extra = {
        "TENANTRY_IMAP_PASSWORD": IMAP_PASSWORD,
        "TENANTRY_DKIM_KEYS_FILE": str(tmp_path / "no-such-keys.txt"),
    }
    proc = tenantry(env, "payments", "watch", "--tenant", shop.slug, "--imap", url, "--once",
                    extra=extra)  # fmt: skip
    assert proc.returncode == 1 and "TENANTRY_DKIM_KEYS_FILE" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert imap.logins == 0


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
