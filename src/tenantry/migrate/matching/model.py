"""The Fellegi-Sunter model: for each comparison level, the probability of seeing it among
true matches (m) and among non-matches (u), plus the share of matches among the candidates.
Fitted without labels: u from random record pairs (almost all of them non-matches), m and the
match share by expectation maximisation over the candidates' level patterns, with Dirichlet
priors that keep every probability away from 0 and 1. Pure arithmetic on counts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Model", "fit"]

Pattern = tuple[int, ...]  # one comparison level per field comparison; 0 = missing

_FLOOR = 1e-6


@dataclass
class Model:
    m: list[list[float]]  # m[c][level]; level 0 (missing) is unused
    u: list[list[float]]
    match_share: float  # P(match) among the candidate pairs
    iterations: int

    def weights(self, pattern: Pattern) -> list[float]:
        """log2 Bayes factor of each comparison (0 where a value is missing)."""
        return [
            math.log2(self.m[c][lv] / self.u[c][lv]) if lv else 0.0 for c, lv in enumerate(pattern)
        ]

    def probability(self, pattern: Pattern) -> float:
        prior = math.log2(self.match_share / (1.0 - self.match_share))
        total = prior + sum(self.weights(pattern))
        return 1.0 / (1.0 + 2.0 ** (-total)) if total > -1000 else 0.0


def _normalised(counts: list[float]) -> list[float]:
    total = sum(counts[1:])
    return [1.0] + [max(c / total, _FLOOR) for c in counts[1:]]


def estimate_u(samples: Sequence[Pattern], sizes: Sequence[int]) -> list[list[float]]:
    """u per level from the patterns of random pairs, with one pseudo-count per level."""
    u: list[list[float]] = []
    for c, size in enumerate(sizes):
        counts = [0.0] + [1.0] * size
        for pattern in samples:
            if pattern[c]:
                counts[pattern[c]] += 1.0
        u.append(_normalised(counts))
    return u


def _prior_m(size: int) -> list[float]:
    """Pseudo-counts for m: matches mostly agree exactly, seldom differ entirely."""
    closest = [4.0] + [1.0] * (size - 2) + [0.5]
    return [0.0, *closest[:size]]


def fit(
    patterns: Counter[Pattern],
    sizes: Sequence[int],
    u: list[list[float]],
    *,
    match_share: float,
    max_iterations: int = 100,
    u_prior: float = 50.0,
    tolerance: float = 1e-5,
) -> Model:
    """EM over the candidate patterns. m starts from a prior favouring agreement; u starts from
    the random pairs' estimate and is re-estimated among the candidates too (blocking makes
    candidates agree more often than random pairs do), the random estimate acting as its prior
    with the weight of `u_prior` pairs."""
    m = [
        _normalised([0.0] + [float(size - lv + 1) ** 2 for lv in range(1, size + 1)])
        for size in sizes
    ]
    share = min(max(match_share, 1e-4), 0.5)
    cand = u
    items = list(patterns.items())
    total = float(sum(patterns.values())) or 1.0
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        counts = [_prior_m(size) for size in sizes]
        ucounts = [[0.0] + [u_prior * p for p in row[1:]] for row in u]
        matched = 0.0
        for pattern, n in items:
            pm, pu = share, 1.0 - share
            for c, lv in enumerate(pattern):
                if lv:
                    pm *= m[c][lv]
                    pu *= cand[c][lv]
            weight = n * (pm / (pm + pu)) if pm + pu > 0 else 0.0
            matched += weight
            for c, lv in enumerate(pattern):
                if lv:
                    counts[c][lv] += weight
                    ucounts[c][lv] += n - weight
        new_m = [_normalised(cs) for cs in counts]
        cand_u = [_normalised(cs) for cs in ucounts]
        new_share = min(max(matched / total, 1e-6), 0.999)
        change = max(
            abs(new_share - share),
            max(
                abs(a - b)
                for row, new in zip(m, new_m, strict=True)
                for a, b in zip(row, new, strict=True)
            ),
        )
        m, share, cand = new_m, new_share, cand_u
        if change < tolerance:
            break
    return Model(m=m, u=cand, match_share=share, iterations=iterations)
