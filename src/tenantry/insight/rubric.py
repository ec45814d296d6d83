"""The scoring rubric of the visibility check: scores 0..100 from the evidence, explained.

This module owns the arithmetic of the rubric; the criteria and weights are data, in
`rubric.toml` next to it (docs and `rubric_table()` render them). It reads no database and
fetches nothing. Version `RUBRIC_VERSION`, plus `rubric_hash()`, the SHA-256 of the rubric's
definition: any change of a criterion or weight changes it.

Each score (`gbp`, `web`, `social`, `competitors`) is a list of criteria; each criterion reads
one fact key, or a list of alternatives (`gbp.rating`, else `places.rating`: the GBP score
works without a GBP connection, from the public listing), and awards points by its test
(`true`, `present`, `at_least`, `at_most` with tiers, `diff_vs` / `ratio_vs` against a
reference fact such as the competitors' median rating).

A criterion whose fact is missing counts 0 of its points ("missing": what the check cannot see
is not visible), unless it is `optional` (only visible through a platform connection: GBP reply
rate, description, photo count): then it is skipped, like a comparison without its reference.
A score is the points earned over the points of the criteria counted, x 100, rounded; a score
none of whose counted criteria rests on evidence is None, not 0. `overall` is the mean of the
scores that are not None, weighted by the rubric's weights (gbp 0.35, web 0.30, social 0.20,
competitors 0.15). When a key occurs more than once the newest fact is used (then the most
confident, then the smallest id), so the result does not depend on the order of the evidence.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Literal, cast, get_args

from tenantry.errors import ValidationError
from tenantry.insight.facts import EvidenceItem, FactValue

__all__ = [
    "RUBRIC_VERSION",
    "SCORES",
    "Criterion",
    "CriterionResult",
    "Rubric",
    "RubricResult",
    "ScoreResult",
    "latest_facts",
    "load_rubric",
    "rubric",
    "rubric_hash",
    "rubric_table",
    "score",
]

RUBRIC_VERSION = "2026.12-1"

ScoreName = Literal["web", "gbp", "social", "competitors"]
Test = Literal["true", "present", "at_least", "at_most", "diff_vs", "ratio_vs"]
Status = Literal["met", "partly met", "not met", "missing", "skipped"]

SCORES: tuple[ScoreName, ...] = ("gbp", "web", "social", "competitors")
_TESTS = frozenset(get_args(Test))
_TIERED = frozenset({"at_least", "at_most", "diff_vs", "ratio_vs"})


@dataclass(frozen=True)
class Criterion:
    score: ScoreName
    name: str  # unique within the rubric
    label: str  # what is asked, for docs and explanations
    keys: tuple[str, ...]  # alternatives, first available wins
    test: Test
    points: int
    tiers: tuple[tuple[float, int], ...] = ()  # (threshold, points), best first
    reference: str | None = None  # the fact a *_vs test compares with
    optional: bool = False  # skipped, not 0, when its fact is missing
    gate: bool = False  # the score's other facts depend on it (site reachable, listed)


@dataclass(frozen=True)
class Rubric:
    version: str
    weights: Mapping[str, float]
    criteria: tuple[Criterion, ...]
    hash: str  # SHA-256 of the definition (version, weights, criteria), not of the file's text

    def table(self) -> list[dict[str, Any]]:
        """The criteria as plain rows, for docs and the API."""
        return [
            {**asdict(c), "keys": list(c.keys), "tiers": [list(t) for t in c.tiers]}
            for c in self.criteria
        ]


def _criterion(score: ScoreName, raw: Mapping[str, Any]) -> Criterion:
    try:
        c = Criterion(
            score=score,
            name=str(raw["name"]),
            label=str(raw["label"]),
            keys=tuple(str(k) for k in raw["keys"]),
            test=cast(Test, str(raw["test"])),
            points=int(raw["points"]),
            tiers=tuple((float(t), int(p)) for t, p in raw.get("tiers", ())),
            reference=raw.get("reference"),
            optional=bool(raw.get("optional", False)),
            gate=bool(raw.get("gate", False)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValidationError(f"rubric: criterion of {score}: {exc!r}") from None
    problems = [
        "unknown test" if c.test not in _TESTS else "",
        "no keys" if not c.keys else "",
        "tiers needed" if (c.test in _TIERED) != bool(c.tiers) else "",
        "best tier must give all points" if c.tiers and c.tiers[0][1] != c.points else "",
        "reference needed" if c.test.endswith("_vs") != bool(c.reference) else "",
    ]
    if any(problems):
        raise ValidationError(f"rubric: {c.name}: {'; '.join(p for p in problems if p)}")
    return c


def load_rubric(text: str | None = None) -> Rubric:
    """The rubric from `rubric.toml` in this package (or from `text`), checked."""
    if text is None:
        text = resources.files("tenantry.insight").joinpath("rubric.toml").read_text("utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"rubric.toml: {exc}") from None
    try:
        weights: dict[str, float] = {n: float(doc["weights"].get(n, 0.0)) for n in SCORES}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValidationError("rubric: [weights] must give a number per score") from None
    criteria = tuple(_criterion(name, raw) for name in SCORES for raw in doc.get(name, ()))
    if len({c.name for c in criteria}) != len(criteria):
        raise ValidationError("rubric: criterion names must be unique")
    version = str(doc.get("version", ""))
    body = Rubric(version, weights, criteria, "").table()
    digest = json.dumps({"version": version, "weights": weights, "criteria": body}, sort_keys=True)
    return Rubric(version, weights, criteria, hashlib.sha256(digest.encode()).hexdigest())


@functools.cache
def rubric() -> Rubric:
    """The packaged rubric (read once)."""
    found = load_rubric()
    if found.version != RUBRIC_VERSION:
        raise ValidationError(f"rubric.toml is version {found.version}, code {RUBRIC_VERSION}")
    return found


def rubric_hash() -> str:
    """SHA-256 of the packaged rubric's definition: any change of a criterion changes it."""
    return rubric().hash


def rubric_table() -> list[dict[str, Any]]:
    """The packaged rubric's criteria as plain rows, for docs and the API."""
    return rubric().table()


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    status: Status
    points: int  # earned
    value: FactValue  # the value judged (None when missing)
    evidence_ids: tuple[uuid.UUID, ...]

    @property
    def counted(self) -> bool:
        return self.status != "skipped"

    @property
    def next_tier_points(self) -> int:
        """Points of the next tier above what was earned (all points for true/present)."""
        better = sorted(p for _, p in self.criterion.tiers if p > self.points)
        return better[0] if better else self.criterion.points


@dataclass(frozen=True)
class ScoreResult:
    name: str
    value: int | None
    evidence_ids: tuple[uuid.UUID, ...]
    criteria: tuple[CriterionResult, ...]

    @property
    def max_points(self) -> int:
        return sum(c.criterion.points for c in self.criteria if c.counted)

    def gain(self, points: int) -> float:
        """Score points that `points` more rubric points would add."""
        return 100.0 * points / self.max_points if self.max_points else 0.0


@dataclass(frozen=True)
class RubricResult:
    version: str
    rubric_hash: str
    scores: Mapping[str, ScoreResult]  # gbp, web, social, competitors, overall
    competitor_count: int | None
    competitor_evidence_ids: tuple[uuid.UUID, ...]

    @property
    def values(self) -> dict[str, int | None]:
        return {name: s.value for name, s in self.scores.items()}

    @property
    def known(self) -> dict[str, int]:
        """The scores that are not None (what `AnalysisInput.scores` carries)."""
        return {name: s.value for name, s in self.scores.items() if s.value is not None}


def _number(value: FactValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def latest_facts(evidence: Sequence[EvidenceItem]) -> dict[str, EvidenceItem]:
    """The fact to use per key: newest, then most confident, then smallest id."""
    chosen: dict[str, EvidenceItem] = {}
    for item in evidence:
        if item.value is None:
            continue
        seen = chosen.get(item.key)
        rank = (item.retrieved_at, item.confidence, -item.id.int)
        if seen is None or rank > (seen.retrieved_at, seen.confidence, -seen.id.int):
            chosen[item.key] = item
    return chosen


def _tiered(c: Criterion, x: float) -> int:
    for threshold, points in c.tiers:
        if (x <= threshold) if c.test == "at_most" else (x >= threshold - 1e-9):
            return points
    return 0


def _judge(c: Criterion, facts: Mapping[str, EvidenceItem]) -> CriterionResult:
    present = [facts[k] for k in c.keys if k in facts]
    ref = facts.get(c.reference) if c.reference else None
    if c.reference and (ref is None or not _number(ref.value)):
        return CriterionResult(c, "skipped", 0, None, ())
    ref_ids = (ref.id,) if ref is not None else ()
    if c.test == "present":
        if not present:
            return CriterionResult(c, "skipped" if c.optional else "missing", 0, None, ())
        hit = next((f for f in present if f.value is True or _text(f.value)), None)
        ids = tuple(f.id for f in present)
        if hit is None:
            return CriterionResult(c, "not met", 0, present[0].value, ids)
        return CriterionResult(c, "met", c.points, hit.value, ids)
    usable = [f for f in present if _fits(c, f.value)]
    if not usable:
        if c.optional:
            return CriterionResult(c, "skipped", 0, None, ())
        return CriterionResult(c, "missing", 0, None, ref_ids)
    fact = usable[0]
    if c.test == "true":
        points = c.points if fact.value is True else 0
    else:
        x = _number(fact.value)
        assert x is not None
        base = _number(ref.value) if ref is not None else None
        if base and c.test == "diff_vs":
            x -= base
        elif base and c.test == "ratio_vs":
            x /= base
        points = _tiered(c, x)
    status: Status = "met" if points >= c.points else "partly met" if points else "not met"
    return CriterionResult(c, status, points, fact.value, (fact.id, *ref_ids))


def _text(value: FactValue) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _fits(c: Criterion, value: FactValue) -> bool:
    return isinstance(value, bool) if c.test == "true" else _number(value) is not None


def _unique(ids: Sequence[uuid.UUID]) -> tuple[uuid.UUID, ...]:
    return tuple(dict.fromkeys(ids))


def _score(name: str, results: tuple[CriterionResult, ...]) -> ScoreResult:
    counted = [r for r in results if r.counted]
    ids = _unique([i for r in counted for i in r.evidence_ids])
    total = sum(r.criterion.points for r in counted)
    if not ids or not total:
        return ScoreResult(name, None, (), results)
    return ScoreResult(name, round(100 * sum(r.points for r in counted) / total), ids, results)


def score(evidence: Sequence[EvidenceItem], definition: Rubric | None = None) -> RubricResult:
    """All scores of one check from its evidence, with the criteria and evidence behind each."""
    r = definition or rubric()
    facts = latest_facts(evidence)
    scores: dict[str, ScoreResult] = {}
    for name in SCORES:
        judged = tuple(_judge(c, facts) for c in r.criteria if c.score == name)
        scores[name] = _score(name, judged)
    parts = [(r.weights[n], s) for n, s in scores.items() if s.value is not None]
    weight = sum(w for w, _ in parts)
    overall = round(sum(w * (s.value or 0) for w, s in parts) / weight) if weight else None
    ids = _unique([i for _, s in parts for i in s.evidence_ids])
    scores["overall"] = ScoreResult("overall", overall, ids if overall is not None else (), ())
    count = facts.get("competitors.count")
    n = _number(count.value) if count is not None else None
    known = n is not None and n >= 0
    return RubricResult(
        r.version,
        r.hash,
        scores,
        int(n) if n is not None and known else None,
        (count.id,) if count is not None and known else (),
    )
