"""What a provider parser reads out of one message, before it becomes a `Notice`.

Provider modules return a `Parsed` or a `Refusal` (the reason, free of personal data); the
dispatcher adds the raw bytes, trust and origin. Shared helpers for payer details live here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from tenantry.payments.sources.money import Money, parse_money

__all__ = [
    "Parsed",
    "Refusal",
    "clean_memo",
    "clean_name",
    "digest_id",
    "find_email",
    "find_phone",
    "money_or_refusal",
]


@dataclass(frozen=True)
class Parsed:
    amount_cents: int
    currency: str
    occurred_at: datetime
    transaction_id: str
    payer_name: str | None = None
    payer_email: str | None = None
    payer_phone: str | None = None
    memo: str | None = None
    reference: str | None = None
    fee_cents: int = 0


@dataclass(frozen=True)
class Refusal:
    """Why a message is not a payment tenantry records; never contains personal data."""

    reason: str


def digest_id(provider: str, *fields: object) -> str:
    """A stable id for a format that has none: a digest of the provider's own fields."""
    text = "\x1f".join("" if value is None else str(value) for value in (provider, *fields))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def money_or_refusal(text: str | None, *, default_currency: str | None = "USD") -> Money | Refusal:
    """A positive amount, or why not."""
    if not text:
        return Refusal("no amount found")
    money = parse_money(text[:_MAX_SCAN], default_currency=default_currency)
    if money is None:
        return Refusal("amount cannot be read")
    if money.minor <= 0:
        return Refusal("amount is not positive")
    return money


_MAX_SCAN = 2_000  # payer details sit in short fields; longer text is hostile or not a field
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"(?<![\w+])(\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")


def find_email(text: str | None, *, not_domains: tuple[str, ...] = ()) -> str | None:
    """The first e-mail address in `text` that is not of the given (provider) domains."""
    if not text:
        return None
    for match in _EMAIL.finditer(text[:_MAX_SCAN]):
        address = match.group(0).lower().rstrip(".")
        domain = address.rsplit("@", 1)[1]
        if not any(domain == d or domain.endswith("." + d) for d in not_domains):
            return address
    return None


def find_phone(text: str | None) -> str | None:
    """The first (North American style) phone number in `text`, digits and a leading +."""
    if not text:
        return None
    match = _PHONE.search(text[:_MAX_SCAN])
    if match is None:
        return None
    digits = re.sub(r"\D", "", match.group(0))
    return "+" + digits if len(digits) == 11 else "+1" + digits


def clean_name(name: str | None) -> str | None:
    if not name:
        return None
    cleaned = " ".join(name.strip(" .,:;\"'").split())
    return cleaned[:200] or None


_OPENING = "\"'\u201c\u201e\u00ab\u201a\u2018"  # straight, curly, low and angle quotes
_CLOSING = "\"'\u201d\u201c\u00bb\u2018\u2019"


def clean_memo(memo: str | None) -> str | None:
    if not memo:
        return None
    cleaned = " ".join(memo.split()).strip()
    if len(cleaned) >= 2 and cleaned[0] in _OPENING and cleaned[-1] in _CLOSING:
        cleaned = cleaned[1:-1].strip()
    if cleaned.lower() in {"n/a", "none", "-", ""}:
        return None
    return cleaned[:1000]
