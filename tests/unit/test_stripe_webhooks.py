"""Stripe webhooks without a database: the signature check and the events that become notices.

Events are built as Stripe documents them (https://docs.stripe.com/api/events/object): an
`evt_` id, `type`, `created` and `data.object` holding the PaymentIntent, Charge or Checkout
Session as of the API version 2024-06-20.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tenantry.errors import ValidationError
from tenantry.payments.endpoints import mask
from tenantry.payments.imap import parse_imap_url
from tenantry.payments.notices import Notice, Rejected, Source, TrustLevel
from tenantry.payments.stripe import (
    Ignored,
    WebhookRejectedError,
    event_notice,
    minor_units,
    parse_event,
    sign,
    verify_signature,
)

SECRET = "whsec_test_0123456789abcdef"
OLD_SECRET = "whsec_test_fedcba9876543210"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"id": "evt_1", "type": "charge.succeeded"}'


def header(body: bytes = BODY, *secrets: str, t: int = T) -> str:
    return f"t={t}," + ",".join(f"v1={sign(body, s, t)}" for s in (secrets or (SECRET,)))


def test_a_signature_made_with_the_secret_verifies() -> None:
    assert verify_signature(header(), BODY, [SECRET], now=NOW) == T


@pytest.mark.parametrize(
    ("presented", "body", "secrets", "message"),
    [
        (None, BODY, [SECRET], "missing"),
        ("", BODY, [SECRET], "missing"),
        ("v1=abc", BODY, [SECRET], "malformed"),
        (f"t={T}", BODY, [SECRET], "malformed"),
        ("t=soon,v1=abc", BODY, [SECRET], "malformed"),
        (header(), BODY + b" ", [SECRET], "does not verify"),  # tampered body
        (header(), BODY.replace(b"evt_1", b"evt_2"), [SECRET], "does not verify"),
        (header(), BODY, [OLD_SECRET], "does not verify"),  # wrong secret
        (header(), BODY, [], "does not verify"),  # a tenant without secrets, or none at all
        (header(t=T - 301), BODY, [SECRET], "tolerance"),  # stale
        (header(t=T + 301), BODY, [SECRET], "tolerance"),  # from the future
        (f"t={T},v0={sign(BODY, SECRET, T)}", BODY, [SECRET], "malformed"),  # other scheme
    ],
)
def test_a_request_that_is_not_signed_with_the_secret_is_rejected(
    presented: str | None, body: bytes, secrets: list[str], message: str
) -> None:
    with pytest.raises(WebhookRejectedError, match=message) as caught:
        verify_signature(presented, body, secrets, now=NOW)
    assert SECRET not in caught.value.message


def test_the_tolerance_is_configurable() -> None:
    old = header(t=T - 3600)
    with pytest.raises(WebhookRejectedError):
        verify_signature(old, BODY, [SECRET], now=NOW)
    assert verify_signature(old, BODY, [SECRET], now=NOW, tolerance_seconds=3601) == T - 3600


def test_any_of_several_v1_signatures_may_match() -> None:
    """While Stripe rolls an endpoint's secret it signs with the old and the new one."""
    both = header(BODY, OLD_SECRET, SECRET)
    assert verify_signature(both, BODY, [SECRET], now=NOW) == T
    assert verify_signature(both, BODY, [OLD_SECRET], now=NOW) == T
    assert verify_signature(f"{both},v0=ignored,x=y", BODY, [SECRET], now=NOW) == T


def test_any_of_the_tenants_active_secrets_may_match() -> None:
    assert verify_signature(header(BODY, OLD_SECRET), BODY, [SECRET, OLD_SECRET], now=NOW) == T
    with pytest.raises(WebhookRejectedError):
        verify_signature(header(BODY, OLD_SECRET), BODY, [SECRET], now=NOW)  # revoked


def test_sign_is_stripes_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, T) == expected


# -- events ---------------------------------------------------------------------------------

CREATED = 1_796_000_000


def event(event_type: str, obj: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    document = {
        "id": "evt_3QabcdEFGHijkl",
        "object": "event",
        "api_version": "2024-06-20",
        "created": CREATED,
        "type": event_type,
        "livemode": False,
        "data": {"object": obj},
    }
    body = json.dumps(document).encode()
    return body, parse_event(body)


BILLING = {
    "name": "Erika Mustermann",
    "email": "erika@example.org",
    "phone": "+1 555 0100",
    "address": {"country": "US", "postal_code": "94107"},
}
INTENT = {
    "id": "pi_3QabcdEFGH",
    "object": "payment_intent",
    "amount": 25000,
    "amount_received": 25000,
    "currency": "usd",
    "created": CREATED - 60,
    "description": "Hibachi dinner deposit",
    "metadata": {"booking_code": "BK-7Q2M"},
    "latest_charge": "ch_3QabcdEFGH",
    "receipt_email": "erika@example.org",
    "status": "succeeded",
}
CHARGE = {
    "id": "ch_3QabcdEFGH",
    "object": "charge",
    "amount": 25000,
    "amount_captured": 25000,
    "captured": True,
    "currency": "usd",
    "created": CREATED - 30,
    "description": "Hibachi dinner deposit",
    "metadata": {"booking_code": "BK-7Q2M"},
    "payment_intent": "pi_3QabcdEFGH",
    "billing_details": BILLING,
    "status": "succeeded",
}
SESSION = {
    "id": "cs_test_a1B2c3",
    "object": "checkout.session",
    "amount_total": 25000,
    "currency": "usd",
    "created": CREATED - 120,
    "mode": "payment",
    "payment_status": "paid",
    "payment_intent": "pi_3QabcdEFGH",
    "client_reference_id": "BK-7Q2M",
    "customer_details": {
        "name": "Erika Mustermann",
        "email": "erika@example.org",
        "phone": None,
    },
    "metadata": {},
}


def notice(event_type: str, obj: dict[str, Any]) -> Notice:
    body, parsed = event(event_type, obj)
    result = event_notice(body, parsed)
    assert isinstance(result, Notice), result
    assert result.raw == body
    return result


def test_a_charge_becomes_a_verified_webhook_notice_with_the_payer() -> None:
    n = notice("charge.succeeded", CHARGE)
    assert n.source is Source.WEBHOOK and n.provider == "stripe"
    assert n.trust.level is TrustLevel.VERIFIED and n.trust.domain == "stripe.com"
    assert (n.amount_cents, n.currency) == (25000, "USD")
    assert (n.payer_name, n.payer_email, n.payer_phone) == (
        "Erika Mustermann",
        "erika@example.org",
        "+1 555 0100",
    )
    assert n.transaction_id == n.reference == "pi_3QabcdEFGH"
    assert n.memo is not None and "BK-7Q2M" in n.memo and "Hibachi" in n.memo
    assert n.occurred_at == datetime.fromtimestamp(CREATED, UTC)
    assert n.origin == "evt_3QabcdEFGHijkl"


def test_the_events_of_one_payment_are_one_transaction() -> None:
    """charge.succeeded, payment_intent.succeeded and the session: the same intent id."""
    ids = {
        notice("charge.succeeded", CHARGE).transaction_id,
        notice("payment_intent.succeeded", INTENT).transaction_id,
        notice("checkout.session.completed", SESSION).transaction_id,
        notice("checkout.session.async_payment_succeeded", SESSION).transaction_id,
    }
    assert ids == {"pi_3QabcdEFGH"}


def test_a_payment_intent_takes_the_payer_from_its_embedded_charge_or_receipt_email() -> None:
    n = notice("payment_intent.succeeded", INTENT)
    assert n.amount_cents == 25000 and n.payer_email == "erika@example.org"
    assert n.payer_name is None  # not on a PaymentIntent of a current API version
    older = INTENT | {"charges": {"object": "list", "data": [CHARGE]}}
    assert notice("payment_intent.succeeded", older).payer_name == "Erika Mustermann"


def test_a_checkout_session_takes_the_customer_details_and_its_reference() -> None:
    n = notice("checkout.session.completed", SESSION)
    assert (n.payer_name, n.payer_email, n.payer_phone) == (
        "Erika Mustermann",
        "erika@example.org",
        None,
    )
    assert n.memo == "BK-7Q2M"


def test_a_charge_without_a_payment_intent_is_its_own_transaction() -> None:
    legacy = CHARGE | {"payment_intent": None}
    assert notice("charge.succeeded", legacy).transaction_id == "ch_3QabcdEFGH"


@pytest.mark.parametrize(
    ("currency", "amount", "cents"),
    [
        ("jpy", 5000, 5000),  # zero-decimal: 5000 is ¥5,000
        ("krw", 120000, 120000),
        ("usd", 5000, 5000),  # $50.00
        ("bhd", 12340, 12340),  # three decimals
        ("isk", 500000, 5000),  # Stripe keeps two decimals for ISK; ISO 4217 has none
    ],
)
def test_amounts_are_iso_minor_units_for_every_currency(
    currency: str, amount: int, cents: int
) -> None:
    n = notice("charge.succeeded", CHARGE | {"amount": amount, "amount_captured": amount,
                                              "currency": currency})  # fmt: skip
    assert (n.amount_cents, n.currency) == (cents, currency.upper())
    assert minor_units(amount, currency.upper()) == cents


def test_a_fractional_isk_amount_is_rejected() -> None:
    body, parsed = event("charge.succeeded", CHARGE | {"amount_captured": 50050, "currency": "isk"})
    assert isinstance(event_notice(body, parsed), Rejected)


@pytest.mark.parametrize(
    "change",
    [{"amount_captured": 0, "amount": 0}, {"currency": "dollars"}, {"id": None,
                                                                    "payment_intent": None}],
)  # fmt: skip
def test_an_event_without_amount_currency_or_id_is_rejected_not_guessed(
    change: dict[str, Any],
) -> None:
    body, parsed = event("charge.succeeded", CHARGE | change)
    result = event_notice(body, parsed)
    assert isinstance(result, Rejected) and result.origin == "evt_3QabcdEFGHijkl"
    assert "Erika" not in result.reason


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("customer.created", {"id": "cus_1", "object": "customer"}),
        ("charge.refunded", CHARGE),
        ("payment_intent.created", INTENT),
        ("checkout.session.completed", SESSION | {"payment_status": "unpaid"}),
        ("charge.succeeded", CHARGE | {"captured": False, "amount_captured": 0}),
    ],
)
def test_other_events_are_ignored(event_type: str, obj: dict[str, Any]) -> None:
    body, parsed = event(event_type, obj)
    result = event_notice(body, parsed)
    assert isinstance(result, Ignored) and result.event_type == event_type


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'{"type": "charge.succeeded"}', b'{"type": 1, "data": {}}']
)
def test_a_body_that_is_no_event_is_rejected(body: bytes) -> None:
    with pytest.raises(WebhookRejectedError):
        parse_event(body)


def test_a_listing_masks_the_secret() -> None:
    assert mask("whsec_abcdefghijklmnopWXYZ") == "whsec_****WXYZ"
    assert "abcdef" not in mask("whsec_abcdefghijklmnopWXYZ")


@pytest.mark.parametrize(
    ("url", "insecure", "key"),
    [
        ("imaps://pay@mail.example.com/INBOX", False, "imaps://pay@mail.example.com:993/INBOX"),
        ("imaps://pay@mail.example.com:1993", False, "imaps://pay@mail.example.com:1993/INBOX"),
        ("imap://pay@localhost/Payments", False, "imap://pay@localhost:143/Payments"),
        ("imap://pay@mail.example.com/INBOX", True, "imap://pay@mail.example.com:143/INBOX"),
        ("imaps://pay%40example.com@mail.example.com/Zahlungen%20Eingang", False,
         "imaps://pay@example.com@mail.example.com:993/Zahlungen Eingang"),
    ],
)  # fmt: skip
def test_mailbox_urls(url: str, insecure: bool, key: str) -> None:
    assert parse_imap_url(url, insecure=insecure).key == key


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("imap://pay@mail.example.com/INBOX", "only allowed to localhost"),
        ("imaps://pay:secret@mail.example.com/INBOX", "no password"),
        ("imaps://mail.example.com/INBOX", "user and a host"),
        ("https://pay@mail.example.com/INBOX", "imaps://"),
        ("imaps://pay@mail.example.com:99999/INBOX", "malformed"),
        ("imaps://pay@mail.example.com/INBOX?x=1", "no query"),
    ],
)
def test_bad_mailbox_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_imap_url(url)
    assert "secret" not in caught.value.message
