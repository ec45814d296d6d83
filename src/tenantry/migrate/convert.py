"""Value conversions: PostgreSQL text output of a legacy column -> a canonical column's value.

Every source value arrives as text (what `::text` and pgoutput both deliver), so one set of
parsers serves the snapshot load, change capture and verification alike. A value that cannot
be converted raises `UnconvertibleError` with a reason that names what was wrong but never the
value itself (it may be personal data). Legacy ciphertext (Fernet) is opened here with keys the
user supplies; a value that is not a Fernet token is taken as plaintext, because legacy columns
mix both. Card numbers in free text are masked. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tenantry.domain.contact import normalise_email
from tenantry.errors import ValidationError
from tenantry.privacy.crypto import normalise_phone

__all__ = [
    "CONVERSIONS",
    "Context",
    "LegacyKeyError",
    "UnconvertibleError",
    "extract_path",
    "mask_card_numbers",
    "open_fernet",
    "parse_array",
    "parse_timestamp",
    "split_name",
]


class UnconvertibleError(ValueError):
    """A value the mapping's conversion cannot turn into the canonical type."""


class LegacyKeyError(ValidationError):
    """The legacy ciphertext cannot be opened with the supplied keys."""


@dataclass
class Context:
    """What conversions need beyond the value: the mapping's defaults and the legacy keys."""

    timezone: str = "UTC"
    phone_region: str = "DE"
    fernet_keys: Sequence[str] = ()
    _fernet: MultiFernet | None = field(default=None, init=False, repr=False)

    def zone(self, name: str | None = None) -> ZoneInfo:
        try:
            return ZoneInfo(name or self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"unknown time zone {name or self.timezone!r}") from exc

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            if not self.fernet_keys:
                raise LegacyKeyError(
                    "the mapping opens Fernet ciphertext but no key was given "
                    "(--fernet-key or TENANTRY_MIGRATE_FERNET_KEYS)"
                )
            try:
                self._fernet = MultiFernet([Fernet(k.strip()) for k in self.fernet_keys])
            except (ValueError, TypeError) as exc:
                raise LegacyKeyError(
                    "a Fernet key must be 32 url-safe base64-encoded bytes"
                ) from exc
        return self._fernet


# -- legacy ciphertext and JSON --------------------------------------------------------------

_FERNET = re.compile(r"^gAAAAA[A-Za-z0-9_\-]{50,}={0,2}$")


def open_fernet(value: str, ctx: Context) -> str:
    """Plaintext of a Fernet token; a value that is no token is plaintext already."""
    text = value.strip()
    if not _FERNET.match(text):
        return value
    try:
        return ctx.fernet.decrypt(text.encode()).decode()
    except InvalidToken as exc:
        raise UnconvertibleError("is legacy ciphertext none of the supplied keys opens") from exc


def extract_path(value: str, paths: Sequence[str]) -> str | None:
    """The first non-empty value at one of the dotted `paths` in a JSON document."""
    try:
        doc = json.loads(value)
    except json.JSONDecodeError as exc:
        raise UnconvertibleError("is not valid JSON") from exc
    if isinstance(doc, str):  # JSON stored as a JSON string (double-encoded)
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError:
            return None
    for path in paths:
        node: Any = doc
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = None
                break
        if node is None or node == "":
            continue
        return node if isinstance(node, str) else json.dumps(node, ensure_ascii=False)
    return None


# -- scalar parsers --------------------------------------------------------------------------

_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%Y-%m-%d",
)


_PG_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?)?")


def parse_timestamp(value: str, zone: ZoneInfo) -> datetime:
    """An aware datetime from PostgreSQL output, ISO 8601, epoch seconds or common local
    formats; values without a zone are read in `zone`."""
    if _PG_TIMESTAMP.fullmatch(value):  # what PostgreSQL prints: the common case, parsed fast
        text = value if len(value) < 3 or value[-3] not in "+-" else value + ":00"
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        if 1900 <= parsed.year <= 2200:
            return parsed
    text = value.strip()
    if not text:
        raise UnconvertibleError("is empty")
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        seconds = float(text) / (1000 if len(text.split(".")[0]) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    iso = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d{2}-\d{2} ", text) else text
    if iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    iso = re.sub(r"([+-]\d{2})$", r"\1:00", iso)  # PostgreSQL prints +02 for +02:00
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise UnconvertibleError("is not a recognisable timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    if not 1900 <= parsed.year <= 2200:
        raise UnconvertibleError("is a timestamp outside 1900-2200")
    return parsed


def _date(value: str, ctx: Context, spec_zone: str | None) -> date:
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return parse_timestamp(text, ctx.zone(spec_zone)).date()


def _decimal(value: str) -> Decimal:
    text = value.strip().replace("€", "").replace("$", "").replace("EUR", "").strip()
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d+", text) or re.fullmatch(r"-?\d+,\d+", text):
        text = text.replace(".", "").replace(",", ".")  # German notation: 1.234,50
    text = text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise UnconvertibleError("is not a number") from exc
    if not number.is_finite():
        raise UnconvertibleError("is not a finite number")
    return number


def _int(value: str) -> int:
    number = _decimal(value)
    if number != number.to_integral_value():
        raise UnconvertibleError("is not a whole number")
    return int(number)


def _cents(number: Decimal) -> int:
    cents = (number * 100).quantize(Decimal(1))
    if cents != number * 100:
        raise UnconvertibleError("has fractions of a cent")
    if abs(cents) > 10**12:
        raise UnconvertibleError("is out of range for an amount")
    return int(cents)


_TRUE = {"t", "true", "1", "yes", "y", "ja", "j", "on", "wahr"}
_FALSE = {"f", "false", "0", "no", "n", "nein", "off", "falsch"}


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UnconvertibleError("is not a boolean")


def parse_array(value: str) -> list[str]:
    """A one-dimensional PostgreSQL array literal (or a JSON array) as strings."""
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnconvertibleError("is not a valid array") from exc
        return [str(i) for i in items if i is not None]
    if not (text.startswith("{") and text.endswith("}")):
        return [p.strip() for p in text.split(",") if p.strip()]
    out: list[str] = []
    for match in re.finditer(r'"((?:[^"\\]|\\.)*)"|([^,{}]+)', text[1:-1]):
        quoted, bare = match.groups()
        if quoted is not None:
            out.append(re.sub(r"\\(.)", r"\1", quoted))
        elif bare.strip() and bare.strip().upper() != "NULL":
            out.append(bare.strip())
    return out


def split_name(value: str) -> tuple[str | None, str | None]:
    """(first, last) of a full name: "Last, First" or "First [Middle] Last"."""
    text = " ".join(value.split())
    if not text:
        return None, None
    if "," in text:
        last, first = (p.strip() for p in text.split(",", 1))
        return first or None, last or None
    parts = text.split(" ")
    if len(parts) == 1:
        return parts[0], None
    return " ".join(parts[:-1]), parts[-1]


def _slug(value: str) -> str:
    text = unicodedata.normalize("NFKD", value.replace("ß", "ss"))
    text = text.encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(text) < 2:
        raise UnconvertibleError("gives no usable slug")
    return text[:60].rstrip("-")


_CARD_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_MANY_DIGITS = re.compile(r"\d[\d -]{11,}\d")


def mask_card_numbers(text: str) -> str:
    """Free text with every Luhn-valid 13-19 digit run replaced: card numbers never enter."""
    if not _MANY_DIGITS.search(text):
        return text

    def repl(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "[card number removed]" if 13 <= len(digits) <= 19 and _luhn(digits) else match[0]

    return _CARD_RUN.sub(repl, text)


def _email(value: str) -> str:
    try:
        return normalise_email(value)
    except ValidationError as exc:
        raise UnconvertibleError("is not a valid e-mail address") from exc


def _phone(value: str, ctx: Context) -> str:
    text = value.strip()
    try:
        return normalise_phone(text, ctx.phone_region)
    except ValidationError as exc:
        raise UnconvertibleError("is not a valid phone number") from exc


# name -> (text, context, spec timezone) -> value. `enum` is handled by the caller (it needs
# the spec's table of values); `first_name`/`last_name` split a full name.
Conversion = Callable[[str, Context, str | None], Any]

CONVERSIONS: dict[str, Conversion] = {
    "text": lambda v, c, z: v,
    "int": lambda v, c, z: _int(v),
    "bool": lambda v, c, z: _bool(v),
    "uuid": lambda v, c, z: _uuid(v),
    "date": lambda v, c, z: _date(v, c, z),
    "timestamp": lambda v, c, z: parse_timestamp(v, c.zone(z)),
    "epoch": lambda v, c, z: parse_timestamp(v, c.zone(z)),
    "euros_to_cents": lambda v, c, z: _cents(_decimal(v)),
    "numeric_to_cents": lambda v, c, z: _cents(_decimal(v)),
    "cents": lambda v, c, z: _int(v),
    "enum": lambda v, c, z: v,
    "email": lambda v, c, z: _email(v),
    "phone": lambda v, c, z: _phone(v, c),
    "slug": lambda v, c, z: _slug(v),
    "first_name": lambda v, c, z: split_name(v)[0],
    "last_name": lambda v, c, z: split_name(v)[1],
    "json": lambda v, c, z: _json(v),
    "array": lambda v, c, z: parse_array(v),
    "lower": lambda v, c, z: v.strip().lower(),
    "upper": lambda v, c, z: v.strip().upper(),
}


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError as exc:
        raise UnconvertibleError("is not a UUID") from exc


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise UnconvertibleError("is not valid JSON") from exc


def enum_value(value: str, values: dict[str, str], default: str | None) -> str:
    """A free-text status through the mapping's table (case and spacing ignored)."""
    key = " ".join(value.strip().lower().replace("_", " ").replace("-", " ").split())
    for candidate in (value.strip().lower(), key, key.replace(" ", "_")):
        if candidate in values:
            return values[candidate]
    if default is not None:
        return default
    raise UnconvertibleError("is a status the mapping does not know")


BY_KIND: dict[str, str] = {
    "uuid": "uuid",
    "bool": "bool",
    "timestamp": "timestamp",
    "date": "date",
    "int": "int",
    "json": "json",
    "array": "array",
}
