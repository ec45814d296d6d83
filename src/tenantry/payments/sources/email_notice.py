"""One payment e-mail to one `Notice` (or a `Rejected`): recognise the provider, parse, verify.

The provider is recognised by the From domain (the allow-list in `payments.trust`) and then by
the subject its parser accepts; the DKIM verdict is added by the `DkimVerifier`. A forged or
unsigned message still becomes a Notice (flagged by its trust, kept for review); only what is
not a payment at all is Rejected. Never raises on hostile input.
"""

from __future__ import annotations

from tenantry.payments.notices import Notice, Rejected, Source
from tenantry.payments.sources import paypal, stripe, venmo, zelle
from tenantry.payments.sources.base import Parsed, Refusal
from tenantry.payments.sources.mail import Mail, read_mail
from tenantry.payments.trust import DkimVerifier, Sender, sender_for_domain

__all__ = ["MAX_MESSAGE_BYTES", "parse_email"]

MAX_MESSAGE_BYTES = 25 * 1024 * 1024


def _parse(mail: Mail, sender: Sender) -> Parsed | Refusal:
    if sender.provider == "venmo":
        return venmo.parse(mail)
    if sender.provider == "zelle":
        return zelle.parse(mail, sender)
    if sender.provider == "stripe":
        return stripe.parse(mail)
    if sender.provider == "paypal":
        return paypal.parse(mail, sender)
    return Refusal("not from a known payment provider")


def parse_email(
    raw: bytes, *, verifier: DkimVerifier, origin: str | None = None
) -> Notice | Rejected:
    """The notice `raw` reports, with the DKIM verdict on it; or why it is not one."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejected("message larger than 25 MB", origin=origin)
    try:
        mail = read_mail(raw)
    except Exception:  # any decoding failure of hostile input is a rejection
        return Rejected("not a readable e-mail", origin=origin, raw=raw)
    if mail.from_count != 1:
        reason = "no From address" if mail.from_count == 0 else "more than one From address"
        return Rejected(reason, origin=origin, raw=raw)
    sender = sender_for_domain(mail.from_domain)
    if sender is None:
        return Rejected("not from a known payment provider", origin=origin, raw=raw)
    try:
        parsed = _parse(mail, sender)
    except Exception:  # a parser tripping over hostile content must not stop an import
        return Rejected("message cannot be read", origin=origin, raw=raw)
    if isinstance(parsed, Refusal):
        return Rejected(f"{sender.provider}: {parsed.reason}", origin=origin, raw=raw)
    trust = verifier.check(raw, sender, mail.from_domain)
    return Notice(
        source=Source.EMAIL,
        provider=sender.provider,
        transaction_id=parsed.transaction_id,
        amount_cents=parsed.amount_cents,
        currency=parsed.currency,
        occurred_at=parsed.occurred_at,
        raw=raw,
        trust=trust,
        payer_name=parsed.payer_name,
        payer_email=parsed.payer_email,
        payer_phone=parsed.payer_phone,
        memo=parsed.memo,
        reference=parsed.reference,
        fee_cents=parsed.fee_cents,
        bank=sender.bank,
        origin=origin,
    )
