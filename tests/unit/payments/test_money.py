"""Amounts as providers and banks write them become minor units and an ISO 4217 code, or None."""

from __future__ import annotations

import pytest

from tenantry.payments.sources.money import Money, parse_money


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.56", Money(123_456, "USD")),
        ("$ 45.00", Money(4_500, "USD")),
        ("1.234,56 €", Money(123_456, "EUR")),
        ("1.234,56 € EUR", Money(123_456, "EUR")),
        ("€86.00 EUR", Money(8_600, "EUR")),
        ("USD 12.00", Money(1_200, "USD")),
        ("$10.00 USD", Money(1_000, "USD")),
        ("$12.00 CAD", Money(1_200, "CAD")),
        ("£7.5", Money(750, "GBP")),
        ("12,00 EUR", Money(1_200, "EUR")),
        ("1,000 USD", Money(100_000, "USD")),
        ("¥ 500 JPY", Money(500, "JPY")),
        ("JPY 1,500", Money(1_500, "JPY")),
        ("-$5.00", Money(-500, "USD")),
        ("$-5.00", Money(-500, "USD")),
        ("\u2212$5.00 USD", Money(-500, "USD")),
        ("Amount: $0.00", Money(0, "USD")),
        ("1\u00a0234,56 EUR", Money(123_456, "EUR")),
    ],
)
def test_amounts_in_every_written_form_are_read(text: str, expected: Money) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "no amount here", "$1,23,4.56", "€12.00 USD", "12.345.6 EUR", "$12.345", "12.00 XXX"],
)
def test_unreadable_or_ambiguous_amounts_give_none(text: str) -> None:
    assert parse_money(text) is None


def test_a_bare_number_needs_a_default_currency() -> None:
    assert parse_money("45.00") is None
    assert parse_money("45.00", default_currency="USD") == Money(4_500, "USD")
