"""Amounts as notifications and statements write them: "$1,234.56", "1.234,56 €", "USD 12.00".

This module turns such text into minor units and an ISO 4217 code. It knows no provider and
does no I/O; a text it cannot read unambiguously gives None, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["ISO_4217", "Money", "is_amount", "minor_units", "parse_money"]

# Active ISO 4217 codes (funds and precious metals left out).
_CODES = """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"""
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
ISO_4217 = frozenset(_CODES.split())
_DECIMALS = dict.fromkeys(_ZERO_DECIMALS.split(), 0) | dict.fromkeys(_THREE_DECIMALS.split(), 3)

_SYMBOLS = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "CA$": "CAD",
    "C$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
}
_DOT_DECIMAL = frozenset({"USD", "GBP", "CAD", "AUD"})
_MINUS = "-\u2212\u2013"
_AMOUNT = re.compile(
    r"(?P<neg>[" + _MINUS + r"]\s?)?"
    r"(?:(?P<code1>\b[A-Z]{3})\s?)?"
    r"(?P<sym1>US\$|CA\$|AU\$|C\$|A\$|[$€£])?\s?"
    r"(?P<neg2>[" + _MINUS + r"]\s?)?"
    r"(?P<num>\d(?:[\d.,'\u00a0\u202f]*\d)?)"
    r"(?:\s?(?P<sym2>[€£$]))?"
    r"(?:\s?(?P<code2>[A-Z]{3})\b)?"
)


@dataclass(frozen=True)
class Money:
    """An amount in minor units (negative for a debit) and its ISO 4217 currency."""

    minor: int
    currency: str


def minor_units(currency: str) -> int:
    """How many decimals `currency` has (2 unless ISO 4217 says otherwise)."""
    return _DECIMALS.get(currency, 2)


def _number(token: str) -> Decimal | None:
    text = token.replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    dot, comma = text.rfind("."), text.rfind(",")
    if dot >= 0 and comma >= 0:
        decimal_sep = "." if dot > comma else ","
    elif dot >= 0 or comma >= 0:
        sep = "." if dot >= 0 else ","
        fraction = text.rsplit(sep, 1)[1]
        decimal_sep = sep if text.count(sep) == 1 and len(fraction) in (1, 2) else ""
    else:
        decimal_sep = ""
    if decimal_sep:
        integer, fraction = text.rsplit(decimal_sep, 1)
        if not fraction.isdigit() or len(fraction) > 3:
            return None
    else:
        integer, fraction = text, ""
    thousands = "," if decimal_sep == "." else "." if decimal_sep == "," else None
    groups = re.split(r"[.,]", integer) if thousands is None else integer.split(thousands)
    if len(groups) > 1 and (
        not 1 <= len(groups[0]) <= 3 or any(len(group) != 3 for group in groups[1:])
    ):
        return None
    digits = "".join(groups)
    if not digits.isdigit():
        return None
    try:
        return Decimal(f"{digits}.{fraction or '0'}")
    except InvalidOperation:
        return None


def is_amount(text: str) -> bool:
    """Whether `text` holds an amount (a bare number counts, as in a table's amount cell)."""
    return parse_money(text, default_currency="USD") is not None


def parse_money(text: str, *, default_currency: str | None = None) -> Money | None:
    """The first amount in `text` that names its currency (by symbol or ISO code), or, with a
    `default_currency`, the first bare number. None when the amount is unreadable, ambiguous
    (symbol and code disagree) or not an ISO 4217 currency."""
    for match in _AMOUNT.finditer(text):
        codes = {c for c in (match["code1"], match["code2"]) if c}
        symbols = {_SYMBOLS[s] for s in (match["sym1"], match["sym2"]) if s}
        if codes - ISO_4217:
            codes = codes & ISO_4217  # a capitalised word next to the amount, not a code
        if len(codes) > 1 or len(symbols) > 1:
            return None
        code = next(iter(codes), None)
        symbol = next(iter(symbols), None)
        if code and symbol and code != symbol and not (symbol == "USD" and match["sym1"] == "$"):
            return None
        currency = code or symbol or default_currency
        if currency is None:
            continue
        value = _number(match["num"])
        if value is None or currency not in ISO_4217:
            return None
        if currency in _DOT_DECIMAL and re.fullmatch(r"\d{1,3}\.\d{3}", match["num"]):
            return None  # "$12.345": a dollar amount never has three decimals; refuse to guess
        scaled = value * (10 ** minor_units(currency))
        if scaled != scaled.to_integral_value():
            return None
        minor = int(scaled)
        if match["neg"] or match["neg2"]:
            minor = -minor
        return Money(minor, currency)
    return None
