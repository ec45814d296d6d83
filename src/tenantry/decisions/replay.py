"""Offline evaluation of a policy on the logged decisions: inverse propensity scoring.

For logged decisions i with outcome r_i in {0, 1}, chosen arm a_i with logged propensity p_i
and context cell x_i, and a target policy pi: w_i = pi(a_i | x_i) / p_i,

- IPS: V = mean(w_i r_i), standard error std(w_i r_i) / sqrt(n);
- self-normalised IPS: V_sn = sum(w_i r_i) / sum(w_i), standard error by the delta method,
  sqrt(sum(w_i^2 (r_i - V_sn)^2)) / sum(w_i).

Target policies: `uniform` (1/K over the experiment's arms), `arm:KEY` (always that arm),
`greedy` and `thompson`. The last two are replayed in time order: at decision i they see the
counts of the outcomes logged before it in its cell (as the live policy would have), greedy
picks the best posterior mean (ties shared), Thompson gives each arm its win probability
(uniform below `min_events`, mixed with the floor). `matching` counts decisions with
pi(a_i | x_i) > 0. Decisions without an outcome are left out. An arm paused now (by a
guardrail or by hand) counts as not shown to the decisions made after its pause: the target
policies spread over the arms shown at each decision, as the logging policy did (an arm paused
and resumed earlier is not known to have been away). Reads only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.decisions.bandit import posterior_mean, win_probabilities
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models.experiments import ArmStatus, Experiment, ExperimentArm

__all__ = ["POLICIES", "LoggedDecision", "ReplayResult", "estimate", "replay"]

POLICIES = ("uniform", "greedy", "thompson")  # and "arm:KEY"


@dataclass(frozen=True)
class LoggedDecision:
    cell: str
    arm: str
    propensity: float
    reward: float
    # The arms the experiment could show at the time (None: all of them): a policy is replayed
    # over these only, as the logging policy chose among them.
    available: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ReplayResult:
    policy: str
    decisions: int
    matching: int
    ips: float | None
    ips_se: float | None
    snips: float | None
    snips_se: float | None
    logged_rate: float | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


Counts = dict[tuple[str, str], tuple[int, int]]
Target = Callable[[str, Counts, Sequence[str]], dict[str, float]]


def _target(policy: str, all_arms: Sequence[str], floor: float, min_events: int) -> Target:
    if policy == "uniform":
        return lambda _cell, _counts, arms: dict.fromkeys(arms, 1.0 / len(arms))
    if policy.startswith("arm:"):
        key = policy.removeprefix("arm:")
        if key not in all_arms:
            raise ValidationError("the policy names an arm the experiment does not have")
        return lambda _cell, _counts, _arms: {key: 1.0}

    def greedy(cell: str, counts: Counts, arms: Sequence[str]) -> dict[str, float]:
        means = [posterior_mean(*counts.get((cell, a), (0, 0))) for a in arms]
        best = [a for a, m in zip(arms, means, strict=True) if m == max(means)]
        return dict.fromkeys(best, 1.0 / len(best))

    def thompson(cell: str, counts: Counts, arms: Sequence[str]) -> dict[str, float]:
        k = len(arms)
        c = tuple(counts.get((cell, a), (0, 0)) for a in arms)
        if sum(s + f for s, f in c) < min_events:
            return dict.fromkeys(arms, 1.0 / k)
        wins = win_probabilities(c)
        return {a: floor + (1 - k * floor) * w for a, w in zip(arms, wins, strict=True)}

    if policy == "greedy":
        return greedy
    if policy == "thompson":
        return thompson
    raise ValidationError("unknown policy (uniform, greedy, thompson or arm:KEY)")


def estimate(
    logged: Sequence[LoggedDecision],
    policy: str,
    arms: Sequence[str],
    *,
    floor: float = 0.0,
    min_events: int = 0,
) -> ReplayResult:
    """IPS and self-normalised IPS of `policy` on decisions in time order."""
    target = _target(policy, arms, floor, min_events)
    counts: Counts = {}
    weights = np.zeros(len(logged))
    rewards = np.zeros(len(logged))
    for i, d in enumerate(logged):
        shown = d.available if d.available else arms
        weights[i] = target(d.cell, counts, shown).get(d.arm, 0.0) / d.propensity
        rewards[i] = d.reward
        s, f = counts.get((d.cell, d.arm), (0, 0))
        counts[(d.cell, d.arm)] = (s + int(d.reward > 0), f + int(d.reward <= 0))
    n = len(logged)
    if n == 0:
        return ReplayResult(policy, 0, 0, None, None, None, None, None)
    wr = weights * rewards
    ips = float(wr.mean())
    ips_se = float(wr.std(ddof=1) / np.sqrt(n)) if n > 1 else None
    total = float(weights.sum())
    snips = snips_se = None
    if total > 0:
        snips = float(wr.sum() / total)
        snips_se = float(np.sqrt(np.sum(weights**2 * (rewards - snips) ** 2)) / total)
    return ReplayResult(
        policy,
        n,
        int(np.count_nonzero(weights)),
        ips,
        ips_se,
        snips,
        snips_se,
        float(rewards.mean()),
    )


def replay(uow: UnitOfWork, slot: str, policy: str) -> ReplayResult:
    """Evaluate `policy` on the decisions of the slot's latest experiment."""
    tenant = uow.require_tenant()
    exp = uow.session.scalar(
        sa.select(Experiment)
        .where(Experiment.tenant_id == tenant, Experiment.slot == slot)
        .order_by(Experiment.started_at.desc(), Experiment.id.desc())
        .limit(1)
    )
    if exp is None:
        raise NotFoundError("no experiment in this slot")
    arm_rows = uow.session.execute(
        sa.select(ExperimentArm.key, ExperimentArm.status, ExperimentArm.paused_at)
        .where(ExperimentArm.tenant_id == tenant, ExperimentArm.experiment_id == exp.id)
        .order_by(ExperimentArm.position)
    ).all()
    arms = [r.key for r in arm_rows]
    # An arm paused now was not shown to decisions made after its pause.
    paused = [
        (r.key, r.paused_at) for r in arm_rows if r.status == ArmStatus.PAUSED and r.paused_at
    ]
    rows = uow.session.execute(
        sa.text(
            "SELECT cell, arm, propensity, outcome, decided_at FROM decisions.decisions"
            " WHERE tenant_id = :t AND experiment_id = :e AND outcome IS NOT NULL"
            " ORDER BY decided_at, id"
        ),
        {"t": tenant, "e": exp.id},
    ).all()

    def available(at: datetime) -> tuple[str, ...] | None:
        gone = {key for key, since in paused if since <= at}
        return tuple(a for a in arms if a not in gone) if gone else None

    logged = [
        LoggedDecision(r.cell, r.arm, r.propensity, float(r.outcome), available(r.decided_at))
        for r in rows
    ]
    return estimate(logged, policy, arms, floor=exp.floor, min_events=exp.min_events)
