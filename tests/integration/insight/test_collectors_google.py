"""The Google collectors against a local server replaying recorded Places, Business Profile
and OAuth answers: facts, competitors, token refresh and its failures, and no key or token in
anything kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from tenantry.config import Settings
from tenantry.insight.collectors import (
    EXPIRED_ERROR,
    REVOKED_ERROR,
    GbpCollector,
    PlacesCollector,
    default_collectors,
)
from tenantry.insight.facts import Target
from tenantry.insight.http import SafeFetcher
from tenantry.models.enums import ConnectionProvider
from tests.insight_support.server import (
    LocalServer,
    Reply,
    Seen,
    json_reply,
    local_server,
    recorded,
)
from tests.insight_support.targets import NOW, assert_no_secret, connection, facts_of, target

PLACE = "ChIJexamplePlaceId0001"
ACCOUNT, LOCATION = "1090000000000000001", "4711000000000000001"
KEY = "AIzaTest-places-key-0001"
VALID = "ya29.test-valid-access-token"
STALE = "ya29.test-stale-access-token"
REFRESHED = "ya29.test-refreshed-access-token"  # what google_token.json hands out
REFRESH_OK, REFRESH_REVOKED = "1//test-refresh-token-ok", "1//test-refresh-token-revoked"
CLIENT_ID, CLIENT_SECRET = "test-client.apps.example.com", "GOCSPX-test-client-secret"
SECRETS = (KEY, VALID, STALE, REFRESHED, REFRESH_OK, REFRESH_REVOKED, CLIENT_SECRET)
GBP = ConnectionProvider.GOOGLE_BUSINESS_PROFILE


def _details(seen: Seen) -> Reply:
    if seen.headers.get("x-goog-api-key") != KEY:
        return json_reply(recorded("places_invalid_key.json"), 400)
    return json_reply(recorded("places_details.json"))


def _nearby(seen: Seen) -> Reply:
    if seen.headers.get("x-goog-api-key") != KEY:
        return json_reply(recorded("places_invalid_key.json"), 400)
    return json_reply(recorded("places_nearby.json"))


def _authorized(name: str) -> object:
    def reply(seen: Seen) -> Reply:
        if seen.headers.get("authorization") not in (f"Bearer {VALID}", f"Bearer {REFRESHED}"):
            return json_reply(recorded("google_unauthenticated.json"), 401)
        return json_reply(recorded(name))

    return reply


def _token(seen: Seen) -> Reply:
    form = {k: v[0] for k, v in seen.form().items()}
    if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
        return json_reply({"error": "invalid_client", "error_description": "Unauthorized"}, 401)
    if form.get("grant_type") == "refresh_token" and form.get("refresh_token") == REFRESH_OK:
        return json_reply(recorded("google_token.json"))
    return json_reply(recorded("google_token_invalid_grant.json"), 400)


@pytest.fixture
def google() -> Iterator[LocalServer]:
    with local_server() as s:
        s.route("GET", f"/v1/places/{PLACE}", _details)
        s.route("POST", "/v1/places:searchNearby", _nearby)
        s.route("GET", f"/v1/locations/{LOCATION}", _authorized("gbp_location.json"))  # type: ignore[arg-type]
        reviews = f"/v4/accounts/{ACCOUNT}/locations/{LOCATION}/reviews"
        s.route("GET", reviews, _authorized("gbp_reviews.json"))  # type: ignore[arg-type]
        s.route("POST", "/token", _token)
        yield s


def fetcher() -> SafeFetcher:
    return SafeFetcher(allow_private=True, timeout_seconds=3)


def places(server: LocalServer, key: str = KEY) -> PlacesCollector:
    return PlacesCollector(base_url=server.url(""), api_key=key, clock=lambda: NOW)


def gbp(server: LocalServer, **kw: object) -> GbpCollector:
    options: dict[str, object] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    options.update(kw)
    return GbpCollector(
        business_base_url=server.url(""),
        reviews_base_url=server.url(""),
        token_url=server.url("/token"),
        clock=lambda: NOW,
        **options,  # type: ignore[arg-type]
    )


def located(**kw: object) -> Target:
    return target(**{"google_place_id": PLACE, "latitude": 52.52, "longitude": 13.405, **kw})


def gbp_target(**kw: object) -> Target:
    conn = connection(
        GBP,
        external_account_id=f"accounts/{ACCOUNT}",
        external_location_id=f"locations/{LOCATION}",
        **{
            "access_token": VALID,
            "refresh_token": REFRESH_OK,
            "token_expires_at": NOW + timedelta(hours=1),
            **kw,
        },
    )
    return target(connections=(conn,))


def test_places_states_the_public_listing_and_its_competitors(google: LocalServer) -> None:
    collected = places(google).collect(located(), fetcher())
    assert [r.ok for r, _ in collected.retrievals] == [True, True]
    found = {k: f.value for k, f in facts_of(collected).items()}
    assert found == {
        "places.rating": 4.4,
        "places.review_count": 187,
        "places.hours_listed": True,
        "places.website_listed": True,
        "places.phone_listed": True,
        "places.photo_count": 3,
        "places.business_status": "OPERATIONAL",
        "places.latest_review_days": 6,  # 2025-05-25 18:02 to 2025-06-01 12:00
        "competitors.count": 5,  # six returned, the place itself left out
        "competitors.median_rating": 4.2,  # of 4.6, 4.1, 3.9, 4.3
        "competitors.median_review_count": 162,  # of 512, 95, 40, 230
    }
    details = google.requests(f"/v1/places/{PLACE}")[0]
    assert "rating" in details.headers["x-goog-fieldmask"].split(",")
    nearby = google.requests("/v1/places:searchNearby")[0]
    assert nearby.headers["x-goog-fieldmask"] == "places.id,places.rating,places.userRatingCount"
    assert nearby.json() == {
        "includedTypes": ["restaurant"],
        "maxResultCount": 20,
        "locationRestriction": {
            "circle": {"center": {"latitude": 52.52, "longitude": 13.405}, "radius": 1500.0}
        },
    }
    assert_no_secret(collected, *SECRETS)
    for _, facts in collected.retrievals:
        for fact in facts:
            assert "Mustermann" not in f"{fact.value} {fact.claim} {fact.excerpt}"
            assert fact.extractor.startswith("google-places")


def test_places_competitors_follow_the_vertical(google: LocalServer) -> None:
    places(google).collect(located(vertical="workshop", google_place_id=None), fetcher())
    assert google.requests("/v1/places:searchNearby")[0].json()["includedTypes"] == ["car_repair"]
    collected = places(google).collect(located(vertical="other"), fetcher())
    assert len(collected.retrievals) == 1  # no competitor type for "other"


def test_a_rejected_places_key_fails_without_facts_or_the_key(google: LocalServer) -> None:
    wrong = "AIzaTest-wrong-key-0002"
    collected = places(google, key=wrong).collect(located(), fetcher())
    for retrieval, facts in collected.retrievals:
        assert retrieval.error == "HTTP 400 INVALID_ARGUMENT" and facts == []
    assert_no_secret(collected, wrong)


def test_places_applies_only_with_a_key_and_a_place(google: LocalServer) -> None:
    assert places(google).applies_to(target(google_place_id=PLACE))
    assert places(google).applies_to(target(latitude=1.0, longitude=2.0))
    assert not places(google).applies_to(target())
    assert not PlacesCollector(base_url="", api_key=None).applies_to(located())


def test_gbp_states_the_profile_and_its_reviews(google: LocalServer) -> None:
    t = gbp_target()
    collected = gbp(google).collect(t, fetcher())
    assert [r.ok for r, _ in collected.retrievals] == [True, True]
    found = {k: f.value for k, f in facts_of(collected).items()}
    assert found == {
        "gbp.connected": True,
        "gbp.hours_listed": True,
        "gbp.phone_listed": True,
        "gbp.website_listed": True,
        "gbp.description_present": True,
        "gbp.category_count": 3,
        "gbp.primary_category": "Italian restaurant",
        "gbp.has_google_updated": False,
        "gbp.rating": 4.5,
        "gbp.review_count": 64,
        "gbp.reply_rate": 0.5,  # two of the four listed reviews carry a reply
        "gbp.latest_review_days": 6,
    }
    (update,) = collected.connection_updates
    assert update.connection_id == t.connections[0].id
    assert (update.ok, update.error, update.access_token) == (True, None, None)
    assert google.requests("/token") == []
    location = google.requests(f"/v1/locations/{LOCATION}")[0]
    assert location.query["readMask"] == [
        "name,title,phoneNumbers,categories,websiteUri,regularHours,profile,metadata"
    ]
    assert_no_secret(collected, *SECRETS)
    for _, facts in collected.retrievals:
        for fact in facts:
            assert "Mustermann" not in f"{fact.value} {fact.claim} {fact.excerpt}"


@pytest.mark.parametrize("expires_in", [timedelta(seconds=-30), timedelta(seconds=45)])
def test_gbp_refreshes_an_expired_token_before_calling(
    google: LocalServer, expires_in: timedelta
) -> None:
    t = gbp_target(access_token=STALE, token_expires_at=NOW + expires_in)
    collected = gbp(google).collect(t, fetcher())
    (update,) = collected.connection_updates
    assert update.ok and update.access_token == REFRESHED
    assert update.token_expires_at == NOW + timedelta(seconds=3599)
    (refresh,) = google.requests("/token")
    assert refresh.form() == {
        "grant_type": ["refresh_token"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "refresh_token": [REFRESH_OK],
    }
    assert google.requests(f"/v1/locations/{LOCATION}")[0].headers["authorization"] == (
        f"Bearer {REFRESHED}"
    )
    assert len(collected.retrievals) == 2  # the token answer is not kept
    assert_no_secret(collected, *SECRETS)


def test_gbp_refreshes_once_when_the_api_answers_401(google: LocalServer) -> None:
    t = gbp_target(access_token=STALE, token_expires_at=NOW + timedelta(hours=1))
    collected = gbp(google).collect(t, fetcher())
    assert [r.ok for r, _ in collected.retrievals] == [True, True]
    assert len(google.requests(f"/v1/locations/{LOCATION}")) == 2  # 401, then the retry
    assert len(google.requests("/token")) == 1
    (update,) = collected.connection_updates
    assert update.ok and update.access_token == REFRESHED
    assert_no_secret(collected, *SECRETS)


def test_a_revoked_refresh_token_is_reported(google: LocalServer) -> None:
    expired = gbp_target(refresh_token=REFRESH_REVOKED, token_expires_at=NOW - timedelta(hours=1))
    collected = gbp(google).collect(expired, fetcher())
    assert collected.retrievals == []
    (update,) = collected.connection_updates
    assert (update.ok, update.error, update.access_token) == (False, REVOKED_ERROR, None)
    rejected = gbp_target(access_token=STALE, refresh_token=REFRESH_REVOKED)
    collected = gbp(google).collect(rejected, fetcher())
    ((retrieval, facts),) = collected.retrievals
    assert retrieval.error == "HTTP 401 UNAUTHENTICATED" and facts == []
    assert collected.connection_updates[0].error == REVOKED_ERROR
    assert_no_secret(collected, *SECRETS)


def test_an_expired_token_without_client_credentials_is_reported(google: LocalServer) -> None:
    t = gbp_target(token_expires_at=NOW - timedelta(minutes=5))
    collected = gbp(google, client_id=None, client_secret=None).collect(t, fetcher())
    assert collected.retrievals == [] and google.seen == []
    (update,) = collected.connection_updates
    assert (update.ok, update.error) == (False, EXPIRED_ERROR)


def test_a_connection_without_a_location_is_reported(google: LocalServer) -> None:
    t = target(connections=(connection(GBP, access_token=VALID),))
    collected = gbp(google).collect(t, fetcher())
    assert collected.retrievals == [] and google.seen == []
    assert collected.connection_updates[0].error == "connection names no location"


def test_an_unreachable_api_is_a_failed_sync(google: LocalServer) -> None:
    dead = GbpCollector(
        business_base_url="http://169.254.169.254",
        reviews_base_url="http://169.254.169.254",
        token_url="http://169.254.169.254/token",
        clock=lambda: NOW,
    )
    collected = dead.collect(gbp_target(), SafeFetcher(allow_private=False, timeout_seconds=2))
    ((retrieval, facts),) = collected.retrievals
    assert retrieval.error is not None and retrieval.error.startswith("refused") and facts == []
    (update,) = collected.connection_updates
    assert not update.ok and update.error == retrieval.error


def test_default_collectors_take_their_endpoints_from_settings(google: LocalServer) -> None:
    settings = Settings(
        google_places_base_url=google.url(""),
        google_places_api_key=SecretStr(KEY),
        google_business_base_url=google.url(""),
        google_reviews_base_url=google.url(""),
        google_oauth_token_url=google.url("/token"),
        google_client_id=CLIENT_ID,
        google_client_secret=SecretStr(CLIENT_SECRET),
    )
    collectors = default_collectors(settings, clock=lambda: NOW)
    assert [c.name for c in collectors] == ["website", "places", "gbp", "facebook", "instagram"]
    t = gbp_target(access_token=STALE, token_expires_at=NOW - timedelta(seconds=1))
    t = located(connections=t.connections)
    applying = [c for c in collectors if c.applies_to(t)]
    assert [c.name for c in applying] == ["places", "gbp"]
    for collector in applying:
        collected = collector.collect(t, fetcher())
        assert collected.retrievals and all(r.ok for r, _ in collected.retrievals)
        assert_no_secret(collected, *SECRETS)
