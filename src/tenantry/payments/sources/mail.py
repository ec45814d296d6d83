"""A payment e-mail reduced to what the provider parsers read: sender, subject, date and text.

This module decodes MIME (multipart, quoted-printable, base64, any charset Python knows, RFC 2047
headers) and renders HTML parts as lines of text. It is lenient with broken input and never
raises on it; it knows no provider and does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email import policy
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape

__all__ = [
    "Mail",
    "field",
    "find_date",
    "occurred_at",
    "read_mail",
]

_MAX_PARTS = 64
_MAX_TEXT = 2_000_000
_MAX_HEADER = 10_000
_MAX_LINES = 2_000  # notifications have a few dozen lines; fields past this are not read


@dataclass(frozen=True)
class Mail:
    """The parts of an e-mail the parsers read. `lines`: the text part's lines followed by the
    HTML part rendered to text; `html_lines`: the HTML part alone (may be empty)."""

    from_address: str | None
    from_domain: str | None
    from_count: int
    to_address: str | None
    subject: str
    date: datetime | None
    lines: tuple[str, ...]
    html_lines: tuple[str, ...]
    html: str


_BLOCK_TAG = re.compile(
    r"</?(?:address|article|br|dd|div|dt|footer|h[1-6]|header|hr|li|p|section|table|tbody|td|"
    r"th|thead|tr|ul|ol|center|blockquote)\b[^<>]*>",
    re.IGNORECASE,
)
_HIDDEN_OPEN = re.compile(r"<!--|<(style|script|head|title)\b", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")  # [^<>]: a "<" never closed costs linear time


def _visible(html: str) -> str:
    """`html` without comments and style, script, head and title elements (linear time, also on
    unclosed elements: everything after one is dropped)."""
    lower = html.lower()
    kept: list[str] = []
    position = 0
    while match := _HIDDEN_OPEN.search(html, position):
        kept.append(html[position : match.start()])
        closing = "-->" if match.group(0) == "<!--" else f"</{match.group(1).lower()}"
        end = lower.find(closing, match.end())
        if end < 0:
            return "".join(kept)
        position = lower.find(">", end) + 1 or len(html)
    kept.append(html[position:])
    return "".join(kept)


def _clean_lines(text: str) -> tuple[str, ...]:
    lines: list[str] = []
    for line in text.replace("\r", "\n").split("\n"):
        if len(lines) >= _MAX_LINES:
            break
        cleaned = " ".join(line.replace("\u00a0", " ").replace("\u200b", "").split())
        cleaned = cleaned.strip("*_ ").strip()
        if cleaned:
            lines.append(cleaned)
    return tuple(lines)


def html_to_lines(html: str) -> tuple[str, ...]:
    """The visible text of an HTML part, one block element per line."""
    text = _BLOCK_TAG.sub("\n", _visible(html[:_MAX_TEXT]))
    return _clean_lines(unescape(_TAG.sub("", text)))


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    if isinstance(value, Header):  # raw 8-bit bytes in the header (RFC 6532 UTF-8 headers)
        chunks = []
        for chunk, charset in decode_header(value):
            if isinstance(chunk, str):
                chunks.append(chunk)
                continue
            try:
                chunks.append(chunk.decode(charset or "utf-8", "replace"))
            except LookupError:  # "unknown-8bit" and charsets Python does not know
                chunks.append(chunk.decode("utf-8", "replace"))
        return "".join(chunks)[:_MAX_HEADER]
    text = str(value)[:_MAX_HEADER]
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return text


def _payload_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload[:_MAX_TEXT].decode(charset, errors="replace")
    except LookupError:
        return payload[:_MAX_TEXT].decode("latin-1")


def _bodies(message: Message) -> tuple[str, str]:
    plain: list[str] = []
    html: list[str] = []
    for count, part in enumerate(message.walk()):
        if count >= _MAX_PARTS:
            break
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(_payload_text(part))
        elif kind == "text/html":
            html.append(_payload_text(part))
    return "\n".join(plain), "\n".join(html)


def read_mail(raw: bytes) -> Mail:
    """Decode `raw`; broken parts are read as far as they go."""
    message = BytesParser(policy=policy.compat32).parsebytes(raw)
    froms = message.get_all("From") or []
    addresses = getaddresses([_header(message, "From")]) if froms else []
    from_address = addresses[0][1].strip().lower() if addresses and addresses[0][1] else None
    from_domain = None
    if from_address and "@" in from_address:
        from_domain = from_address.rsplit("@", 1)[1].strip(">. ") or None
    to = getaddresses([_header(message, "To")])
    to_address = to[0][1].strip().lower() if to and to[0][1] else None
    sent: datetime | None = None
    try:
        parsed = parsedate_to_datetime(_header(message, "Date"))
        sent = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        sent = None
    plain, html = _bodies(message)
    html_lines = html_to_lines(html) if html else ()
    # The text part first; the rendered HTML after it, for fields a terse text part leaves out.
    lines = (*_clean_lines(plain), *html_lines) if plain.strip() else html_lines
    return Mail(
        from_address=from_address,
        from_domain=from_domain,
        from_count=max(len(froms), sum(1 for _, address in addresses if address)),
        to_address=to_address,
        subject=" ".join(_header(message, "Subject").split()),
        date=sent,
        lines=lines,
        html_lines=html_lines,
        html=html,
    )


def _label_key(text: str) -> str:
    return " ".join(text.lower().replace("*", " ").replace(":", " ").split())


def field(
    lines: tuple[str, ...], *labels: str, accept: Callable[[str], object] | None = None
) -> str | None:
    """The value of a labelled field: "Label: value", "Label value" on one line, or the label
    alone on a line and the value on the next (how table cells render). Labels are tried in
    order; with `accept`, a value it finds falsy is skipped ("Amount and date may vary")."""
    for label in (_label_key(label) for label in labels):
        for index, line in enumerate(lines):
            key = _label_key(line)
            value = None
            if key == label and index + 1 < len(lines):
                value = lines[index + 1].strip()
            elif key.startswith(label + " ") and line.lower().startswith(label):
                value = line.strip("* ")[len(label) :].lstrip(" *:").strip() or None
            if value is not None and (accept is None or accept(value)):
                return value
    return None


_MONTH_DATE = re.compile(
    r"\b(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+"
    r"(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\b"
)
_DAY_MONTH_DATE = re.compile(
    r"\b(?P<day>\d{1,2})\.?\s+(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
    r"[a-z]*\.?,?\s+(?P<year>\d{4})\b"
)
_NUMERIC_DATE = re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b")
_ISO_DATE = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b")
_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec"
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES.split(), 1)}


def find_date(text: str | None) -> date | None:
    """A calendar date written as "Mar 3, 2026", "March 3, 2026", "03/03/2026" (US order) or
    "2026-03-03"; None when there is none or it does not exist."""
    if not text:
        return None
    try:
        if match := _MONTH_DATE.search(text):
            month = _MONTHS[match["mon"][:3].lower()]
            return date(int(match["year"]), month, int(match["day"]))
        if match := _DAY_MONTH_DATE.search(text):
            month = _MONTHS[match["mon"][:3].lower()]
            return date(int(match["year"]), month, int(match["day"]))
        if match := _ISO_DATE.search(text):
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        if match := _NUMERIC_DATE.search(text):
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None
    return None


def occurred_at(body_date: date | None, header_date: datetime | None) -> datetime | None:
    """When the payment happened: the Date header when it falls on the date the body states
    (or the body states none), else noon UTC of the body's date."""
    if body_date is None:
        return header_date
    if header_date is not None and header_date.date() == body_date:
        return header_date
    return datetime.combine(body_date, time(12, 0), tzinfo=UTC)
