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
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import typer

from tenantry.domain.money import MAX_CENTS
from tenantry.models.enums import ResourceKind

__all__ = [
    "ARM_KEY",
    "EARLIEST_DATE",
    "OutputFormat",
    "anchor_date",
    "arm_key",
    "as_of_date",
    "assignment",
    "calendar_date",
    "etag_value",
    "format_option",
    "instant",
    "location_ref",
    "money",
    "resource_need",
    "tenant_option",
    "tenant_ref",
    "time_of_day",
    "uuid_value",
    "web_url",
    "week_interval",
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


def calendar_date(value: str) -> date:
    """A day of a calendar (opening hours, closures, capacity): 2000-01-01 to 2100-12-31."""
    return _date(value, EARLIEST_DATE, date(2100, 12, 31), "the date")


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


def instant(value: str) -> datetime:
    """A moment in ISO 8601 with its UTC offset (2026-12-06T10:00:00+00:00, or ...Z)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("must be an ISO 8601 time, such as 2026-12-06T10:00:00Z") from None
    if moment.tzinfo is None:
        raise typer.BadParameter("needs a timezone (a UTC offset), such as 2026-12-06T10:00:00Z")
    earliest = datetime(EARLIEST_DATE.year, 1, 1, tzinfo=UTC)
    if not earliest <= moment <= datetime.now(UTC) + timedelta(days=3660):
        raise typer.BadParameter("must lie between 2000 and ten years from now")
    return moment.astimezone(UTC)


_HHMM = r"([0-4]\d):([0-5]\d)"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def time_of_day(value: str) -> str:
    """A time of day, HH:MM from 00:00 to 48:00 (past midnight for hours that run over)."""
    match = re.fullmatch(_HHMM, value)
    if match is None or int(match[1]) * 60 + int(match[2]) > 2880:
        raise typer.BadParameter("must be a time of day HH:MM (00:00 to 48:00)")
    return value


def week_interval(value: str) -> str:
    """One opening interval of the week, `mon=09:00-12:00`, returned as `1=09:00-12:00`."""
    match = re.fullmatch(rf"({'|'.join(_WEEKDAYS)})=({_HHMM})-({_HHMM})", value.lower())
    if match is None:
        raise typer.BadParameter("must be WEEKDAY=HH:MM-HH:MM, such as mon=09:00-12:00")
    opens, closes = time_of_day(match[2]), time_of_day(match[5])
    return f"{_WEEKDAYS.index(match[1]) + 1}={opens}-{closes}"


def resource_need(value: str) -> str:
    """What a service needs: `KIND=QUANTITY` (staff=1, lift=1, chef=2)."""
    match = re.fullmatch(r"([a-z]+)=(\d{1,3})", value.lower())
    if match is None or match[1] not in {k.value for k in ResourceKind}:
        kinds = ", ".join(k.value for k in ResourceKind)
        raise typer.BadParameter(f"must be KIND=QUANTITY with a kind of {kinds}, such as staff=1")
    if not 1 <= int(match[2]) <= 100:
        raise typer.BadParameter("the quantity lies between 1 and 100")
    return f"{match[1]}={int(match[2])}"


def money(value: str) -> Decimal:
    """An amount in the currency's units, such as 12.50 (positive, at most two decimals)."""
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise typer.BadParameter("must be an amount such as 12.50") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise typer.BadParameter("must be a positive amount with at most two decimals")
    if amount * 100 > MAX_CENTS:
        raise typer.BadParameter("is larger than any amount tenantry records")
    return amount


ARM_KEY = r"[a-z0-9][a-z0-9_.:-]{0,79}"


def arm_key(value: str) -> str:
    """A slot or arm key: lower-case letters, digits and `_.:-`, at most 80 characters."""
    if re.fullmatch(ARM_KEY, value):
        return value
    raise typer.BadParameter("expected a key of lower-case letters, digits and _.:- (max 80)")
