"""Sealing, associated data, key versions, normalisation, blind indexes and pseudonyms."""

from __future__ import annotations

import hmac
import uuid

import pytest

from tenantry.errors import ValidationError
from tenantry.privacy.crypto import (
    DecryptionError,
    KeyedHmac,
    blind_index,
    derive_key,
    field_aad,
    key_version_of,
    new_key,
    normalise_email,
    normalise_phone,
    open_,
    pseudonym,
    seal,
)
from tenantry.privacy.master import LocalMasterKey

ROW, OTHER_ROW, TENANT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_sealed_value_opens_with_the_same_key_and_place() -> None:
    key = new_key()
    aad = field_aad("crm.customers", "email", TENANT, ROW)
    ct = seal(key, b"erika@example.org", aad, version=3)
    assert b"erika" not in ct
    assert key_version_of(ct) == 3
    assert open_(key, ct, aad) == b"erika@example.org"


def test_ciphertext_copied_to_another_row_or_column_does_not_decrypt() -> None:
    key = new_key()
    ct = seal(key, b"secret", field_aad("crm.customers", "email", TENANT, ROW), version=1)
    with pytest.raises(DecryptionError):
        open_(key, ct, field_aad("crm.customers", "email", TENANT, OTHER_ROW))
    with pytest.raises(DecryptionError):
        open_(key, ct, field_aad("crm.customers", "phone", TENANT, ROW))


def test_tampered_header_or_wrong_key_does_not_decrypt() -> None:
    key, aad = new_key(), b"x"
    ct = seal(key, b"secret", aad, version=1)
    tampered = ct[:2] + (2).to_bytes(4, "big") + ct[6:]
    with pytest.raises(DecryptionError):
        open_(key, tampered, aad)
    with pytest.raises(DecryptionError):
        open_(new_key(), ct, aad)
    with pytest.raises(DecryptionError):
        key_version_of(b"XX" + ct[2:])


def test_same_plaintext_seals_differently_each_time() -> None:
    key = new_key()
    assert seal(key, b"a", b"", version=1) != seal(key, b"a", b"", version=1)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Erika.Example@EXAMPLE.org ", "erika.example@example.org"),
        ("\uff45\uff52\uff49\uff4b\uff41@example.org", "erika@example.org"),  # full-width
    ],
)
def test_emails_are_normalised_nfkc_and_lower_case(raw: str, normal: str) -> None:
    assert normalise_email(raw) == normal


@pytest.mark.parametrize("raw", ["", "no-at-sign", "a@b", "two words@example.org"])
def test_malformed_emails_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalise_email(raw)


@pytest.mark.parametrize(
    "raw", ["030 1234567", "+49 30 1234567", "+49 (0)30 123-4567", "0049301234567"]
)
def test_phones_are_normalised_to_e164(raw: str) -> None:
    assert normalise_phone(raw) == "+49301234567"


@pytest.mark.parametrize("raw", ["12", "not a number", "+49 1"])
def test_impossible_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalise_phone(raw)


def test_blind_index_depends_on_the_tenant_and_field_key() -> None:
    tenant_a, tenant_b = new_key(), new_key()
    email = normalise_email("erika@example.org")
    a = blind_index(derive_key(tenant_a, "blind-index:email"), email)
    assert a == blind_index(derive_key(tenant_a, "blind-index:email"), email)
    assert a != blind_index(derive_key(tenant_b, "blind-index:email"), email)
    assert a != blind_index(derive_key(tenant_a, "blind-index:phone"), email)


def test_pseudonym_is_a_keyed_hmac_not_a_bare_hash() -> None:
    import hashlib

    subject = uuid.uuid4()
    p = pseudonym(new_key(), subject)
    assert p != hashlib.sha256(f"subject:{subject}".encode()).hexdigest()
    assert len(p) == 64


def test_master_key_wraps_with_associated_data() -> None:
    master = LocalMasterKey(new_key(), "test")
    wrapped = master.wrap(b"k" * 32, b"tenant-key|t|wrapping|1")
    assert master.unwrap(wrapped, b"tenant-key|t|wrapping|1") == b"k" * 32
    with pytest.raises(DecryptionError):
        master.unwrap(wrapped, b"tenant-key|t|wrapping|2")


@pytest.mark.parametrize("key", [b"", b"k" * 32, b"\xff" * 64, bytes(range(100))])
@pytest.mark.parametrize("value", ["", "client:123.456", "bücher@example.org", "x" * 300])
def test_a_keyed_hmac_equals_the_standard_hmac(key: bytes, value: str) -> None:
    expected = hmac.digest(key, value.encode(), "sha256").hex()
    hasher = KeyedHmac(key)
    assert hasher.hexdigest(value) == expected
    assert hasher.hexdigest(value) == expected  # the precomputed state is not consumed
