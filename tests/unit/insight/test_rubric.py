"""The rubric: scores move with the evidence, rest on evidence ids that exist, and are None
without evidence. Properties are checked over every criterion the rubric file defines, so a new
criterion cannot slip past."""

from __future__ import annotations

import random
from datetime import timedelta
from importlib import resources

import pytest

from tenantry.errors import ValidationError
from tenantry.insight import rubric as rubric_module
from tenantry.insight.rubric import (
    RUBRIC_VERSION,
    SCORES,
    Criterion,
    load_rubric,
    rubric,
    rubric_hash,
    rubric_table,
    score,
)
from tests.unit.insight.analysis_support import GOOD, NOW, evidence, item

CRITERIA = rubric().criteria


def packaged_rubric_text() -> str:
    return resources.files("tenantry.insight").joinpath("rubric.toml").read_text("utf-8")


def test_no_evidence_gives_no_scores_rather_than_zero() -> None:
    result = score([])
    assert result.values == dict.fromkeys((*SCORES, "overall"))
    assert result.competitor_count is None
    assert all(s.evidence_ids == () for s in result.scores.values())


def test_every_score_lists_evidence_ids_of_the_input() -> None:
    items = evidence()
    ids = {i.id for i in items}
    result = score(items)
    for name, s in result.scores.items():
        assert s.value is not None, name
        assert 0 <= s.value <= 100
        assert s.evidence_ids, name
        assert set(s.evidence_ids) <= ids
        for c in s.criteria:
            assert set(c.evidence_ids) <= set(s.evidence_ids)
            assert 0 <= c.points <= c.criterion.points
    assert set(result.scores["overall"].evidence_ids) == {
        i for n in SCORES for i in result.scores[n].evidence_ids
    }


def test_a_criterion_cites_the_facts_it_judged() -> None:
    items = evidence()
    by_id = {i.id: i for i in items}
    for s in score(items).scores.values():
        for c in s.criteria:
            keys = {by_id[i].key for i in c.evidence_ids}
            assert keys <= {*c.criterion.keys, c.criterion.reference}, c.criterion.name


@pytest.mark.parametrize(
    "criterion", [c for c in CRITERIA if c.test == "true"], ids=lambda c: c.name
)
def test_a_true_fact_earns_its_points_and_a_false_one_does_not(criterion: Criterion) -> None:
    key = criterion.keys[0]  # the preferred alternative
    base = dict(GOOD, **{key: True})
    yes = score(evidence(base)).scores[criterion.score]
    no = score(evidence(dict(base, **{key: False}))).scores[criterion.score]
    assert yes.value is not None and no.value is not None
    assert yes.value > no.value


@pytest.mark.parametrize(
    ("key", "low", "high", "name"),
    [
        ("places.rating", 3.5, 4.6, "gbp"),
        ("places.review_count", 3, 400, "gbp"),
        ("places.latest_review_days", 200, 2, "gbp"),
        ("places.photo_count", 0, 40, "gbp"),
        ("web.load_ms", 9000, 400, "web"),
        ("places.rating", 3.5, 4.6, "competitors"),
        ("places.review_count", 3, 400, "competitors"),
    ],
)
def test_scores_rise_with_better_figures(key: str, low: float, high: float, name: str) -> None:
    worse = score(evidence(dict(GOOD, **{key: low}))).scores[name].value
    better = score(evidence(dict(GOOD, **{key: high}))).scores[name].value
    assert worse is not None and better is not None
    assert worse < better


def test_social_activity_counts_once_connected() -> None:
    linked = score(evidence()).scores["social"].value
    active = dict(
        GOOD,
        **{
            "facebook.connected": True,
            "facebook.followers": 1500,
            "facebook.posts_30d": 12,
            "facebook.rating": 4.8,
        },
    )
    assert linked is not None
    assert (score(evidence(active)).scores["social"].value or 0) > linked


def test_a_website_that_does_not_load_scores_zero_and_no_website_facts_score_none() -> None:
    down = {"web.reachable": False, "places.rating": 4.5}
    assert score(evidence(down)).scores["web"].value == 0
    assert score(evidence({"places.rating": 4.5})).scores["web"].value is None


def test_the_gbp_score_uses_the_public_listing_without_a_connection() -> None:
    public = score(evidence({"places.rating": 4.6, "places.business_status": "OPERATIONAL"}))
    gbp = public.scores["gbp"]
    assert gbp.value is not None and gbp.value > 0
    rating = next(c for c in gbp.criteria if c.criterion.name == "gbp.rating")
    assert rating.value == 4.6


def test_the_connected_profile_is_preferred_over_the_public_listing() -> None:
    items = evidence({"gbp.connected": True, "gbp.rating": 3.2, "places.rating": 4.8})
    rating = next(
        c for c in score(items).scores["gbp"].criteria if c.criterion.name == "gbp.rating"
    )
    assert rating.value == 3.2
    assert [i.key for i in items if i.id in rating.evidence_ids] == ["gbp.rating"]


def test_facts_only_a_connection_shows_are_skipped_when_missing_not_counted_as_zero() -> None:
    without = score(evidence()).scores["gbp"]
    reply = next(c for c in without.criteria if c.criterion.name == "gbp.reply_rate")
    assert reply.status == "skipped"
    skipped = sum(c.criterion.points for c in without.criteria if c.status == "skipped")
    assert skipped >= reply.criterion.points
    assert without.max_points == 100 - skipped
    none = score(evidence(GOOD, gbp__reply_rate=0.0)).scores["gbp"].value
    full = score(evidence(GOOD, gbp__reply_rate=1.0)).scores["gbp"].value
    assert without.value is not None and none is not None and full is not None
    assert none < without.value < full


def test_competitors_score_needs_competitor_figures() -> None:
    result = score(
        evidence(GOOD, competitors__median_rating=None, competitors__median_review_count=None)
    )
    assert result.scores["competitors"].value is None
    assert result.competitor_count == GOOD["competitors.count"]
    assert result.competitor_evidence_ids == tuple(
        i.id for i in evidence() if i.key == "competitors.count"
    )


def test_overall_is_the_weighted_mean_of_the_scores_there_are() -> None:
    result = score(evidence())
    weights = rubric().weights
    parts = {n: result.scores[n].value for n in SCORES}
    expected = sum(weights[n] * (v or 0) for n, v in parts.items()) / sum(weights.values())
    assert result.scores["overall"].value == round(expected)
    web_only = score(evidence({"web.reachable": True, "web.https": True}))
    assert web_only.scores["overall"].value == web_only.scores["web"].value


def test_the_order_of_the_evidence_does_not_matter_and_the_newest_fact_wins() -> None:
    items = list(evidence())
    shuffled = items[:]
    random.Random(7).shuffle(shuffled)
    assert score(items).values == score(shuffled).values
    old = item("places.rating", 3.0, n=1, retrieved_at=NOW - timedelta(days=3))
    assert score([*items, old]).values == score(items).values
    new = item("places.rating", 3.0, n=2, retrieved_at=NOW + timedelta(minutes=1))
    assert score([*items, new]).scores["gbp"].value != score(items).scores["gbp"].value


def test_scores_stay_within_bounds_for_arbitrary_evidence() -> None:
    rng = random.Random(18)
    keys = list(GOOD)
    for _ in range(200):
        facts = {k: GOOD[k] for k in rng.sample(keys, rng.randint(0, len(keys)))}
        for k in rng.sample(list(facts), min(3, len(facts))):
            facts[k] = rng.choice([True, False, 0, -5, 10**9, 0.0, 4.9, "", "x"])
        for name, value in score(evidence(facts)).values.items():
            assert value is None or 0 <= value <= 100, name


def test_each_score_has_a_hundred_points_and_the_table_lists_every_criterion() -> None:
    table = rubric_table()
    assert [row["name"] for row in table] == [c.name for c in CRITERIA]
    for name in SCORES:
        assert sum(row["points"] for row in table if row["score"] == name) == 100
    assert abs(sum(rubric().weights.values()) - 1.0) < 1e-9
    doc = " ".join((rubric_module.__doc__ or "").split())
    for name, weight in rubric().weights.items():
        assert f"{name} {weight:.2f}" in doc  # the docstring quotes the weights in use
    assert rubric().version == RUBRIC_VERSION


def test_the_hash_follows_the_definition_not_the_layout() -> None:
    text = packaged_rubric_text()
    assert len(rubric_hash()) == 64
    assert load_rubric(text).hash == rubric_hash()
    assert load_rubric("# a comment\n" + text).hash == rubric_hash()
    changed = text.replace("tiers = [[4.3, 20], [4.0, 10]]", "tiers = [[4.4, 20], [4.0, 10]]")
    assert changed != text
    assert load_rubric(changed).hash != rubric_hash()


@pytest.mark.parametrize(
    "broken",
    [
        'version = "x"\n[[gbp]]\nname = "a"\nlabel = "a"\nkeys = ["k"]\ntest = "nope"\npoints = 5\n',
        'version = "x"\n[[gbp]]\nname = "a"\nlabel = "a"\nkeys = ["k"]\ntest = "at_least"\npoints = 5\n',
        'version = "x"\n[[gbp]]\nname = "a"\nlabel = "a"\nkeys = []\ntest = "true"\npoints = 5\n',
        'version = "x"\n[[gbp]]\nname = "a"\nlabel = "a"\ntest = "true"\npoints = 5\n',
        "version = ",
    ],
)
def test_a_broken_rubric_is_refused(broken: str) -> None:
    with pytest.raises(ValidationError):
        load_rubric(broken)
