"""Evidence for the analysis tests: a fixed instant, ids from a counter, one business's facts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from tenantry.insight.facts import AnalysisInput, EvidenceItem, FactValue
from tenantry.insight.rubric import score
from tenantry.models.enums import EvidenceSource

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

_SOURCES = {
    "web": EvidenceSource.WEBSITE,
    "places": EvidenceSource.PLACES,
    "competitors": EvidenceSource.PLACES,
    "gbp": EvidenceSource.GBP,
    "facebook": EvidenceSource.FACEBOOK,
    "instagram": EvidenceSource.INSTAGRAM,
}

# A well-kept single restaurant: website, public listing, competitors; no connections.
GOOD: Mapping[str, FactValue] = {
    "web.reachable": True,
    "web.https": True,
    "web.status": 200,
    "web.title": "Italian cuisine in Musterstadt",
    "web.description_present": True,
    "web.mobile_viewport": True,
    "web.structured_data": False,
    "web.opening_hours_listed": True,
    "web.phone_listed": True,
    "web.menu_link": True,
    "web.booking_link": False,
    "web.links.facebook": True,
    "web.links.instagram": False,
    "web.imprint": True,
    "web.page_bytes": 48_000,
    "web.load_ms": 900,
    "web.owner_named": True,
    "places.rating": 4.6,
    "places.review_count": 35,
    "places.hours_listed": True,
    "places.website_listed": True,
    "places.phone_listed": True,
    "places.photo_count": 12,
    "places.business_status": "OPERATIONAL",
    "places.latest_review_days": 12,
    "competitors.count": 14,
    "competitors.median_rating": 4.4,
    "competitors.median_review_count": 120,
    "gbp.connected": False,
    "facebook.connected": False,
    "instagram.connected": False,
}


def item(
    key: str,
    value: FactValue,
    *,
    n: int = 0,
    source: EvidenceSource | None = None,
    retrieved_at: datetime = NOW,
    confidence: float = 0.9,
) -> EvidenceItem:
    """One evidence item; its id is derived from the key (and `n`), so runs are repeatable."""
    return EvidenceItem(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.com/evidence/{key}/{n}"),
        key=key,
        value=value,
        claim=f"The check found {key} = {value!r}.",
        source=source or _SOURCES[key.split(".", 1)[0]],
        confidence=confidence,
        retrieved_at=retrieved_at,
    )


def evidence(
    facts: Mapping[str, FactValue] = GOOD, **changes: FactValue
) -> tuple[EvidenceItem, ...]:
    """Evidence of `facts`; keyword changes use `__` for dots and None to drop a fact."""
    merged = dict(facts)
    for name, value in changes.items():
        key = name.replace("__", ".")
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return tuple(item(k, v) for k, v in merged.items())


def analysis_input(
    items: tuple[EvidenceItem, ...], *, location_count: int = 1, failures: tuple[str, ...] = ()
) -> AnalysisInput:
    return AnalysisInput(
        check_id=uuid.UUID("0193b000-0000-7000-8000-000000000001"),
        location_name="Trattoria Beispiel",
        vertical="restaurant",
        city="Musterstadt",
        categories=("italian",),
        location_count=location_count,
        evidence=items,
        scores=score(items).known,
        failures=failures,
    )
