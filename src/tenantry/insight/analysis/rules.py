"""The deterministic analyser: SWOT, recommendations, persona and a summary from the rubric.

`RulesAnalyser` reads the evidence of one check, scores it with the rubric and turns the
criteria into statements; no network, no database, no clock, no randomness: the same input
gives the same statements in the same order. Every statement cites the evidence ids the rubric
used for it; a conclusion no evidence supports is not made, and `cited_only` checks the result
once more before it is returned. The location's name is never put into a statement.

- strengths: met criteria worth 10 points or more (up to 3 per score; gates such as "website
  reachable" are prerequisites, not strengths); competitors criteria met.
- weaknesses: criteria of gbp, web and social that are not (fully) met, the biggest shortfall
  first (up to 3 per score).
- threats: competitors criteria not met (rated or reviewed below the nearby median), a listing
  that is not operational, a crowded market (10 competitors or more).
- opportunities: accounts that exist but are not connected (their activity would count), a
  better rating than the competitors with fewer reviews.
- recommendations: the criteria with points to gain, ranked by what they would add to the
  overall score; `expected_impact` is the score gain from the next tier to all points of the
  criterion (a gate adds the points of the criteria that depend on it); priority 1 for 8 or
  more overall points, 2 for 4, 3 for 2, 4 for 1, else 5. An account the website links but
  the check cannot read gets "connect it", worth up to the points its missing facts hold.
  Up to 8.
- persona: `persona.detect_persona`.
- summary: the scores, the counts, the largest lever.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from tenantry.insight.analysis.persona import detect_persona
from tenantry.insight.analysis.phrases import PHRASES, SCORE_LABELS, Phrase, show
from tenantry.insight.facts import (
    AnalysisInput,
    AnalysisOutput,
    EvidenceItem,
    Statement,
    cited_only,
)
from tenantry.insight.rubric import (
    RUBRIC_VERSION,
    CriterionResult,
    RubricResult,
    ScoreResult,
    latest_facts,
    rubric,
    score,
)

__all__ = ["RulesAnalyser"]

PER_SCORE = 3
MAX_RECOMMENDATIONS = 8
CROWDED_MARKET = 10
_PRIORITY_STEPS = ((8.0, 1), (4.0, 2), (2.0, 3), (1.0, 4))
_SWOT_SCORES = ("gbp", "web", "social")
_PLATFORMS = (("facebook", "Facebook"), ("instagram", "Instagram"))


def _phrase(c: CriterionResult) -> Phrase:
    found = PHRASES.get(c.criterion.name)
    return found or Phrase(c.criterion.label + ".", "Not met: " + c.criterion.label + ".", "")


def _sentence(template: str, c: CriterionResult, facts: Mapping[str, EvidenceItem]) -> str:
    ref = facts.get(c.criterion.reference) if c.criterion.reference else None
    name = c.criterion.name
    return template.format(
        value=show(name, c.value), reference=show(name, ref.value if ref else None)
    )


def _evidenced(s: ScoreResult) -> list[CriterionResult]:
    return [c for c in s.criteria if c.counted and c.evidence_ids and c.status != "missing"]


def _strengths(result: RubricResult, facts: Mapping[str, EvidenceItem]) -> Iterator[Statement]:
    for name in (*_SWOT_SCORES, "competitors"):
        met = [
            c
            for c in _evidenced(result.scores[name])
            if c.status == "met" and c.criterion.points >= 10 and not c.criterion.gate
        ]
        met.sort(key=lambda c: -c.criterion.points)
        for c in met[:PER_SCORE]:
            text = _sentence(_phrase(c).good, c, facts)
            yield Statement("strength", text, c.evidence_ids, {"criterion": c.criterion.name})


def _shortfalls(s: ScoreResult) -> list[CriterionResult]:
    unmet = [c for c in _evidenced(s) if c.status in ("not met", "partly met")]
    return sorted(unmet, key=lambda c: -(c.criterion.points - c.points))


def _weaknesses(result: RubricResult, facts: Mapping[str, EvidenceItem]) -> Iterator[Statement]:
    for name in _SWOT_SCORES:
        for c in _shortfalls(result.scores[name])[:PER_SCORE]:
            text = _sentence(_phrase(c).bad, c, facts)
            yield Statement("weakness", text, c.evidence_ids, {"criterion": c.criterion.name})


def _threats(result: RubricResult, facts: Mapping[str, EvidenceItem]) -> Iterator[Statement]:
    for c in _shortfalls(result.scores["competitors"]):
        text = _sentence(_phrase(c).bad, c, facts)
        yield Statement("threat", text, c.evidence_ids, {"criterion": c.criterion.name})
    status = facts.get("places.business_status")
    if status is not None and isinstance(status.value, str) and status.value != "OPERATIONAL":
        text = (
            f"The Google listing shows the business as {status.value[:40]}: searchers may "
            "take it for closed."
        )
        yield Statement("threat", text, (status.id,))
    count = result.competitor_count
    if count is not None and count >= CROWDED_MARKET:
        text = f"A crowded market: {count} competitors nearby compete for the same searches."
        yield Statement("threat", text, result.competitor_evidence_ids)


def _unconnected(
    facts: Mapping[str, EvidenceItem], platform: str
) -> tuple[EvidenceItem, EvidenceItem] | None:
    """The facts that show an account the website links but the check cannot read."""
    connected = facts.get(f"{platform}.connected")
    linked = facts.get(f"web.links.{platform}")
    if connected is None or linked is None or connected.value is not False:
        return None
    return (connected, linked) if linked.value is True else None


def _opportunities(result: RubricResult, facts: Mapping[str, EvidenceItem]) -> Iterator[Statement]:
    gbp = facts.get("gbp.connected")
    listing = facts.get("places.business_status")
    if gbp is not None and gbp.value is False and listing is not None:
        text = (
            "A Google listing exists but its Business Profile is not connected: connected, the "
            "check sees replies and the description, and reviews can be answered."
        )
        yield Statement("opportunity", text, (gbp.id, listing.id))
    for platform, label in _PLATFORMS:
        found = _unconnected(facts, platform)
        if found is not None:
            text = (
                f"The website links a {label} account that is not connected: connected, its "
                "reach and activity count towards the social score."
            )
            yield Statement("opportunity", text, tuple(i.id for i in found))
    crit = {c.criterion.name: c for c in result.scores["competitors"].criteria}
    rating, reviews = crit.get("competitors.rating"), crit.get("competitors.reviews")
    if (
        rating is not None
        and reviews is not None
        and rating.status == "met"
        and reviews.status in ("not met", "partly met")
    ):
        text = (
            "Rated at least as well as the nearby competitors but with fewer reviews: more "
            "reviews would turn the better rating into visibility."
        )
        ids = tuple(dict.fromkeys((*rating.evidence_ids, *reviews.evidence_ids)))
        yield Statement("opportunity", text, ids)


def _impact(s: ScoreResult, c: CriterionResult) -> tuple[int, int]:
    """Score points gained from reaching the next tier, and from reaching all points."""
    high = c.criterion.points - c.points
    if c.criterion.gate:
        high += sum(d.criterion.points for d in s.criteria if d.status == "missing")
    return round(s.gain(c.next_tier_points - c.points)), round(s.gain(high))


def _priority(overall_gain: float) -> int:
    return next((p for step, p in _PRIORITY_STEPS if overall_gain >= step), 5)


def _recommendations(
    result: RubricResult, facts: Mapping[str, EvidenceItem], weights: Mapping[str, float]
) -> list[Statement]:
    ranked: list[tuple[float, int, Statement]] = []
    order = 0
    for name in ("gbp", "web", "social", "competitors"):
        s = result.scores[name]
        for c in _shortfalls(s):
            low, high = _impact(s, c)
            if high <= 0:
                continue
            phrase = _phrase(c)
            label = SCORE_LABELS[name]
            impact = f"+{high} points {label} score"
            if low != high:
                impact = f"+{low} to +{high} points {label} score"
            overall_gain = high * weights.get(name, 0.0)
            data = {
                "title": (phrase.title or c.criterion.label)[:200],
                "priority": _priority(overall_gain),
                "category": name,
                "expected_impact": impact,
                "criterion": c.criterion.name,
            }
            text = f"{_sentence(phrase.bad, c, facts)} Rubric: {c.criterion.label}."
            ranked.append(
                (overall_gain, order, Statement("recommendation", text, c.evidence_ids, data))
            )
            order += 1
    social = result.scores["social"]
    for platform, label in _PLATFORMS:
        found = _unconnected(facts, platform)
        hidden = sum(
            c.criterion.points
            for c in social.criteria
            if c.status == "missing" and all(k.startswith(f"{platform}.") for k in c.criterion.keys)
        )
        if found is None or not hidden:
            continue
        high = round(social.gain(hidden))
        overall_gain = high * weights.get("social", 0.0)
        data = {
            "title": f"Connect the {label} account",
            "priority": _priority(overall_gain),
            "category": "social",
            "expected_impact": f"up to +{high} points social score",
        }
        text = (
            f"The website links a {label} account, but without a connection its followers and "
            "posts cannot count towards the social score."
        )
        statement = Statement("recommendation", text, tuple(i.id for i in found), data)
        ranked.append((overall_gain, order, statement))
        order += 1
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [statement for _, _, statement in ranked[:MAX_RECOMMENDATIONS]]


def _summary(result: RubricResult, statements: list[Statement], failures: int) -> Statement | None:
    overall = result.scores["overall"]
    if overall.value is None or not overall.evidence_ids:
        return None
    parts = [
        f"{SCORE_LABELS[n]} {result.scores[n].value}"
        for n in ("gbp", "web", "social", "competitors")
        if result.scores[n].value is not None
    ]
    kinds: list[str] = [s.kind for s in statements]
    counts = ", ".join(
        f"{kinds.count(kind)} {kind if kinds.count(kind) == 1 else plural}"
        for kind, plural in (
            ("strength", "strengths"),
            ("weakness", "weaknesses"),
            ("threat", "threats"),
        )
    )
    text = f"Overall visibility {overall.value}/100 ({', '.join(parts)}): {counts}."
    top = next((s for s in statements if s.kind == "recommendation"), None)
    if top is not None:
        text += f" Largest lever: {top.data['title']} ({top.data['expected_impact']})."
    if failures:
        text += f" {failures} source(s) could not be collected; the scores rest on the rest."
    return Statement("summary", text, overall.evidence_ids, {"scores": result.known})


class RulesAnalyser:
    """The default analyser: deterministic, offline, every statement backed by evidence."""

    name = "rules"

    def analyse(self, inp: AnalysisInput) -> AnalysisOutput:
        started = time.perf_counter()
        result = score(inp.evidence)
        facts = latest_facts(inp.evidence)
        statements: list[Statement] = [
            *_strengths(result, facts),
            *_weaknesses(result, facts),
            *_opportunities(result, facts),
            *_threats(result, facts),
            *_recommendations(result, facts, rubric().weights),
        ]
        persona = detect_persona(inp, facts)
        if persona is not None:
            statements.append(persona)
        summary = _summary(result, statements, len(inp.failures))
        if summary is not None:
            statements.append(summary)
        kept, rejected = cited_only(statements, {e.id for e in inp.evidence})
        return AnalysisOutput(
            provider=self.name,
            model=RUBRIC_VERSION,
            prompt_version=None,
            statements=kept,
            rejections=rejected,
            raw_output={"rubric_hash": result.rubric_hash, "scores": result.values},
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
