"""CAMT.053 bank-to-customer statements (ISO 20022, camt.053.001.02 to .001.08) to notices.

Each booked credit entry (CdtDbtInd CRDT), or each transaction of a batch entry, becomes a
`Notice` of provider "bank": payer = the debtor's name, memo = the unstructured remittance
lines joined, reference = EndToEndId (or the creditor reference, or AcctSvcrRef), transaction
id = AcctSvcrRef, NtryRef or a digest. Debits are Rejected "outgoing". The XML is read with
defusedxml and a document type declaration is refused, so entity bombs and external entities
never expand. Statement notices are trusted: an authorised user imported the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from tenantry.payments.notices import Notice, Rejected, Source, Trust, TrustLevel
from tenantry.payments.sources.base import clean_memo, clean_name, digest_id
from tenantry.payments.sources.money import ISO_4217, minor_units

__all__ = ["IMPORTED", "is_camt053", "parse_camt053"]

IMPORTED = Trust(TrustLevel.VERIFIED, "imported by an operator")
_NAMESPACE = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0([2-8])\}")
_SNIFF = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.\d\d")


def is_camt053(head: bytes) -> bool:
    """Whether the first bytes of a file look like a CAMT.053 document."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and bool(_SNIFF.search(head))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    return [child for child in element if _local(child.tag) == name]


def _find(element: Element | None, path: str) -> Element | None:
    for name in path.split("/"):
        found = _children(element, name)
        if not found:
            return None
        element = found[0]
    return element


def _text(element: Element | None, path: str) -> str | None:
    found = _find(element, path)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def _when(entry: Element) -> datetime | None:
    for path in ("BookgDt/DtTm", "ValDt/DtTm"):
        if text := _text(entry, path):
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                continue
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    for path in ("BookgDt/Dt", "ValDt/Dt"):
        if text := _text(entry, path):
            try:
                return datetime.combine(date.fromisoformat(text), time(12), tzinfo=UTC)
            except ValueError:
                continue
    return None


_DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,5})?")


def _amount(element: Element | None) -> tuple[int, str] | None:
    if element is None or element.text is None:
        return None
    currency = (element.get("Ccy") or "").strip().upper()
    if currency not in ISO_4217:
        return None
    text = element.text.strip()
    if not _DECIMAL.fullmatch(text):  # xs:decimal: no exponent, no Infinity, ASCII digits
        return None
    try:
        value = Decimal(text) * (10 ** minor_units(currency))
    except InvalidOperation:
        return None
    if value != value.to_integral_value():
        return None
    return int(value), currency


def _party_name(details: Element | None) -> str | None:
    for path in (
        "RltdPties/Dbtr/Nm",
        "RltdPties/Dbtr/Pty/Nm",
        "RltdPties/UltmtDbtr/Nm",
        "RltdPties/UltmtDbtr/Pty/Nm",
    ):
        if name := _text(details, path):
            return clean_name(name)
    return None


def _ref(value: str | None) -> str | None:
    return None if value is None or value.upper() == "NOTPROVIDED" else value


def _notice(
    entry: Element,
    details: Element | None,
    index: int,
    bank: str | None,
    origin: str | None,
    raw: bytes,
) -> Notice | Rejected:
    indicator = (_text(entry, "CdtDbtInd") or "").upper()
    if indicator == "DBIT":
        return Rejected("outgoing", origin=origin, raw=raw)
    if indicator != "CRDT":
        return Rejected("entry is neither credit nor debit", origin=origin, raw=raw)
    if (_text(entry, "RvslInd") or "").lower() == "true":
        return Rejected("reversal of an earlier entry", origin=origin, raw=raw)
    status = (_text(entry, "Sts/Cd") or _text(entry, "Sts") or "BOOK").upper()
    if status != "BOOK":
        return Rejected("entry not booked", origin=origin, raw=raw)
    amount = None
    if details is not None:
        amount = _amount(_find(details, "Amt")) or _amount(_find(details, "AmtDtls/TxAmt/Amt"))
    amount = amount or _amount(_find(entry, "Amt"))
    if amount is None:
        return Rejected("amount cannot be read", origin=origin, raw=raw)
    if amount[0] <= 0:
        return Rejected("amount is not positive", origin=origin, raw=raw)
    when = _when(entry)
    if when is None:
        return Rejected("no booking date", origin=origin, raw=raw)
    remittance = _find(details, "RmtInf")
    lines = [" ".join((line.text or "").split()) for line in _children(remittance, "Ustrd")]
    memo = clean_memo(" ".join(line for line in lines if line))
    creditor_ref = _text(remittance, "Strd/CdtrRefInf/Ref")
    service_ref = _text(details, "Refs/AcctSvcrRef") or _text(entry, "AcctSvcrRef")
    reference = _ref(_text(details, "Refs/EndToEndId")) or creditor_ref or service_ref
    payer = _party_name(details)
    transaction_id = service_ref or _text(entry, "NtryRef")
    if transaction_id is not None and index and _text(details, "Refs/AcctSvcrRef") is None:
        transaction_id = f"{transaction_id}/{index}"
    if transaction_id is None:
        transaction_id = digest_id("bank", amount, when, payer, memo, reference, index)
    return Notice(
        source=Source.BANK_STATEMENT,
        provider="bank",
        transaction_id=transaction_id,
        amount_cents=amount[0],
        currency=amount[1],
        occurred_at=when,
        raw=raw,
        trust=IMPORTED,
        payer_name=payer,
        memo=memo,
        reference=reference,
        bank=bank,
        origin=origin,
    )


def parse_camt053(data: bytes, *, origin: str | None = None) -> Iterator[Notice | Rejected]:
    """Every entry of every statement in `data`; origins are `<origin>#<n>`, n from 1."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError):
        yield Rejected("not a well-formed CAMT.053 document without DTD", origin=origin)
        return
    if _local(root.tag) != "Document" or not _NAMESPACE.match(root.tag):
        yield Rejected("not a CAMT.053 document of version 02 to 08", origin=origin)
        return
    number = 0
    for statement in _children(_find(root, "BkToCstmrStmt"), "Stmt"):
        bank = (
            _text(statement, "Acct/Svcr/FinInstnId/BICFI")
            or _text(statement, "Acct/Svcr/FinInstnId/BIC")
            or _text(statement, "Acct/Svcr/FinInstnId/Nm")
        )
        for entry in _children(statement, "Ntry"):
            entry_raw = tostring(entry)
            transactions = [
                tx
                for details in _children(entry, "NtryDtls")
                for tx in _children(details, "TxDtls")
            ]
            if len(transactions) <= 1:
                number += 1
                details = transactions[0] if transactions else None
                yield _guarded(entry, details, 0, bank, f"{origin or ''}#{number}", entry_raw)
                continue
            for index, details in enumerate(transactions, start=1):
                number += 1
                raw = entry_raw + b"\n" + tostring(details)
                yield _guarded(entry, details, index, bank, f"{origin or ''}#{number}", raw)


def _guarded(
    entry: Element, details: Element | None, index: int, bank: str | None, origin: str, raw: bytes
) -> Notice | Rejected:
    """One entry's notice; an entry that cannot be read is rejected, the statement goes on."""
    try:
        return _notice(entry, details, index, bank, origin, raw)
    except (ValueError, ArithmeticError, TypeError):
        return Rejected("entry cannot be read", origin=origin, raw=raw)
