"""Shared fixtures of the payment source tests: one DKIM test key for the session (key generation
is the slow part), a verifier reading it from a keys file, and a sample payment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tenantry.demo.payment_mail import SamplePayment, TestKey, keys_file_text, make_test_key
from tenantry.payments.trust import DkimVerifier

MESSAGES = Path(__file__).parent / "messages"


@pytest.fixture(scope="session")
def test_key() -> TestKey:
    return make_test_key()


@pytest.fixture(scope="session")
def keys_file(test_key: TestKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dkim") / "keys.txt"
    path.write_text(keys_file_text(test_key), encoding="utf-8")
    return path


@pytest.fixture
def verifier(keys_file: Path) -> DkimVerifier:
    return DkimVerifier.from_keys_file(keys_file)


@pytest.fixture
def payment() -> SamplePayment:
    return SamplePayment(
        amount_cents=123_456,
        payer_name="Erika Mustermann",
        occurred_at=datetime(2026, 3, 3, 15, 4, tzinfo=UTC),
        transaction_id="4012345678901234567",
        payer_email="erika@example.com",
        memo="Deposit BK-7QX2 party",
    )
