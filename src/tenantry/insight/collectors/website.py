"""The website collector: fetches a location's own website (and its imprint, if the home page
links one on the same site) and states what a visitor and a search engine find there.

Owns the `web.*` fact keys. Must not: fetch but through the Fetcher it is given (which guards
against private addresses), fetch more than the home page and one imprint page, or put an
owner's name anywhere but the excerpt of a personal fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from tenantry.insight.collectors.common import FactList, failed
from tenantry.insight.collectors.html import (
    Link,
    Page,
    is_html,
    owner_in_json_ld,
    owner_in_text,
    parse_page,
)
from tenantry.insight.facts import Collected, Fact, Fetcher, Retrieval, Target
from tenantry.models.enums import EvidenceSource

__all__ = ["WebsiteCollector", "home_facts", "imprint_facts"]

HOME = ("website-html", "1")
IMPRINT = ("website-imprint", "1")

Signal = tuple[bool, str | None]  # the finding and the excerpt it rests on

_BUSINESS_TYPES = frozenset(
    {"LocalBusiness", "FoodEstablishment", "Restaurant", "AutoRepair", "AutomotiveBusiness"}
    | {"Bakery", "BarOrPub", "Brewery", "CafeOrCoffeeShop", "FastFoodRestaurant"}
    | {"IceCreamShop", "Winery", "Distillery", "ProfessionalService"}
)
_BUSINESS_SUFFIXES = ("Business", "Restaurant", "Establishment", "Store", "Shop", "Repair")
_MENU = ("speisekarte", "menu", "menü", "getränkekarte", "mittagskarte", "/karte")
_BOOKING = ("reserv", "booking", "book a table", "book-a-table", "book now", "buchen", "termin")
_BOOKING_WIDGETS = (
    "opentable.",
    "quandoo.",
    "thefork.",
    "resmio.",
    "formitable.",
    "sevenrooms.",
    "tablein.",
    "bookatable.",
    "resy.com",
    "calendly.com",
    "simplybook.",
    "etermin.",
    "shore.com",
    "gastronovi.",
    "aleno.",
    "zenchef.",
    "tablecheck.",
)
_IMPRINT = ("impressum", "imprint", "legal notice", "legal-notice", "mentions-legales")
_HOURS_WORDS = ("öffnungszeiten", "opening hours", "opening times", "business hours", "geöffnet")
_DAY = r"(?:mo|di|mi|do|fr|sa|so|mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
_TIME = r"\d{1,2}[:.]\d{2}"
_DASH = "(?:-|\u2013|bis|to)"  # hyphen, en dash, words
_HOURS = re.compile(rf"\b{_DAY}(?:\s*{_DASH}\s*{_DAY})?\s*:?\s*{_TIME}\s*{_DASH}\s*{_TIME}")


def _shown(link: Link) -> str:
    """A link as an excerpt: its text and the host (or path) it points to; never the path of
    another site (a profile path may carry the owner's name)."""
    try:
        parts = urlsplit(link.href)
        where = parts.hostname or parts.path[:80]
    except ValueError:
        where = "?"
    return f'link "{link.text[:60]}" to {where}'


def _first(page: Page, words: tuple[str, ...]) -> Link | None:
    return next(
        (k for k in page.links if any(w in f"{k.href} {k.text}".lower() for w in words)), None
    )


def _types(item: dict[str, Any]) -> list[str]:
    raw = item.get("@type")
    return [
        t.rsplit("/", 1)[-1]
        for t in (raw if isinstance(raw, list) else [raw])
        if isinstance(t, str)
    ]


def _business(page: Page) -> list[dict[str, Any]]:
    return [
        item
        for item in page.items()
        if any(t in _BUSINESS_TYPES or t.endswith(_BUSINESS_SUFFIXES) for t in _types(item))
    ]


def _description(page: Page) -> Signal:
    return page.description is not None, (page.description or "")[:200] or None


def _viewport(page: Page) -> Signal:
    content = page.viewport
    found = content is not None and "width=device-width" in content.replace(" ", "").lower()
    return found, f'viewport "{content[:120]}"' if content is not None else None


def _structured(page: Page) -> Signal:
    types = sorted({t for item in _business(page) for t in _types(item)})
    return bool(types), ("JSON-LD @type " + ", ".join(types))[:200] if types else None


def _hours(page: Page) -> Signal:
    if any(i.get("openingHours") or i.get("openingHoursSpecification") for i in _business(page)):
        return True, "JSON-LD openingHours"
    low = page.text.lower()
    word = next((w for w in _HOURS_WORDS if w in low), None)
    if word:
        return True, word
    found = _HOURS.search(low)
    return (True, found.group(0)[:80]) if found else (False, None)


def _phone(page: Page) -> Signal:
    if any(link.href.lower().startswith("tel:") for link in page.links):
        return True, "tel: link"  # the number itself stays out: a sole trader's is personal
    if any(item.get("telephone") for item in page.items()):
        return True, "JSON-LD telephone"
    return False, None


def _menu(page: Page) -> Signal:
    link = _first(page, _MENU)
    if link:
        return True, _shown(link)
    found = any(i.get("hasMenu") or i.get("menu") for i in _business(page))
    return found, "JSON-LD hasMenu" if found else None


def _booking(page: Page) -> Signal:
    link = _first(page, _BOOKING)
    if link:
        return True, _shown(link)
    for target in page.sources + [k.href for k in page.links]:
        widget = next((w for w in _BOOKING_WIDGETS if w in target.lower()), None)
        if widget:
            return True, f"booking widget {widget.rstrip('.')}"
    for item in _business(page):
        if item.get("acceptsReservations") not in (None, False, "False", "false", ""):
            return True, "JSON-LD acceptsReservations"
    return False, None


def _linking(*hosts: str) -> Callable[[Page], Signal]:
    def signal(page: Page) -> Signal:
        link = next((k for k in page.links if k.host.endswith(hosts)), None)
        return link is not None, _shown(link) if link else None

    return signal


def _imprint(page: Page) -> Signal:
    link = _first(page, _IMPRINT)
    return link is not None, _shown(link) if link else None


_SIGNALS: tuple[tuple[str, Callable[[Page], Signal], str, str], ...] = (
    ("web.description_present", _description, "has a meta description", "has no meta description"),
    ("web.mobile_viewport", _viewport, "declares a mobile viewport", "declares no mobile viewport"),
    (
        "web.structured_data",
        _structured,
        "describes the business in schema.org structured data",
        "has no schema.org description of the business",
    ),
    ("web.opening_hours_listed", _hours, "lists opening hours", "lists no opening hours"),
    ("web.phone_listed", _phone, "gives a phone number", "gives no phone number"),
    ("web.menu_link", _menu, "links a menu", "links no menu"),
    (
        "web.booking_link",
        _booking,
        "offers online booking or reservation",
        "offers no online booking or reservation",
    ),
    (
        "web.links.facebook",
        _linking("facebook.com", "fb.com", "fb.me"),
        "links a Facebook page",
        "links no Facebook page",
    ),
    (
        "web.links.instagram",
        _linking("instagram.com", "instagr.am"),
        "links an Instagram profile",
        "links no Instagram profile",
    ),
    ("web.imprint", _imprint, "links an imprint (Impressum)", "links no imprint (Impressum)"),
)


def _owner(f: FactList, page: Page) -> None:
    owner = owner_in_json_ld(page) or owner_in_text(page.text)
    if owner:
        f.add("web.owner_named", True, "The website names the owner.", owner, personal=True)


def _https(f: FactList, https: bool) -> None:
    claim = "is served over HTTPS" if https else "is not served over HTTPS"
    f.add("web.https", https, f"The website {claim}.")


def home_facts(r: Retrieval) -> tuple[Retrieval, list[Fact], Page | None]:
    """The web.* facts of the home page's retrieval (none when no server answered)."""
    f = FactList(*HOME)
    if r.status_code is None:
        return r, [], None
    https = r.uri.lower().startswith("https://")
    if not 200 <= r.status_code < 300:
        f.add("web.reachable", False, f"The website answered with HTTP {r.status_code}.")
        f.add("web.status", r.status_code, f"The home page answered with HTTP {r.status_code}.")
        _https(f, https)
        return r, f.facts, None
    if not is_html(r.body, r.content_type):
        kind = (r.content_type or "unknown type").split(";")[0][:80]
        f.add(
            "web.reachable",
            True,
            f"The website answered with non-HTML content ({kind}); it was not parsed.",
        )
        return r, f.facts, None
    try:
        page = parse_page(r.body, r.content_type)
    except (LookupError, TypeError, ValueError, RecursionError):
        return failed(r, "page could not be read"), [], None
    f.add("web.reachable", True, f"The website answered with HTTP {r.status_code}.")
    _https(f, https)
    f.add("web.status", r.status_code, f"The home page answered with HTTP {r.status_code}.")
    title = (page.title or "")[:200] or None
    f.add(
        "web.title",
        title,
        "The home page has a title." if title else "The home page has no title.",
        title,
    )
    for key, signal, yes, no in _SIGNALS:
        value, excerpt = signal(page)
        f.add(key, value, f"The home page {yes if value else no}.", excerpt)
    f.add(
        "web.page_bytes",
        len(r.body),
        f"The home page is {len(r.body)} bytes long"
        + (" (cut at the size limit)." if r.truncated else "."),
    )
    f.add("web.load_ms", r.elapsed_ms, f"The home page took {r.elapsed_ms} ms to load.")
    _owner(f, page)
    return r, f.facts, page


def imprint_facts(r: Retrieval) -> tuple[Retrieval, list[Fact]]:
    f = FactList(*IMPRINT)
    if r.status_code is None:
        return r, []
    ok = 200 <= r.status_code < 300
    f.add(
        "web.imprint_reachable",
        ok,
        "The imprint page can be opened."
        if ok
        else f"The imprint page answered with HTTP {r.status_code}.",
    )
    if ok and is_html(r.body, r.content_type):
        _owner(f, parse_page(r.body, r.content_type))
    return r, f.facts


def _imprint_url(home: str, href: str) -> str | None:
    """The imprint's URL, if it is another http(s) page on the home page's own site."""
    try:
        url = urljoin(home, href).split("#")[0]
        parts, home_host = urlsplit(url), urlsplit(home).hostname or ""
    except ValueError:
        return None
    same = (parts.hostname or "").removeprefix("www.") == home_host.removeprefix("www.")
    fresh = url.rstrip("/") != home.split("#")[0].rstrip("/")  # not the home page again
    return url if parts.scheme in ("http", "https") and home_host and same and fresh else None


class WebsiteCollector:
    """The business's own website: home page, and its imprint on the same site."""

    name = "website"
    source = EvidenceSource.WEBSITE

    def applies_to(self, target: Target) -> bool:
        return bool(target.website and target.website.strip())

    def collect(self, target: Target, fetch: Fetcher) -> Collected:
        url = (target.website or "").strip()
        bare = "://" not in url
        home = fetch.get("http://" + url if bare else url, collector=self.name, source=self.source)
        if bare and home.status_code is None and not (home.error or "").startswith("refused"):
            home = fetch.get("https://" + url, collector=self.name, source=self.source)
        home, facts, page = home_facts(home)
        out = Collected(retrievals=[(home, facts)])
        link = _first(page, _IMPRINT) if page else None
        imprint = _imprint_url(home.uri, link.href) if link else None
        if imprint is not None:
            got = fetch.get(imprint, collector=self.name, source=self.source)
            out.retrievals.append(imprint_facts(got))
        return out
