"""PayPal's "You've got money" e-mails (from service@paypal.com and PayPal's country domains).

Layout as sent: the subject is "You've got money", "<Name> sent you $X.XX USD" or "You've
received $X.XX USD from <Name>"; the body repeats "<Name> sent you $X.XX USD", quotes the payer's
note under "Note from <Name>", and lists Transaction ID (17 characters), Transaction date and,
for goods and services, the fee PayPal kept ("Fee") and what arrived ("Net amount"). Payments
sent, receipts for purchases and requests are refused. This module does no I/O.
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
from tenantry.payments.sources.money import is_amount, parse_money
from tenantry.payments.trust import Sender

__all__ = ["parse"]

_AMOUNT = r"(?P<amount>\S*\d[\d.,]*(?:\s?[€£$])?(?:\s?[A-Z]{3})?)"
_SENT_YOU = re.compile(r"^(?P<name>.+?) sent you " + _AMOUNT, re.I)
_RECEIVED_FROM = re.compile(
    r"^you(?:'ve| have)? received (?:a payment of )?" + _AMOUNT + r" from (?P<name>.+?)(?: \(|$)",
    re.I,
)
_INCOMING_SUBJECT = re.compile(
    r"^(you've got money|you have money|you(?:'ve| have)? received (?:a )?(?:payment|money)"
    r"|notification of payment received)",
    re.I,
)
_OUTGOING = re.compile(
    r"^(you sent|receipt for your payment|your payment to|you paid|you've paid)", re.I
)
_REQUEST = re.compile(r"\brequest(s|ed)?\b", re.I)
_TRANSACTION_ID = re.compile(r"^[A-Z0-9]{17}$")


def _note(lines: tuple[str, ...]) -> str | None:
    for index, line in enumerate(lines):
        lowered = line.lower()
        if lowered.startswith(("note from", "message from")):
            rest = line.split(":", 1)[1] if ":" in line else ""
            if rest.strip():
                return rest
            if index + 1 < len(lines):
                return lines[index + 1]
    return None


def parse(mail: Mail, sender: Sender) -> Parsed | Refusal:
    subject = mail.subject
    if _OUTGOING.search(subject):
        return Refusal("outgoing payment")
    headline = _SENT_YOU.search(subject) or _RECEIVED_FROM.search(subject)
    if headline is None and not _INCOMING_SUBJECT.search(subject):
        if _REQUEST.search(subject):
            return Refusal("payment request, not a payment")
        return Refusal("not a payment notification")
    if headline is None:
        headline = next(
            (
                m
                for line in mail.lines
                if (m := _SENT_YOU.search(line) or _RECEIVED_FROM.search(line))
            ),
            None,
        )
    amount_text = headline["amount"] if headline else None
    amount_text = amount_text or field(
        mail.lines, "Gross amount", "Amount received", "Total", accept=is_amount
    )
    money = money_or_refusal(amount_text)
    if isinstance(money, Refusal):
        return money
    fee_cents = 0
    fee_text = field(mail.lines, "Fee", "PayPal fee", accept=is_amount)
    fee = parse_money(fee_text or "", default_currency=money.currency)
    if fee is not None and fee.currency == money.currency and 0 < abs(fee.minor) < money.minor:
        fee_cents = abs(fee.minor)
    payer = clean_name(headline["name"]) if headline else None
    email = None
    for line in mail.lines:
        if (payer and payer in line) or line.lower().startswith(("sender", "buyer", "from")):
            email = find_email(line, not_domains=sender.domains)
            if email:
                break
    sender_field = field(mail.lines, "Sender", "Buyer", "Email")
    email = email or find_email(sender_field, not_domains=sender.domains)
    memo = clean_memo(_note(mail.lines))
    transaction_id = field(mail.lines, "Transaction ID")
    if transaction_id is not None:
        transaction_id = transaction_id.split()[0].upper()
        if not _TRANSACTION_ID.match(transaction_id):
            transaction_id = None
    when = occurred_at(
        find_date(field(mail.lines, "Transaction date", "Date", accept=find_date)), mail.date
    )
    if when is None:
        return Refusal("no date")
    if transaction_id is None:
        transaction_id = digest_id("paypal", money.minor, money.currency, payer, memo, when)
    return Parsed(
        amount_cents=money.minor - fee_cents,
        currency=money.currency,
        occurred_at=when,
        transaction_id=transaction_id,
        payer_name=payer,
        payer_email=email,
        memo=memo,
        fee_cents=fee_cents,
    )
