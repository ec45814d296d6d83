"""The deterministic analyser: every statement cites evidence of the check, personas follow the
documented rules, and the same input gives the same output."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

import pytest
from pydantic import SecretStr

from tenantry.config import Settings
from tenantry.errors import ConfigurationError
from tenantry.insight.analysis import OpenAICompatibleAnalyser, RulesAnalyser, make_analyser
from tenantry.insight.facts import AnalysisInput, AnalysisOutput, FactValue
from tenantry.insight.rubric import RUBRIC_VERSION, rubric
from tests.unit.insight.analysis_support import GOOD, analysis_input, evidence

STRUGGLING: Mapping[str, FactValue] = {
    "web.reachable": False,
    "places.rating": 3.8,
    "places.review_count": 7,
    "places.business_status": "CLOSED_TEMPORARILY",
    "places.website_listed": True,
    "places.hours_listed": False,
    "places.latest_review_days": 400,
    "competitors.count": 3,
    "competitors.median_rating": 4.5,
    "competitors.median_review_count": 60,
    "facebook.connected": False,
    "instagram.connected": False,
}
GROWING: Mapping[str, FactValue] = dict(
    GOOD,
    **{
        "gbp.connected": True,
        "gbp.rating": 4.7,
        "gbp.review_count": 240,
        "gbp.reply_rate": 0.4,
        "instagram.connected": True,
        "instagram.followers": 2300,
        "instagram.posts_30d": 10,
        "web.booking_link": True,
    },
)


def _scenarios() -> list[tuple[str, AnalysisInput]]:
    cases = [
        ("good", analysis_input(evidence())),
        ("struggling", analysis_input(evidence(STRUGGLING), failures=("website",))),
        ("growing", analysis_input(evidence(GROWING), location_count=2)),
        ("chain", analysis_input(evidence(), location_count=7)),
        ("empty", analysis_input(())),
    ]
    # every single fact on its own, and random subsets: the analyser must not make a statement
    # that rests on a fact it does not have
    cases += [(f"only {k}", analysis_input(evidence({k: v}))) for k, v in GOOD.items()]
    rng = random.Random(18)
    keys = sorted({*GOOD, *STRUGGLING, *GROWING})
    merged = {**GOOD, **STRUGGLING, **GROWING}
    for n in range(30):
        subset = {k: merged[k] for k in rng.sample(keys, rng.randint(1, len(keys)))}
        cases.append((f"random {n}", analysis_input(evidence(subset), location_count=n % 4 + 1)))
    return cases


SCENARIOS = _scenarios()


def _run(inp: AnalysisInput) -> AnalysisOutput:
    return RulesAnalyser().analyse(inp)


@pytest.mark.parametrize(("name", "inp"), SCENARIOS, ids=[n for n, _ in SCENARIOS])
def test_every_statement_cites_evidence_of_the_input(name: str, inp: AnalysisInput) -> None:
    out = _run(inp)
    ids = {e.id for e in inp.evidence}
    # The analyser checks with `cited_only` before returning: nothing it made may be rejected.
    assert out.rejections == []
    for s in out.statements:
        assert s.evidence_ids, (name, s.text)
        assert set(s.evidence_ids) <= ids, (name, s.text)
        assert s.text.strip()
        assert "Trattoria" not in s.text  # the location's name is never put in


@pytest.mark.parametrize(("name", "inp"), SCENARIOS[:4], ids=[n for n, _ in SCENARIOS[:4]])
def test_a_criterion_statement_cites_the_facts_of_that_criterion(
    name: str, inp: AnalysisInput
) -> None:
    keys_of = {c.name: {*c.keys, c.reference} for c in rubric().criteria}
    key_by_id = {e.id: e.key for e in inp.evidence}
    out = _run(inp)
    checked = 0
    for s in out.statements:
        criterion = s.data.get("criterion")
        if criterion is not None:
            assert {key_by_id[i] for i in s.evidence_ids} <= keys_of[criterion], s.text
            checked += 1
    assert checked >= 3


def test_no_evidence_no_statements() -> None:
    out = _run(analysis_input(()))
    assert out.statements == []
    assert out.error is None


def test_the_output_names_the_rules_and_rubric_version() -> None:
    out = _run(analysis_input(evidence()))
    assert (out.provider, out.model, out.prompt_version) == ("rules", RUBRIC_VERSION, None)
    kinds = {s.kind for s in out.statements}
    assert kinds == {
        "strength", "weakness", "opportunity", "threat", "recommendation", "persona", "summary",
    }  # fmt: skip
    assert [s.kind for s in out.statements].count("summary") == 1


def test_the_same_input_gives_the_same_output_whatever_the_order_of_the_evidence() -> None:
    items = evidence(GROWING)
    shuffled = list(items)
    random.Random(3).shuffle(shuffled)
    first = _run(analysis_input(items))
    again = _run(analysis_input(items))
    reordered = _run(analysis_input(tuple(shuffled)))
    assert first.statements == again.statements
    assert first.raw_output == again.raw_output
    assert [(s.kind, s.text, s.data) for s in reordered.statements] == [
        (s.kind, s.text, s.data) for s in first.statements
    ]
    assert [set(s.evidence_ids) for s in reordered.statements] == [
        set(s.evidence_ids) for s in first.statements
    ]


IMPACT = re.compile(r"^(\+\d+( to \+\d+)?|up to \+\d+) points (GBP|web|social|competitors) score$")


@pytest.mark.parametrize(("name", "inp"), SCENARIOS[:4], ids=[n for n, _ in SCENARIOS[:4]])
def test_recommendations_carry_title_priority_category_and_impact(
    name: str, inp: AnalysisInput
) -> None:
    recs = [s for s in _run(inp).statements if s.kind == "recommendation"]
    assert recs
    for r in recs:
        assert 0 < len(r.data["title"]) <= 200
        assert r.data["priority"] in range(1, 6)
        assert r.data["category"] in ("gbp", "web", "social", "competitors")
        assert IMPACT.match(r.data["expected_impact"]), r.data["expected_impact"]
    priorities = [r.data["priority"] for r in recs]
    assert priorities == sorted(priorities)


def test_the_expected_impact_comes_from_the_points_the_rubric_misses() -> None:
    out = _run(analysis_input(evidence(STRUGGLING)))
    by_title = {s.data["title"]: s.data for s in out.statements if s.kind == "recommendation"}
    # reachable is worth 20 of 100 web points; every other web criterion depends on it
    assert by_title["Get the website loading again"]["expected_impact"] == (
        "+20 to +100 points web score"
    )
    assert by_title["Get the website loading again"]["priority"] == 1
    # 10 of the 80 GBP points counted (reply rate and description need a connection)
    assert by_title["Add the opening hours to the Google listing"]["expected_impact"] == (
        f"+{round(100 * 10 / 80)} points GBP score"
    )
    good = _run(analysis_input(evidence(GOOD, web__structured_data=True, web__booking_link=True)))
    assert not any(
        s.data.get("criterion") in ("web.structured_data", "web.booking")
        for s in good.statements
        if s.kind == "recommendation"
    )


def _persona(inp: AnalysisInput) -> tuple[str | None, set[str]]:
    key_by_id = {e.id: e.key for e in inp.evidence}
    found = [s for s in _run(inp).statements if s.kind == "persona"]
    assert len(found) <= 1
    if not found:
        return None, set()
    return found[0].data["persona"], {key_by_id[i] for i in found[0].evidence_ids}


def test_three_locations_or_more_make_a_chain() -> None:
    persona, cited = _persona(analysis_input(evidence(GROWING), location_count=3))
    assert persona == "ketten-katrin"
    assert cited and cited <= {"gbp.connected", "places.business_status", "web.reachable"}


def test_online_booking_or_social_activity_make_a_grower() -> None:
    persona, cited = _persona(analysis_input(evidence(GOOD, web__booking_link=True)))
    assert (persona, cited) == ("wachstums-walter", {"web.booking_link"})
    active = evidence(GOOD, facebook__posts_30d=5, instagram__posts_30d=4)
    persona, cited = _persona(analysis_input(active))
    assert (persona, cited) == ("wachstums-walter", {"facebook.posts_30d", "instagram.posts_30d"})


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"web__https": False}, "web.https"),
        ({"web__mobile_viewport": False}, "web.mobile_viewport"),
        ({"web__reachable": False}, "web.reachable"),
        ({"places__website_listed": False}, "places.website_listed"),
        (
            {"web__links__facebook": False, "places__review_count": 8},
            "places.review_count",
        ),
    ],
)
def test_a_traditional_presence_makes_a_preserver(
    changes: dict[str, FactValue], reason: str
) -> None:
    persona, cited = _persona(analysis_input(evidence(GOOD, **changes)))
    assert persona == "bewahrer-ben"
    assert reason in cited


def test_a_single_modern_location_without_growth_signals_is_a_sole_owner() -> None:
    persona, cited = _persona(analysis_input(evidence()))
    assert persona == "solo-sarah"
    assert "web.owner_named" in cited
    # two locations and no signal: no rule applies, so no persona is claimed
    assert _persona(analysis_input(evidence(), location_count=2)) == (None, set())


def test_no_persona_without_evidence_for_it() -> None:
    assert _persona(analysis_input(evidence({"competitors.count": 4}), location_count=9)) == (
        None,
        set(),
    )


def test_the_summary_counts_failures_without_naming_them() -> None:
    inp = analysis_input(evidence(STRUGGLING), failures=("https://erika.example.com timed out",))
    summary = next(s for s in _run(inp).statements if s.kind == "summary")
    assert "1 source(s) could not be collected" in summary.text
    assert "erika" not in summary.text
    assert summary.data["scores"] == inp.scores


def test_make_analyser_picks_the_configured_one() -> None:
    assert isinstance(make_analyser(Settings(vc_analyser="rules")), RulesAnalyser)
    llm = make_analyser(
        Settings(
            vc_analyser="llm",
            llm_base_url="http://127.0.0.1:9/v1",
            llm_api_key=SecretStr("sk-test-not-a-key"),
        )
    )
    assert isinstance(llm, OpenAICompatibleAnalyser)
    assert llm.name == "llm"
    with pytest.raises(ConfigurationError):
        make_analyser(Settings(vc_analyser="llm", llm_base_url=None))
