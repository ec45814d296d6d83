"""Entity resolution for `tenantry migrate`: which input records describe the same business or
person, how sure that is and why, and what the merged record holds. `resolve` blocks the
records into candidate pairs, compares them field by field, scores them with a Fellegi-Sunter
model fitted without labels (EM, as Splink does), and clusters the pairs above the threshold;
`survive` merges one cluster with per-column rules and lineage. Pure code: no I/O, no database,
no labels; the loader decides what to do with the answer.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from tenantry.errors import ValidationError
from tenantry.migrate.matching.blocking import BlockingKey, candidate_pairs
from tenantry.migrate.matching.cluster import clusters
from tenantry.migrate.matching.compare import FieldComparison, level_names
from tenantry.migrate.matching.model import Model, estimate_u, fit
from tenantry.migrate.matching.survive import Rule, Survivor, Survivorship, survive

__all__ = [
    "BlockingKey",
    "Comparison",
    "FieldComparison",
    "Reason",
    "Record",
    "Resolution",
    "Rule",
    "ScoredPair",
    "Survivor",
    "Survivorship",
    "business_comparison",
    "person_comparison",
    "resolve",
    "survive",
]


@dataclass(frozen=True)
class Record:
    """One input row: its key (unique across the input), the source it came from (a table) and
    its values under canonical field names (name, street, house_number, postal_code, city,
    phone, email, website, place_id, and any others the comparison names)."""

    key: Hashable
    source: str
    fields: Mapping[str, str | None]


@dataclass(frozen=True)
class Comparison:
    """What to compare and how to find candidates. `unique_sources`: sources known to hold no
    duplicates of their own, so two of their records are never compared nor merged (all
    sources listed: 1-to-1 linkage)."""

    fields: tuple[FieldComparison, ...]
    blocking: tuple[BlockingKey, ...]
    threshold: float = 0.5
    unique_sources: frozenset[str] = frozenset()
    max_block: int = 200
    random_pairs: int = 20_000
    seed: int = 17
    region: str = "DE"  # where phone numbers without a country code are dialled

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValidationError("a comparison needs at least one field")
        if not self.blocking:
            raise ValidationError("a comparison needs at least one blocking key")
        if not 0.0 < self.threshold < 1.0:
            raise ValidationError("the match threshold must lie between 0 and 1")


@dataclass(frozen=True, slots=True)
class Reason:
    """How one field compared and what that did to the odds (log2 Bayes factor)."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class ScoredPair:
    left: Hashable
    right: Hashable
    probability: float
    reasons: tuple[Reason, ...]


@dataclass
class Resolution:
    pairs: list[ScoredPair]  # every candidate pair, most probable first
    clusters: list[tuple[Hashable, ...]]  # every record in exactly one cluster
    model: Model
    comparison: Comparison
    stats: dict[str, int] = field(default_factory=dict)

    def merged(self) -> list[tuple[Hashable, ...]]:
        """The clusters of more than one record."""
        return [c for c in self.clusters if len(c) > 1]

    def parameters(self) -> list[dict[str, str | float]]:
        """What the model learnt, per field and level (for a merge report): m, u and the
        weight (log2 m/u) a pair at that level gets."""
        rows: list[dict[str, str | float]] = []
        for c, fc in enumerate(self.comparison.fields):
            for lv, label in enumerate(level_names(fc)):
                if lv:
                    m, u = self.model.m[c][lv], self.model.u[c][lv]
                    rows.append({"field": fc.name, "level": label, "m": m, "u": u,
                                 "weight": math.log2(m / u)})  # fmt: skip
        return rows


def business_comparison(
    region: str = "DE", *, unique_sources: frozenset[str] = frozenset(), threshold: float = 0.5
) -> Comparison:
    """Businesses (restaurants, workshops) from tables with the canonical business fields:
    the model `tenantry migrate` uses for e.g. `business_partners` + `business_profiles`.
    `unique_sources` and `threshold` as in `Comparison`."""
    return Comparison(
        fields=(
            FieldComparison("name", "name"),
            FieldComparison("street", "address", also=("house_number",)),
            FieldComparison("postal_code", "postal"),
            FieldComparison("city", "text"),
            FieldComparison("phone", "phone"),
            FieldComparison("email", "email"),
            FieldComparison("website", "website"),
            FieldComparison("place_id", "exact"),
        ),
        blocking=(
            BlockingKey("name:tokens"),
            BlockingKey("phone:phone"),
            BlockingKey("postal_code", "street:prefix4"),
            BlockingKey("email"),
            BlockingKey("place_id"),
        ),
        unique_sources=unique_sources,
        threshold=threshold,
        region=region,
    )


def person_comparison(
    region: str = "DE", *, unique_sources: frozenset[str] = frozenset(), threshold: float = 0.5
) -> Comparison:
    """Customers: given name, surname, e-mail, phone, date of birth, postal code."""
    return Comparison(
        fields=(
            FieldComparison("given_name", "person"),
            FieldComparison("surname", "person"),
            FieldComparison("email", "email"),
            FieldComparison("phone", "phone"),
            FieldComparison("date_of_birth", "date"),
            FieldComparison("postal_code", "postal"),
        ),
        blocking=(
            BlockingKey("email"),
            BlockingKey("phone:phone"),
            BlockingKey("surname:phonetic", "given_name:prefix1"),
            BlockingKey("date_of_birth", "surname:prefix2"),
        ),
        unique_sources=unique_sources,
        threshold=threshold,
        region=region,
    )


def resolve(records: Sequence[Record], comparison: Comparison) -> Resolution:
    """Candidate pairs, their match probabilities with reasons, and clusters."""
    keys = [r.key for r in records]
    if len(set(keys)) != len(keys):
        raise ValidationError("record keys must be unique across the input")
    rows = [(r.source, dict(r.fields)) for r in records]
    region = comparison.region
    unique = comparison.unique_sources

    def excluded(a: str, b: str) -> bool:
        return a == b and a in unique

    blocks = candidate_pairs(
        rows, comparison.blocking, region=region, max_block=comparison.max_block, excluded=excluded
    )
    prepared = [tuple(fc.prepare(fields, region) for fc in comparison.fields) for _, fields in rows]
    compare = _Comparer(comparison.fields, prepared)
    pairs = sorted(blocks.pairs)
    patterns = [compare(i, j) for i, j in pairs]
    sizes = [fc.levels for fc in comparison.fields]
    sample = _random_pairs(rows, comparison.random_pairs, comparison.seed, excluded)
    u = estimate_u([compare(i, j) for i, j in sample], sizes)
    start = min(0.5, 0.5 * len(records) / max(len(pairs), 1))
    model = fit(Counter(patterns), sizes, u, match_share=start)

    names = [fc.name for fc in comparison.fields]
    labels = [level_names(fc) for fc in comparison.fields]
    explained: dict[tuple[int, ...], tuple[float, tuple[Reason, ...]]] = {}
    scored: list[ScoredPair] = []
    edges: list[tuple[float, int, int]] = []
    for (i, j), pattern in zip(pairs, patterns, strict=True):
        if pattern not in explained:
            weights = model.weights(pattern)
            reasons = tuple(
                Reason(names[c], labels[c][lv], round(weights[c], 3))
                for c, lv in enumerate(pattern)
            )
            explained[pattern] = (model.probability(pattern), reasons)
        probability, reasons = explained[pattern]
        scored.append(ScoredPair(keys[i], keys[j], probability, reasons))
        edges.append((probability, i, j))
    groups = clusters(
        len(records),
        [source for source, _ in rows],
        edges,
        threshold=comparison.threshold,
        unique_sources=unique,
    )
    scored.sort(key=lambda p: -p.probability)
    stats = {
        "records": len(records),
        "candidate_pairs": len(pairs),
        "skipped_blocks": blocks.skipped_blocks,
        "em_iterations": model.iterations,
    }
    clustered = [tuple(keys[i] for i in g) for g in groups]
    return Resolution(scored, clustered, model, comparison, stats)


class _Comparer:
    """Levels of a pair, with the string comparisons of repeated value pairs remembered."""

    def __init__(self, fields: Sequence[FieldComparison], prepared: list[tuple[str, ...]]) -> None:
        self.fields = list(enumerate(fields))
        self.prepared = prepared
        self.memo: list[dict[tuple[str, str], int]] = [{} for _ in fields]

    def __call__(self, i: int, j: int) -> tuple[int, ...]:
        a, b = self.prepared[i], self.prepared[j]
        out = []
        for c, fc in self.fields:
            va, vb = a[c], b[c]
            if not va or not vb:
                out.append(0)
            elif va == vb:
                out.append(1)
            else:
                memo = self.memo[c]
                pair = (va, vb) if va < vb else (vb, va)
                level = memo.get(pair)
                if level is None:
                    level = memo[pair] = fc.level(va, vb)
                out.append(level)
        return tuple(out)


def _random_pairs(
    rows: Sequence[tuple[str, Mapping[str, str | None]]],
    count: int,
    seed: int,
    excluded: Callable[[str, str], bool],
) -> list[tuple[int, int]]:
    """Up to `count` random pairs that could be candidates (for estimating u)."""
    n = len(rows)
    if n < 2:
        return []
    rng = random.Random(seed)
    out: list[tuple[int, int]] = []
    for _ in range(count * 3):
        if len(out) >= count:
            break
        i, j = rng.randrange(n), rng.randrange(n)
        if i == j or excluded(rows[i][0], rows[j][0]):
            continue
        out.append((i, j))
    return out
