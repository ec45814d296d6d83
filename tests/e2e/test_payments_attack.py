"""Hostile input to payment intake, parsers and the review queue, as an acceptance check sends it.

Each test holds one rule: a hostile item becomes one `rejected` (or a clipped record) and the
rest of its batch is still recorded; nothing raises, nothing reaches stderr or the logs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.demo.payment_mail import (
    SamplePayment,
    TestKey,
    keys_file_text,
    make_test_key,
    signed_mail,
)
from tenantry.demo.payment_statements import StatementEntry, camt053, mt940
from tenantry.models import Payment, PaymentNotification
from tenantry.models.enums import PaymentStatus
from tenantry.payments.importer import import_notices
from tenantry.payments.intake import record_notices
from tenantry.payments.matching import Policy
from tenantry.payments.notices import Notice, Rejected, TrustLevel
from tenantry.payments.sources import parse_email, read_path
from tenantry.payments.sources.camt import parse_camt053
from tenantry.payments.sources.swift_mt940 import parse_mt940
from tenantry.payments.trust import DkimVerifier, parse_keys_file
from tests.cli_support import call
from tests.conftest import TenantFixture, make_tenant
from tests.e2e.test_cli import env as env  # the CLI's environment (a fixture)
from tests.payments_support import notice, open_booking


def _record(db: Database, tenant: TenantFixture, items: list) -> list:
    with db.tenant_uow(tenant.id) as uow:
        out = record_notices(uow, tenant.principal(), items)
        uow.commit()
    return out


def _stored(db: Database, tenant: TenantFixture) -> list[PaymentNotification]:
    with db.tenant_uow(tenant.id) as uow:
        rows = list(
            uow.session.scalars(
                sa.select(PaymentNotification).where(PaymentNotification.tenant_id == tenant.id)
            )
        )
        for row in rows:  # open the sealed values while the unit of work is open
            _ = (row.memo, row.sender_name, row.payer_email, row.sender_phone, row.reference)
        return rows


def test_a_hostile_notice_is_rejected_alone_and_the_rest_of_the_batch_is_recorded(
    db: Database,
) -> None:
    tenant = make_tenant(db)
    good = notice(1_500, "Erika Mustermann", transaction_id="GOOD1")
    hostile = [
        notice(10**22, "Erika Mustermann", transaction_id="HUGE1"),  # beyond a bigint
        notice(10**11, "Erika Mustermann", transaction_id="HUGE2"),  # beyond MAX_CENTS
        notice(0, "Erika Mustermann", transaction_id="ZERO1"),
        notice(-500, "Erika Mustermann", transaction_id="NEG1"),
        notice(1_000, "Erika Mustermann", transaction_id="NUL\x00ID"),
        notice(1_000, "Erika Mustermann", currency="ZZZ", transaction_id="CUR1"),
        dataclasses.replace(notice(1_000, "Erika Mustermann", transaction_id="FEE1"), fee_cents=-5),
    ]
    out = _record(db, tenant, [*hostile, good])
    assert [o.status for o in out] == ["rejected"] * len(hostile) + ["needs_review"]
    for o in out[:-1]:
        assert o.reasons and "Erika" not in " ".join(o.reasons)
    [row] = _stored(db, tenant)
    assert row.transaction_id == "GOOD1"


def test_overlong_and_nul_payer_fields_are_clipped_not_fatal(db: Database) -> None:
    tenant = make_tenant(db)
    long = notice(
        2_000,
        "Erika " + "M" * 5_000,
        memo="for the party " + "x" * 3_000,
        payer_email="e" * 400 + "@example.com",
        payer_phone="+1" + "5" * 100,
        transaction_id="LONG1",
    )
    nul = notice(2_100, "Erika\x00Mustermann", memo="hi\x00there", transaction_id="NULMEMO")
    out = _record(db, tenant, [long, nul])
    assert [o.status for o in out] == ["needs_review", "needs_review"]
    rows = {r.transaction_id: r for r in _stored(db, tenant)}
    assert set(rows) == {"LONG1", "NULMEMO"}
    assert len(rows["LONG1"].memo or "") <= 500 and (rows["LONG1"].memo or "").startswith("for")
    assert len(rows["LONG1"].sender_name or "") <= 200
    assert rows["LONG1"].payer_email is None and rows["LONG1"].sender_phone is None
    assert "\x00" not in (rows["NULMEMO"].memo or "") + (rows["NULMEMO"].sender_name or "")


def test_an_unreadable_mt940_line_reaches_neither_stderr_nor_the_logs(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    data = b":20:STARTUMS\r\n:25:12030000/1\r\n:61:Erika Mustermann 4111\r\n:86:x\r\n-\r\n"
    with caplog.at_level(logging.DEBUG):
        items = list(parse_mt940(data, origin="s.sta"))
    assert items and all(type(i).__name__ == "Rejected" for i in items)
    err = capfd.readouterr().err
    assert err == "" and "Erika" not in caplog.text


def test_an_mt940_entry_with_a_nul_byte_is_rejected_and_the_statement_goes_on(
    db: Database,
) -> None:
    tenant = make_tenant(db)
    entries = [
        StatementEntry(1234, date(2026, 12, 1), "REF\x00X", payer_name="Erika Mustermann"),
        StatementEntry(4321, date(2026, 12, 2), "REF2", payer_name="Max Beispiel"),
    ]
    items = list(parse_mt940(mt940(entries), origin="s.sta"))
    out = _record(db, tenant, items)
    assert [o.status for o in out] == ["rejected", "needs_review"]


@pytest.mark.skipif(os.name != "posix", reason="bytes file names are a POSIX matter")
def test_a_file_name_that_is_not_utf8_gives_an_origin_that_prints_as_utf8(
    tmp_path: Path,
) -> None:
    folder = os.fsencode(tmp_path / "mail")
    os.mkdir(folder)
    with open(os.path.join(folder, b"caf\xe9.eml"), "wb") as handle:
        handle.write(b"From: x@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
    [item] = list(read_path(Path(os.fsdecode(folder)), verifier=DkimVerifier.from_keys({})))
    assert item.origin is not None
    line = json.dumps({"file": item.origin}, ensure_ascii=False)
    assert line.encode("utf-8").decode("utf-8") == line  # no lone surrogates
    assert item.origin.startswith("caf") and item.origin.endswith(".eml")


@pytest.mark.parametrize(
    "when",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-23, minutes=-59))),
        datetime(9999, 12, 31, 12, 0, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=23))),
        datetime(1, 1, 1, 12, 0, tzinfo=UTC),
    ],
    ids=["after-9999-in-utc", "9999", "before-year-1-in-utc", "year-1"],
)
def test_a_payment_dated_at_the_ends_of_the_calendar_never_raises(
    db: Database, when: datetime
) -> None:
    tenant = make_tenant(db)
    open_booking(db, tenant, "Erika", "Mustermann")
    good = notice(20_000, "Erika Mustermann", transaction_id="GOOD2")
    out = _record(db, tenant, [notice(20_000, "Erika Mustermann", when=when), good])
    # Recorded, not raised. (That such a date may still be matched automatically is the
    # matcher's date weight, reported to the integrator, not asserted here.)
    assert out[0].status in ("rejected", "needs_review", "matched")
    assert out[0].notification_id is not None or out[0].status == "rejected"
    assert out[1].status in ("needs_review", "matched")


def test_two_imports_of_the_same_messages_at_once_record_each_payment_once(
    db: Database,
) -> None:
    tenant = make_tenant(db)
    bookings = [open_booking(db, tenant, "Erika", f"Mustermann{i}") for i in range(3)]
    items = [
        notice(b.deposit_cents, f"Erika Mustermann{i}", transaction_id=f"SAME{i}")
        for i, b in enumerate(bookings)
    ]
    results: list[list[str]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        outs = import_notices(db, tenant.id, items, policy=Policy(), batch=2)
        results.append([o.status for o in outs])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2
    assert sorted(a == "duplicate" for run_ in results for a in run_).count(True) == 3
    with db.tenant_uow(tenant.id) as uow:
        paid = uow.session.execute(
            sa.select(Payment.provider_ref).where(
                Payment.tenant_id == tenant.id, Payment.status == PaymentStatus.SUCCEEDED
            )
        ).scalars().all()  # fmt: skip
    assert len(_stored(db, tenant)) == 3
    assert sorted(paid) == sorted(set(paid))


@pytest.fixture(scope="module")
def cli_db(settings: Settings) -> Iterator[Database]:
    db = open_database(settings, migrate=True)  # the database the CLI opens
    yield db
    db.dispose()


def test_review_match_reads_amount_in_the_notices_currency(
    env: dict[str, str], cli_db: Database
) -> None:
    tenant = make_tenant(cli_db)
    yen = open_booking(
        cli_db, tenant, "Erika", "Mustermann", currency="JPY", total_cents=80_000,
        deposit_cents=20_000,
    )  # fmt: skip
    [out] = _record(cli_db, tenant, [notice(5_000, "Nobody Known", currency="JPY")])
    assert out.status == "needs_review"
    args = ["payments", "review", "match", str(out.notification_id), "--booking", str(yen.id)]
    proc = call(env, *args, "--tenant", tenant.slug, "--amount", "5000", ok=False)
    assert proc.returncode == 0, proc.stderr
    with cli_db.tenant_uow(tenant.id) as uow:
        amounts = uow.session.scalars(
            sa.select(Payment.amount_cents).where(Payment.tenant_id == tenant.id)
        ).all()  # fmt: skip
    assert amounts == [5_000]  # 5,000 yen, not 500,000
    listed = call(env, "payments", "review", "list", "--status", "matched", "--tenant", tenant.slug)
    assert "5000 JPY" in listed.stdout  # not "50.00 JPY"


@pytest.fixture(scope="module")
def dkim_key() -> TestKey:
    return make_test_key()


@pytest.mark.parametrize(
    ("provider", "bank"),
    [("venmo", None), ("paypal", None), ("stripe", None), ("zelle", "bank_of_america")],
)
def test_a_subject_put_above_a_genuinely_signed_message_is_never_trusted(
    dkim_key: TestKey, provider: str, bank: str | None
) -> None:
    """DKIM signs the last Subject, a mail reader takes the first: a second Subject on top of a
    real $10 notice ("Max Beispiel paid you $800.00") must not verify."""
    verifier = DkimVerifier.from_keys(parse_keys_file(keys_file_text(dkim_key)))
    paid = SamplePayment(1_000, "Erika Mustermann", datetime.now(UTC), "4000000000000777")
    raw = signed_mail(provider, paid, dkim_key, bank=bank)
    genuine = parse_email(raw, verifier=verifier, origin="real.eml")
    assert isinstance(genuine, Notice) and genuine.trust.verified
    subject = next(h for h in raw.split(b"\r\n") if h.lower().startswith(b"subject:"))
    lie = subject.replace(b"10.00", b"800.00").replace(b"Erika Mustermann", b"Max Beispiel")
    forged = parse_email(lie + b"\r\n" + raw, verifier=verifier, origin="forged.eml")
    assert isinstance(forged, Rejected) or forged.trust.level is TrustLevel.FORGED


@pytest.mark.parametrize("amount", ["Infinity", "1E+5", "\u0661\u0662\u0663", "1" * 400, "-12.00"])
def test_a_camt_amount_that_is_no_plain_decimal_is_rejected_and_the_statement_goes_on(
    amount: str,
) -> None:
    entries = [
        StatementEntry(5_000, date(2026, 12, 1), "C1", payer_name="Erika Mustermann"),
        StatementEntry(7_000, date(2026, 12, 2), "C2", payer_name="Max Beispiel"),
    ]
    doc = camt053(entries).replace(
        b'<Amt Ccy="EUR">50.00</Amt>', f'<Amt Ccy="EUR">{amount}</Amt>'.encode()
    )
    items = list(parse_camt053(doc, origin="s.xml"))
    assert [type(i).__name__ for i in items] == ["Rejected", "Notice"]
    assert isinstance(items[1], Notice) and items[1].amount_cents == 7_000


def test_a_statement_in_the_body_of_an_email_from_anyone_is_never_a_trusted_statement(
    tmp_path: Path,
) -> None:
    """Anyone can mail the payments inbox: an MT940 or CAMT.053 pasted into a message body must
    not be read as a bank statement an operator imported (trusted, matched automatically)."""
    entries = [StatementEntry(20_000, date(2026, 12, 1), "R1", payer_name="Erika Mustermann")]
    headers = (
        b"Return-Path: <mallory@example.org>\r\nFrom: Mallory <mallory@example.org>\r\n"
        b"To: payments@example.com\r\nSubject: statement\r\n\r\n"
    )
    maildir = tmp_path / "mail"
    (maildir / "new").mkdir(parents=True)
    (maildir / "new" / "1.eml").write_bytes(headers + mt940(entries))
    (maildir / "new" / "2.eml").write_bytes(headers + camt053(entries))
    # Genuine statements (a prefixed CAMT root element too) are still read as statements.
    (tmp_path / "s.sta").write_bytes(mt940(entries))
    prefixed = camt053(entries).replace(b"<Document", b"<ns:Document", 1)
    prefixed = prefixed.replace(b"</Document>", b"</ns:Document>").replace(
        b"xmlns=", b"xmlns:ns=", 1
    )
    verifier = DkimVerifier.from_keys({})
    for item in read_path(maildir, verifier=verifier):
        assert not isinstance(item, Notice) or not item.trust.verified, item.origin
    (tmp_path / "p.xml").write_bytes(prefixed)
    for name in ("s.sta", "p.xml"):
        [statement] = list(read_path(tmp_path / name, verifier=verifier))
        assert isinstance(statement, Notice) and statement.trust.verified, name


def test_a_redelivery_with_an_overlong_transaction_id_does_not_break_the_batch(
    db: Database,
) -> None:
    tenant = make_tenant(db)
    long_id = "pi_" + "7" * 300
    first = notice(1_000, "Erika Mustermann", transaction_id=long_id, raw=b"first delivery")
    again = notice(1_000, "Erika Mustermann", transaction_id=long_id, raw=b"second delivery")
    good = notice(1_100, "Erika Mustermann", transaction_id="GOOD3")
    _record(db, tenant, [first])
    out = _record(db, tenant, [again, good])  # raised on the unique index before
    assert out[0].status in ("duplicate", "rejected")
    assert out[1].status == "needs_review"
