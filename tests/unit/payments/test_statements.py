"""Bank statements: CAMT.053 (versions 02 to 08) and MT940 credits become trusted notices, debits
are Rejected "outgoing", and hostile XML or malformed MT940 is refused without an exception."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tenantry.demo.payment_mail import StatementEntry, camt053, mt940
from tenantry.payments.notices import Notice, Rejected, Source, TrustLevel
from tenantry.payments.sources import parse_camt053, parse_mt940
from tenantry.payments.sources.swift_mt940 import purpose_fields

ENTRIES = [
    StatementEntry(
        45_000,
        date(2026, 3, 2),
        "ACSR-0001",
        "Erika Mustermann",
        "Anzahlung BK-7QX2 Feier am Samstag",
        "E2E-BK-7QX2",
    ),
    StatementEntry(-20_000, date(2026, 3, 3), "ACSR-0002", "Vermieter GmbH", "Miete Maerz"),
    StatementEntry(1_999, date(2026, 3, 4), "ACSR-0003", "Max Mustermann", None, None),
]


def _notices(results: list[Notice | Rejected]) -> list[Notice]:
    return [result for result in results if isinstance(result, Notice)]


@pytest.mark.parametrize("version", ["02", "03", "04", "05", "06", "07", "08"])
def test_camt053_credits_become_notices_and_debits_are_outgoing(version: str) -> None:
    results = list(parse_camt053(camt053(ENTRIES, version=version), origin="s.xml"))
    assert [r.origin for r in results] == ["s.xml#1", "s.xml#2", "s.xml#3"]
    first, second, third = results
    assert isinstance(first, Notice) and isinstance(third, Notice)
    assert isinstance(second, Rejected) and second.reason == "outgoing"
    assert (first.source, first.provider, first.bank) == (
        Source.BANK_STATEMENT,
        "bank",
        "BYLADEM1001",
    )
    assert (first.amount_cents, first.currency) == (45_000, "EUR")
    assert first.payer_name == "Erika Mustermann"
    assert first.memo == "Anzahlung BK-7QX2 Feier am Samstag"
    assert first.reference == "E2E-BK-7QX2"
    assert first.transaction_id == "ACSR-0001"
    assert first.occurred_at == datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert first.trust.level is TrustLevel.VERIFIED
    assert first.trust.reason == "imported by an operator"
    assert third.reference == "ACSR-0003"  # no end-to-end id: the bank's reference
    assert third.memo is None


def test_a_camt053_batch_entry_yields_one_notice_per_transaction() -> None:
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
    tx = (
        "<TxDtls><Refs><AcctSvcrRef>{ref}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId>"
        '</Refs><AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
        "<RltdPties><Dbtr><Nm>{name}</Nm></Dbtr></RltdPties>"
        "<RmtInf><Ustrd>{memo1}</Ustrd><Ustrd>{memo2}</Ustrd></RmtInf></TxDtls>"
    )
    xml = (
        f'<?xml version="1.0"?><Document xmlns="{ns}"><BkToCstmrStmt><Stmt>'
        '<Ntry><Amt Ccy="EUR">30.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><Dt>2026-03-05</Dt></BookgDt><NtryDtls>"
        + tx.format(ref="B-1", amount="10.00", name="Erika Mustermann", memo1="BK-1", memo2="a")
        + tx.format(ref="B-2", amount="20.00", name="Max Mustermann", memo1="BK-2", memo2="b")
        + "</NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>"
    ).encode()
    results = list(parse_camt053(xml, origin="b.xml"))
    notices = _notices(results)
    assert [(n.amount_cents, n.payer_name, n.memo, n.transaction_id) for n in notices] == [
        (1_000, "Erika Mustermann", "BK-1 a", "B-1"),
        (2_000, "Max Mustermann", "BK-2 b", "B-2"),
    ]
    assert notices[0].reference == "B-1"
    assert notices[0].sha256 != notices[1].sha256


def test_pending_and_reversed_camt_entries_are_rejected() -> None:
    xml = camt053(ENTRIES[:1], version="08")
    pending = xml.replace(b"<Cd>BOOK</Cd>", b"<Cd>PDNG</Cd>")
    assert [r.reason for r in parse_camt053(pending) if isinstance(r, Rejected)] == [
        "entry not booked"
    ]
    reversal = xml.replace(b"<CdtDbtInd>", b"<RvslInd>true</RvslInd><CdtDbtInd>")
    assert isinstance(next(iter(parse_camt053(reversal))), Rejected)


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol3;</Document>',
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&xxe;</Document>',
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><unclosed>",
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.052.001.02'/>",
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.09'/>",
        b"\x00\xff garbage",
    ],
)
def test_hostile_or_foreign_xml_is_one_rejection(xml: bytes) -> None:
    results = list(parse_camt053(xml, origin="bad.xml"))
    assert len(results) == 1
    assert isinstance(results[0], Rejected)
    assert results[0].origin == "bad.xml"


def test_mt940_structured_credits_become_notices() -> None:
    results = list(parse_mt940(mt940(ENTRIES), origin="s.sta"))
    assert [r.origin for r in results] == ["s.sta#1", "s.sta#2", "s.sta#3"]
    first, second, third = results
    assert isinstance(second, Rejected) and second.reason == "outgoing"
    assert isinstance(first, Notice) and isinstance(third, Notice)
    assert (first.amount_cents, first.currency) == (45_000, "EUR")
    assert first.payer_name == "Erika Mustermann"
    assert first.memo == "Anzahlung BK-7QX2 Feier am Samstag"
    assert first.reference == "E2E-BK-7QX2"
    assert first.transaction_id == "2026-03-02/ACSR-0001"
    assert first.occurred_at == datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert first.trust.level is TrustLevel.VERIFIED
    assert (third.amount_cents, third.payer_name, third.memo) == (1_999, "Max Mustermann", None)


def test_mt940_plain_purpose_text_is_the_memo() -> None:
    first = next(iter(parse_mt940(mt940(ENTRIES[:1], structured=False))))
    assert isinstance(first, Notice)
    assert first.memo == "Erika Mustermann Anzahlung BK-7QX2 Feier am Samstag"
    assert first.payer_name is None


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (
            "166?00GUTSCHRIFT?109310?20EREF+BK-1?21SVWZ+Anzahlung?22 Feier?32MUSTERMANN, ERIKA",
            {"eref": "BK-1", "memo": "Anzahlung Feier", "name": "MUSTERMANN, ERIKA"},
        ),
        (
            "166?00GUTSCHRIFT?20EREF+NOTPROVIDED SVWZ+Rest BK-2 ABWA+Max Mustermann"
            "?32Mustermann GmbH",
            {"memo": "Rest BK-2", "abwa": "Max Mustermann", "name": "Mustermann GmbH"},
        ),
        ("Zahlung BK-3 Erika", {"memo": "Zahlung BK-3 Erika"}),
        ("EREF+X1 SVWZ+Kaution", {"eref": "X1", "memo": "Kaution"}),
    ],
)
def test_mt940_purpose_fields_are_read(details: str, expected: dict[str, str]) -> None:
    assert purpose_fields(details) == expected


def test_the_abwa_payer_on_whose_behalf_wins() -> None:
    data = mt940(ENTRIES[:1]).replace(b"SVWZ+", b"ABWA+Max Mustermann SVWZ+")
    first = next(iter(parse_mt940(data)))
    assert isinstance(first, Notice)
    assert first.payer_name == "Max Mustermann"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b":20:X\r\n:25:1\r\n:61:XXXXXXXXX\r\n",
        b":20:X\n:25:1\n:28C:1\n:60F:C260101EUR0,00\n:61:2601010101C\n:62F:C260101EUR0,00\n",
        b":20:X\n:25:1\n:28C:1\n:60F:C260101EUR0,00\n:62F:C260101EUR0,00\n",
    ],
)
def test_malformed_mt940_is_rejected_never_raised(data: bytes) -> None:
    results = list(parse_mt940(data, origin="bad.sta"))
    assert results
    assert all(isinstance(result, Rejected) for result in results)


def test_reimporting_a_statement_gives_the_same_digests() -> None:
    for build, parse in ((camt053, parse_camt053), (mt940, parse_mt940)):
        data = build(ENTRIES)
        first = [n.sha256 for n in _notices(list(parse(data)))]
        again = [n.sha256 for n in _notices(list(parse(data)))]
        assert first == again
        assert len(set(first)) == len(first) == 2


STATEMENTS = Path(__file__).parent / "statements"


def test_a_hand_written_bank_export_in_camt053_v02_is_read() -> None:
    data = (STATEMENTS / "camt053_v02_bank_export.xml").read_bytes()
    first, second, third = list(parse_camt053(data, origin="export.xml"))
    assert isinstance(first, Notice) and isinstance(third, Notice)
    assert isinstance(second, Rejected) and second.reason == "outgoing"
    assert (first.amount_cents, first.currency, first.bank) == (35_000, "EUR", "BELADEBEXXX")
    assert (first.payer_name, first.memo) == (
        "Mustermann, Erika",
        "Anzahlung Sommerfest Buchung BK-6TT4",
    )
    assert (first.reference, first.transaction_id) == ("BK-6TT4", "2026030512345678")
    assert (third.reference, third.transaction_id) == ("RF18539007547034", "000042")
    assert third.occurred_at == datetime(2026, 3, 6, 12, tzinfo=UTC)


def test_a_hand_written_sparkasse_mt940_is_read() -> None:
    data = (STATEMENTS / "mt940_sparkasse.sta").read_bytes()
    first, second, third = list(parse_mt940(data, origin="konto.sta"))
    assert isinstance(first, Notice) and isinstance(third, Notice)
    assert isinstance(second, Rejected) and second.reason == "outgoing"
    assert (first.amount_cents, first.payer_name, first.reference) == (
        35_000,
        "Erika Mustermann",
        "BK-6TT4",
    )
    assert first.memo == "Anzahlung Sommerfest Buchung BK-6TT4"
    assert first.transaction_id.startswith("sha256:")
    assert (third.amount_cents, third.memo, third.transaction_id) == (
        12_000,
        "Max Mustermann Rest BK-2M8D",
        "2026-03-06/000042",
    )
