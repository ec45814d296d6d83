"""Persona detection of the deterministic analyser (the owner personas of seed 001).

The rules, in order; the first that applies wins, and its statement cites the facts it used:

1. **ketten-katrin** (a chain): the account runs 3 locations or more. Cites the facts that show
   this location's presence (listing, website), which a chain manages centrally.
2. **wachstums-walter** (growth): any growth signal: online booking on the website, 8 posts or
   more in 30 days across Facebook and Instagram, or 1,000 followers or more on either.
3. **bewahrer-ben** (keeps things as they are): any sign of a traditional presence: no website
   listed or the website does not load; a dated website (no HTTPS, or not set up for mobile
   screens); or few online signals: no Facebook and no Instagram presence and fewer than 20
   reviews.
4. **solo-sarah** (a sole owner): a single location with none of the above. Cites the facts of
   its presence, and that the website names its owner when it does (the name itself is sealed
   in the ledger and never reaches this code).

No rule applies (two locations without any signal), or no fact supports the one that does:
no persona statement. Pure function of the evidence: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from tenantry.insight.facts import AnalysisInput, EvidenceItem, Statement
from tenantry.models.enums import Persona

__all__ = ["CHAIN_LOCATIONS", "detect_persona"]

CHAIN_LOCATIONS = 3
ACTIVE_POSTS_30D = 8
MANY_FOLLOWERS = 1000
FEW_REVIEWS = 20

_PRESENCE = ("gbp.connected", "places.business_status", "web.reachable")
_SOCIAL = ("facebook.connected", "web.links.facebook", "instagram.connected", "web.links.instagram")
_WEBSITE_LISTED = ("gbp.website_listed", "places.website_listed")


def _number(item: EvidenceItem | None) -> float | None:
    if item is None or isinstance(item.value, bool) or not isinstance(item.value, int | float):
        return None
    return float(item.value)


def _is(facts: Mapping[str, EvidenceItem], key: str, value: bool) -> EvidenceItem | None:
    item = facts.get(key)
    return item if item is not None and item.value is value else None


def _statement(persona: Persona, reasons: list[str], cited: list[EvidenceItem]) -> Statement:
    ids = tuple(dict.fromkeys(i.id for i in cited))
    text = f"Persona {persona.value}: " + "; ".join(reasons) + "."
    return Statement("persona", text, ids, {"persona": persona.value})


def _growth(facts: Mapping[str, EvidenceItem]) -> tuple[list[str], list[EvidenceItem]]:
    reasons: list[str] = []
    cited: list[EvidenceItem] = []
    if booking := _is(facts, "web.booking_link", True):
        reasons.append("the website takes bookings online")
        cited.append(booking)
    posts = [p for p in (facts.get("facebook.posts_30d"), facts.get("instagram.posts_30d")) if p]
    total = sum(_number(p) or 0.0 for p in posts)
    if total >= ACTIVE_POSTS_30D:
        reasons.append(f"{int(total)} social media posts in the last 30 days")
        cited.extend(posts)
    for key, platform in (("facebook.followers", "Facebook"), ("instagram.followers", "Instagram")):
        item = facts.get(key)
        if (_number(item) or 0.0) >= MANY_FOLLOWERS and item is not None:
            reasons.append(f"{int(_number(item) or 0):,} followers on {platform}")
            cited.append(item)
    return reasons, cited


def _traditional(facts: Mapping[str, EvidenceItem]) -> tuple[list[str], list[EvidenceItem]]:
    reasons: list[str] = []
    cited: list[EvidenceItem] = []
    no_site = [i for k in _WEBSITE_LISTED if (i := _is(facts, k, False))]
    if no_site:
        reasons.append("no website is listed")
        cited.extend(no_site)
    if down := _is(facts, "web.reachable", False):
        reasons.append("the website does not load")
        cited.append(down)
    if plain := _is(facts, "web.https", False):
        reasons.append("the website has no HTTPS")
        cited.append(plain)
    if fixed := _is(facts, "web.mobile_viewport", False):
        reasons.append("the website is not set up for mobile screens")
        cited.append(fixed)
    absent = [i for k in _SOCIAL if (i := _is(facts, k, False))]
    present = [i for k in _SOCIAL if (i := _is(facts, k, True))]
    reviews = facts.get("gbp.review_count") or facts.get("places.review_count")
    count = _number(reviews)
    if absent and not present and reviews is not None and count is not None and count < FEW_REVIEWS:
        reasons.append(f"no social media presence and only {int(count)} reviews")
        cited.extend([*absent, reviews])
    return reasons, cited


def detect_persona(inp: AnalysisInput, facts: Mapping[str, EvidenceItem]) -> Statement | None:
    """The persona statement of a check, or None when no rule applies with evidence."""
    presence = [
        facts[k]
        for k in _PRESENCE
        if k in facts and (facts[k].value is True or isinstance(facts[k].value, str))
    ]
    if inp.location_count >= CHAIN_LOCATIONS and presence:
        return _statement(
            Persona.KETTEN_KATRIN,
            [f"the account runs {inp.location_count} locations", "this one is present online"],
            presence,
        )
    reasons, cited = _growth(facts)
    if cited:
        return _statement(Persona.WACHSTUMS_WALTER, reasons, cited)
    reasons, cited = _traditional(facts)
    if cited:
        return _statement(Persona.BEWAHRER_BEN, reasons, cited)
    if inp.location_count == 1 and presence:
        reasons = ["a single location", "present online, without growth or traditional signals"]
        cited = list(presence)
        if owner := _is(facts, "web.owner_named", True):
            reasons.append("the website names its owner")
            cited.append(owner)
        return _statement(Persona.SOLO_SARAH, reasons, cited)
    return None
