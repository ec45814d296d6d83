"""What every collector shares: building facts, reading a JSON response without trusting it,
naming an API's error without its message, and reading the timestamps the platforms send.

Pure functions over Retrievals; no I/O. Nothing here raises for hostile input: a body that
cannot be read turns the Retrieval into a failed one (its `error` set), never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tenantry.insight.facts import Fact, FactValue, Retrieval

__all__ = [
    "Clock",
    "FactList",
    "api_error",
    "as_bool",
    "as_int",
    "as_number",
    "days_since",
    "extract",
    "failed",
    "json_body",
    "parse_time",
    "utc_now",
]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FactList:
    """The facts one extractor draws from one retrieval."""

    extractor: str
    version: str
    facts: list[Fact] = field(default_factory=list)

    def add(
        self,
        key: str,
        value: FactValue,
        claim: str,
        excerpt: str | None = None,
        *,
        personal: bool = False,
    ) -> None:
        self.facts.append(
            Fact(
                key=key,
                value=value,
                claim=claim,
                extractor=self.extractor,
                extractor_version=self.version,
                excerpt=excerpt[:500] if excerpt else excerpt,
                personal=personal,
            )
        )


def extract(
    retrieval: Retrieval, read: Callable[[dict[str, Any]], list[Fact]]
) -> tuple[Retrieval, list[Fact]]:
    """The facts `read` draws from a retrieval's JSON object; a body that is no JSON object,
    or of a shape `read` did not expect, fails the retrieval instead of raising."""
    retrieval, data = json_body(retrieval)
    if data is None:
        return retrieval, []
    try:
        return retrieval, read(data)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError, RecursionError):
        return failed(retrieval, "response has an unexpected shape"), []


def failed(retrieval: Retrieval, reason: str) -> Retrieval:
    """The retrieval, marked failed (keeps a reason it already had)."""
    return retrieval if retrieval.error else replace(retrieval, error=reason)


def json_body(retrieval: Retrieval) -> tuple[Retrieval, dict[str, Any] | None]:
    """The JSON object of a successful retrieval, or the retrieval marked failed and None."""
    if not retrieval.ok:
        return replace(retrieval, error=api_error(retrieval)), None
    if retrieval.truncated:
        return failed(retrieval, "response cut at the size limit; not parsed"), None
    try:
        data = json.loads(retrieval.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return failed(retrieval, "response is not JSON"), None
    if not isinstance(data, dict):
        return failed(retrieval, "response is not a JSON object"), None
    return retrieval, data


_WORD = re.compile(r"[A-Za-z0-9_]{1,40}")


def _word(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


def api_error(retrieval: Retrieval) -> str:
    """The retrieval's error with the API's error code (Google `status`, Graph `code` and
    `type`) added; never the API's message, which may quote what was sent."""
    base = retrieval.error or "failed"
    try:
        data = json.loads(retrieval.body) if retrieval.body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return base
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        status, code, kind = (
            _word(err.get("status")),
            _word(err.get("code")),
            _word(err.get("type")),
        )
        if kind is not None and code is not None:  # Graph API
            return f"{base}: Graph error {code} ({kind})"
        if status is not None:  # Google APIs
            return f"{base} {status}"
    elif isinstance(err, str) and _word(err):  # OAuth token endpoints
        return f"{base} {err}"
    return base


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) < 1e12 else None  # no NaN, no huge


def as_int(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit() and len(value) < 13:
        return int(value)  # Google sends int64 fields as strings
    number = as_number(value)
    return int(number) if number is not None else None


def as_bool(value: Any) -> bool:
    """Whether a JSON field holds something (a non-empty string, list or object, or true)."""
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value) if isinstance(value, bool | list | dict) else value is not None


_FRACTION = re.compile(r"(\.\d{6})\d+")
_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 / ISO 8601 timestamp as the platforms write them ("...Z", "+0000",
    nanoseconds), as an aware datetime; None for anything else."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    text = _OFFSET.sub(r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def days_since(now: datetime, then: datetime) -> int:
    return max(0, (now - then).days)
