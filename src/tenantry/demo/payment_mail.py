"""Sample payment notifications for tests, the benchmark and the demo, in the providers' formats.

Writes the e-mails Venmo, the Zelle banks (Bank of America, Chase, Wells Fargo), Stripe and
PayPal send (subject, From, multipart text and HTML, quoted-printable) for a given payment and
signs them with DKIM (dkimpy) under a test key; the statement writers (CAMT.053, MT940) live in
`payment_statements` and are offered here too. Everything here is synthetic: test keys only
(RSA 1024 keeps signing around 2 ms per message), example.com addresses. Nothing here reads
real notifications.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime
from html import escape

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantry.demo.payment_statements import StatementEntry, camt053, mt940

__all__ = [
    "BANK_FROM",
    "FORGERIES",
    "PROVIDER_FROM",
    "SamplePayment",
    "StatementEntry",
    "TestKey",
    "camt053",
    "forged_mail",
    "keys_file_text",
    "make_test_key",
    "mt940",
    "paypal_mail",
    "sign",
    "signed_mail",
    "stripe_mail",
    "venmo_mail",
    "write_mail",
    "zelle_mail",
]

PROVIDER_FROM = {
    "venmo": ("Venmo", "venmo@venmo.com"),
    "paypal": ("service@paypal.com", "service@paypal.com"),
    "stripe": ("Stripe", "notifications@stripe.com"),
}
BANK_FROM = {
    "bank_of_america": ("Bank of America", "customerservice@ealerts.bankofamerica.com"),
    "chase": ("Chase", "no.reply.alerts@chase.com"),
    "wells_fargo": ("Wells Fargo Online", "alerts@notify.wellsfargo.com"),
}
_SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version"]
_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}


@dataclass(frozen=True)
class SamplePayment:
    """One incoming payment as a provider would report it."""

    amount_cents: int
    payer_name: str
    occurred_at: datetime
    transaction_id: str
    currency: str = "USD"
    payer_email: str | None = None
    payer_phone: str | None = None
    memo: str | None = None
    to_address: str = "payments@example.com"
    business: str = "Example Catering"


@dataclass(frozen=True)
class TestKey:
    """An RSA key pair for DKIM in tests; `txt` is the public TXT record's value."""

    __test__ = False  # not a pytest test class despite its name

    private_pem: bytes
    txt: str
    selector: str = "tenantry-test"

    def keys_line(self, domain: str) -> str:
        """The keys-file line that publishes this key for `domain`."""
        return f"{self.selector}._domainkey.{domain} {self.txt}"


def make_test_key(bits: int = 1024, selector: str = "tenantry-test") -> TestKey:
    """A fresh RSA key pair (1024 bits: the least dkimpy accepts, and fast to sign with)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TestKey(pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode("ascii"), selector)


def keys_file_text(key: TestKey, domains: list[str] | None = None) -> str:
    """A keys file publishing `key` for every provider domain the sample writers sign with."""
    every = [address.rsplit("@", 1)[1] for _, address in PROVIDER_FROM.values()]
    every += [address.rsplit("@", 1)[1] for _, address in BANK_FROM.values()]
    lines = ["# DKIM test keys (generated)"]
    lines += [key.keys_line(domain) for domain in (domains or every)]
    return "\n".join(lines) + "\n"


def sign(raw: bytes, key: TestKey, domain: str, *, selector: str | None = None) -> bytes:
    """`raw` with a DKIM-Signature of `domain` prepended (relaxed/relaxed, rsa-sha256)."""
    header = dkim.sign(
        raw,
        (selector or key.selector).encode("ascii"),
        domain.encode("ascii"),
        key.private_pem,
        include_headers=_SIGNED_HEADERS,
        canonicalize=(b"relaxed", b"relaxed"),
    )
    return bytes(header) + raw


def _money(cents: int, currency: str) -> str:
    symbol = _SYMBOL.get(currency, "")
    text = f"{symbol}{cents // 100:,}.{cents % 100:02d}"
    return text if symbol else f"{text} {currency}"


def _day(when: datetime) -> str:
    return f"{when:%b} {when.day}, {when.year}"


def _qp(text: str) -> bytes:
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _address(name: str, address: str) -> str:
    if name == address:
        return address
    return f"{_header(name)} <{address}>" if not name.isascii() else f'"{name}" <{address}>'


def _message(
    *,
    sender: tuple[str, str],
    to: str,
    subject: str,
    when: datetime,
    text: str | None,
    html: str | None,
    seed: str,
) -> bytes:
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    domain = sender[1].rsplit("@", 1)[1]
    head = [
        f"From: {_address(*sender)}",
        f"To: {to}",
        f"Subject: {_header(subject)}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{digest[:24]}@{domain}>",
        "MIME-Version: 1.0",
    ]
    parts = [(kind, body) for kind, body in (("plain", text), ("html", html)) if body is not None]
    if len(parts) == 1:
        kind, body = parts[0]
        head += [
            f'Content-Type: text/{kind}; charset="UTF-8"',
            "Content-Transfer-Encoding: quoted-printable",
        ]
        return "\r\n".join(head).encode("ascii") + b"\r\n\r\n" + _qp(body or "") + b"\r\n"
    boundary = f"----=_Part_{digest[24:40]}"
    head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    out = "\r\n".join(head).encode("ascii") + b"\r\n\r\n"
    for kind, body in parts:
        out += (
            f'--{boundary}\r\nContent-Type: text/{kind}; charset="UTF-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        out += _qp(body or "") + b"\r\n"
    return out + f"--{boundary}--\r\n".encode("ascii")


def _rows(rows: list[tuple[str, str]]) -> str:
    return "".join(
        f'<tr><td style="color:#6b6b6b">{escape(label)}</td></tr>'
        f'<tr><td style="font-weight:bold">{escape(value)}</td></tr>'
        for label, value in rows
    )


def venmo_mail(payment: SamplePayment, *, html_only: bool = False) -> bytes:
    """Venmo's "<Name> paid you $X" e-mail."""
    amount = _money(payment.amount_cents, "USD")
    dollars, cents = f"{payment.amount_cents // 100:,}", f"{payment.amount_cents % 100:02d}"
    story = f"https://venmo.com/story/{payment.transaction_id}"
    note = payment.memo or ""
    text = (
        f"{payment.payer_name} paid you {amount}\n\n{note}\n\nSee transaction: {story}\n\n"
        f"Transaction details\nDate: {_day(payment.occurred_at)}\n"
        f"Transaction ID: {payment.transaction_id}\n\nMoney credited to your Venmo account.\n"
    )
    html = (
        "<html><head><style>.amount-container{display:flex}</style></head><body>"
        '<table role="presentation" width="100%"><tr><td>'
        f'<h1 style="font-size:20px">{escape(payment.payer_name)} paid you</h1>'
        '<div class="amount-container"><div class="amount-container__text-high">$</div>'
        f'<div class="amount-container__amount-text">{dollars}</div>'
        f'<div class="amount-container__text-high">. {cents}</div></div>'
        f'<p class="transaction-note">{escape(note)}</p>'
        f'<a href="{story}">See transaction</a>'
        f"<table>{_rows([('Date', _day(payment.occurred_at))])}"
        f"{_rows([('Transaction ID', payment.transaction_id)])}</table>"
        "<p>Money credited to your Venmo account.</p></td></tr></table></body></html>"
    )
    return _message(
        sender=PROVIDER_FROM["venmo"],
        to=payment.to_address,
        subject=f"{payment.payer_name} paid you {amount}",
        when=payment.occurred_at,
        text=None if html_only else text,
        html=html,
        seed=f"venmo/{payment.transaction_id}",
    )


def _contact(payment: SamplePayment) -> str | None:
    return payment.payer_email or payment.payer_phone


def zelle_mail(payment: SamplePayment, bank: str, *, html_only: bool = False) -> bytes:
    """The Zelle alert of `bank` (bank_of_america, chase or wells_fargo)."""
    amount = _money(payment.amount_cents, "USD")
    memo = payment.memo or "N/A"
    contact = _contact(payment)
    when = payment.occurred_at
    if bank == "bank_of_america":
        subject = f"{payment.payer_name} sent you {amount}"
        rows = [("Amount", amount), ("Date", f"{when:%B} {when.day}, {when.year}")]
        rows += [("Confirmation", payment.transaction_id), ("Memo", memo)]
        lead = subject
        tail = "The money is now in your account ending in 1234."
        if contact:
            rows.append(("Sent from", contact))
    elif bank == "chase":
        subject = "You received money with Zelle®"
        rows = [("Amount", amount), ("Sent on", _day(when))]
        rows += [("Transaction number", payment.transaction_id), ("Memo", memo)]
        lead = f"Zelle® payment\n{payment.payer_name.upper()} sent you money"
        tail = (
            f"{payment.payer_name.upper()} is registered with Zelle® using {contact}."
            if contact
            else "We deposited the money into your account ending in 1234."
        )
    elif bank == "wells_fargo":
        subject = "You received money with Zelle(R)"
        rows = [("Date", f"{when:%m/%d/%Y}"), ("Amount", amount), ("Memo", memo)]
        rows.append(("Confirmation Code", payment.transaction_id))
        lead = f"{payment.payer_name.upper()} sent you money. Here are the details:"
        tail = "This money has been deposited in your Wells Fargo account XXXXXX1234."
    else:
        raise ValueError("unknown bank")
    if bank == "wells_fargo":
        body_rows = "\n".join(f"*{label} * {value}" for label, value in rows)
    elif bank == "bank_of_america":
        body_rows = "\n".join(f"{label}: {value}" for label, value in rows)
    else:
        body_rows = "\n".join(f"{label}\n{value}" for label, value in rows)
    text = f"{lead}\n\n{body_rows}\n\n{tail}\n"
    html_lead = "".join(f"<p>{escape(line)}</p>" for line in lead.split("\n"))
    html = f"<html><body>{html_lead}<table>{_rows(rows)}</table><p>{escape(tail)}</p></body></html>"
    return _message(
        sender=BANK_FROM[bank],
        to=payment.to_address,
        subject=subject,
        when=when,
        text=None if html_only else text,
        html=html,
        seed=f"zelle/{bank}/{payment.transaction_id}",
    )


def stripe_mail(payment: SamplePayment, *, receipt: bool = False, html_only: bool = False) -> bytes:
    """Stripe's successful-payment notification to the merchant, or the customer receipt."""
    amount = _money(payment.amount_cents, payment.currency)
    with_code = amount if amount.endswith(payment.currency) else f"{amount} {payment.currency}"
    if receipt:
        number = payment.transaction_id
        sender = (payment.business, "receipts+acct_1Example@stripe.com")
        subject = f"Your receipt from {payment.business} #{number}"
        to = payment.payer_email or "customer@example.com"
        lead = f"Receipt from {payment.business}\nReceipt #{number}"
        rows = [("Amount paid", amount), ("Date paid", _day(payment.occurred_at))]
        rows += [("Payment method", "Visa - 4242")]
        if payment.memo:
            rows.append(("Description", payment.memo))
    else:
        sender = PROVIDER_FROM["stripe"]
        who = payment.payer_email or payment.payer_name
        subject = f"[{payment.business}] Payment of {amount} from {who}"
        to = payment.to_address
        lead = f"You received a payment of {with_code} from {payment.payer_name}."
        rows = [("Amount", with_code), ("Customer", payment.payer_name)]
        if payment.payer_email:
            rows.append(("Email", payment.payer_email))
        if payment.memo:
            rows.append(("Description", payment.memo))
        rows += [("Date", f"{_day(payment.occurred_at)}, {payment.occurred_at:%I:%M %p}")]
        rows += [("Payment ID", payment.transaction_id)]
    text = "\n".join([lead, "", *(f"{label}\n{value}" for label, value in rows)]) + "\n"
    html = (
        "<html><body>"
        + "".join(f"<h2>{escape(line)}</h2>" for line in lead.split("\n"))
        + f"<table>{_rows(rows)}</table></body></html>"
    )
    return _message(
        sender=sender,
        to=to,
        subject=subject,
        when=payment.occurred_at,
        text=None if html_only else text,
        html=html,
        seed=f"stripe/{payment.transaction_id}",
    )


def paypal_mail(
    payment: SamplePayment, *, got_money_subject: bool = False, html_only: bool = False
) -> bytes:
    """PayPal's "You've got money" / "<Name> sent you $X USD" e-mail."""
    amount = _money(payment.amount_cents, payment.currency)
    with_code = amount if amount.endswith(payment.currency) else f"{amount} {payment.currency}"
    headline = f"{payment.payer_name} sent you {with_code}"
    subject = "You've got money" if got_money_subject else headline
    lines = [f"Hello, {payment.business}", headline]
    if payment.memo:
        lines += [f"Note from {payment.payer_name}:", f"“{payment.memo}”"]
    lines += ["Transaction details", "Transaction ID", payment.transaction_id]
    lines += ["Transaction date", _day(payment.occurred_at)]
    if payment.payer_email:
        lines += ["Sender", payment.payer_email]
    text = "\n".join(lines) + "\n"
    html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in lines) + "</body></html>"
    return _message(
        sender=PROVIDER_FROM["paypal"],
        to=payment.to_address,
        subject=subject,
        when=payment.occurred_at,
        text=None if html_only else text,
        html=html,
        seed=f"paypal/{payment.transaction_id}",
    )


def write_mail(provider: str, payment: SamplePayment, *, bank: str | None = None) -> bytes:
    """The unsigned e-mail of `provider` (for zelle: of `bank`) reporting `payment`."""
    if provider == "venmo":
        return venmo_mail(payment)
    if provider == "zelle":
        return zelle_mail(payment, bank or "chase")
    if provider == "stripe":
        return stripe_mail(payment)
    if provider == "paypal":
        return paypal_mail(payment)
    raise ValueError("unknown provider")


def signed_mail(
    provider: str, payment: SamplePayment, key: TestKey, *, bank: str | None = None
) -> bytes:
    """`write_mail`, DKIM-signed with `key` for the sender's own domain."""
    return sign(write_mail(provider, payment, bank=bank), key, _sender_domain(provider, bank))


FORGERIES = (
    "unsigned",
    "body_changed",
    "amount_changed",
    "foreign_domain",
    "spoofed_from",
    "unknown_key",
)


def _sender_domain(provider: str, bank: str | None) -> str:
    address = BANK_FROM[bank or "chase"][1] if provider == "zelle" else PROVIDER_FROM[provider][1]
    return address.rsplit("@", 1)[1]


def forged_mail(
    provider: str, payment: SamplePayment, key: TestKey, how: str, *, bank: str | None = None
) -> bytes:
    """A message that must never be trusted, made `how` (one of `FORGERIES`): unsigned; signed and
    then the body or the amount changed; signed by a domain that is not a provider's; signed
    validly by another provider's domain under this provider's From; or under a selector no key
    is published for."""
    raw = write_mail(provider, payment, bank=bank)
    domain = _sender_domain(provider, bank)
    if how == "unsigned":
        return raw
    if how == "body_changed":
        return sign(raw, key, domain).replace(b"</body>", b"<p>Updated.</p></body>", 1)
    if how == "amount_changed":
        real = _money(payment.amount_cents, payment.currency).encode("utf-8")
        fake = _money(payment.amount_cents * 2 + 100, payment.currency).encode("utf-8")
        return sign(raw, key, domain).replace(real, fake)
    if how == "foreign_domain":
        return sign(raw, key, "mailer.example")
    if how == "spoofed_from":
        return sign(raw, key, "stripe.com" if provider != "stripe" else "venmo.com")
    if how == "unknown_key":
        return sign(raw, key, domain, selector="retired2019")
    raise ValueError("unknown forgery")
