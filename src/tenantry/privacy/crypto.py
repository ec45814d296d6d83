"""Cryptographic primitives, without I/O: AES-256-GCM sealing with a versioned header, key
wrapping, HKDF derivation, blind indexes and pseudonyms over normalised values.

Ciphertext layout: b"T1" | key version (uint32, big endian) | 12-byte nonce | ciphertext+tag.
The associated data binds a ciphertext to where it belongs (table, column, tenant, row), so a
ciphertext copied elsewhere does not decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import unicodedata

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tenantry.domain.contact import normalise_email
from tenantry.errors import TenantryError, ValidationError

__all__ = [
    "KEY_BYTES",
    "DecryptionError",
    "KeyDestroyedError",
    "KeyedHmac",
    "blind_index",
    "derive_key",
    "field_aad",
    "key_version_of",
    "new_key",
    "normalise_email",
    "normalise_phone",
    "open_",
    "open_with",
    "pseudonym",
    "seal",
]

KEY_BYTES = 32
_MAGIC = b"T1"
_HEADER = struct.Struct(">2sI")
_NONCE = 12


class DecryptionError(TenantryError):
    """The value cannot be decrypted (wrong key, destroyed key, or moved ciphertext)."""


class KeyDestroyedError(DecryptionError):
    """The data subject's key has been destroyed (crypto-shredded)."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, aad: bytes, *, version: int) -> bytes:
    """Encrypt with AES-256-GCM; the header (magic, key version) is authenticated too."""
    header = _HEADER.pack(_MAGIC, version)
    nonce = os.urandom(_NONCE)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def key_version_of(ciphertext: bytes) -> int:
    magic, version = _HEADER.unpack_from(ciphertext)
    if magic != _MAGIC:
        raise DecryptionError("not a tenantry ciphertext")
    return int(version)


def open_(key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Decrypt what `seal` produced for the same associated data."""
    key_version_of(ciphertext)
    return open_with(AESGCM(key), ciphertext, aad)


def open_with(cipher: AESGCM, ciphertext: bytes, aad: bytes) -> bytes:
    """`open_` with the key's cipher already built (many values under one key)."""
    header, nonce = ciphertext[: _HEADER.size], ciphertext[_HEADER.size : _HEADER.size + _NONCE]
    try:
        return cipher.decrypt(nonce, ciphertext[_HEADER.size + _NONCE :], header + aad)
    except InvalidTag as exc:
        raise DecryptionError() from exc


def field_aad(table: str, column: str, tenant_id: object, row_id: object) -> bytes:
    return f"{table}|{column}|{tenant_id}|{row_id}".encode()


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose (e.g. the blind index of one field) via HKDF-SHA256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()
    ).derive(secret)


def normalise_phone(phone: str, region: str = "DE") -> str:
    """E.164 (+4930123456) via libphonenumber; national numbers are read for `region`."""
    try:
        parsed = phonenumbers.parse(unicodedata.normalize("NFKC", phone), region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("not a valid phone number") from exc
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValidationError("not a valid phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def blind_index(key: bytes, normalised: str) -> bytes:
    """Keyed HMAC-SHA256 of a normalised value: equality lookups without storing the value."""
    return hmac.new(key, normalised.encode(), hashlib.sha256).digest()


_BLOCK = 64  # SHA-256's block size: HMAC pads the key to it
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class KeyedHmac:
    """HMAC-SHA256 under one key, for hashing many values (RFC 2104, as `hmac.digest`).

    The padded key blocks are hashed once; each value then costs two copies of a hash state
    instead of a fresh key set-up, about four times cheaper for short values.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def hexdigest(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def pseudonym(key: bytes, subject_id: object) -> str:
    """A stable analytics pseudonym for a subject: hex HMAC under the tenant's key."""
    return hmac.new(key, f"subject:{subject_id}".encode(), hashlib.sha256).hexdigest()
