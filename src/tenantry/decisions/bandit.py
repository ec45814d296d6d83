"""The bandit policy: Thompson sampling on Beta posteriors with a uniform floor. Pure numpy.

Given the active arms' (successes, failures) in one context cell:

- while the cell has fewer than `min_events` outcomes (all arms together), the choice is
  uniform: every active arm with propensity 1/K;
- otherwise, with probability K*floor the choice is uniform among the active arms, else one
  Thompson draw (theta_a ~ Beta(1+s_a, 1+f_a), the argmax is chosen). The propensity of the
  chosen arm is floor + (1 - K*floor) * P(arm is the argmax).

P(arm is the argmax) has no closed form for K > 2; it is the integral over x of arm a's
posterior density times the other arms' distribution functions, computed by the trapezoid rule
on a grid that is dense where each posterior has its mass (`GRID` points across [0, 1] plus
`LOCAL` points within 8 standard deviations of each arm's mean) and normalised to sum to 1. The
quadrature error is below 0.002 for the posteriors the tests try (against 400,000 Monte Carlo
draws), it is deterministic, and it costs about 0.1 ms. An arm whose probability
rounds to nothing gets `MIN_WIN` (it did win the draw that chose it), so a logged propensity
is never 0 and inverse propensity weights stay finite. Results are cached by the counts (the
posterior's state), so repeated decisions in an unchanged cell reuse the estimate. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy.special import betaln  # type: ignore[import-untyped]

__all__ = [
    "GRID",
    "LOCAL",
    "MIN_WIN",
    "Choice",
    "Counts",
    "choose",
    "posterior_mean",
    "win_probabilities",
]

GRID = 65  # evenly across [0, 1]
LOCAL = 32  # per arm, around its posterior's mean
MIN_WIN = 1e-6
_EDGE = 1e-9

Counts = tuple[tuple[int, int], ...]  # per active arm: (successes, failures)


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen arm (index into the active arms), its propensity and the policy used."""

    index: int
    propensity: float
    policy: str  # "uniform" | "thompson"


def _grid(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Integration points: even across [0, 1], dense within 8 sd of each posterior's mean."""
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    around = mean[:, None] + sd[:, None] * np.linspace(-8.0, 8.0, LOCAL)[None, :]
    points = np.concatenate((np.linspace(0.0, 1.0, GRID), around.ravel()))
    # Open ends: the log density is finite inside (0, 1); the mass left out is negligible.
    return np.unique(np.clip(points, _EDGE, 1.0 - _EDGE))


@lru_cache(maxsize=4096)
def _win_probabilities(counts: Counts) -> tuple[float, ...]:
    a = np.array([1.0 + s for s, _ in counts])
    b = np.array([1.0 + f for _, f in counts])
    x = _grid(a, b)
    log_pdf = (
        (a - 1)[:, None] * np.log(x)[None, :]
        + (b - 1)[:, None] * np.log1p(-x)[None, :]
        - betaln(a, b)[:, None]
    )
    pdf = np.exp(log_pdf)
    # Each distribution function by the same trapezoid rule, so the errors cancel in the sum.
    steps = (pdf[:, 1:] + pdf[:, :-1]) * (np.diff(x) / 2)[None, :]
    cdf = np.concatenate((np.zeros((len(counts), 1)), np.cumsum(steps, axis=1)), axis=1)
    cdf /= cdf[:, -1:]
    # The product of the other arms' distribution functions: prefix times suffix products.
    before = np.ones_like(cdf)
    before[1:] = np.cumprod(cdf[:-1], axis=0)
    after = np.ones_like(cdf)
    after[:-1] = np.cumprod(cdf[:0:-1], axis=0)[::-1]
    density = pdf * before * after
    wins = np.sum((density[:, 1:] + density[:, :-1]) * (np.diff(x) / 2)[None, :], axis=1)
    wins = np.clip(wins, 0.0, None)
    return tuple(float(w) for w in wins / wins.sum())


def win_probabilities(counts: Counts) -> tuple[float, ...]:
    """P(arm is the argmax of its Beta(1+s, 1+f) draw), by quadrature (see the module)."""
    if not counts:
        return ()
    if len(counts) == 1:
        return (1.0,)
    return _win_probabilities(tuple((int(s), int(f)) for s, f in counts))


def posterior_mean(successes: int, failures: int) -> float:
    """The mean of Beta(1+s, 1+f)."""
    return (1 + successes) / (2 + successes + failures)


def choose(
    counts: Sequence[tuple[int, int]],
    *,
    floor: float,
    min_events: int,
    rng: np.random.Generator,
) -> Choice:
    """Choose one of the active arms whose counts are given (at least one arm)."""
    k = len(counts)
    if k == 0:
        raise ValueError("no active arm to choose from")
    if not 0 <= floor * k <= 1 + 1e-12:
        raise ValueError("floor * number of arms must lie in [0, 1]")
    total = sum(s + f for s, f in counts)
    if k == 1 or total < min_events:
        return Choice(int(rng.integers(k)), 1.0 / k, "uniform")
    if floor > 0 and rng.random() < k * floor:
        index = int(rng.integers(k))
    else:
        a: npt.NDArray[np.float64] = np.fromiter((1 + s for s, _ in counts), np.float64, k)
        b: npt.NDArray[np.float64] = np.fromiter((1 + f for _, f in counts), np.float64, k)
        index = int(rng.beta(a, b).argmax())
    win = max(win_probabilities(tuple(counts))[index], MIN_WIN)
    return Choice(index, min(1.0, floor + (1 - k * floor) * win), "thompson")
