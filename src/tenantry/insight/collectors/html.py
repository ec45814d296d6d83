"""Reading a business's web page: title, meta tags, links, JSON-LD and visible text, with the
standard library's forgiving `html.parser`, and the signals the website collector looks for.

Pure functions over bytes; no I/O. Broken HTML, broken JSON-LD and wrong charsets are read as
far as they go, never raised. Owner names found here are personal data: callers must keep them
out of fact values and claims (they go to a sealed excerpt only).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Link", "Page", "is_html", "owner_in_json_ld", "owner_in_text", "parse_page"]

_MAX_TEXT = 300_000
_MAX_LINKS = 3000
_MAX_JSON_LD = 20
_BLOCKS = frozenset(
    {"address", "article", "br", "dd", "div", "dt", "footer", "header", "li", "p", "section"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "td", "th", "tr"}
)


@dataclass(frozen=True)
class Link:
    href: str
    text: str

    @property
    def host(self) -> str:
        try:
            return (urlsplit(self.href).hostname or "").lower()
        except ValueError:
            return ""


@dataclass
class Page:
    title: str | None = None
    description: str | None = None
    viewport: str | None = None
    links: list[Link] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # script, iframe and form targets
    json_ld: list[Any] = field(default_factory=list)  # the parsed blocks
    json_ld_broken: int = 0
    text: str = ""  # visible text, one line per block element

    def items(self) -> Iterator[dict[str, Any]]:
        """Every JSON-LD object at the top of a block, in a list, or in an `@graph`."""
        stack = list(self.json_ld)
        seen = 0
        while stack and seen < 500:
            item = stack.pop(0)
            seen += 1
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)
                yield item


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._text: list[str] = []
        self._size = 0
        self._skip = 0  # inside script/style/template
        self._in_title = False
        self._title: list[str] = []
        self._json_ld: list[str] | None = None
        self._link: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "title" and self.page.title is None:
            self._in_title = True
        elif tag == "meta":
            name = (a.get("name") or a.get("property") or "").lower()
            if name in ("description", "og:description") and a.get("content", "").strip():
                self.page.description = self.page.description or a["content"].strip()
            elif name == "viewport":
                self.page.viewport = a.get("content", "")
        elif tag == "a" and a.get("href"):
            self._link = (a["href"].strip(), [])
        elif tag == "script" and a.get("type", "").lower().startswith("application/ld+json"):
            self._json_ld = []
        elif tag in ("script", "style", "template", "noscript"):
            self._skip += 1
        if tag in ("script", "iframe", "form", "link", "img") and len(self.page.sources) < 500:
            target = a.get("src") or a.get("action") or (a.get("href") if tag == "link" else "")
            if target:
                self.page.sources.append(target.strip())
        if tag in _BLOCKS:
            self._add_text("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("a", "title", "script", "style"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            if self.page.title is None:
                self.page.title = " ".join("".join(self._title).split())
        elif tag == "a" and self._link is not None:
            href, words = self._link
            if len(self.page.links) < _MAX_LINKS:
                self.page.links.append(Link(href, " ".join("".join(words).split())[:200]))
            self._link = None
        elif tag == "script" and self._json_ld is not None:
            self._read_json_ld("".join(self._json_ld))
            self._json_ld = None
        elif tag in ("script", "style", "template", "noscript") and self._skip:
            self._skip -= 1
        if tag in _BLOCKS:
            self._add_text("\n")

    def handle_data(self, data: str) -> None:
        if self._json_ld is not None:
            self._json_ld.append(data)
        elif self._in_title:
            self._title.append(data)
        elif not self._skip:
            if self._link is not None:
                self._link[1].append(data)
            self._add_text(data)

    def _add_text(self, data: str) -> None:
        if self._size < _MAX_TEXT:
            self._text.append(data)
            self._size += len(data)

    def _read_json_ld(self, raw: str) -> None:
        if len(self.page.json_ld) >= _MAX_JSON_LD:
            return
        try:
            self.page.json_ld.append(json.loads(raw.strip().rstrip(";"), strict=False))
        except (ValueError, RecursionError):
            self.page.json_ld_broken += 1

    def finish(self) -> Page:
        if self._in_title and self.page.title is None:
            self.page.title = " ".join("".join(self._title).split())
        lines = ("".join(self._text)).splitlines()
        self.page.text = "\n".join(" ".join(line.split()) for line in lines if line.strip())
        return self.page


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)


def _decode(body: bytes, content_type: str | None) -> str:
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    if charset is None:
        found = _META_CHARSET.search(body[:4096])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def is_html(body: bytes, content_type: str | None) -> bool:
    """Whether a body can be read as a web page (binary and other types are not parsed)."""
    if b"\x00" in body[:2048]:
        return False
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind:
        return kind in ("text/html", "application/xhtml+xml")
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--"))


def parse_page(body: bytes, content_type: str | None) -> Page:
    reader = _Reader()
    try:
        reader.feed(_decode(body, content_type))
        reader.close()
    except (AssertionError, ValueError, RecursionError):
        pass  # html.parser gives up on some malformed markup; keep what it read
    return reader.finish()


_OWNER_LINE = re.compile(
    r"^(?:inhaber(?:in)?|inh\.|owner|proprietor|geschäftsführer(?:in)?|geschäftsführung"
    r"|vertreten durch|vertretungsberechtigt(?:er|e)?(?: gesellschafter(?:in)?)?)"
    r"\s*[:.]?\s*(?P<rest>.*)$",
    re.I,
)
_COMPANY = re.compile(r"\b(gmbh|mbh|ag|ug|kg|ohg|gbr|ltd|inc|llc|e\.\s?v\.|co\.)\b", re.I)
_NAME_PARTS = frozenset({"von", "van", "de", "der", "den", "zu", "da", "di", "del", "la", "le"})


def _person_name(text: str) -> str | None:
    candidate = re.split(r"[,;|/(]| - | \u2013 ", text, maxsplit=1)[0].strip()
    words = candidate.split()
    if not 2 <= len(words) <= 5 or len(candidate) > 80 or _COMPANY.search(candidate):
        return None
    for word in words:
        if word.lower() in _NAME_PARTS:
            continue
        if not (word[0].isupper() and all(c.isalpha() or c in "-.'" for c in word)):
            return None
    return candidate


def owner_in_text(text: str) -> str | None:
    """The line naming a person as owner ("Inhaber: Erika Mustermann"), or None. A label alone
    on its line takes the name from the next line, as imprints often write it."""
    lines = text.splitlines()
    for i, line in enumerate(lines[:5000]):
        found = _OWNER_LINE.match(line.strip())
        if found is None:
            continue
        rest = found.group("rest").strip()
        if not rest and i + 1 < len(lines):
            rest = lines[i + 1].strip()
            line = f"{line.strip()} {rest}"
        if _person_name(rest):
            return line.strip()[:200]
    return None


_PEOPLE_KEYS = ("founder", "founders", "owner", "owners", "employee", "employees")


def _type_names(item: dict[str, Any]) -> list[str]:
    raw = item.get("@type")
    names = raw if isinstance(raw, list) else [raw]
    return [n.rsplit("/", 1)[-1] for n in names if isinstance(n, str)]


def owner_in_json_ld(page: Page) -> str | None:
    """'founder: <name>' for the first Person JSON-LD names as founder, owner or employee."""
    for item in page.items():
        for key in _PEOPLE_KEYS:
            values = item.get(key)
            for person in values if isinstance(values, list) else [values]:
                if not isinstance(person, dict) or "Person" not in _type_names(person):
                    continue
                name = person.get("name")
                if isinstance(name, str) and name.strip():
                    return f"{key}: {' '.join(name.split())}"[:200]
    return None
