"""The one line the CLI prints for a failure says what is wrong and never a secret or a value."""

from __future__ import annotations

import psycopg
import pytest

from tenantry.cli.failures import describe
from tenantry.config import get_settings
from tenantry.db.provider import reason as postgres_reason
from tenantry.errors import ConfigurationError, DatabaseUnavailableError


@pytest.mark.parametrize(
    "message",
    [
        'connection failed: connection to server at "db.example.org" failed: '
        "FATAL: password authentication failed (password=hunter22 host=db.example.org)",
        "invalid connection option in postgresql://app:hunter22@db.example.org/tenantry",
        "password = 'hunter22' is wrong\nsecond line",
    ],
)
def test_the_postgres_reason_is_one_line_without_the_password(message: str) -> None:
    reason = postgres_reason(RuntimeError(message))
    assert "hunter22" not in reason and "\n" not in reason
    assert not reason.startswith("connection failed:")


def test_an_invalid_setting_names_the_variable_and_not_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TENANTRY_POOL_SIZE", "abc-secretish")
    monkeypatch.setenv("TENANTRY_RATE_LIMIT_PER_MINUTE", "-5")
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    line = describe(caught.value)
    assert line.startswith("invalid setting TENANTRY_POOL_SIZE: ")
    assert "TENANTRY_RATE_LIMIT_PER_MINUTE" in line
    assert "abc-secretish" not in line and "-5" not in line and "\n" not in line


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (FileExistsError(17, "File exists", "/srv/home"), "cannot use /srv/home as a folder"),
        (PermissionError(13, "Permission denied", "/srv/home/pg"), "Permission denied"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not UTF-8"),
        (ValueError("customer jane.doe@example.com"), "internal error (ValueError)"),
    ],
)
def test_known_failures_read_as_sentences_and_others_by_their_type(
    exc: BaseException, words: str
) -> None:
    line = describe(exc)
    assert words in line and "jane.doe" not in line


def test_an_unreachable_server_gives_libpqs_reason() -> None:
    try:
        try:
            raise psycopg.OperationalError(
                'connection failed: connection to server at "db.example.org" failed: FATAL:  '
                'password authentication failed for user "app" (password=hunter22)\nmore'
            )
        except psycopg.OperationalError as driver:
            raise DatabaseUnavailableError("cannot connect to PostgreSQL: x") from driver
    except DatabaseUnavailableError as exc:
        line = describe(exc)
    assert line.startswith("PostgreSQL cannot be reached: connection to server at")
    assert "password authentication failed" in line and "hunter22" not in line
