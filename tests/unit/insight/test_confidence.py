"""The confidence model: bounded, falling with age, raised by agreement, lowered by contradiction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantry.insight import confidence as model
from tenantry.insight.confidence import (
    HALF_LIFE_DAYS,
    MAX_CONFIDENCE,
    RELIABILITY,
    Agreement,
    Observation,
    agreement,
    confidence,
    confidences,
)
from tenantry.models.enums import EvidenceSource
from tests.unit.insight.analysis_support import NOW

AGES = [timedelta(hours=h) for h in (0, 1, 23, 24, 25, 48, 24 * 7, 24 * 30, 24 * 90, 24 * 365)]


def test_every_source_has_a_reliability_and_a_half_life() -> None:
    assert set(RELIABILITY) == set(EvidenceSource)
    assert set(HALF_LIFE_DAYS) == set(EvidenceSource)


def test_the_documented_table_shows_the_numbers_the_code_uses() -> None:
    doc = model.__doc__ or ""
    for source, value in RELIABILITY.items():
        assert f"{value:.2f}" in doc, source
    for days in set(HALF_LIFE_DAYS.values()):
        assert f"{days:g}" in doc


@pytest.mark.parametrize("source", list(EvidenceSource))
def test_confidence_stays_within_bounds(source: EvidenceSource) -> None:
    for age in AGES:
        for agreeing, contradicting in ((0, 0), (5, 0), (0, 5), (3, 3)):
            c = confidence(source, NOW - age, NOW, Agreement(agreeing, contradicting))
            assert 0.0 <= c <= MAX_CONFIDENCE


@pytest.mark.parametrize("source", list(EvidenceSource))
def test_confidence_never_rises_with_age(source: EvidenceSource) -> None:
    values = [confidence(source, NOW - age, NOW) for age in AGES]
    assert values == sorted(values, reverse=True)
    assert values[-1] < values[0]


def test_data_younger_than_a_day_counts_as_fresh() -> None:
    fresh = confidence(EvidenceSource.WEBSITE, NOW, NOW)
    assert fresh == RELIABILITY[EvidenceSource.WEBSITE]
    assert confidence(EvidenceSource.WEBSITE, NOW - timedelta(hours=23), NOW) == fresh
    assert confidence(EvidenceSource.WEBSITE, NOW - timedelta(days=3), NOW) < fresh


def test_one_half_life_after_the_fresh_day_halves_the_confidence() -> None:
    source = EvidenceSource.FACEBOOK
    aged = NOW - timedelta(days=1 + HALF_LIFE_DAYS[source])
    assert confidence(source, aged, NOW) == pytest.approx(RELIABILITY[source] / 2, abs=0.001)


def test_a_retrieval_in_the_future_and_a_naive_time_are_read_sensibly() -> None:
    ahead = confidence(EvidenceSource.GBP, NOW + timedelta(hours=2), NOW)
    assert ahead == RELIABILITY[EvidenceSource.GBP]
    naive = datetime(2026, 11, 1, 12, 0)
    assert confidence(EvidenceSource.GBP, naive, NOW) == confidence(
        EvidenceSource.GBP, naive.replace(tzinfo=UTC), NOW
    )


def _obs(key: str, value: object, source: EvidenceSource) -> Observation:
    return Observation(key, value, source, NOW)  # type: ignore[arg-type]


def test_an_independent_source_agreeing_raises_confidence() -> None:
    alone = confidences([_obs("web.phone_listed", True, EvidenceSource.WEBSITE)], NOW)[0]
    backed = confidences(
        [
            _obs("web.phone_listed", True, EvidenceSource.WEBSITE),
            _obs("places.phone_listed", True, EvidenceSource.PLACES),
        ],
        NOW,
    )[0]
    twice = confidences(
        [
            _obs("web.phone_listed", True, EvidenceSource.WEBSITE),
            _obs("places.phone_listed", True, EvidenceSource.PLACES),
            _obs("gbp.phone_listed", True, EvidenceSource.GBP),
        ],
        NOW,
    )[0]
    assert alone < backed < twice


def test_an_independent_source_contradicting_lowers_confidence() -> None:
    alone = confidences([_obs("web.opening_hours_listed", False, EvidenceSource.WEBSITE)], NOW)
    contradicted = confidences(
        [
            _obs("web.opening_hours_listed", False, EvidenceSource.WEBSITE),
            _obs("gbp.hours_listed", True, EvidenceSource.GBP),
            _obs("places.hours_listed", True, EvidenceSource.PLACES),
        ],
        NOW,
    )
    assert contradicted[0] < alone[0]
    assert contradicted[0] == pytest.approx(0.80 * 0.75 * 0.75, abs=0.001)
    # the two listings agree with each other and have one dissenter each
    assert contradicted[1] == confidence(EvidenceSource.GBP, NOW, NOW, Agreement(1, 1))


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        (4.6, Agreement(1, 0)),
        (4.7, Agreement(1, 0)),
        (4.8, Agreement(0, 1)),
        (3.9, Agreement(0, 1)),
    ],
)
def test_ratings_agree_within_three_tenths_of_a_star(other: float, expected: Agreement) -> None:
    found = agreement(
        [
            _obs("places.rating", 4.4, EvidenceSource.PLACES),
            _obs("gbp.rating", other, EvidenceSource.GBP),
        ]
    )
    assert found[0] == expected


def test_facts_of_one_source_or_without_a_value_are_no_second_opinion() -> None:
    found = agreement(
        [
            _obs("places.rating", 4.4, EvidenceSource.PLACES),
            _obs("places.rating", 2.0, EvidenceSource.PLACES),  # the same source again
            _obs("gbp.rating", None, EvidenceSource.GBP),  # no value
            _obs("web.https", True, EvidenceSource.WEBSITE),  # no counterpart anywhere
        ]
    )
    assert found == [Agreement(), Agreement(), Agreement(), Agreement()]


def test_review_counts_agree_within_ten_percent() -> None:
    near, far = (
        agreement(
            [
                _obs("places.review_count", 200, EvidenceSource.PLACES),
                _obs("gbp.review_count", other, EvidenceSource.GBP),
            ]
        )[0]
        for other in (215, 260)
    )
    assert near == Agreement(1, 0)
    assert far == Agreement(0, 1)


def test_confidences_keep_the_order_and_take_plain_tuples() -> None:
    old = NOW - timedelta(days=60)
    rows = [
        ("web.https", True, EvidenceSource.WEBSITE, NOW),
        ("gbp.rating", 4.5, EvidenceSource.GBP, old),
        ("facebook.followers", 120, EvidenceSource.FACEBOOK, NOW),
    ]
    values = confidences(rows, NOW)
    assert values == [
        confidence(EvidenceSource.WEBSITE, NOW, NOW),
        confidence(EvidenceSource.GBP, old, NOW),
        confidence(EvidenceSource.FACEBOOK, NOW, NOW),
    ]
    assert values[1] < values[0] < values[2]
    assert all(round(v, 3) == v for v in values)
