"""The Google Places collector (Places API, New): the location's public listing as anyone
sees it, and the competitors around it.

Owns the `places.*` and `competitors.*` fact keys. Must not: put the API key anywhere but the
request header (never a URI or error), or state a reviewer's name or words (reviews are only
dated; the listing's own review count and rating are what is stated).
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any
from urllib.parse import quote

from tenantry.config import Settings
from tenantry.insight.collectors.common import (
    Clock,
    FactList,
    as_bool,
    as_int,
    as_number,
    days_since,
    extract,
    parse_time,
    utc_now,
)
from tenantry.insight.facts import Collected, Fact, Fetcher, Target
from tenantry.models.enums import EvidenceSource

__all__ = ["PlacesCollector", "competitor_facts", "place_facts"]

DETAILS = ("google-places", "1")
NEARBY = ("google-places-nearby", "1")
DETAILS_MASK = (
    "rating,userRatingCount,regularOpeningHours,websiteUri,nationalPhoneNumber,photos,"
    "businessStatus,reviews"
)
NEARBY_MASK = "places.id,places.rating,places.userRatingCount"
RADIUS_M = 1500.0
# Places types (Table A) that stand for a vertical's competitors.
TYPES_OF_VERTICAL = {
    "restaurant": ["restaurant"],
    "workshop": ["car_repair"],
    "caterer": ["catering_service"],
}


def place_facts(data: dict[str, Any], now: datetime) -> list[Fact]:
    f = FactList(*DETAILS)
    rating = as_number(data.get("rating"))
    if rating is not None:
        f.add(
            "places.rating",
            round(rating, 2),
            f"The Google Maps rating is {rating:.1f}.",
            f'"rating": {rating}',
        )
    count = as_int(data.get("userRatingCount"))
    f.add(
        "places.review_count",
        count or 0,
        f"The Google Maps listing has {count or 0} ratings.",
        f'"userRatingCount": {count or 0}',
    )
    hours = data.get("regularOpeningHours")
    listed = isinstance(hours, dict) and (
        as_bool(hours.get("periods")) or as_bool(hours.get("weekdayDescriptions"))
    )
    f.add(
        "places.hours_listed",
        listed,
        "The Google Maps listing shows opening hours."
        if listed
        else "The Google Maps listing shows no opening hours.",
        "regularOpeningHours" if listed else None,
    )
    website = as_bool(data.get("websiteUri"))
    f.add(
        "places.website_listed",
        website,
        "The Google Maps listing links a website."
        if website
        else "The Google Maps listing links no website.",
        "websiteUri" if website else None,
    )
    phone = as_bool(data.get("nationalPhoneNumber"))
    f.add(
        "places.phone_listed",
        phone,
        "The Google Maps listing gives a phone number."
        if phone
        else "The Google Maps listing gives no phone number.",
        "nationalPhoneNumber" if phone else None,
    )
    photos = data.get("photos")
    n = len(photos) if isinstance(photos, list) else 0
    f.add(
        "places.photo_count",
        n,
        f"The Google Maps listing returns {n} photos (the API returns at most 10).",
        f"photos: {n}",
    )
    status = data.get("businessStatus")
    if isinstance(status, str) and status.isidentifier() and len(status) < 40:
        f.add(
            "places.business_status",
            status,
            f"Google Maps lists the business as {status}.",
            f'"businessStatus": "{status}"',
        )
    reviews = data.get("reviews")
    times = (
        [
            t
            for r in reviews
            if isinstance(r, dict) and (t := parse_time(r.get("publishTime"))) is not None
        ]
        if isinstance(reviews, list)
        else []
    )
    if times:
        days = days_since(now, max(times))
        f.add(
            "places.latest_review_days",
            days,
            f"The newest Google Maps review is {days} days old.",
            f"publishTime {max(times):%Y-%m-%d}",
        )
    return f.facts


def competitor_facts(data: dict[str, Any], own_id: str | None) -> list[Fact]:
    f = FactList(*NEARBY)
    raw = data.get("places")
    places = [p for p in raw if isinstance(p, dict)] if isinstance(raw, list) else []
    others = [p for p in places if not (own_id and p.get("id") == own_id)]
    f.add(
        "competitors.count",
        len(others),
        f"Google Maps lists {len(others)} businesses of the "
        f"same type within {RADIUS_M:.0f} m (at most 20 are returned).",
        f"places: {len(others)}",
    )
    ratings = [r for p in others if (r := as_number(p.get("rating"))) is not None]
    if ratings:
        median = round(statistics.median(ratings), 2)
        f.add(
            "competitors.median_rating",
            median,
            f"Their median Google rating is {median:.1f}.",
            f"median of {len(ratings)} ratings",
        )
    counts = [c for p in others if (c := as_int(p.get("userRatingCount"))) is not None]
    if counts:
        median_count = int(statistics.median(counts))
        f.add(
            "competitors.median_review_count",
            median_count,
            f"Their median number of Google ratings is {median_count}.",
            f"median of {len(counts)} rating counts",
        )
    return f.facts


class PlacesCollector:
    """The public Google Maps listing of the location and the competitors around it."""

    name = "places"
    source = EvidenceSource.PLACES

    def __init__(self, *, base_url: str, api_key: str | None, clock: Clock = utc_now) -> None:
        self._base = base_url.rstrip("/")
        self._key = api_key
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> PlacesCollector:
        key = settings.google_places_api_key
        return cls(
            base_url=settings.google_places_base_url,
            api_key=key.get_secret_value() if key else None,
            clock=clock,
        )

    def applies_to(self, target: Target) -> bool:
        located = target.latitude is not None and target.longitude is not None
        return bool(self._key) and (bool(target.google_place_id) or located)

    def collect(self, target: Target, fetch: Fetcher) -> Collected:
        out = Collected()
        key = self._key or ""
        if target.google_place_id:
            got = fetch.get(
                f"{self._base}/v1/places/{quote(target.google_place_id, safe='')}",
                headers={"X-Goog-Api-Key": key, "X-Goog-FieldMask": DETAILS_MASK},
                collector=self.name,
                source=self.source,
            )
            now = self._clock()
            out.retrievals.append(extract(got, lambda data: place_facts(data, now)))
        types = TYPES_OF_VERTICAL.get(str(target.vertical))
        if types and target.latitude is not None and target.longitude is not None:
            body = {
                "includedTypes": types,
                "maxResultCount": 20,
                "locationRestriction": {
                    "circle": {
                        "center": {"latitude": target.latitude, "longitude": target.longitude},
                        "radius": RADIUS_M,
                    }
                },
            }
            got = fetch.post_json(
                f"{self._base}/v1/places:searchNearby",
                body,
                headers={"X-Goog-Api-Key": key, "X-Goog-FieldMask": NEARBY_MASK},
                collector=self.name,
                source=self.source,
            )
            own = target.google_place_id
            out.retrievals.append(extract(got, lambda data: competitor_facts(data, own)))
        return out
