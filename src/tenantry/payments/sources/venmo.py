"""Venmo's "<Name> paid you $X" e-mails (from venmo@venmo.com).

Layout as sent: the subject names payer and amount ("Erika Mustermann paid you $45.00", or
"... paid your $45.00 request", or "... paid $45.00 to your Venmo account"); the HTML shows the
amount split into dollars and cents, the payer's note in `<p class="transaction-note">`, a
"See transaction" link to venmo.com/story/<id> and the transaction id and date. Outgoing
payments ("You paid ...") and requests are refused. This module does no I/O.
"""

from __future__ import annotations

import re
from html import unescape

from tenantry.payments.sources.base import (
    Parsed,
    Refusal,
    clean_memo,
    clean_name,
    digest_id,
    money_or_refusal,
)
from tenantry.payments.sources.mail import Mail, field, find_date, occurred_at

__all__ = ["parse"]

_INCOMING = (
    re.compile(r"^(?P<name>.+?) paid you (?P<amount>\S*\d[\d.,]*(?: [A-Z]{3})?)", re.I),
    re.compile(r"^(?P<name>.+?) paid your (?P<amount>\S*\d[\d.,]*(?: [A-Z]{3})?) request", re.I),
    re.compile(r"^(?P<name>.+?) paid (?P<amount>\S*\d[\d.,]*) to your Venmo account", re.I),
)
_OUTGOING = re.compile(r"^(you paid|you completed|you sent|your payment to)\b", re.I)
_REQUEST = re.compile(r"\brequest(s|ed)?\b", re.I)
_NOTE_OPEN = re.compile(
    r"""<p\b[^<>]*class=["'][^"'<>]*transaction-note[^"'<>]*["'][^<>]*>""", re.I
)
_STORY = re.compile(r"venmo\.com/(?:story|stories|payment|payments)/(?P<id>[A-Za-z0-9_-]{6,64})")
_ID = re.compile(r"^[A-Za-z0-9-]{6,64}$")
_STOP = (
    "see transaction",
    "transaction details",
    "transaction id",
    "payment id",
    "date",
    "money credited",
    "transfer",
    "for any issues",
)


def _html_note(html: str) -> str | None:
    """The text of `<p class="transaction-note">`; found with `find`, not a lazy regex, so that
    many unclosed paragraphs cost linear time."""
    opening = _NOTE_OPEN.search(html)
    if opening is None:
        return None
    end = html.lower().find("</p", opening.end())
    if end < 0:
        return None
    return unescape(re.sub(r"<[^<>]*>", " ", html[opening.end() : end]))


def _note_from_text(lines: tuple[str, ...]) -> str | None:
    start = None
    for index, line in enumerate(lines):
        if line.lower().startswith(_STOP):
            break
        if " paid you" in line.lower() or " paid your " in line.lower():
            start = index
    if start is None:
        return None
    note: list[str] = []
    for line in lines[start + 1 :]:
        if line.lower().startswith(_STOP):
            break
        if re.fullmatch(r"[-+$\d.,\s]+", line):
            continue
        note.append(line)
    return " ".join(note) or None


def parse(mail: Mail) -> Parsed | Refusal:
    subject = mail.subject
    if _OUTGOING.search(subject):
        return Refusal("outgoing payment")
    match = next((m for p in _INCOMING if (m := p.search(subject))), None)
    if match is None:
        if _REQUEST.search(subject):
            return Refusal("payment request, not a payment")
        return Refusal("not a payment notification")
    money = money_or_refusal(match["amount"])
    if isinstance(money, Refusal):
        return money
    payer = clean_name(match["name"])
    memo = _html_note(mail.html)
    memo = clean_memo(memo or field(mail.lines, "Note") or _note_from_text(mail.lines))
    transaction_id = field(mail.lines, "Transaction ID", "Payment ID", accept=_ID.match)
    if transaction_id is None:
        story = _STORY.search(mail.html) or _STORY.search("\n".join(mail.lines))
        transaction_id = story["id"] if story else None
    when = occurred_at(
        find_date(field(mail.lines, "Date", "Transaction date", accept=find_date)), mail.date
    )
    if when is None:
        return Refusal("no date")
    if transaction_id is None:
        transaction_id = digest_id("venmo", money.minor, money.currency, payer, memo, when)
    return Parsed(
        amount_cents=money.minor,
        currency=money.currency,
        occurred_at=when,
        transaction_id=transaction_id,
        payer_name=payer,
        memo=memo,
    )
