"""Every source of a visibility check on one local server: the business's website, the Places
API, the Business Profile APIs, the Graph API and the token endpoints, replaying the recorded
responses of `recorded/` over real HTTP on 127.0.0.1 (optionally after a network-like delay).

`provision` gives a location the website, place id, coordinates and connections (tokens
sealed through the model) that make every collector apply; `settings` points tenantry at the
server. Used by the flow tests, the CLI and API end-to-end tests and `bench/vc.py`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from pydantic import SecretStr

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.models import Connection, Location
from tenantry.models.enums import ConnectionProvider, SyncStatus
from tests.insight_support.server import LocalServer, Reply, Seen, json_reply, recorded
from tests.insight_support.targets import page

__all__ = ["LocalInternet", "local_internet"]

PLACE = "ChIJexamplePlaceId0001"
ACCOUNT, GBP_LOCATION = "1090000000000000001", "4711000000000000001"
PAGE, IG_USER = "104000000000001", "17841400000000001"
PLACES_KEY = "AIzaTest-places-key-0001"
GOOGLE_TOKEN = "ya29.test-valid-access-token"
GOOGLE_REFRESH = "1//test-refresh-token-ok"
META_TOKEN = "EAAtest-page-token/valid+1"
CLIENT_ID, CLIENT_SECRET = "test-client.apps.example.com", "GOCSPX-test-client-secret"


@dataclass
class LocalInternet:
    server: LocalServer
    latency: float = 0.0

    @property
    def website(self) -> str:
        return self.server.url("/")

    def settings(self, base: Settings) -> Settings:
        url = self.server.url("")
        return base.model_copy(
            update={
                "collect_allow_private_networks": True,
                "collect_timeout_seconds": 5.0,
                "google_places_base_url": url,
                "google_places_api_key": SecretStr(PLACES_KEY),
                "google_business_base_url": url,
                "google_reviews_base_url": url,
                "google_oauth_token_url": self.server.url("/token"),
                "google_client_id": CLIENT_ID,
                "google_client_secret": SecretStr(CLIENT_SECRET),
                "meta_graph_base_url": url,
            }
        )

    def env(self) -> dict[str, str]:
        """The same settings as environment variables (for the CLI)."""
        url = self.server.url("")
        return {
            "TENANTRY_COLLECT_ALLOW_PRIVATE_NETWORKS": "1",
            "TENANTRY_COLLECT_TIMEOUT_SECONDS": "5",
            "TENANTRY_GOOGLE_PLACES_BASE_URL": url,
            "TENANTRY_GOOGLE_PLACES_API_KEY": PLACES_KEY,
            "TENANTRY_GOOGLE_BUSINESS_BASE_URL": url,
            "TENANTRY_GOOGLE_REVIEWS_BASE_URL": url,
            "TENANTRY_GOOGLE_OAUTH_TOKEN_URL": self.server.url("/token"),
            "TENANTRY_GOOGLE_CLIENT_ID": CLIENT_ID,
            "TENANTRY_GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "TENANTRY_META_GRAPH_BASE_URL": url,
        }

    def provision(
        self, db: Database, tenant_id: uuid.UUID, location_id: uuid.UUID, *, connect: bool = True
    ) -> None:
        """Point the location at this server's sources and connect its platform accounts."""
        with db.tenant_uow(tenant_id) as uow:
            loc = uow.session.get(Location, (tenant_id, location_id))
            assert loc is not None
            loc.website = self.website
            loc.google_place_id = PLACE
            loc.latitude, loc.longitude = Decimal("52.520008"), Decimal("13.404954")
            if connect:
                later = uow.clock.now() + timedelta(days=30)
                for provider, account, external, token, refresh in (
                    (
                        ConnectionProvider.GOOGLE_BUSINESS_PROFILE,
                        ACCOUNT,
                        GBP_LOCATION,
                        GOOGLE_TOKEN,
                        GOOGLE_REFRESH,
                    ),
                    (ConnectionProvider.FACEBOOK, PAGE, PAGE, META_TOKEN, None),
                    (ConnectionProvider.INSTAGRAM, IG_USER, IG_USER, META_TOKEN, None),
                ):
                    conn = Connection(
                        tenant_id=tenant_id,
                        id=uow.ids(),
                        location_id=location_id,
                        provider=provider,
                        external_account_id=account,
                        external_location_id=external,
                        token_expires_at=later,
                        sync_status=SyncStatus.PENDING,
                    )
                    conn.access_token = token
                    conn.refresh_token = refresh
                    uow.session.add(conn)
            uow.commit()

    def _delayed(self, reply: Reply) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        return reply


def _graph(internet: LocalInternet, name: str) -> object:
    def reply(seen: Seen) -> Reply:
        if seen.query.get("access_token", [""])[0] != META_TOKEN:
            return internet._delayed(json_reply(recorded("graph_error_190.json"), 400))
        return internet._delayed(json_reply(recorded(name)))

    return reply


def _google(internet: LocalInternet, name: str, *, key: bool = False) -> object:
    def reply(seen: Seen) -> Reply:
        if key and seen.headers.get("x-goog-api-key") != PLACES_KEY:
            return internet._delayed(json_reply(recorded("places_invalid_key.json"), 400))
        if not key and seen.headers.get("authorization") != f"Bearer {GOOGLE_TOKEN}":
            return internet._delayed(json_reply(recorded("google_unauthenticated.json"), 401))
        return internet._delayed(json_reply(recorded(name)))

    return reply


def _page(internet: LocalInternet, name: str) -> object:
    def reply(_seen: Seen) -> Reply:
        return internet._delayed(Reply(body=page(name)))

    return reply


@contextmanager
def local_internet(latency: float = 0.0) -> Iterator[LocalInternet]:
    server = LocalServer().start()
    internet = LocalInternet(server, latency)
    routes = {
        ("GET", "/"): _page(internet, "bistro_home.html"),
        ("GET", "/impressum"): _page(internet, "impressum.html"),
        ("GET", f"/v1/places/{PLACE}"): _google(internet, "places_details.json", key=True),
        ("POST", "/v1/places:searchNearby"): _google(internet, "places_nearby.json", key=True),
        ("GET", f"/v1/locations/{GBP_LOCATION}"): _google(internet, "gbp_location.json"),
        ("GET", f"/v4/accounts/{ACCOUNT}/locations/{GBP_LOCATION}/reviews"): _google(
            internet, "gbp_reviews.json"
        ),
        ("GET", f"/{PAGE}"): _graph(internet, "facebook_page.json"),
        ("GET", f"/{PAGE}/posts"): _graph(internet, "facebook_posts.json"),
        ("GET", f"/{IG_USER}"): _graph(internet, "instagram_user.json"),
        ("GET", f"/{IG_USER}/media"): _graph(internet, "instagram_media.json"),
    }
    for (method, path), route in routes.items():
        server.route(method, path, route)  # type: ignore[arg-type]
    try:
        yield internet
    finally:
        server.stop()
