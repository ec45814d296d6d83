"""Zelle alerts as the US banks send them: Bank of America, Chase and Wells Fargo.

Each bank words its alert differently (the layouts below are the ones the banks send):
- Bank of America (ealerts.bankofamerica.com): subject "<Name> sent you $X"; the body repeats
  it and lists Amount, Date, Confirmation and Memo.
- Chase (chase.com): subject "You received money with Zelle®" (or "<Name> sent you money");
  body "Zelle® payment", "<NAME> sent you money", then Amount, Sent on, Transaction number and
  Memo, each label above its value, and how the sender is registered (e-mail or mobile).
- Wells Fargo (notify.wellsfargo.com): subject "You received money with Zelle(R)"; body
  "<NAME> sent you money. Here are the details:" then Date (MM/DD/YYYY), Amount, Memo and
  Confirmation Code.
Payments the owner sent, requests and other bank alerts are refused. This module does no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tenantry.payments.sources.base import (
    Parsed,
    Refusal,
    clean_memo,
    clean_name,
    digest_id,
    find_email,
    find_phone,
    money_or_refusal,
)
from tenantry.payments.sources.mail import Mail, field, find_date, occurred_at
from tenantry.payments.sources.money import is_amount
from tenantry.payments.trust import Sender

__all__ = ["parse"]


@dataclass(frozen=True)
class _Bank:
    incoming: tuple[re.Pattern[str], ...]
    outgoing: re.Pattern[str]
    id_labels: tuple[str, ...]
    date_labels: tuple[str, ...]


_SENT_YOU = re.compile(r"^(?P<name>.+?) sent you (?P<amount>\S*\d[\d.,]*(?: [A-Z]{3})?)", re.I)
_SENT_YOU_MONEY = re.compile(r"^(?:zelle\W*\s*payment\s+)?(?P<name>.+?) sent you money\b", re.I)
_RECEIVED = re.compile(r"^you(?:'ve| have)? received (?:money|a payment) with zelle", re.I)
_REQUEST = re.compile(r"\brequest(s|ed)?\b", re.I)

_BANKS = {
    "bank_of_america": _Bank(
        incoming=(_SENT_YOU,),
        outgoing=re.compile(r"^(zelle\W*\s*payment of .* sent|you sent|your zelle)", re.I),
        id_labels=("Confirmation number", "Confirmation"),
        date_labels=("Date", "Sent on"),
    ),
    "chase": _Bank(
        incoming=(_RECEIVED, _SENT_YOU_MONEY),
        outgoing=re.compile(r"^(you sent|your zelle|you(?:'ve)? sent money)", re.I),
        id_labels=("Transaction number", "Transaction #"),
        date_labels=("Sent on", "Date"),
    ),
    "wells_fargo": _Bank(
        incoming=(_RECEIVED, _SENT_YOU_MONEY),
        outgoing=re.compile(r"^(you sent|your zelle|you(?:'ve)? sent money)", re.I),
        id_labels=("Confirmation Code", "Confirmation number", "Confirmation"),
        date_labels=("Date", "Sent on"),
    ),
}
_ID = re.compile(r"^[A-Za-z0-9-]{4,64}$")


def _payer(mail: Mail) -> str | None:
    for line in (mail.subject, *mail.lines):
        for pattern in (_SENT_YOU_MONEY, _SENT_YOU):
            if match := pattern.search(line):
                return clean_name(match["name"])
    return None


def _contact(mail: Mail, own_domains: tuple[str, ...]) -> tuple[str | None, str | None]:
    for index, line in enumerate(mail.lines):
        lowered = line.lower()
        if "registered with" in lowered or lowered.startswith(("sender", "sent from", "from:")):
            text = " ".join(mail.lines[index : index + 2])
            email = find_email(text, not_domains=own_domains)
            phone = None if email else find_phone(text)
            if email or phone:
                return email, phone
    return None, None


def parse(mail: Mail, sender: Sender) -> Parsed | Refusal:
    bank_name = sender.bank or ""
    bank = _BANKS.get(bank_name)
    if bank is None:
        return Refusal("not a payment notification")
    subject = mail.subject
    if bank.outgoing.search(subject):
        return Refusal("outgoing payment")
    incoming = next((m for p in bank.incoming if (m := p.search(subject))), None)
    if incoming is None:
        if _REQUEST.search(subject):
            return Refusal("payment request, not a payment")
        return Refusal("not a payment notification")
    amount_text = field(mail.lines, "Amount", accept=is_amount)
    if amount_text is None and "amount" in incoming.groupdict():
        amount_text = incoming["amount"]
    money = money_or_refusal(amount_text)
    if isinstance(money, Refusal):
        return money
    if money.currency != "USD":
        return Refusal("Zelle moves US dollars only")
    payer = _payer(mail)
    email, phone = _contact(mail, sender.domains)
    memo = clean_memo(field(mail.lines, "Memo"))
    transaction_id = field(mail.lines, *bank.id_labels, accept=_ID.match)
    when = occurred_at(find_date(field(mail.lines, *bank.date_labels, accept=find_date)), mail.date)
    if when is None:
        return Refusal("no date")
    if transaction_id is None:
        transaction_id = digest_id("zelle", bank_name, money.minor, payer, memo, when)
    return Parsed(
        amount_cents=money.minor,
        currency=money.currency,
        occurred_at=when,
        transaction_id=transaction_id,
        payer_name=payer,
        payer_email=email,
        payer_phone=phone,
        memo=memo,
    )
