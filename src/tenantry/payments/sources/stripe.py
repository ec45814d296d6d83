"""Stripe's e-mails about a successful card payment (from stripe.com).

Two layouts are read. The merchant notification ("Payment of $45.00 from erika@example.com",
optionally prefixed "[Business]") lists Amount, Customer, Email, Description, Date and the
Payment ID (pi_/ch_/py_). The customer receipt a merchant receives a copy of ("Your receipt
from <Business> #1234-5678") lists Amount paid, Date paid, Payment method and the receipt
number; it is addressed to the payer. Payouts, refunds, failed payments and disputes are
refused. This module does no I/O.
"""

from __future__ import annotations

import re

from tenantry.payments.sources.base import (
    Parsed,
    Refusal,
    clean_memo,
    clean_name,
    digest_id,
    find_email,
    money_or_refusal,
)
from tenantry.payments.sources.mail import Mail, field, find_date, occurred_at
from tenantry.payments.sources.money import is_amount

__all__ = ["parse"]

_NOTIFICATION = re.compile(
    r"(?:^|\]\s*)(?:new |successful )?payment (?:of|for) (?P<amount>.+?) from (?P<who>.+)$", re.I
)
_RECEIVED = re.compile(
    r"you (?:have )?received a (?:new )?payment of (?P<amount>.+?)(?: from|$)", re.I
)
_RECEIPT = re.compile(r"your receipt from .+? #(?P<number>[\d-]{4,40})\s*$", re.I)
_REFUSE = (
    (re.compile(r"\bpayouts?\b", re.I), "payout, not an incoming payment"),
    (re.compile(r"\brefund", re.I), "refund, not an incoming payment"),
    (re.compile(r"\b(failed|declined|unsuccessful)\b", re.I), "failed payment"),
    (re.compile(r"\b(dispute|chargeback)", re.I), "dispute, not a payment"),
)
_PAYMENT_ID = re.compile(r"\b(?:pi|ch|py)_[A-Za-z0-9]{8,64}\b")


def parse(mail: Mail) -> Parsed | Refusal:
    subject = mail.subject
    for pattern, reason in _REFUSE:
        if pattern.search(subject):
            return Refusal(reason)
    receipt = _RECEIPT.search(subject)
    notification = _NOTIFICATION.search(subject) or _RECEIVED.search(subject)
    if receipt is None and notification is None:
        return Refusal("not a payment notification")
    text = "\n".join(mail.lines)
    if receipt is not None:
        amount_text = field(mail.lines, "Amount paid", "Amount charged", "Total", accept=is_amount)
        date_text = field(mail.lines, "Date paid", "Date", accept=find_date)
        transaction_id: str | None = "receipt-" + receipt["number"]
        payer_email = mail.to_address
        payer = clean_name(field(mail.lines, "Billed to", "Name"))
    else:
        assert notification is not None
        amount_text = field(mail.lines, "Amount", accept=is_amount) or notification["amount"]
        date_text = field(mail.lines, "Date", "Created", accept=find_date)
        found = _PAYMENT_ID.search(field(mail.lines, "Payment ID", "Charge ID") or "")
        found = found or _PAYMENT_ID.search(text)
        transaction_id = found.group(0) if found else None
        who = notification.groupdict().get("who")
        payer_email = find_email(field(mail.lines, "Email", "Customer email") or who)
        customer = field(mail.lines, "Customer", "Customer name", "Name")
        payer = clean_name(customer if customer and "@" not in customer else None)
    money = money_or_refusal(amount_text, default_currency=None)
    if isinstance(money, Refusal):
        return money
    memo = clean_memo(field(mail.lines, "Description", "Memo"))
    when = occurred_at(find_date(date_text), mail.date)
    if when is None:
        return Refusal("no date")
    if transaction_id is None:
        transaction_id = digest_id("stripe", money.minor, money.currency, payer_email, when)
    return Parsed(
        amount_cents=money.minor,
        currency=money.currency,
        occurred_at=when,
        transaction_id=transaction_id,
        payer_name=payer,
        payer_email=payer_email,
        memo=memo,
        reference=receipt["number"] if receipt is not None else None,
    )
