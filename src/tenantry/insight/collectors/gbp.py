"""The Google Business Profile collector: the location's profile (Business Information API)
and its reviews (My Business API v4), read through the location's connection.

Owns the `gbp.*` fact keys and the connection's token refresh. Must not: keep the token
endpoint's answer (it holds the new token), put a token in a URI or error, or state a
reviewer's name (reviews are counted, dated and checked for replies, never quoted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
from tenantry.insight.collectors.tokens import TokenSession, refresh_google_token
from tenantry.insight.facts import Collected, Fact, Fetcher, Retrieval, Target
from tenantry.models.enums import ConnectionProvider, EvidenceSource

__all__ = ["GbpCollector", "location_facts", "review_facts"]

LOCATION = ("gbp-location", "1")
REVIEWS = ("gbp-reviews", "1")
READ_MASK = "name,title,phoneNumbers,categories,websiteUri,regularHours,profile,metadata"
_MARGIN = timedelta(seconds=60)


def _yes_no(f: FactList, key: str, value: bool, yes: str, no: str, excerpt: str | None) -> None:
    f.add(key, value, yes if value else no, excerpt if value else None)


def location_facts(data: dict[str, Any]) -> list[Fact]:
    f = FactList(*LOCATION)
    f.add("gbp.connected", True, "The location's Google Business Profile is connected.")
    hours = data.get("regularHours")
    periods = hours.get("periods") if isinstance(hours, dict) else None
    n = len(periods) if isinstance(periods, list) else 0
    _yes_no(
        f,
        "gbp.hours_listed",
        n > 0,
        "The Google profile lists opening hours.",
        "The Google profile lists no opening hours.",
        f"regularHours: {n} periods",
    )
    phones = data.get("phoneNumbers")
    phone = as_bool(phones.get("primaryPhone")) if isinstance(phones, dict) else False
    _yes_no(
        f,
        "gbp.phone_listed",
        phone,
        "The Google profile gives a phone number.",
        "The Google profile gives no phone number.",
        "phoneNumbers.primaryPhone",
    )
    _yes_no(
        f,
        "gbp.website_listed",
        as_bool(data.get("websiteUri")),
        "The Google profile links a website.",
        "The Google profile links no website.",
        "websiteUri",
    )
    profile = data.get("profile")
    described = as_bool(profile.get("description")) if isinstance(profile, dict) else False
    _yes_no(
        f,
        "gbp.description_present",
        described,
        "The Google profile has a description.",
        "The Google profile has no description.",
        "profile.description",
    )
    raw = data.get("categories")
    categories: dict[str, Any] = raw if isinstance(raw, dict) else {}
    primary = categories.get("primaryCategory")
    extra = categories.get("additionalCategories")
    count = int(isinstance(primary, dict)) + (len(extra) if isinstance(extra, list) else 0)
    f.add("gbp.category_count", count, f"The Google profile has {count} categories.")
    name = primary.get("displayName") if isinstance(primary, dict) else None
    if isinstance(name, str) and name.strip():
        f.add(
            "gbp.primary_category",
            name.strip()[:100],
            "The Google profile names its primary category.",
            name.strip()[:100],
        )
    metadata = data.get("metadata")
    updated = metadata.get("hasGoogleUpdated") if isinstance(metadata, dict) else None
    if isinstance(updated, bool):
        f.add(
            "gbp.has_google_updated",
            updated,
            "Google has changed the profile; the changes await review."
            if updated
            else "Google has no pending changes to the profile.",
            f"metadata.hasGoogleUpdated: {str(updated).lower()}",
        )
    return f.facts


def review_facts(data: dict[str, Any], now: datetime) -> list[Fact]:
    f = FactList(*REVIEWS)
    rating = as_number(data.get("averageRating"))
    if rating is not None:
        f.add(
            "gbp.rating",
            round(rating, 2),
            f"The Google rating is {rating:.1f}.",
            f'"averageRating": {rating}',
        )
    total = as_int(data.get("totalReviewCount"))
    if total is not None:
        f.add(
            "gbp.review_count",
            total,
            f"The location has {total} Google reviews.",
            f'"totalReviewCount": {total}',
        )
    listed = (
        [r for r in data.get("reviews") or [] if isinstance(r, dict)]
        if isinstance(data.get("reviews"), list)
        else []
    )
    if listed:
        replied = sum(1 for r in listed if isinstance(r.get("reviewReply"), dict))
        share = round(replied / len(listed), 3)
        f.add(
            "gbp.reply_rate",
            share,
            f"The owner replied to {replied} of the {len(listed)} latest Google reviews.",
            f"{replied} of {len(listed)} reviews carry a reviewReply",
        )
        times = [t for r in listed if (t := parse_time(r.get("createTime"))) is not None]
        if times:
            days = days_since(now, max(times))
            f.add(
                "gbp.latest_review_days",
                days,
                f"The latest Google review is {days} days old.",
                f"createTime {max(times):%Y-%m-%d}",
            )
    return f.facts


class GbpCollector:
    """The location's own Google Business Profile, through its connection."""

    name = "gbp"
    source = EvidenceSource.GBP

    def __init__(
        self,
        *,
        business_base_url: str,
        reviews_base_url: str,
        token_url: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._business = business_base_url.rstrip("/")
        self._reviews = reviews_base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> GbpCollector:
        secret = settings.google_client_secret
        return cls(
            business_base_url=settings.google_business_base_url,
            reviews_base_url=settings.google_reviews_base_url,
            token_url=settings.google_oauth_token_url,
            client_id=settings.google_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            clock=clock,
        )

    def applies_to(self, target: Target) -> bool:
        return target.connection(ConnectionProvider.GOOGLE_BUSINESS_PROFILE) is not None

    def collect(self, target: Target, fetch: Fetcher) -> Collected:
        conn = target.connection(ConnectionProvider.GOOGLE_BUSINESS_PROFILE)
        assert conn is not None
        now = self._clock()
        session = TokenSession(
            conn,
            lambda: refresh_google_token(
                fetch,
                token_url=self._token_url,
                client_id=self._client_id,
                client_secret=self._client_secret,
                refresh_token=conn.refresh_token,
                now=now,
            ),
            now,
            _MARGIN,
        )
        location = (conn.external_location_id or "").removeprefix("locations/")
        if not location:
            return Collected(
                connection_updates=[session.update(False, "connection names no location")]
            )
        if session.expiring() and not session.refresh():
            return Collected(connection_updates=[session.update(False, session.error)])
        out = Collected()
        got = self._get(
            session,
            fetch,
            f"{self._business}/v1/locations/{quote(location, safe='')}",
            {"readMask": READ_MASK},
        )
        got, facts = extract(got, location_facts)
        out.retrievals.append((got, facts))
        account = (conn.external_account_id or "").removeprefix("accounts/")
        if got.ok and account:
            path = f"accounts/{quote(account, safe='')}/locations/{quote(location, safe='')}"
            url = f"{self._reviews}/v4/{path}/reviews"
            reviews = self._get(session, fetch, url, {"pageSize": "50"})
            out.retrievals.append(extract(reviews, lambda data: review_facts(data, now)))
        errors = [r.error for r, _ in out.retrievals if r.error]
        error = session.error if session.error else (errors[0] if errors else None)
        out.connection_updates.append(session.update(not errors, error))
        return out

    def _get(
        self, session: TokenSession, fetch: Fetcher, url: str, params: dict[str, str]
    ) -> Retrieval:
        def send(token: str) -> Retrieval:
            return fetch.get(
                url,
                headers={"Authorization": f"Bearer {token}"},
                params=params,
                collector=self.name,
                source=self.source,
            )

        return session.call(send)
