"""The Facebook and Instagram collectors against a local Graph API replaying recorded
answers: facts, posts of the last 30 days, the exchange of a token near expiry, Graph error
190, and no token in anything kept (the Graph API echoes it in paging links)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest

from tenantry.insight.collectors import (
    EXPIRED_ERROR,
    REJECTED_ERROR,
    FacebookCollector,
    InstagramCollector,
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

PAGE, IG_USER = "104000000000001", "17841400000000001"
TOKEN = "EAAtest-page-token/valid+1"
EXPIRING = "EAAtest-page-token-expiring"
EXCHANGED = "EAAtest-exchanged-long-lived-token"  # what meta_token_exchange.json hands out
DEAD = "EAAtest-page-token-dead"
APP_ID, APP_SECRET = "1234567890", "test-meta-app-secret"
SECRETS = (TOKEN, quote(TOKEN, safe=""), EXPIRING, EXCHANGED, DEAD, APP_SECRET)
RECORDED_PAGING_TOKEN = b"EAAexample-token-in-paging-link"


def _graph(name: str) -> object:
    def reply(seen: Seen) -> Reply:
        token = seen.query.get("access_token", [""])[0]
        if token not in (TOKEN, EXPIRING, EXCHANGED):
            return json_reply(recorded("graph_error_190.json"), 400)
        # The Graph API puts the caller's token into its paging links; so does the replay.
        body = recorded(name).replace(RECORDED_PAGING_TOKEN, quote(token, safe="").encode())
        return json_reply(body)

    return reply


def _exchange(seen: Seen) -> Reply:
    q = {k: v[0] for k, v in seen.query.items()}
    expected = {"grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET}
    if {k: q.get(k) for k in expected} != expected or q.get("fb_exchange_token") != EXPIRING:
        return json_reply(recorded("graph_error_190.json"), 400)
    return json_reply(recorded("meta_token_exchange.json"))


@pytest.fixture
def graph() -> Iterator[LocalServer]:
    with local_server() as s:
        s.route("GET", f"/{PAGE}", _graph("facebook_page.json"))  # type: ignore[arg-type]
        s.route("GET", f"/{PAGE}/posts", _graph("facebook_posts.json"))  # type: ignore[arg-type]
        s.route("GET", f"/{IG_USER}", _graph("instagram_user.json"))  # type: ignore[arg-type]
        s.route("GET", f"/{IG_USER}/media", _graph("instagram_media.json"))  # type: ignore[arg-type]
        s.route("GET", "/oauth/access_token", _exchange)
        yield s


def fetcher() -> SafeFetcher:
    return SafeFetcher(allow_private=True, timeout_seconds=3)


def facebook(server: LocalServer) -> FacebookCollector:
    return FacebookCollector(
        graph_url=server.url(""), app_id=APP_ID, app_secret=APP_SECRET, clock=lambda: NOW
    )


def instagram(server: LocalServer) -> InstagramCollector:
    return InstagramCollector(
        graph_url=server.url(""), app_id=APP_ID, app_secret=APP_SECRET, clock=lambda: NOW
    )


def meta_target(provider: ConnectionProvider, node: str, **kw: object) -> Target:
    values: dict[str, object] = {
        "external_location_id": node,
        "access_token": TOKEN,
        "token_expires_at": NOW + timedelta(days=50),
    }
    values.update(kw)
    return target(connections=(connection(provider, **values),))


def test_facebook_states_the_page_and_its_recent_posts(graph: LocalServer) -> None:
    t = meta_target(ConnectionProvider.FACEBOOK, PAGE)
    collected = facebook(graph).collect(t, fetcher())
    assert [r.ok for r, _ in collected.retrievals] == [True, True]
    found = {k: f.value for k, f in facts_of(collected).items()}
    assert found == {
        "facebook.connected": True,
        "facebook.followers": 1543,
        "facebook.rating": 4.7,
        "facebook.rating_count": 112,
        "facebook.website_listed": True,
        "facebook.hours_listed": True,
        "facebook.posts_30d": 3,  # 30 May, 21 May, 9 May; not 20 April
    }
    page, posts = graph.requests(f"/{PAGE}")[0], graph.requests(f"/{PAGE}/posts")[0]
    assert page.query["access_token"] == [TOKEN]
    assert page.query["fields"] == [
        "followers_count,fan_count,overall_star_rating,rating_count,link,website,hours"
    ]
    assert posts.query["since"] == [str(int((NOW - timedelta(days=30)).timestamp()))]
    assert posts.query["fields"] == ["created_time"] and posts.query["limit"] == ["100"]
    uris = [r.uri for r, _ in collected.retrievals]
    assert uris[0].startswith(graph.url(f"/{PAGE}?fields="))
    (update,) = collected.connection_updates
    assert (update.ok, update.error, update.access_token) == (True, None, None)
    assert graph.requests("/oauth/access_token") == []
    assert_no_secret(collected, *SECRETS)


def test_instagram_states_the_account_and_its_recent_posts(graph: LocalServer) -> None:
    t = meta_target(ConnectionProvider.INSTAGRAM, IG_USER)
    collected = instagram(graph).collect(t, fetcher())
    found = {k: f.value for k, f in facts_of(collected).items()}
    assert found == {
        "instagram.connected": True,
        "instagram.followers": 2310,
        "instagram.media_count": 248,
        "instagram.posts_30d": 4,  # 2 May 11:00 is a day and an hour too old
    }
    assert graph.requests(f"/{IG_USER}/media")[0].query["fields"] == ["timestamp"]
    assert collected.connection_updates[0].ok
    assert_no_secret(collected, *SECRETS)


def test_a_token_near_expiry_is_exchanged_and_used(graph: LocalServer) -> None:
    t = meta_target(
        ConnectionProvider.FACEBOOK,
        PAGE,
        access_token=EXPIRING,
        token_expires_at=NOW + timedelta(days=3),
    )
    collected = facebook(graph).collect(t, fetcher())
    (update,) = collected.connection_updates
    assert update.ok and update.error is None and update.access_token == EXCHANGED
    assert update.token_expires_at == NOW + timedelta(seconds=5183944)
    assert len(graph.requests("/oauth/access_token")) == 1
    assert graph.requests(f"/{PAGE}")[0].query["access_token"] == [EXCHANGED]
    assert len(collected.retrievals) == 2  # the exchange's answer is not kept
    assert_no_secret(collected, *SECRETS)


def test_a_failed_exchange_still_syncs_and_says_so(graph: LocalServer) -> None:
    t = meta_target(ConnectionProvider.FACEBOOK, PAGE, token_expires_at=NOW + timedelta(days=3))
    collected = facebook(graph).collect(t, fetcher())  # the server only exchanges EXPIRING
    (update,) = collected.connection_updates
    assert update.ok and update.access_token is None
    assert update.error == "token refresh failed: HTTP 400: Graph error 190 (OAuthException)"
    assert_no_secret(collected, *SECRETS)


def test_graph_error_190_fails_the_sync(graph: LocalServer) -> None:
    t = meta_target(ConnectionProvider.FACEBOOK, PAGE, access_token=DEAD)
    collected = facebook(graph).collect(t, fetcher())
    ((retrieval, facts),) = collected.retrievals
    assert retrieval.error == "HTTP 400: Graph error 190 (OAuthException)" and facts == []
    assert retrieval.status_code == 400
    (update,) = collected.connection_updates
    assert (update.ok, update.error) == (False, REJECTED_ERROR)
    assert graph.requests(f"/{PAGE}/posts") == []
    assert_no_secret(collected, *SECRETS)


def test_an_expired_token_is_reported_without_calling(graph: LocalServer) -> None:
    t = meta_target(ConnectionProvider.INSTAGRAM, IG_USER, token_expires_at=NOW - timedelta(days=1))
    collected = instagram(graph).collect(t, fetcher())
    assert collected.retrievals == [] and graph.seen == []
    assert collected.connection_updates[0].error == EXPIRED_ERROR


def test_each_collector_applies_to_its_own_connection(graph: LocalServer) -> None:
    fb = meta_target(ConnectionProvider.FACEBOOK, PAGE)
    assert facebook(graph).applies_to(fb) and not instagram(graph).applies_to(fb)
    assert not facebook(graph).applies_to(target())


def test_garbage_from_the_graph_api_fails_without_an_exception() -> None:
    with local_server() as s:
        s.route("GET", f"/{PAGE}", Reply(body=b"<html>not json</html>"))
        s.route("GET", f"/{IG_USER}", json_reply(b'["a list"]'))
        fb = facebook(s).collect(meta_target(ConnectionProvider.FACEBOOK, PAGE), fetcher())
        ig = instagram(s).collect(meta_target(ConnectionProvider.INSTAGRAM, IG_USER), fetcher())
    assert fb.retrievals[0][0].error == "response is not JSON" and fb.retrievals[0][1] == []
    assert ig.retrievals[0][0].error == "response is not a JSON object"
    assert not fb.connection_updates[0].ok and not ig.connection_updates[0].ok
