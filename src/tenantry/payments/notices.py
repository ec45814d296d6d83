"""The one record every payment source is reduced to, and how far it can be trusted.

Parsers of e-mails, webhooks and bank statements produce `Notice` values; the matcher and the
store consume them. This module does no I/O and knows no provider format.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["Notice", "Rejected", "Source", "Trust", "TrustLevel", "raw_digest"]


class Source(StrEnum):
    """Where a notification came from."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    BANK_STATEMENT = "bank_statement"


class TrustLevel(StrEnum):
    """How far a notification's origin is proven.

    Only `verified` notices may be matched automatically: an e-mail with a valid DKIM signature
    of the provider's domain, a webhook whose signature checks with the endpoint secret, or a bank
    statement an authorised user imported. Everything else is flagged and kept for review.
    """

    VERIFIED = "verified"
    UNSIGNED = "unsigned"  # an e-mail without a DKIM signature of the provider's domain
    FORGED = "forged"  # a signature that does not verify, or a sender domain not the provider's
    UNKNOWN_KEY = "unknown_key"  # the signing key could not be found (DNS or keys file)


@dataclass(frozen=True)
class Trust:
    """The verdict on a notice's origin, with a reason a reviewer can read (no personal data)."""

    level: TrustLevel
    reason: str
    domain: str | None = None  # the signing domain (DKIM d=) or the webhook's provider

    @property
    def verified(self) -> bool:
        return self.level is TrustLevel.VERIFIED


@dataclass(frozen=True)
class Notice:
    """One incoming payment as a provider reported it.

    `amount_cents` is what the payer's message says arrived (gross for receipts, net where the
    provider says so: then `fee_cents` holds the fee it kept). `transaction_id` is the provider's
    own id (Venmo transaction id, Zelle confirmation number, Stripe charge or payment intent id,
    PayPal transaction id, bank entry reference); `raw` is the exact bytes received, personal data
    that is sealed when stored.
    """

    source: Source
    provider: str  # venmo | zelle | stripe | paypal | bank
    transaction_id: str
    amount_cents: int
    currency: str
    occurred_at: datetime  # timezone-aware
    raw: bytes = field(repr=False)
    trust: Trust
    payer_name: str | None = field(default=None, repr=False)
    payer_email: str | None = field(default=None, repr=False)
    payer_phone: str | None = field(default=None, repr=False)
    memo: str | None = field(default=None, repr=False)
    reference: str | None = field(default=None, repr=False)
    fee_cents: int = 0
    bank: str | None = None  # the bank that sent a Zelle alert or issued the statement
    origin: str | None = None  # file name, IMAP uid or webhook event id: for the report only

    @property
    def sha256(self) -> str:
        return raw_digest(self.raw)


@dataclass(frozen=True)
class Rejected:
    """Input that is not a payment notification tenantry can record, and why (no personal data).

    Examples: a newsletter from a provider, an outgoing transfer on a statement, a message whose
    amount cannot be read, a currency that is not ISO 4217.
    """

    reason: str
    origin: str | None = None
    raw: bytes = field(default=b"", repr=False)


def raw_digest(raw: bytes) -> str:
    """The SHA-256 of the raw message, hex: how a re-delivered message is recognised."""
    return hashlib.sha256(raw).hexdigest()
