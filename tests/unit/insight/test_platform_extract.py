"""The platform extractors on hostile JSON: wrong types, missing fields and random structures
give fewer facts, never an exception; timestamps and API errors are read as the platforms
write them."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from tenantry.insight.collectors.common import api_error, as_int, parse_time
from tenantry.insight.collectors.gbp import location_facts, review_facts
from tenantry.insight.collectors.meta import page_facts, user_facts
from tenantry.insight.collectors.places import competitor_facts, place_facts
from tenantry.insight.facts import Retrieval
from tenantry.models.enums import EvidenceSource
from tests.insight_support.server import recorded

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
KEYS = [
    "rating", "userRatingCount", "regularOpeningHours", "websiteUri", "nationalPhoneNumber",
    "photos", "businessStatus", "reviews", "places", "id", "averageRating", "totalReviewCount",
    "reviewReply", "createTime", "publishTime", "categories", "primaryCategory",
    "additionalCategories", "displayName", "phoneNumbers", "primaryPhone", "regularHours",
    "periods", "profile", "description", "metadata", "hasGoogleUpdated", "followers_count",
    "fan_count", "overall_star_rating", "rating_count", "hours", "website", "media_count",
]  # fmt: skip


def _value(rng: random.Random, depth: int) -> Any:
    kinds = ["none", "bool", "int", "float", "str", "list", "dict"][: 7 if depth < 4 else 5]
    kind = rng.choice(kinds)
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "dict":
        return {rng.choice(KEYS): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    return {
        "none": None,
        "bool": rng.random() < 0.5,
        "int": rng.choice([0, -1, 7, 10**30]),
        "float": rng.choice([float("nan"), float("inf"), 4.4, -0.0]),
        "str": rng.choice(["", "x", "2025-05-01T00:00:00Z", "12", "OPERATIONAL", "€" * 50]),
    }[kind]


@pytest.mark.parametrize("seed", range(200))
def test_random_json_never_breaks_an_extractor(seed: int) -> None:
    rng = random.Random(seed)
    data = {key: _value(rng, 0) for key in rng.sample(KEYS, rng.randint(0, len(KEYS)))}
    for facts in (
        place_facts(data, NOW),
        competitor_facts(data, "x"),
        location_facts(data),
        review_facts(data, NOW),
        page_facts(data),
        user_facts(data),
    ):
        for fact in facts:
            json.dumps(fact.value, allow_nan=False)  # a value the ledger can store as JSON
            assert fact.claim and fact.extractor


def _mutate(node: Any, rng: random.Random) -> Any:
    if rng.random() < 0.15:
        return _value(rng, 3)
    if isinstance(node, dict):
        return {k: _mutate(v, rng) for k, v in node.items()}
    if isinstance(node, list):
        return [_mutate(v, rng) for v in node]
    return node


RECORDINGS = [
    ("places_details.json", lambda d: place_facts(d, NOW)),
    ("places_nearby.json", lambda d: competitor_facts(d, "ChIJexamplePlaceId0001")),
    ("gbp_location.json", location_facts),
    ("gbp_reviews.json", lambda d: review_facts(d, NOW)),
    ("facebook_page.json", page_facts),
    ("instagram_user.json", user_facts),
]


@pytest.mark.parametrize("seed", range(150))
def test_mutated_recordings_never_break_an_extractor(seed: int) -> None:
    rng = random.Random(seed)
    for name, read in RECORDINGS:
        data = _mutate(json.loads(recorded(name)), rng)
        if isinstance(data, dict):
            for fact in read(data):
                json.dumps(fact.value, allow_nan=False)


def test_wrongly_typed_fields_are_left_out() -> None:
    facts = place_facts({"rating": "4.4", "userRatingCount": True, "businessStatus": "x y"}, NOW)
    found = {f.key: f.value for f in facts}
    assert "places.rating" not in found and found["places.review_count"] == 0
    assert "places.business_status" not in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-05-25T18:02:11.415906Z", datetime(2025, 5, 25, 18, 2, 11, 415906, tzinfo=UTC)),
        ("2025-01-03T19:11:00.000000001Z", datetime(2025, 1, 3, 19, 11, tzinfo=UTC)),
        ("2025-05-30T17:05:12+0000", datetime(2025, 5, 30, 17, 5, 12, tzinfo=UTC)),
        ("2025-05-30T19:05:12+02:00", datetime(2025, 5, 30, 17, 5, 12, tzinfo=UTC)),
        ("yesterday", None),
        (1717000000, None),
        ("9" * 100, None),
    ],
)
def test_platform_timestamps_are_read(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_google_sends_int64_as_strings() -> None:
    assert as_int("64") == 64 and as_int("6.4") is None and as_int(True) is None


def _failed(body: bytes, status: int) -> Retrieval:
    return Retrieval(
        collector="x",
        source=EvidenceSource.GBP,
        uri="https://api.example.com/",
        retrieved_at=NOW,
        body=body,
        status_code=status,
        error=f"HTTP {status}",
    )


def test_api_errors_are_named_by_code_never_by_message() -> None:
    graph = api_error(_failed(recorded("graph_error_190.json"), 400))
    assert graph == "HTTP 400: Graph error 190 (OAuthException)"
    google = api_error(_failed(recorded("google_unauthenticated.json"), 401))
    assert google == "HTTP 401 UNAUTHENTICATED"
    oauth = api_error(_failed(recorded("google_token_invalid_grant.json"), 400))
    assert oauth == "HTTP 400 invalid_grant"
    echo = b'{"error": {"status": "Bearer ya29.secret", "message": "ya29.secret"}}'
    assert api_error(_failed(echo, 400)) == "HTTP 400"
    assert api_error(_failed(b"<html>", 502)) == "HTTP 502"
