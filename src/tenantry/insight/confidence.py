"""The confidence model of the evidence ledger: how sure we are of one retrieved fact.

This module owns the numbers and the formula; it reads no database and fetches nothing. The
ledger calls `confidences` with the facts of one check and stores the result (three decimals)
on each evidence row. Model version `CONFIDENCE_MODEL_VERSION` = "2026.12-1":

    confidence = min(0.99, reliability(source) x freshness(source, age) x agreement)

**Reliability** of a source (`RELIABILITY`): how often a fact read from it is right when fresh.

| source | reliability | why |
|---|---|---|
| gbp | 0.95 | the listing's own record, read through the Business Profile API |
| ga4 | 0.95 | measured by the analytics platform itself |
| facebook, instagram | 0.92 | the page's own record, read through the Graph API |
| places, search | 0.90 | public listing data (Places API); may lag the owner's edits |
| review_platform | 0.85 | third-party aggregators; public, may lag |
| website | 0.80 | own pages read by heuristics; a parser can miss what sits in an image |
| manual | 0.70 | typed in by a person |
| ai_model | 0.50 | produced by a model, not retrieved |

**Freshness**: data younger than 24 hours counts as fresh (factor 1). After that the factor
halves every half-life of the source (`HALF_LIFE_DAYS`): 7 days for ga4, 14 for facebook and
instagram (followers and posts move quickly), 30 for gbp, places, search, review_platform,
website and ai_model, 180 for manual entries. So
`freshness = 0.5 ** ((age - 24 h) / half-life)` for ages over 24 hours; an instant in the
future (clock skew) counts as age 0.

**Agreement**: some quantities are seen by more than one independent source (`CORRESPONDING`):
the rating (places, gbp, facebook), whether opening hours, a phone number and a website are
published (web, places, gbp) and the review count (places, gbp). Two facts are independent when
their keys have different prefixes (a different platform or page); each such source votes
once, with its newest fact. Each agreeing source multiplies the confidence by 1.05, each
contradicting one by 0.75. Ratings agree within
0.3 stars, counts within 10 % (or 3), booleans when equal; a missing value neither agrees nor
contradicts. Nothing is certain: the result is capped at 0.99.

Examples: a GBP rating read now, matched by the Places rating: 0.95 x 1 x 1.05 -> 0.99 (cap).
A website fact 31 days old (one half-life after the fresh day): 0.80 x 0.5 = 0.40. A website
saying "no opening hours" while GBP and Places list them: 0.80 x 0.75^2 = 0.45.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from tenantry.insight.facts import FactValue
from tenantry.models.enums import EvidenceSource

__all__ = [
    "AGREE_FACTOR",
    "CONFIDENCE_MODEL_VERSION",
    "CONTRADICT_FACTOR",
    "CORRESPONDING",
    "FRESH_WINDOW",
    "HALF_LIFE_DAYS",
    "MAX_CONFIDENCE",
    "RELIABILITY",
    "Agreement",
    "Observation",
    "agreement",
    "confidence",
    "confidences",
    "freshness",
]

CONFIDENCE_MODEL_VERSION = "2026.12-1"

RELIABILITY: Mapping[EvidenceSource, float] = {
    EvidenceSource.GBP: 0.95,
    EvidenceSource.GA4: 0.95,
    EvidenceSource.FACEBOOK: 0.92,
    EvidenceSource.INSTAGRAM: 0.92,
    EvidenceSource.PLACES: 0.90,
    EvidenceSource.SEARCH: 0.90,
    EvidenceSource.REVIEW_PLATFORM: 0.85,
    EvidenceSource.WEBSITE: 0.80,
    EvidenceSource.MANUAL: 0.70,
    EvidenceSource.AI_MODEL: 0.50,
}

HALF_LIFE_DAYS: Mapping[EvidenceSource, float] = {
    EvidenceSource.GBP: 30.0,
    EvidenceSource.GA4: 7.0,
    EvidenceSource.FACEBOOK: 14.0,
    EvidenceSource.INSTAGRAM: 14.0,
    EvidenceSource.PLACES: 30.0,
    EvidenceSource.SEARCH: 30.0,
    EvidenceSource.REVIEW_PLATFORM: 30.0,
    EvidenceSource.WEBSITE: 30.0,
    EvidenceSource.MANUAL: 180.0,
    EvidenceSource.AI_MODEL: 30.0,
}

FRESH_WINDOW = timedelta(hours=24)
AGREE_FACTOR = 1.05
CONTRADICT_FACTOR = 0.75
MAX_CONFIDENCE = 0.99

# Quantities seen by several sources: name -> (keys, how values are compared).
CORRESPONDING: Mapping[str, tuple[tuple[str, ...], str]] = {
    "rating": (("places.rating", "gbp.rating", "facebook.rating"), "rating"),
    "hours_listed": (
        ("web.opening_hours_listed", "places.hours_listed", "gbp.hours_listed"),
        "equal",
    ),
    "phone_listed": (("web.phone_listed", "places.phone_listed", "gbp.phone_listed"), "equal"),
    "website_listed": (("places.website_listed", "gbp.website_listed"), "equal"),
    "review_count": (("places.review_count", "gbp.review_count"), "count"),
}
RATING_TOLERANCE = 0.3
COUNT_TOLERANCE = 0.10
COUNT_SLACK = 3

_GROUP_OF_KEY: Mapping[str, str] = {
    key: name for name, (keys, _) in CORRESPONDING.items() for key in keys
}


class Observation(NamedTuple):
    """One fact as the model sees it."""

    key: str
    value: FactValue
    source: EvidenceSource
    retrieved_at: datetime


@dataclass(frozen=True)
class Agreement:
    """How many independent facts agree and contradict one fact."""

    agreeing: int = 0
    contradicting: int = 0

    @property
    def factor(self) -> float:
        return float(AGREE_FACTOR**self.agreeing * CONTRADICT_FACTOR**self.contradicting)


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def freshness(source: EvidenceSource, retrieved_at: datetime, now: datetime) -> float:
    """1 for data younger than 24 hours, then halving every half-life of the source."""
    age = _aware(now) - _aware(retrieved_at)
    if age <= FRESH_WINDOW:
        return 1.0
    half_life = timedelta(days=HALF_LIFE_DAYS.get(source, 30.0))
    return float(0.5 ** ((age - FRESH_WINDOW) / half_life))


def confidence(
    source: EvidenceSource,
    retrieved_at: datetime,
    now: datetime,
    agreement: Agreement | None = None,
) -> float:
    """reliability x freshness x agreement, in [0, 0.99], rounded to three decimals."""
    factor = agreement.factor if agreement is not None else 1.0
    value = RELIABILITY.get(source, 0.5) * freshness(source, retrieved_at, now) * factor
    return round(max(0.0, min(MAX_CONFIDENCE, value)), 3)


def _usable(value: FactValue) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _agree(kind: str, a: FactValue, b: FactValue) -> bool:
    if kind == "equal":
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return a == b
    if kind == "rating":
        return abs(float(a) - float(b)) <= RATING_TOLERANCE + 1e-9
    slack = max(COUNT_SLACK, COUNT_TOLERANCE * max(abs(float(a)), abs(float(b))))
    return abs(float(a) - float(b)) <= slack


def _prefix(key: str) -> str:
    return key.split(".", 1)[0]


def agreement(observations: Sequence[Observation]) -> list[Agreement]:
    """For each observation, how many independent observations of the same quantity agree
    with it and how many contradict it (same order as the input)."""
    result: list[Agreement] = []
    for obs in observations:
        group = _GROUP_OF_KEY.get(obs.key)
        if group is None or not _usable(obs.value):
            result.append(Agreement())
            continue
        kind = CORRESPONDING[group][1]
        # One vote per independent source: a source seen twice counts once, by its newest fact.
        others: dict[str, Observation] = {}
        for other in observations:
            if (
                _GROUP_OF_KEY.get(other.key) == group
                and _prefix(other.key) != _prefix(obs.key)
                and _usable(other.value)
            ):
                seen = others.get(_prefix(other.key))
                if seen is None or _aware(other.retrieved_at) > _aware(seen.retrieved_at):
                    others[_prefix(other.key)] = other
        agreeing = sum(1 for o in others.values() if _agree(kind, obs.value, o.value))
        result.append(Agreement(agreeing, len(others) - agreeing))
    return result


def confidences(
    observations: Sequence[Observation | tuple[str, FactValue, EvidenceSource, datetime]],
    now: datetime,
) -> list[float]:
    """The confidence of each (key, value, source, retrieved_at), in the same order."""
    obs = [Observation(*o) for o in observations]
    return [
        confidence(o.source, o.retrieved_at, now, a)
        for o, a in zip(obs, agreement(obs), strict=True)
    ]
