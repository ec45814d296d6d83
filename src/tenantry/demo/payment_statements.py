"""Sample bank statements for tests, the benchmark and the demo: CAMT.053 and MT940.

Writes statements as German banks export them (CAMT.053 versions 02 to 08; MT940 with the
structured :86: purpose, or plain text). Synthetic data only; nothing here reads statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape as xml_escape

__all__ = ["StatementEntry", "camt053", "mt940"]


@dataclass(frozen=True)
class StatementEntry:
    """One line of a bank statement; a negative amount is a debit."""

    amount_cents: int
    booked_on: date
    entry_ref: str
    payer_name: str | None = None
    memo: str | None = None
    reference: str | None = None
    currency: str = "EUR"


def _decimal(cents: int, separator: str) -> str:
    value = abs(cents)
    return f"{value // 100}{separator}{value % 100:02d}"


def camt053(
    entries: list[StatementEntry],
    *,
    version: str = "08",
    iban: str = "DE02120300000000202051",
    bic: str = "BYLADEM1001",
) -> bytes:
    """A CAMT.053 statement (camt.053.001.<version>) with `entries`."""
    old_party = int(version) < 8
    status_as_code = int(version) >= 6
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.0{version[-1]}">',
        "<BkToCstmrStmt><GrpHdr><MsgId>STMT-1</MsgId>",
        f"<CreDtTm>{created}</CreDtTm></GrpHdr>",
        "<Stmt><Id>STMT-1-1</Id>",
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Svcr><FinInstnId>",
        f"<{'BIC' if old_party else 'BICFI'}>{bic}</{'BIC' if old_party else 'BICFI'}>",
        "</FinInstnId></Svcr></Acct>",
    ]
    for entry in entries:
        indicator = "CRDT" if entry.amount_cents >= 0 else "DBIT"
        amount = f'<Amt Ccy="{entry.currency}">{_decimal(entry.amount_cents, ".")}</Amt>'
        party = ""
        if entry.payer_name:
            name = f"<Nm>{xml_escape(entry.payer_name)}</Nm>"
            role = "Dbtr" if indicator == "CRDT" else "Cdtr"
            party = f"<RltdPties><{role}>{name if old_party else f'<Pty>{name}</Pty>'}</{role}>"
            party += "</RltdPties>"
        remittance = ""
        if entry.memo:
            chunks = [entry.memo[i : i + 140] for i in range(0, len(entry.memo), 140)]
            remittance = "<RmtInf>" + "".join(
                f"<Ustrd>{xml_escape(chunk)}</Ustrd>" for chunk in chunks
            )
            remittance += "</RmtInf>"
        status = "<Sts><Cd>BOOK</Cd></Sts>" if status_as_code else "<Sts>BOOK</Sts>"
        end_to_end = xml_escape(entry.reference or "NOTPROVIDED")
        out += [
            f"<Ntry><NtryRef>{entry.entry_ref}</NtryRef>{amount}",
            f"<CdtDbtInd>{indicator}</CdtDbtInd>{status}",
            f"<BookgDt><Dt>{entry.booked_on.isoformat()}</Dt></BookgDt>",
            f"<ValDt><Dt>{entry.booked_on.isoformat()}</Dt></ValDt>",
            f"<AcctSvcrRef>{entry.entry_ref}</AcctSvcrRef>",
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>",
            "</Domn></BkTxCd>",
            f"<NtryDtls><TxDtls><Refs><EndToEndId>{end_to_end}</EndToEndId></Refs>",
            f"{party}{remittance}</TxDtls></NtryDtls></Ntry>",
        ]
    out += ["</Stmt></BkToCstmrStmt></Document>", ""]
    return "\n".join(out).encode("utf-8")


def _purpose(entry: StatementEntry) -> str:
    text = ""
    if entry.reference:
        text += f"EREF+{entry.reference} "
    text += f"SVWZ+{entry.memo or ''}"
    chunks = [text[i : i + 27] for i in range(0, len(text), 27)][:10]
    fields = "".join(f"?{20 + n}{chunk}" for n, chunk in enumerate(chunks))
    name = (entry.payer_name or "")[:27]
    code = "166?00GUTSCHRIFT" if entry.amount_cents >= 0 else "177?00UEBERWEISUNG"
    return f"{code}?109310{fields}?30BYLADEM1001?31DE02120300000000202051?32{name}"


def _wrap86(text: str) -> list[str]:
    """Lines of at most 65 characters, broken before a "?nn" subfield where there is one."""
    lines: list[str] = []
    current = ""
    for piece in re.split(r"(?=\?\d\d)", text):
        if current and len(current) + len(piece) > 65:
            lines.append(current)
            current = ""
        current += piece
        while len(current) > 65:
            lines.append(current[:65])
            current = current[65:]
    return [*lines, current] if current else lines


def mt940(
    entries: list[StatementEntry],
    *,
    account: str = "12030000/0000202051",
    structured: bool = True,
) -> bytes:
    """An MT940 statement with `entries` (German structured :86: unless `structured` is off)."""
    currency = entries[0].currency if entries else "EUR"
    first = entries[0].booked_on if entries else date(2026, 1, 1)
    balance = 100_000
    lines = [":20:STARTUMS", f":25:{account}", ":28C:00001/001"]
    lines.append(f":60F:C{first:%y%m%d}{currency}{_decimal(balance, ',')}")
    for entry in entries:
        mark = "C" if entry.amount_cents >= 0 else "D"
        day = entry.booked_on
        reference = (entry.reference or "NONREF")[:16]
        lines.append(
            f":61:{day:%y%m%d}{day:%m%d}{mark}{_decimal(entry.amount_cents, ',')}"
            f"NTRF{reference}//{entry.entry_ref[:16]}"
        )
        if structured:
            details = _purpose(entry)
        else:
            details = " ".join(part for part in (entry.payer_name, entry.memo) if part)
        lines += _wrap86(":86:" + details)
        balance += entry.amount_cents
    last = entries[-1].booked_on if entries else first
    mark = "C" if balance >= 0 else "D"
    lines += [f":62F:{mark}{last:%y%m%d}{currency}{_decimal(balance, ',')}", "-", ""]
    return "\r\n".join(lines).encode("latin-1", "replace")
