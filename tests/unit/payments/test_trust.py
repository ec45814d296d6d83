"""DKIM trust: verified only with a valid signature of the provider's own domain aligned with
the From address; changed, foreign, spoofed, unsigned and unknown-key messages are flagged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tenantry.config import Settings
from tenantry.demo import payment_mail as pm
from tenantry.errors import ConfigurationError
from tenantry.payments.notices import Notice, Rejected, TrustLevel
from tenantry.payments.sources import parse_email
from tenantry.payments.trust import SENDERS, DkimVerifier, parse_keys_file, sender_for_domain


def _trust(raw: bytes, verifier: DkimVerifier) -> TrustLevel:
    result = parse_email(raw, verifier=verifier)
    assert isinstance(result, Notice), result
    return result.trust.level


def test_a_valid_signature_from_the_keys_file_verifies(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    raw = pm.signed_mail("venmo", payment, test_key)
    result = parse_email(raw, verifier=verifier)
    assert isinstance(result, Notice)
    assert result.trust.level is TrustLevel.VERIFIED
    assert result.trust.domain == "venmo.com"


def test_a_changed_body_is_forged(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    raw = pm.signed_mail("venmo", payment, test_key).replace(b"party", b"PARTY")
    assert _trust(raw, verifier) is TrustLevel.FORGED


def test_an_amount_changed_after_signing_is_forged(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    raw = pm.signed_mail("zelle", payment, test_key, bank="chase")
    changed = raw.replace(b"$1,234.56", b"$9,234.56")
    assert changed != raw
    result = parse_email(changed, verifier=verifier)
    assert isinstance(result, Notice)
    assert result.amount_cents == 923_456
    assert result.trust.level is TrustLevel.FORGED


def test_a_changed_subject_is_forged(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    raw = pm.signed_mail("venmo", payment, test_key).replace(b"paid you $1,234", b"paid you $9,234")
    assert _trust(raw, verifier) is TrustLevel.FORGED


def test_a_signature_of_a_domain_that_is_not_the_providers_is_forged(
    payment: pm.SamplePayment, test_key: pm.TestKey
) -> None:
    raw = pm.sign(pm.venmo_mail(payment), test_key, "attacker.example")
    verifier = DkimVerifier.from_keys(
        {f"{test_key.selector}._domainkey.attacker.example": test_key.txt.encode()}
    )
    result = parse_email(raw, verifier=verifier)
    assert isinstance(result, Notice)
    assert result.trust.level is TrustLevel.FORGED
    assert result.trust.domain is None
    assert "attacker" not in result.trust.reason


def test_a_spoofed_from_with_a_valid_signature_of_another_provider_is_forged(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    # Signed genuinely by stripe.com, but the From claims Venmo.
    raw = pm.sign(pm.venmo_mail(payment), test_key, "stripe.com")
    assert _trust(raw, verifier) is TrustLevel.FORGED


def test_a_provider_signature_with_a_from_of_another_provider_domain_does_not_align(
    payment: pm.SamplePayment, test_key: pm.TestKey
) -> None:
    raw = pm.sign(
        pm.paypal_mail(dataclasses.replace(payment, transaction_id="3VN76117B87011620")).replace(
            b"service@paypal.com", b"service@paypal.de"
        ),
        test_key,
        "paypal.com",
    )
    verifier = DkimVerifier.from_keys(
        {f"{test_key.selector}._domainkey.paypal.com": test_key.txt.encode()}
    )
    result = parse_email(raw, verifier=verifier)
    assert isinstance(result, Notice)
    assert result.trust.level is TrustLevel.FORGED
    assert "align" in result.trust.reason


def test_an_unsigned_message_is_unsigned(payment: pm.SamplePayment, verifier: DkimVerifier) -> None:
    assert _trust(pm.paypal_mail(payment), verifier) is TrustLevel.UNSIGNED


def test_a_selector_missing_from_the_keys_file_is_an_unknown_key(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    raw = pm.sign(pm.venmo_mail(payment), test_key, "venmo.com", selector="rotated2027")
    assert _trust(raw, verifier) is TrustLevel.UNKNOWN_KEY


def test_a_signature_by_another_key_of_the_same_selector_is_forged(
    payment: pm.SamplePayment, verifier: DkimVerifier
) -> None:
    other = pm.make_test_key()
    assert _trust(pm.sign(pm.venmo_mail(payment), other, "venmo.com"), verifier) is (
        TrustLevel.FORGED
    )


def test_a_second_valid_signature_of_the_provider_wins(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    esp_signed = pm.sign(pm.venmo_mail(payment), test_key, "mailer.example")
    raw = pm.sign(esp_signed, test_key, "venmo.com")
    assert _trust(raw, verifier) is TrustLevel.VERIFIED


def test_a_body_length_limited_signature_is_not_trusted(
    payment: pm.SamplePayment, test_key: pm.TestKey, verifier: DkimVerifier
) -> None:
    import dkim

    raw = pm.venmo_mail(payment)
    header = dkim.sign(
        raw,
        test_key.selector.encode(),
        b"venmo.com",
        test_key.private_pem,
        length=True,
        include_headers=[b"from", b"subject", b"date"],
    )
    assert _trust(header + raw, verifier) is TrustLevel.FORGED


def test_garbage_dkim_headers_never_raise(
    payment: pm.SamplePayment, verifier: DkimVerifier
) -> None:
    for header in (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=venmo.com; s=tenantry-test; b=!!!; bh=???\r\n",
        b"DKIM-Signature: \xff\xfe\x00garbage\r\n",
        b"DKIM-Signature: d=venmo.com\r\n",
    ):
        level = _trust(header + pm.venmo_mail(payment), verifier)
        assert level in (TrustLevel.FORGED, TrustLevel.UNKNOWN_KEY)


def test_the_keys_file_reads_comments_blank_lines_and_quoted_chunks(test_key: pm.TestKey) -> None:
    p_value = test_key.txt.split("p=", 1)[1]
    text = (
        "# keys of the providers\n\n"
        f"{test_key.selector}._domainkey.venmo.com {test_key.txt}\n"
        f'S2._DOMAINKEY.Stripe.com. "v=DKIM1; k=rsa; " "p={p_value}"\n'
    )
    keys = parse_keys_file(text)
    assert set(keys) == {f"{test_key.selector}._domainkey.venmo.com", "s2._domainkey.stripe.com"}
    assert keys["s2._domainkey.stripe.com"] == test_key.txt.encode()


@pytest.mark.parametrize(
    "line",
    [
        "venmo.com v=DKIM1; k=rsa; p=MIIB",
        "s1._domainkey.venmo.com",
        "s1._domainkey.venmo.com v=DKIM1; k=rsa",
        "s1 ._domainkey.venmo.com v=DKIM1; p=MIIB",
    ],
)
def test_a_malformed_keys_file_is_one_clear_configuration_error(line: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_keys_file(f"# ok\n{line}\n")
    message = str(caught.value)
    assert "line 2" in message
    assert "\n" not in message


def test_the_verifier_comes_from_the_settings(keys_file: Path, tmp_path: Path) -> None:
    verifier = DkimVerifier.from_settings(Settings(dkim_keys_file=keys_file))
    assert isinstance(verifier, DkimVerifier)
    with pytest.raises(ConfigurationError):
        DkimVerifier.from_settings(Settings(dkim_keys_file=tmp_path / "missing.txt"))


def test_with_a_keys_file_dns_is_never_consulted(
    payment: pm.SamplePayment,
    test_key: pm.TestKey,
    keys_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dns.resolver

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("DNS consulted")

    monkeypatch.setattr(dns.resolver, "resolve", refuse)
    verifier = DkimVerifier.from_settings(Settings(dkim_keys_file=keys_file))
    raw = pm.sign(pm.venmo_mail(payment), test_key, "venmo.com", selector="unknown")
    assert _trust(raw, verifier) is TrustLevel.UNKNOWN_KEY


def test_every_allow_listed_sender_is_found_by_its_domain_and_subdomains() -> None:
    for sender in SENDERS:
        for domain in sender.domains:
            assert sender_for_domain(domain) == sender
            assert sender_for_domain("mail." + domain) == sender
    assert sender_for_domain("venmo.com.attacker.example") is None
    assert sender_for_domain("notvenmo.com") is None


def test_hostile_bytes_are_rejected_never_raised(verifier: DkimVerifier) -> None:
    samples = [
        b"",
        b"\x00\xff" * 5000,
        b"From: venmo@venmo.com\r\n" + b"X-Long: " + b"a" * 2_000_000 + b"\r\n\r\n",
        b"From: venmo@venmo.com\r\nFrom: service@paypal.com\r\nSubject: x paid you $5\r\n\r\n",
        b"From: =?bogus-charset?Q?Venmo?= <venmo@venmo.com>\r\nSubject: =?x?B?!!?=\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\nFrom: venmo@venmo.com\r\n\r\n--x\r\n" * 3,
        b"From: venmo@venmo.com\r\nSubject: Eve paid you $5.00\r\nContent-Type: text/html;"
        b" charset=nonexistent\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64",
    ]
    for raw in samples:
        result = parse_email(raw, verifier=verifier)
        assert isinstance(result, Rejected | Notice)
        if isinstance(result, Notice):
            assert result.trust.level is not TrustLevel.VERIFIED


def test_without_a_keys_file_keys_come_from_dns_once_per_selector(
    payment: pm.SamplePayment, test_key: pm.TestKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dns.resolver

    asked: list[str] = []

    class Record:
        strings = (test_key.txt[:40].encode(), test_key.txt[40:].encode())

    def resolve(name: str, kind: str, lifetime: float) -> list[Record]:
        asked.append(f"{name} {kind}")
        if name.startswith(test_key.selector):
            return [Record()]
        raise dns.resolver.NXDOMAIN

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    verifier = DkimVerifier.from_settings(Settings(dkim_keys_file=None))
    raw = pm.signed_mail("venmo", payment, test_key)
    assert _trust(raw, verifier) is TrustLevel.VERIFIED
    assert _trust(raw, verifier) is TrustLevel.VERIFIED
    assert asked == [f"{test_key.selector}._domainkey.venmo.com. TXT"]
    other = pm.sign(pm.venmo_mail(payment), test_key, "venmo.com", selector="gone")
    assert _trust(other, verifier) is TrustLevel.UNKNOWN_KEY


EXPECTED_FORGERY_LEVEL = {
    "unsigned": TrustLevel.UNSIGNED,
    "body_changed": TrustLevel.FORGED,
    "amount_changed": TrustLevel.FORGED,
    "foreign_domain": TrustLevel.FORGED,
    "spoofed_from": TrustLevel.FORGED,
    "unknown_key": TrustLevel.UNKNOWN_KEY,
}


@pytest.mark.parametrize("how", pm.FORGERIES)
@pytest.mark.parametrize(
    ("provider", "bank"),
    [("venmo", None), ("zelle", "wells_fargo"), ("stripe", None), ("paypal", None)],
)
def test_every_forgery_the_benchmark_uses_is_flagged(
    provider: str,
    bank: str | None,
    how: str,
    payment: pm.SamplePayment,
    test_key: pm.TestKey,
    verifier: DkimVerifier,
) -> None:
    sample = dataclasses.replace(payment, transaction_id="3VN76117B87011620")
    raw = pm.forged_mail(provider, sample, test_key, how, bank=bank)
    assert raw != pm.signed_mail(provider, sample, test_key, bank=bank)
    assert _trust(raw, verifier) is EXPECTED_FORGERY_LEVEL[how]
