"""Stripe webhooks: the `Stripe-Signature` check and the events that become a `Notice`.

A webhook request is authenticated by its signature alone: `Stripe-Signature: t=<unix>,v1=<hex>`
(several `v1` while Stripe rolls a secret), where each `v1` is the HMAC-SHA256 of
`"<t>.<raw body>"` under the endpoint's signing secret. A request verifies when some `v1`
equals the HMAC under some active secret of the tenant (several while the tenant rotates) and
`t` lies within the tolerance of now. Compared in constant time, on the raw bytes, before the
body is parsed.

`payment_intent.succeeded`, `charge.succeeded` and `checkout.session.completed` (and
`checkout.session.async_payment_succeeded`) become a `Notice` whose `transaction_id` is the
payment intent's id, so the events one payment produces are one notification. Every other
event type is ignored. This module does no I/O and never puts a secret or personal data into
an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tenantry.errors import TenantryError
from tenantry.payments.notices import Notice, Rejected, Source, Trust, TrustLevel

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "HANDLED_EVENTS",
    "MAX_EVENT_BYTES",
    "Ignored",
    "WebhookRejectedError",
    "currency_exponent",
    "event_notice",
    "minor_units",
    "parse_event",
    "sign",
    "verify_signature",
]

DEFAULT_TOLERANCE_SECONDS = 300  # Stripe's own libraries default to five minutes
MAX_EVENT_BYTES = 256 * 1024  # Stripe's events are a few kilobytes; anything larger is not one
_MAX_SIGNATURES = 16
HANDLED_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "charge.succeeded",
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    }
)
TRUST = Trust(TrustLevel.VERIFIED, "Stripe webhook signature verified", "stripe.com")

# Stripe states amounts in the currency's smallest unit as Stripe defines it; a Notice holds
# ISO 4217 minor units. They differ only where Stripe keeps two decimals for compatibility
# (ISK: ISO has none, Stripe's 100 is one krona).
_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_STRIPE_TWO_DECIMAL_ISO_ZERO = frozenset({"ISK"})


class WebhookRejectedError(TenantryError):
    """The webhook request is not signed by this endpoint's secret."""


@dataclass(frozen=True)
class Ignored:
    """An event that is no payment to record (another type, or a session not yet paid)."""

    event_type: str
    reason: str


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `v1` value for `body` at `timestamp` (what Stripe computes; used by tests and tools)."""
    payload = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for element in header.split(","):
        key, sep, value = element.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise WebhookRejectedError("the Stripe-Signature header is malformed")
            timestamp = int(value)
        elif key == "v1" and len(signatures) < _MAX_SIGNATURES:
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise WebhookRejectedError("the Stripe-Signature header is malformed")
    return timestamp, signatures


def verify_signature(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check `header` against `body` under any of `secrets`; returns the signed timestamp.

    Raises `WebhookRejectedError` (never naming a secret or a value) when the header is missing
    or malformed, no signature matches, or the timestamp is outside the tolerance. Every
    signature is compared with every secret, so the time taken says nothing about which failed.
    """
    if not header:
        raise WebhookRejectedError("the Stripe-Signature header is missing")
    timestamp, signatures = _parse_header(header)
    matched = False
    for secret in secrets:
        expected = sign(body, secret, timestamp).encode()
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise WebhookRejectedError("the signature does not verify")
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise WebhookRejectedError("the signature's timestamp is outside the tolerance")
    return timestamp


def parse_event(body: bytes) -> dict[str, Any]:
    """The event object of a verified body; a body that is no Stripe event is refused."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejectedError("the body is not a JSON Stripe event") from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("data"), dict)
        or not isinstance(event["data"].get("object"), dict)
    ):
        raise WebhookRejectedError("the body is not a JSON Stripe event")
    return event


def minor_units(amount: int, currency: str) -> int | None:
    """A Stripe amount in ISO 4217 minor units of `currency` (None: not a whole minor unit)."""
    if currency in _STRIPE_TWO_DECIMAL_ISO_ZERO:
        return amount // 100 if amount % 100 == 0 else None
    return amount


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in ISO 4217 minor units (for display)."""
    if currency in _ZERO_DECIMAL or currency in _STRIPE_TWO_DECIMAL_ISO_ZERO:
        return 0
    return 3 if currency in _THREE_DECIMAL else 2


def _text(value: object, limit: int = 500) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def _id(value: object) -> str | None:
    """An id, or the id of an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return _text(value, 255)


_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime holds


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _details(obj: Mapping[str, Any], event_type: str) -> Mapping[str, Any]:
    """Who paid: the charge's billing details or the checkout session's customer details."""
    key = "customer_details" if event_type.startswith("checkout.") else "billing_details"
    found = obj.get(key)
    if not isinstance(found, Mapping) and event_type == "payment_intent.succeeded":
        charges = obj.get("charges")  # embedded in API versions before 2022-11-15
        data = charges.get("data") if isinstance(charges, Mapping) else None
        if isinstance(data, list) and data and isinstance(data[0], Mapping):
            found = data[0].get("billing_details")
    return found if isinstance(found, Mapping) else {}


def _booking_code(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    if isinstance(metadata, Mapping):
        for key in ("booking_code", "booking_id", "booking", "order_id"):
            found = _text(metadata.get(key), 200)
            if found:
                return found
    return _text(obj.get("client_reference_id"), 200)


def event_notice(body: bytes, event: Mapping[str, Any]) -> Notice | Rejected | Ignored:
    """The notice a verified event stands for (`body` is its raw bytes, kept as `raw`)."""
    event_type: str = event["type"]
    event_id = _text(event.get("id"), 255)
    if event_type not in HANDLED_EVENTS:
        return Ignored(event_type, "not a payment event")
    obj: Mapping[str, Any] = event["data"]["object"]
    if event_type.startswith("checkout.") and obj.get("payment_status") != "paid":
        return Ignored(event_type, "checkout session not paid yet")
    if event_type == "charge.succeeded" and obj.get("captured") is False:
        # Authorised for a later capture: `payment_intent.succeeded` follows the capture.
        return Ignored(event_type, "charge authorised, not captured yet")
    own_id = _id(obj.get("id"))
    intent = own_id if event_type.startswith("payment_intent.") else _id(obj.get("payment_intent"))
    transaction_id = intent or own_id
    if event_type == "payment_intent.succeeded":
        amount = _int(obj.get("amount_received")) or _int(obj.get("amount"))
    elif event_type == "charge.succeeded":
        amount = _int(obj.get("amount_captured")) or _int(obj.get("amount"))
    else:
        amount = _int(obj.get("amount_total"))
    currency = _text(obj.get("currency"), 10)
    created = _int(event.get("created")) or _int(obj.get("created"))
    if transaction_id is None or amount is None or amount <= 0 or created is None:
        return Rejected("the Stripe event lacks an id, a positive amount or a time", event_id, body)
    if not 0 <= created <= _LAST_SECOND:  # a datetime cannot hold it: refused, never a 500
        return Rejected("the Stripe event's time is out of range", event_id, body)
    if currency is None or len(currency) != 3 or not currency.isalpha():
        return Rejected("the Stripe event's currency is not an ISO 4217 code", event_id, body)
    currency = currency.upper()
    cents = minor_units(amount, currency)
    if cents is None:
        return Rejected("the Stripe amount is not a whole minor unit", event_id, body)
    details = _details(obj, event_type)
    code = _booking_code(obj)
    description = _text(obj.get("description"))
    memo = " ".join(part for part in (description, code) if part) or None
    return Notice(
        source=Source.WEBHOOK,
        provider="stripe",
        transaction_id=transaction_id,
        amount_cents=cents,
        currency=currency,
        occurred_at=datetime.fromtimestamp(created, UTC),
        raw=body,
        trust=TRUST,
        payer_name=_text(details.get("name"), 200),
        payer_email=_text(details.get("email"), 320) or _text(obj.get("receipt_email"), 320),
        payer_phone=_text(details.get("phone"), 40),
        memo=memo,
        reference=transaction_id,
        origin=event_id,
    )
