"""`tenantry payments import` and `tenantry payments review` as an operator runs them: signed
provider e-mails in a Maildir, the keys file named by TENANTRY_DKIM_KEYS_FILE, JSON lines out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.demo.payment_mail import (
    SamplePayment,
    keys_file_text,
    make_test_key,
    signed_mail,
    write_mail,
)
from tenantry.domain.bookings import booking_code
from tests.cli_support import call
from tests.conftest import make_tenant
from tests.e2e.test_cli import env as env  # the CLI's environment (a fixture)
from tests.e2e.test_cli import run
from tests.payments_support import open_booking


@pytest.fixture(scope="module")
def cli_db(settings: Settings) -> Iterator[Database]:
    db = open_database(settings, migrate=True)  # as the CLI opens it
    yield db
    db.dispose()


def _pay(amount: int, payer: str, tx: str, memo: str | None = None) -> SamplePayment:
    return SamplePayment(
        amount_cents=amount,
        payer_name=payer,
        occurred_at=datetime.now(UTC),
        transaction_id=tx,
        memo=memo,
    )


def test_import_matches_signed_mails_queues_the_rest_and_reimport_changes_nothing(
    env: dict[str, str], cli_db: Database, tmp_path: Path
) -> None:
    tenant = make_tenant(cli_db)
    erika = open_booking(cli_db, tenant, "Erika", "Mustermann")
    max_ = open_booking(cli_db, tenant, "Max", "Beispiel", total_cents=50_000, deposit_cents=0)
    key = make_test_key()
    keys = tmp_path / "keys.txt"
    keys.write_text(keys_file_text(key))
    maildir = tmp_path / "mail"
    (maildir / "new").mkdir(parents=True)
    (maildir / "cur").mkdir()
    mails = {
        "1-venmo.eml": signed_mail(
            "venmo", _pay(20_000, "Erika Mustermann", "4000000000000001"), key
        ),
        "2-zelle.eml": signed_mail(
            "zelle",
            _pay(50_000, "Jordan Rivera", "ZL0002", memo=f"for Max, {booking_code(max_.id)}"),
            key,
            bank="chase",
        ),
        "3-forged.eml": write_mail("paypal", _pay(60_000, "Erika Mustermann", "PP0003")),
        "4-newsletter.eml": b"From: Venmo <venmo@venmo.com>\r\nSubject: New features\r\n\r\nHi!\r\n",
    }
    for name, raw in mails.items():
        (maildir / "new" / name).write_bytes(raw)
    (maildir / "cur" / "5-again.eml").write_bytes(mails["1-venmo.eml"])
    env = {**env, "TENANTRY_DKIM_KEYS_FILE": str(keys)}

    proc = run(env, "payments", "import", str(maildir), "--tenant", tenant.slug, "--json")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_file = {line["file"]: line for line in lines}
    assert set(by_file) == {"cur/5-again.eml", *(f"new/{n}" for n in mails)}
    assert {"file", "status", "booking_id", "score", "reasons"} <= set(lines[0])
    venmo = by_file["new/1-venmo.eml"]
    first_seen = by_file["cur/5-again.eml"]
    # The same bytes twice: one is recorded, the other recognised (sorted order decides which).
    assert sorted([venmo["status"], first_seen["status"]]) == ["duplicate", "matched"]
    assert str(erika.id) in (venmo["booking_id"], first_seen["booking_id"])
    assert by_file["new/2-zelle.eml"]["status"] == "matched"
    assert by_file["new/2-zelle.eml"]["booking_id"] == str(max_.id)
    forged = by_file["new/3-forged.eml"]
    assert forged["status"] == "needs_review" and forged["trust"] != "verified"
    assert by_file["new/4-newsletter.eml"]["status"] == "rejected"
    assert "Erika" not in proc.stderr and "Mustermann" not in proc.stdout

    again = call(env, "payments", "import", str(maildir), "--tenant", tenant.slug, "--json")
    statuses = {json.loads(line)["status"] for line in again.stdout.splitlines()}
    assert statuses == {"duplicate", "rejected"}

    queue = json.loads(
        call(env, "payments", "review", "list", "--tenant", tenant.slug, "--format", "json").stdout
    )
    [queued] = queue["notifications"]
    assert queued["payer_name"] == "***" and queued["trust"] != "verified"
    done = call(
        env,
        "payments",
        "review",
        "reject",
        queued["id"],
        "--tenant",
        tenant.slug,
        "--reason",
        "forged",
    )
    assert "rejected" in done.stdout


def test_bad_input_is_one_line_and_changes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    missing = run(env, "payments", "import", str(tmp_path / "nope"), "--tenant", "x", ok=False)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(b"\x00\xff" * 1000)
    unknown = call(env, "payments", "import", str(garbage), "--tenant", "no-such-tenant", ok=False)
    assert unknown.returncode == 1 and len(unknown.stderr.strip().splitlines()) == 1
    wrong = call(
        env,
        "payments",
        "review",
        "match",
        "not-a-uuid",
        "--booking",
        "x",
        "--tenant",
        "t",
        ok=False,
    )
    assert wrong.returncode == 2
