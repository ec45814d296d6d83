"""The sources of the visibility check, each behind the `Collector` interface of facts.py.

`default_collectors(settings)` lists them in the order a check runs them: the website, the
public Google Maps listing and its competitors, the Google Business Profile, Facebook and
Instagram. Collectors are adapters: they fetch through the Fetcher they are given and return
facts and connection updates; they never touch the database and never raise for a failing
source.
"""

from __future__ import annotations

from tenantry.config import Settings
from tenantry.insight.collectors.common import Clock, utc_now
from tenantry.insight.collectors.gbp import GbpCollector
from tenantry.insight.collectors.meta import FacebookCollector, InstagramCollector
from tenantry.insight.collectors.places import PlacesCollector
from tenantry.insight.collectors.tokens import EXPIRED_ERROR, REJECTED_ERROR, REVOKED_ERROR
from tenantry.insight.collectors.website import WebsiteCollector
from tenantry.insight.facts import Collector

__all__ = [
    "EXPIRED_ERROR",
    "REJECTED_ERROR",
    "REVOKED_ERROR",
    "FacebookCollector",
    "GbpCollector",
    "InstagramCollector",
    "PlacesCollector",
    "WebsiteCollector",
    "default_collectors",
]


def default_collectors(settings: Settings, clock: Clock = utc_now) -> list[Collector]:
    return [
        WebsiteCollector(),
        PlacesCollector.from_settings(settings, clock),
        GbpCollector.from_settings(settings, clock),
        FacebookCollector.from_settings(settings, clock),
        InstagramCollector.from_settings(settings, clock),
    ]
