"""The bandit policy and the replay estimators on simulations (no database): Thompson sampling
finds the best arm, the floor holds, propensities match the empirical choice shares, and IPS
recovers a policy's true value from logs with known propensities."""

from __future__ import annotations

import numpy as np
import pytest

from tenantry.decisions.bandit import choose, posterior_mean, win_probabilities
from tenantry.decisions.experiments import check_context_attributes
from tenantry.decisions.replay import LoggedDecision, estimate
from tenantry.errors import ValidationError

RATES = (0.05, 0.10, 0.15, 0.30)


def _run(rounds: int, *, floor: float, seed: int) -> tuple[np.ndarray, list[list[int]]]:
    rng = np.random.default_rng(seed)
    counts = [[0, 0] for _ in RATES]
    picks = np.zeros(len(RATES), dtype=int)
    for _ in range(rounds):
        c = choose([tuple(x) for x in counts], floor=floor, min_events=30, rng=rng)
        picks[c.index] += 1
        win = rng.random() < RATES[c.index]
        counts[c.index][0 if win else 1] += 1
    return picks, counts


def test_thompson_sampling_converges_to_the_best_arm() -> None:
    picks, _ = _run(2_000, floor=0.0, seed=7)
    assert int(np.argmax(picks)) == 3
    assert picks[3] / picks.sum() > 0.6


@pytest.mark.parametrize("floor", [0.05, 0.2])
def test_every_arm_gets_at_least_its_floor(floor: float) -> None:
    picks, _ = _run(2_000, floor=floor, seed=11)
    shares = picks / picks.sum()
    # binomial noise on ~floor*3000 choices: 3 standard errors
    slack = 3 * np.sqrt(floor * (1 - floor) / 2_000)
    assert shares.min() >= floor - slack


def test_uniform_until_the_cell_has_min_events() -> None:
    rng = np.random.default_rng(1)
    c = choose([(10, 0), (0, 10)], floor=0.0, min_events=30, rng=rng)
    assert (c.policy, c.propensity) == ("uniform", 0.5)
    c = choose([(20, 0), (0, 20)], floor=0.0, min_events=30, rng=rng)
    assert c.policy == "thompson"


def test_the_logged_propensity_is_the_empirical_choice_share() -> None:
    counts = [(12, 30), (15, 28), (9, 35)]
    rng = np.random.default_rng(3)
    n = 20_000
    chosen = np.zeros(3)
    logged = np.zeros(3)
    for _ in range(n):
        c = choose(counts, floor=0.1, min_events=0, rng=rng)
        chosen[c.index] += 1
        logged[c.index] = c.propensity
    shares = chosen / n
    # the quadrature's error (< 0.003) plus the sampling error of the share
    tolerance = 0.003 + 3 * 0.5 / np.sqrt(n)
    assert np.abs(shares - logged).max() < tolerance
    assert logged.min() >= 0.1


def test_win_probabilities_sum_to_one_and_favour_the_better_arm() -> None:
    p = win_probabilities(((50, 50), (70, 30)))
    assert sum(p) == pytest.approx(1.0)
    assert p[1] > 0.99
    assert posterior_mean(0, 0) == 0.5


@pytest.mark.parametrize("seed", range(6))
def test_win_probabilities_agree_with_many_posterior_draws(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    counts = tuple(
        (int(rng.integers(0, 3000)), int(rng.integers(0, 3000)))
        if rng.random() < 0.5
        else (int(rng.integers(0, 6)), int(rng.integers(0, 6)))
        for _ in range(k)
    )
    a = np.array([1 + s for s, _ in counts])
    b = np.array([1 + f for _, f in counts])
    n = 400_000
    sampled = np.bincount(rng.beta(a, b, size=(n, k)).argmax(axis=1), minlength=k) / n
    # 5 standard errors of the sampled shares, plus the quadrature's own error
    assert (
        np.abs(np.array(win_probabilities(counts)) - sampled).max() < 5 * 0.5 / np.sqrt(n) + 0.002
    )


def test_floor_times_arms_above_one_is_refused() -> None:
    with pytest.raises(ValueError, match="floor"):
        choose([(0, 0)] * 4, floor=0.3, min_events=0, rng=np.random.default_rng())


def _logs(n: int, seed: int) -> list[LoggedDecision]:
    """Uniform logging over the arms (propensity 1/K known), Bernoulli rewards."""
    rng = np.random.default_rng(seed)
    arms = rng.integers(len(RATES), size=n)
    rewards = rng.random(n) < np.take(RATES, arms)
    return [
        LoggedDecision("*|*|*", f"a{a}", 1 / len(RATES), float(r))
        for a, r in zip(arms, rewards, strict=True)
    ]


@pytest.mark.parametrize("arm", [0, 3])
def test_ips_recovers_a_fixed_arms_true_rate(arm: int) -> None:
    logs = _logs(8_000, seed=arm)
    arms = [f"a{i}" for i in range(len(RATES))]
    result = estimate(logs, f"arm:a{arm}", arms)
    assert result.matching == sum(1 for d in logs if d.arm == f"a{arm}")
    assert result.ips is not None and result.ips_se is not None
    assert abs(result.ips - RATES[arm]) < 3 * result.ips_se
    assert result.snips is not None and result.snips_se is not None
    assert abs(result.snips - RATES[arm]) < 3 * result.snips_se


def test_ips_of_the_logging_policy_is_the_logged_rate() -> None:
    logs = _logs(2_000, seed=5)
    result = estimate(logs, "uniform", [f"a{i}" for i in range(len(RATES))])
    assert result.ips == pytest.approx(result.logged_rate)
    assert result.matching == 2_000


def test_greedy_replay_beats_uniform_on_a_clear_winner() -> None:
    logs = _logs(6_000, seed=9)
    arms = [f"a{i}" for i in range(len(RATES))]
    greedy = estimate(logs, "greedy", arms)
    uniform = estimate(logs, "uniform", arms)
    assert greedy.snips is not None and uniform.snips is not None
    assert greedy.snips > uniform.snips


@pytest.mark.parametrize("attribute", ["gender", "origin", "age", "Age", "date_of_birth"])
def test_sensitive_context_is_refused_by_name_wherever_it_is_declared(attribute: str) -> None:
    with pytest.raises(ValidationError, match=f"sensitive context attribute refused: {attribute}"):
        check_context_attributes(["persona", attribute])


def test_unknown_context_is_refused_and_the_whitelist_passes() -> None:
    with pytest.raises(ValidationError, match="unknown context attribute: shoe_size"):
        check_context_attributes(["shoe_size"])
    assert check_context_attributes(["persona", "onb_day"]) == ("persona", "onb_day")


def test_replay_spreads_a_policy_over_the_arms_shown_after_a_pause() -> None:
    # Logged uniformly over 3 arms, then over 2 once the third was paused: replaying the
    # same uniform rule over the arms shown estimates the logged value, not a 3-arm one.
    rng = np.random.default_rng(11)
    rates = {"a": 0.6, "b": 0.4, "c": 0.05}
    logged = []
    for i in range(6_000):
        shown = ("a", "b", "c") if i < 600 else ("a", "b")
        arm = shown[int(rng.integers(len(shown)))]
        reward = float(rng.random() < rates[arm])
        logged.append(LoggedDecision("*", arm, 1 / len(shown), reward, shown))
    result = estimate(logged, "uniform", list(rates))
    assert result.ips is not None and result.ips_se is not None
    truth = float(np.mean([d.reward for d in logged]))
    assert abs(result.ips - truth) < 3 * result.ips_se + 0.01
    # without the shown arms, the 3-arm uniform weights would miss the truth by far
    blind = estimate(
        [LoggedDecision(d.cell, d.arm, d.propensity, d.reward) for d in logged],
        "uniform",
        list(rates),
    )
    assert blind.ips is not None and abs(blind.ips - truth) > 0.1
