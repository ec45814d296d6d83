"""`tenantry invoices`, `tenantry coupons` and `tenantry payments refund` as an operator runs
them: the flows, and bad input as one line on stderr."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.models.enums import BookingStatus
from tests.billing import booking, review
from tests.cli_support import call
from tests.conftest import make_tenant
from tests.e2e.test_cli import env, run  # noqa: F401  (the module's environment fixture)


def _one_line_failure(proc: object, code: int = 1) -> str:
    assert proc.returncode == code, proc.stderr  # type: ignore[attr-defined]
    lines = proc.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("tenantry: error:"), lines
    assert "Traceback" not in proc.stderr  # type: ignore[attr-defined]
    return str(lines[0])


def test_an_operator_invoices_credits_refunds_and_compensates(
    env: dict[str, str],  # noqa: F811
    settings: Settings,
    tmp_path: Path,
) -> None:
    db = open_database(settings, migrate=True)  # the database the command uses
    try:
        t = make_tenant(db)
        served = booking(db, t, paid_cents=7070, status=BookingStatus.FULFILLED)
        complaint = review(db, t, served, rating=3)
        visit = booking(db, t, customer_id=served.customer_id)
        with db.tenant_uow(t.id) as uow:
            (payment,) = uow.repos.payments.for_booking(served.booking_id)
    finally:
        db.dispose()
    issued = run(env, "invoices", "issue", str(served.booking_id), "--tenant", t.slug).stdout
    match = re.search(r"invoice (INV-\d{4}-000001) \(paid, 70\.70 EUR\): (\S+)", issued)
    assert match, issued
    number, invoice = match.groups()
    listed = json.loads(
        call(env, "invoices", "list", "--tenant", t.slug, "--format", "json").stdout
    )
    assert [i["number"] for i in listed] == [number] and "billing_name" not in listed[0]
    shown = json.loads(
        call(env, "invoices", "show", invoice, "--tenant", t.slug, "--format", "json").stdout
    )
    assert shown["billing_name"] == "E***" and len(shown["lines"]) == 2
    out = tmp_path / "invoice.pdf"
    call(env, "invoices", "pdf", invoice, "--tenant", t.slug, "--out", str(out))
    assert out.read_bytes().startswith(b"%PDF-")
    credited = run(env, "invoices", "credit", invoice, "--tenant", t.slug,
                   "--amount", "10.00", "--reason", "cold starter").stdout  # fmt: skip
    assert re.search(r"credit_note CN-\d{4}-000001 \(issued, 10\.00 EUR\)", credited)
    too_much = call(env, "invoices", "credit", invoice, "--tenant", t.slug, "--amount", "60.71",
                   ok=False)  # fmt: skip
    assert "exceeds" in _one_line_failure(too_much)
    refunded = call(env, "payments", "refund", str(payment.id), "--tenant", t.slug,
                   "--amount", "12.50").stdout  # fmt: skip
    assert "refunded 12.50 EUR" in refunded and "booking fulfilled" in refunded
    over = call(env, "payments", "refund", str(payment.id), "--tenant", t.slug, "--amount", "58.21",
               ok=False)  # fmt: skip
    assert "5820 cents" in _one_line_failure(over)
    bad = call(env, "payments", "refund", str(payment.id), "--tenant", t.slug, "--amount", "1.234",
              ok=False)  # fmt: skip
    assert bad.returncode == 2 and "--amount" in bad.stderr
    coupon = run(env, "coupons", "issue", "--review", str(complaint), "--tenant", t.slug)
    code = coupon.stdout.strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code) and "7.07 EUR" in coupon.stderr
    coupons = json.loads(
        call(env, "coupons", "list", "--tenant", t.slug, "--format", "json").stdout
    )
    assert len(coupons) == 1 and code not in json.dumps(coupons)
    redeemed = call(env, "coupons", "redeem", code, "--tenant", t.slug,
                   "--booking", str(visit.booking_id)).stdout  # fmt: skip
    assert "redeemed 7.07 EUR" in redeemed
    again = call(env, "coupons", "redeem", code, "--tenant", t.slug,
                "--booking", str(visit.booking_id), ok=False)  # fmt: skip
    assert "already been redeemed" in _one_line_failure(again)
