"""`FetchedKeys` reuses a subject key unwrapped from the same bytes, and only from those."""

from __future__ import annotations

import time
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenantry.privacy.crypto import field_aad, new_key, seal
from tenantry.privacy.keys import subject_key_aad
from tenantry.privacy.master import OpenedSubjectKeys
from tenantry.privacy.sealing import FetchedKeys

TENANT = uuid.UUID("0190f3a2-7c1e-7b4e-9a51-3c2b1d0e9f00")
SUBJECT = uuid.UUID("0190f3a2-7c1e-7b4e-9a51-3c2b1d0e9f01")
ROW = uuid.UUID("0190f3a2-7c1e-7b4e-9a51-3c2b1d0e9f02")


def _subject_key() -> tuple[bytes, bytes, bytes]:
    """A wrapping key, a subject key and the subject key wrapped (version 1 of each)."""
    wrapping, key = new_key(), new_key()
    wrapped = seal(wrapping, key, subject_key_aad(str(TENANT), SUBJECT, 1), version=1)
    return wrapping, key, wrapped


def _email(key: bytes) -> bytes:
    return seal(key, b"erika@example.com", field_aad("crm.leads", "email", TENANT, ROW), version=1)


def _open(keys: FetchedKeys, ciphertext: bytes) -> str | None:
    return keys.open_row("crm.leads", ROW, SUBJECT, [("email", ciphertext)])["email"]


def test_the_same_wrapped_bytes_open_without_the_wrapping_key() -> None:
    wrapping, key, wrapped = _subject_key()
    opened = OpenedSubjectKeys()
    first = FetchedKeys(TENANT, {1: wrapping}, opened)
    first.add_subject(SUBJECT, 1, 1, wrapped)
    # A later read: no wrapping key at hand, the unwrap from the first read serves.
    later = FetchedKeys(TENANT, {}, opened)
    later.add_subject(SUBJECT, 1, 1, wrapped)
    assert _open(later, _email(key)) == "erika@example.com"


def test_other_bytes_or_a_destroyed_key_do_not_use_what_was_opened() -> None:
    wrapping, key, wrapped = _subject_key()
    opened = OpenedSubjectKeys()
    FetchedKeys(TENANT, {1: wrapping}, opened).add_subject(SUBJECT, 1, 1, wrapped)
    _, _, rewrapped = _subject_key()
    with pytest.raises(KeyError):  # not held: it needs the wrapping key
        FetchedKeys(TENANT, {}, opened).add_subject(SUBJECT, 1, 1, rewrapped)
    destroyed = FetchedKeys(TENANT, {}, opened)
    destroyed.add_subject(SUBJECT, 1, 1, None)  # the database returned no key
    assert _open(destroyed, _email(key)) is None


def test_opened_keys_expire() -> None:
    opened = OpenedSubjectKeys(ttl_seconds=0.01)
    opened.put(("k",), AESGCM(new_key()))
    assert opened.get(("k",)) is not None
    time.sleep(0.02)
    assert opened.get(("k",)) is None and len(opened) == 0


def test_an_expired_key_that_is_never_asked_for_again_is_dropped() -> None:
    """An erased person's key: the database returns NULL, nobody looks the entry up again."""
    opened = OpenedSubjectKeys(ttl_seconds=0.01)
    opened.put(("erased",), AESGCM(new_key()))
    time.sleep(0.02)
    opened.get(("someone else",))
    assert len(opened) == 0
