"""The Meta collectors: a location's Facebook page and Instagram business account, read
through the Graph API with the connection's token.

Owns the `facebook.*` and `instagram.*` fact keys and the exchange of long-lived tokens near
their expiry. Must not: let the token (a query parameter, as the Graph API wants it) reach a
Retrieval's uri or error, follow the API's paging links (they carry the token), or quote a
post or a follower.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Self
from urllib.parse import quote, urlencode

from tenantry.config import Settings
from tenantry.insight.collectors.common import (
    Clock,
    FactList,
    as_bool,
    as_int,
    as_number,
    extract,
    parse_time,
    utc_now,
)
from tenantry.insight.collectors.tokens import (
    EXPIRED_ERROR,
    REJECTED_ERROR,
    TokenSession,
    exchange_meta_token,
)
from tenantry.insight.facts import Collected, Fact, Fetcher, Retrieval, Target
from tenantry.models.enums import ConnectionProvider, EvidenceSource

__all__ = ["FacebookCollector", "InstagramCollector", "page_facts", "user_facts"]

# Long-lived tokens last about 60 days; they are exchanged in their last week.
_MARGIN = timedelta(days=7)
_WINDOW = timedelta(days=30)
_LIMIT = 100


def _count(f: FactList, key: str, value: Any, claim: str, field: str) -> None:
    number = as_int(value)
    if number is not None:
        f.add(key, number, claim.format(number), f'"{field}": {number}')


def page_facts(data: dict[str, Any]) -> list[Fact]:
    f = FactList("facebook-page", "1")
    f.add("facebook.connected", True, "The location's Facebook page is connected.")
    field = "followers_count" if as_int(data.get("followers_count")) is not None else "fan_count"
    _count(f, "facebook.followers", data.get(field), "The Facebook page has {} followers.", field)
    rating = as_number(data.get("overall_star_rating"))
    if rating is not None:
        f.add(
            "facebook.rating",
            round(rating, 2),
            f"The Facebook rating is {rating:.1f}.",
            f'"overall_star_rating": {rating}',
        )
    _count(
        f,
        "facebook.rating_count",
        data.get("rating_count"),
        "The Facebook page has {} ratings.",
        "rating_count",
    )
    website = as_bool(data.get("website"))
    f.add(
        "facebook.website_listed",
        website,
        "The Facebook page links a website." if website else "The Facebook page links no website.",
        "website" if website else None,
    )
    hours = as_bool(data.get("hours"))
    f.add(
        "facebook.hours_listed",
        hours,
        "The Facebook page lists opening hours."
        if hours
        else "The Facebook page lists no opening hours.",
        "hours" if hours else None,
    )
    return f.facts


def user_facts(data: dict[str, Any]) -> list[Fact]:
    f = FactList("instagram-user", "1")
    f.add("instagram.connected", True, "The location's Instagram account is connected.")
    _count(
        f,
        "instagram.followers",
        data.get("followers_count"),
        "The Instagram account has {} followers.",
        "followers_count",
    )
    _count(
        f,
        "instagram.media_count",
        data.get("media_count"),
        "The Instagram account has published {} posts.",
        "media_count",
    )
    return f.facts


def _recent_facts(
    data: dict[str, Any], now: datetime, time_field: str, key: str, what: str, extractor: str
) -> list[Fact]:
    f = FactList(extractor, "1")
    raw = data.get("data")
    items = [i for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []
    times = [t for i in items if (t := parse_time(i.get(time_field))) is not None]
    recent = sum(1 for t in times if now - _WINDOW <= t <= now + timedelta(minutes=5))
    more = len(items) >= _LIMIT and isinstance(data.get("paging"), dict)
    claim = f"The {what} published {'at least ' if more else ''}{recent} posts in the last 30 days."
    f.add(
        key,
        recent,
        claim,
        f"{recent} of {len(items)} items dated after {now - _WINDOW:%Y-%m-%d}",
    )
    return f.facts


class _GraphCollector:
    name: str
    provider: ClassVar[ConnectionProvider]
    source: ClassVar[EvidenceSource]
    fields: ClassVar[str]
    edge: ClassVar[str]
    time_field: ClassVar[str]

    def __init__(
        self,
        *,
        graph_url: str,
        app_id: str | None = None,
        app_secret: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._graph = graph_url.rstrip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> Self:
        secret = settings.meta_app_secret
        return cls(
            graph_url=settings.meta_graph_base_url,
            app_id=settings.meta_app_id,
            app_secret=secret.get_secret_value() if secret else None,
            clock=clock,
        )

    def applies_to(self, target: Target) -> bool:
        return target.connection(self.provider) is not None

    def profile_facts(self, data: dict[str, Any]) -> list[Fact]:
        raise NotImplementedError

    def recent_facts(self, data: dict[str, Any], now: datetime) -> list[Fact]:
        raise NotImplementedError

    def collect(self, target: Target, fetch: Fetcher) -> Collected:
        conn = target.connection(self.provider)
        assert conn is not None
        now = self._clock()
        session = TokenSession(
            conn,
            lambda: exchange_meta_token(
                fetch,
                graph_url=self._graph,
                app_id=self._app_id,
                app_secret=self._app_secret,
                access_token=conn.access_token or "",
                now=now,
                collector=self.name,
                source=self.source,
            ),
            now,
            _MARGIN,
        )
        node = conn.external_location_id or conn.external_account_id
        if not node:
            return Collected(
                connection_updates=[session.update(False, "connection names no account")]
            )
        if session.expired():  # an expired Meta token cannot be exchanged
            return Collected(connection_updates=[session.update(False, EXPIRED_ERROR)])
        warning = session.error if session.expiring() and not session.refresh() else None
        out = Collected()
        got, facts = extract(
            self._get(session, fetch, node, "", {"fields": self.fields}), self.profile_facts
        )
        out.retrievals.append((got, facts))
        if got.ok:
            since = str(int((now - _WINDOW).timestamp()))
            params = {"fields": self.time_field, "limit": str(_LIMIT), "since": since}
            recent = self._get(session, fetch, node, f"/{self.edge}", params)
            out.retrievals.append(extract(recent, lambda data: self.recent_facts(data, now)))
        errors = [r.error for r, _ in out.retrievals if r.error]
        if any("Graph error 190 " in e for e in errors):
            errors.insert(0, REJECTED_ERROR)
        out.connection_updates.append(session.update(not errors, errors[0] if errors else warning))
        return out

    def _get(
        self, session: TokenSession, fetch: Fetcher, node: str, edge: str, params: dict[str, str]
    ) -> Retrieval:
        url = f"{self._graph}/{quote(node, safe='')}{edge}"
        shown = f"{url}?{urlencode(params)}"

        def send(token: str) -> Retrieval:
            return fetch.get(
                url,
                params={**params, "access_token": token},
                shown_uri=shown,
                collector=self.name,
                source=self.source,
            )

        return session.call(send, retry_on_401=False)


class FacebookCollector(_GraphCollector):
    """The location's Facebook page: followers, rating, and posts of the last 30 days."""

    name = "facebook"
    provider = ConnectionProvider.FACEBOOK
    source = EvidenceSource.FACEBOOK
    fields = "followers_count,fan_count,overall_star_rating,rating_count,link,website,hours"
    edge = "posts"
    time_field = "created_time"

    def profile_facts(self, data: dict[str, Any]) -> list[Fact]:
        return page_facts(data)

    def recent_facts(self, data: dict[str, Any], now: datetime) -> list[Fact]:
        return _recent_facts(
            data,
            now,
            self.time_field,
            "facebook.posts_30d",
            "Facebook page",
            "facebook-posts",
        )


class InstagramCollector(_GraphCollector):
    """The location's Instagram business account: followers, posts, posts of the last 30 days."""

    name = "instagram"
    provider = ConnectionProvider.INSTAGRAM
    source = EvidenceSource.INSTAGRAM
    fields = "followers_count,media_count"
    edge = "media"
    time_field = "timestamp"

    def profile_facts(self, data: dict[str, Any]) -> list[Fact]:
        return user_facts(data)

    def recent_facts(self, data: dict[str, Any], now: datetime) -> list[Fact]:
        return _recent_facts(
            data,
            now,
            self.time_field,
            "instagram.posts_30d",
            "Instagram account",
            "instagram-media",
        )
