"""MT940 bank statements (SWIFT; the German variant with structured :86: fields) to notices.

Read with the `mt-940` package. Credits (C, and not reversals) become notices of provider
"bank"; debits are Rejected "outgoing". The :86: purpose is read both structured (German
"?20".."?29" subfields with SEPA keywords SVWZ+ for the remittance text, EREF+ for the end-to-end
reference, ABWA+ for the payer on whose behalf, "?32"/"?33" for the counterparty name) and as
plain text. Statement notices are trusted: an authorised user imported the file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import mt940

from tenantry.payments.notices import Notice, Rejected, Source
from tenantry.payments.sources.base import clean_memo, clean_name, digest_id
from tenantry.payments.sources.camt import IMPORTED
from tenantry.payments.sources.money import ISO_4217, minor_units

__all__ = ["is_mt940", "parse_mt940", "purpose_fields"]

# The package logs every line it cannot read, verbatim (payer names, references): personal
# data that must reach neither stderr nor a log. Its loggers are silenced here.
_PACKAGE_LOG = logging.getLogger("mt940")
_PACKAGE_LOG.setLevel(logging.CRITICAL + 1)
_PACKAGE_LOG.propagate = False
_PACKAGE_LOG.addHandler(logging.NullHandler())

_SUBFIELD = re.compile(r"\?(\d{2})")
# SEPA keywords start a subfield, so after the subfields are joined they may follow any text.
_KEYWORD = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|COAM|OAMT|IBAN|BIC)\+")


def is_mt940(head: bytes) -> bool:
    """Whether the first bytes of a file look like an MT940 statement."""
    text = head.decode("latin-1")
    return bool(re.search(r"(^|\n):20:", text)) and bool(re.search(r"\n:(60F|60M|61|25):", text))


def purpose_fields(details: str) -> dict[str, str]:
    """The parts of a :86: text: `name`, `memo`, `eref` and `abwa` where present."""
    text = details.replace("\r", "").replace("\n", "")
    result: dict[str, str] = {}
    purpose_parts: list[str] = []
    name_parts: list[str] = []
    if _SUBFIELD.search(text):
        pieces = _SUBFIELD.split(text)
        for code, value in zip(pieces[1::2], pieces[2::2], strict=False):
            number = int(code)
            if 20 <= number <= 29 or 60 <= number <= 63:
                purpose_parts.append(value)
            elif number in (32, 33):
                name_parts.append(value)
        purpose = "".join(purpose_parts)
    else:
        purpose = text
    if name_parts:
        result["name"] = " ".join(part.strip() for part in name_parts if part.strip())
    matches = list(_KEYWORD.finditer(purpose))
    if matches:
        plain = purpose[: matches[0].start()].strip()
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(purpose)
            value = purpose[match.end() : end].strip()
            if match.group(1) == "SVWZ":
                result["memo"] = value
            elif match.group(1) == "EREF" and value.upper() != "NOTPROVIDED":
                result["eref"] = value
            elif match.group(1) == "ABWA":
                result["abwa"] = value
        if plain and "memo" not in result:
            result["memo"] = plain
    elif purpose.strip():
        result["memo"] = purpose.strip()
    return result


def _text(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _segments(text: str) -> list[bytes]:
    """The source lines of each transaction: its :61: line and the :86: that follows."""
    segments = []
    for chunk in re.split(r"(?m)^(?=:61:)", text.replace("\r\n", "\n"))[1:]:
        kept = []
        for number, line in enumerate(chunk.split("\n")):
            if number and re.match(r"^:(?!86:)\w{2,3}:", line):
                break
            kept.append(line)
        segments.append("\n".join(kept).strip().encode("utf-8"))
    return segments


def _notice(data: dict[str, Any], index: int, origin: str, raw: bytes) -> Notice | Rejected:
    status = str(data.get("status") or "")
    if status == "D":
        return Rejected("outgoing", origin=origin, raw=raw)
    if status != "C":
        return Rejected("reversal of an earlier entry", origin=origin, raw=raw)
    amount = data.get("amount")
    currency = str(getattr(amount, "currency", "") or "").upper()
    value = getattr(amount, "amount", None)
    if value is None or currency not in ISO_4217:
        return Rejected("amount cannot be read", origin=origin, raw=raw)
    cents = value * (10 ** minor_units(currency))
    if cents != cents.to_integral_value() or cents <= 0:
        return Rejected("amount is not positive", origin=origin, raw=raw)
    booked = data.get("entry_date") or data.get("date")
    if not isinstance(booked, date):
        return Rejected("no booking date", origin=origin, raw=raw)
    when = datetime.combine(date(booked.year, booked.month, booked.day), time(12), tzinfo=UTC)
    details = str(data.get("transaction_details") or "")
    fields = purpose_fields(details)
    payer = clean_name(fields.get("abwa") or fields.get("name"))
    memo = clean_memo(fields.get("memo"))
    customer_ref = data.get("customer_reference")
    if isinstance(customer_ref, str) and customer_ref.upper() in ("NONREF", "NOTPROVIDED"):
        customer_ref = None
    reference = fields.get("eref") or customer_ref or None
    bank_ref = data.get("bank_reference")
    transaction_id = (
        f"{booked.isoformat()}/{bank_ref}"
        if bank_ref
        else digest_id("bank", raw.decode("utf-8", "replace"), index)
    )
    return Notice(
        source=Source.BANK_STATEMENT,
        provider="bank",
        transaction_id=transaction_id,
        amount_cents=int(cents),
        currency=currency,
        occurred_at=when,
        raw=raw,
        trust=IMPORTED,
        payer_name=payer,
        memo=memo,
        reference=reference,
        origin=origin,
    )


def parse_mt940(data: bytes, *, origin: str | None = None) -> Iterator[Notice | Rejected]:
    """Every transaction of `data`; origins are `<origin>#<n>`, n from 1."""
    try:
        text = _text(data)
        transactions = mt940.models.Transactions(processors={"post_transaction_details": []})
        transactions.parse(text)
    except Exception:  # the package raises many kinds on malformed input
        yield Rejected("not a readable MT940 statement", origin=origin)
        return
    if not transactions.transactions:
        yield Rejected("MT940 statement without transactions", origin=origin)
        return
    segments = _segments(text)
    if len(segments) != len(transactions.transactions):
        segments = []
    for number, transaction in enumerate(transactions.transactions, start=1):
        item_origin = f"{origin or ''}#{number}"
        try:
            fields = dict(transaction.data)
            raw = (
                segments[number - 1]
                if segments
                else repr(sorted((k, str(v)) for k, v in fields.items())).encode("utf-8")
            )
            yield _notice(fields, number, item_origin, raw)
        except Exception:  # one unreadable line must not stop the rest of the statement
            yield Rejected("transaction cannot be read", origin=item_origin)
