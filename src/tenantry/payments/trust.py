"""Who may send payment notifications, and whether an e-mail really comes from them (DKIM).

This module owns the allow-list of provider domains (one place: the e-mail parsers dispatch by
it and the verifier checks against it) and the `DkimVerifier`, which checks a message's DKIM
signatures with dkimpy against public keys from DNS or from the keys file named by
`TENANTRY_DKIM_KEYS_FILE`. It does not interpret what a message says (the parsers do) and never
raises on hostile input: every outcome is a `Trust` verdict.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dkim
import dns.exception
import dns.resolver

from tenantry.config import Settings
from tenantry.errors import ConfigurationError
from tenantry.payments.notices import Trust, TrustLevel

__all__ = [
    "SENDERS",
    "DkimVerifier",
    "KeyLookup",
    "Sender",
    "domain_under",
    "parse_keys_file",
    "sender_for_domain",
]

KeyLookup = Callable[[str], bytes | None]
"""Finds the TXT value of `<selector>._domainkey.<domain>` (lower case, no trailing dot)."""


@dataclass(frozen=True)
class Sender:
    """A party whose e-mails report incoming payments, and the domains it sends and signs from."""

    provider: str  # venmo | zelle | stripe | paypal
    domains: tuple[str, ...]
    bank: str | None = None  # for Zelle: the bank that sends the alert

    def root_of(self, domain: str) -> str | None:
        """The allow-listed domain `domain` is (a subdomain of), or None."""
        for root in self.domains:
            if domain_under(domain, root):
                return root
        return None


# The allow-list. A notice is verified only when a DKIM signature of one of these domains
# verifies and the From domain falls under the same allow-listed domain.
SENDERS: tuple[Sender, ...] = (
    Sender("venmo", ("venmo.com",)),
    Sender(
        "paypal",
        (
            "paypal.com",
            "paypal.co.uk",
            "paypal.de",
            "paypal.fr",
            "paypal.es",
            "paypal.it",
            "paypal.ca",
            "paypal.com.au",
        ),
    ),
    Sender("stripe", ("stripe.com",)),
    Sender("zelle", ("bankofamerica.com",), bank="bank_of_america"),
    Sender("zelle", ("chase.com",), bank="chase"),
    Sender("zelle", ("wellsfargo.com",), bank="wells_fargo"),
)


def domain_under(domain: str, root: str) -> bool:
    """Whether `domain` is `root` or a subdomain of it (both lower case)."""
    return domain == root or domain.endswith("." + root)


def sender_for_domain(domain: str | None) -> Sender | None:
    """The allow-listed sender whose domains cover `domain` (the From address's domain)."""
    if not domain:
        return None
    for sender in SENDERS:
        if sender.root_of(domain) is not None:
            return sender
    return None


_KEY_NAME = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\._domainkey\.[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_keys_file(text: str, *, source: str = "TENANTRY_DKIM_KEYS_FILE") -> dict[str, bytes]:
    """Read the lines `<selector>._domainkey.<domain> <TXT value>`; blank lines and `#` comments
    are ignored. A TXT value may be written as DNS zone files do, in quoted chunks."""
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, _, value = stripped.partition(" ")
        name = name.lower().rstrip(".")
        value = value.strip()
        if value.startswith('"'):
            value = "".join(_QUOTED.findall(value))
        if not _KEY_NAME.match(name) or "p=" not in value.replace(" ", ""):
            raise ConfigurationError(
                f"{source} line {number}: expected '<selector>._domainkey.<domain> "
                "v=DKIM1; k=rsa; p=<public key>'"
            )
        keys[name] = value.encode("ascii", "replace")
    return keys


def _dns_lookup(name: str) -> bytes | None:
    try:
        answer = dns.resolver.resolve(name + ".", "TXT", lifetime=5.0)
    except (dns.exception.DNSException, OSError):
        return None
    for record in answer:
        value = b"".join(record.strings)
        if value:
            return value
    return None


# Headers a message carries at most once (RFC 5322 3.6, RFC 2045). DKIM signs the last instance
# of a header, a reader takes the first: a second Subject put above a genuinely signed message
# ("... paid you $800.00") would verify and be read. Such a message is forged.
_ONCE = frozenset(
    {
        b"from",
        b"sender",
        b"reply-to",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
    }
)

_TAG = re.compile(rb"(?:^|;)\s*([a-z]+)\s*=\s*([^;]*)", re.IGNORECASE)
_MAX_SIGNATURES = 5


def _tags(header_value: bytes) -> dict[bytes, bytes]:
    return {name.lower(): re.sub(rb"\s+", b"", value) for name, value in _TAG.findall(header_value)}


class DkimVerifier:
    """Checks the DKIM signatures of a payment e-mail against a sender's allow-listed domains."""

    def __init__(self, lookup: KeyLookup | None = None) -> None:
        self._lookup = lookup or _dns_lookup
        self._cache: dict[str, bytes | None] = {}

    @classmethod
    def from_keys(cls, keys: Mapping[str, bytes]) -> DkimVerifier:
        """Keys given as a mapping `<selector>._domainkey.<domain>` -> TXT value; no DNS."""
        table = {name.lower().rstrip("."): value for name, value in keys.items()}
        return cls(table.get)

    @classmethod
    def from_keys_file(cls, path: Path) -> DkimVerifier:
        """Keys from a keys file (see `parse_keys_file`); DNS is not consulted."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise ConfigurationError(
                "TENANTRY_DKIM_KEYS_FILE cannot be read as a UTF-8 text file"
            ) from None
        return cls.from_keys(parse_keys_file(text))

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimVerifier:
        """The keys file when `TENANTRY_DKIM_KEYS_FILE` is set, DNS otherwise."""
        if settings.dkim_keys_file is not None:
            return cls.from_keys_file(settings.dkim_keys_file)
        return cls()

    def _key(self, name: str) -> bytes | None:
        if name not in self._cache:
            self._cache[name] = self._lookup(name)
        return self._cache[name]

    def check(self, raw: bytes, sender: Sender, from_domain: str | None) -> Trust:
        """The verdict on `raw`, claimed to come from `sender` with a From of `from_domain`."""
        try:
            return self._check(raw, sender, (from_domain or "").lower())
        except Exception:  # hostile input must end as a verdict, never as an exception
            return Trust(TrustLevel.FORGED, "the DKIM signature cannot be read")

    def _check(self, raw: bytes, sender: Sender, from_domain: str) -> Trust:
        from_root = sender.root_of(from_domain) if from_domain else None
        if from_root is None:
            return Trust(TrustLevel.FORGED, "the From address is not the provider's domain")
        message = dkim.DKIM(raw, minkey=1024)
        headers = [value for name, value in message.headers if name.lower() == b"dkim-signature"]
        if not headers:
            return Trust(TrustLevel.UNSIGNED, "no DKIM signature")
        counts = Counter(name.strip().lower() for name, _value in message.headers)
        if any(counts[name] > 1 for name in _ONCE):
            return Trust(TrustLevel.FORGED, "a header that occurs once occurs twice", from_root)
        outcomes: list[Trust] = []
        for index, header in enumerate(headers[:_MAX_SIGNATURES]):
            outcome = self._one(message, index, header, sender, from_root)
            if outcome.verified:
                return outcome
            outcomes.append(outcome)
        for level in (TrustLevel.FORGED, TrustLevel.UNKNOWN_KEY):
            for outcome in outcomes:
                if outcome.level is level and outcome.domain is not None:
                    return outcome
        return Trust(TrustLevel.FORGED, "signed only by a domain that is not the provider's")

    def _one(
        self, message: dkim.DKIM, index: int, header: bytes, sender: Sender, from_root: str
    ) -> Trust:
        tags = _tags(header)
        domain = tags.get(b"d", b"").decode("ascii", "replace").lower().rstrip(".")
        selector = tags.get(b"s", b"").decode("ascii", "replace").lower()
        root = sender.root_of(domain) if domain else None
        if root is None:
            return Trust(TrustLevel.FORGED, "signed by a domain that is not the provider's")
        if root != from_root:
            return Trust(
                TrustLevel.FORGED, "the From domain does not align with the signature", root
            )
        signed = {name.strip().lower() for name in tags.get(b"h", b"").split(b":")}
        if not {b"from", b"subject"} <= signed:
            return Trust(TrustLevel.FORGED, "the signature does not cover From and Subject", root)
        if b"l" in tags:
            return Trust(TrustLevel.FORGED, "the signature covers only part of the body", root)
        key = self._key(f"{selector}._domainkey.{domain}")
        if key is None:
            return Trust(TrustLevel.UNKNOWN_KEY, f"no public key for the signature of {root}", root)
        try:
            valid = message.verify(idx=index, dnsfunc=lambda _name, timeout=5: key)
        except dkim.DKIMException:
            valid = False
        if not valid:
            return Trust(TrustLevel.FORGED, f"the DKIM signature of {root} does not verify", root)
        return Trust(TrustLevel.VERIFIED, f"DKIM signature of {root} verified", root)
