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
draws), it is deterministic, and it costs about 65 us. An arm whose probability
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


_UNIT = np.linspace(_EDGE, 1.0 - _EDGE, GRID)
_OFFSETS = np.linspace(-8.0, 8.0, LOCAL)


def _grid(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Integration points: even across [0, 1], dense within 8 sd of each posterior's mean.

    Open ends: the log density is finite inside (0, 1); the mass left out is negligible. A
    point that falls twice only adds an interval of width 0.
    """
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    around = np.clip(mean[:, None] + sd[:, None] * _OFFSETS[None, :], _EDGE, 1.0 - _EDGE)
    return np.sort(np.concatenate((_UNIT, around.ravel())))


@lru_cache(maxsize=4096)
def _win_probabilities(counts: Counts) -> tuple[float, ...]:
    a = np.array([1.0 + s for s, _ in counts])
    b = np.array([1.0 + f for _, f in counts])
    x = _grid(a, b)
    log_pdf = np.outer(a - 1, np.log(x)) + np.outer(b - 1, np.log1p(-x))
    pdf = np.exp(log_pdf - betaln(a, b)[:, None])
    half = np.diff(x) * 0.5
    # Each distribution function by the same trapezoid rule, so the errors cancel in the sum.
    cdf = np.zeros_like(pdf)
    np.cumsum((pdf[:, 1:] + pdf[:, :-1]) * half, axis=1, out=cdf[:, 1:])
    cdf /= cdf[:, -1:]
    # The product of the other arms' distribution functions: prefix times suffix products.
    others = np.ones_like(cdf)
    others[1:] = np.cumprod(cdf[:-1], axis=0)
    others[:-1] *= np.cumprod(cdf[:0:-1], axis=0)[::-1]
    density = pdf * others
    wins = np.clip(((density[:, 1:] + density[:, :-1]) * half).sum(axis=1), 0.0, None)
    return tuple((wins / wins.sum()).tolist())


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
