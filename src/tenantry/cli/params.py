"""Parsers and shared options of the CLI: a malformed value is a usage error (exit 2).

Typer runs these parsers while it reads the command line, before a command opens the database,
so every option of a kind (tenant, id, date) is checked the same way and the same message names
the option. Whether a well-formed value exists (a tenant slug, a row) is for the command to
find out, and an unknown one is an operation that failed (exit 1).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import typer

__all__ = [
    "EARLIEST_DATE",
    "OutputFormat",
    "anchor_date",
    "as_of_date",
    "assignment",
    "etag_value",
    "format_option",
    "location_ref",
    "tenant_option",
    "tenant_ref",
    "uuid_value",
    "web_url",
]

# Nothing tenantry stores predates this; a date before it is a typo (1900 for 2019, say).
EARLIEST_DATE = date(2000, 1, 1)

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class OutputFormat(StrEnum):
    """How a command prints what it lists: a table for people, JSON for scripts."""

    TABLE = "table"
    JSON = "json"


def uuid_value(value: str) -> uuid.UUID:
    """An id (UUID), as every id option takes it."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise typer.BadParameter(
            "must be a UUID, such as 0190a5c2-7d4e-7c3b-9a1f-3e5d2c1b0a99"
        ) from None


def tenant_ref(value: str) -> str:
    """A tenant's UUID or slug, as given; anything else is refused before the database."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        if _SLUG.fullmatch(value):
            return value
    raise typer.BadParameter("give the tenant's UUID or its slug (see `tenantry tenants list`)")


def location_ref(value: str) -> str:
    """A location's UUID or slug, as given; anything else is refused before the database."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        truncated = re.match(r"[0-9a-fA-F]{8}-", value) is not None  # a UUID cut short
        if not truncated and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", value):
            return value
    raise typer.BadParameter("give the location's UUID or its slug")


def assignment(value: str) -> str:
    """A `field=value` pair of `--set` (the value may be empty or `null`)."""
    if re.fullmatch(r"[a-z][a-z0-9_]{0,62}=.*", value, flags=re.DOTALL):
        return value
    raise typer.BadParameter("must be field=value, such as city=Berlin (null clears a field)")


def etag_value(value: str) -> str:
    """An ETag as `show` prints it (quotes optional), or `*` for any version."""
    if value == "*":
        return value
    bare = value.strip('"')
    if re.fullmatch(r"[0-9a-f]{32}", bare):
        return f'"{bare}"'
    raise typer.BadParameter("must be the ETag `show` printed (32 hex digits) or *")


def web_url(value: str) -> str:
    """An http(s) URL without spaces (a business's website)."""
    if len(value) <= 500 and re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
        return value
    raise typer.BadParameter("must be an http:// or https:// URL")


def _date(value: str, earliest: date, latest: date, what: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("must be a date (YYYY-MM-DD)") from None
    if not earliest <= day <= latest:
        raise typer.BadParameter(
            f"{what} must lie between {earliest.isoformat()} and {latest.isoformat()}"
        )
    return day


def as_of_date(value: str) -> date:
    """A snapshot date: no earlier than 2000-01-01, no later than tomorrow (UTC).

    Tomorrow is the default the pipeline picks after today's events, hence the one day ahead.
    """
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return _date(value, EARLIEST_DATE, tomorrow, "the snapshot date")


def anchor_date(value: str) -> date:
    """The 'now' of a generated dataset: from 2000-01-01 up to a year ahead."""
    latest = datetime.now(UTC).date() + timedelta(days=366)
    return _date(value, EARLIEST_DATE, latest, "the anchor")


def tenant_option(help_text: str = "The tenant's UUID or slug.", *, required: bool = True) -> Any:
    """The `--tenant` option every tenant-bound command takes."""
    return typer.Option(
        ... if required else None, "--tenant", parser=tenant_ref, metavar="TENANT", help=help_text
    )


def format_option() -> Any:
    """The `--format table|json` option of every command that prints a table."""
    return typer.Option(
        OutputFormat.TABLE, "--format", help="table (for people) or json (for scripts)."
    )
