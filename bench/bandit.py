"""bandit_regret and decide_p99_us: the experiments' bandit, as a policy and as a service.

`bandit_regret`: cumulative expected regret (sum over rounds of best rate - chosen arm's rate)
on a fixed Bernoulli simulation, 4 arms with success rates 0.10, 0.12, 0.15 and 0.20, of our
policy (`tenantry.decisions.bandit.choose` as shipped: uniform for the first 30 outcomes, no
floor, the propensity computed every round) beside MABWiser's Thompson sampling
(`MAB(arms, LearningPolicy.ThompsonSampling())`, the same Beta(1, 1) prior) with the same
seeds and the same reward draws. `value` is our mean final regret, `baseline_value`
MABWiser's; the time per decision of both is in `params`.

`decide_p99_us`: p99 of `decide` in process against PostgreSQL (an experiment with 4 arms
split by persona, every cell past `min_events`; each decision reads the definition's version
and the cell's posteriors and writes its row), beside a baseline loop that picks an arm
uniformly at random and writes the same row with the same statement. p50s, the pure policy
step (with its propensity cache hit and missed) and the commit are in `params`.

Environment: BENCH_BANDIT_ROUNDS (10000; tiny 1000), BENCH_BANDIT_SEEDS (20; tiny 2),
BENCH_DECIDE_ITERATIONS (5000; tiny 300).
"""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import sqlalchemy as sa

from bench.common import BENCH_MASTER, Result, database, knob, median, percentile, scaled_name
from tenantry.composition import open_database
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions import bandit
from tenantry.decisions.context import PERSONAS, Context, Profile
from tenantry.decisions.experiments import ExperimentSpec, create_experiment, decide
from tenantry.models.enums import LegalForm, Vertical
from tenantry.services.platform import create_tenant

RATES = (0.10, 0.12, 0.15, 0.20)


def _ours(rounds: int, seed: int, draws: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    counts = [[0, 0] for _ in RATES]
    regret = 0.0
    began = time.perf_counter()
    for t in range(rounds):
        c = bandit.choose([(s, f) for s, f in counts], floor=0.0, min_events=30, rng=rng)
        win = draws[t, c.index] < RATES[c.index]
        counts[c.index][0 if win else 1] += 1
        regret += max(RATES) - RATES[c.index]
    return regret, (time.perf_counter() - began) / rounds


def _mabwiser(rounds: int, seed: int, draws: np.ndarray) -> tuple[float, float]:
    from mabwiser.mab import MAB, LearningPolicy  # the benchmark's baseline only

    mab = MAB(list(range(len(RATES))), LearningPolicy.ThompsonSampling(), seed=seed)
    mab.fit([], [])
    regret = 0.0
    began = time.perf_counter()
    for t in range(rounds):
        arm = int(mab.predict())
        mab.partial_fit([arm], [int(draws[t, arm] < RATES[arm])])
        regret += max(RATES) - RATES[arm]
    return regret, (time.perf_counter() - began) / rounds


def bandit_regret(_server: DatabaseTarget) -> Result:
    rounds = knob("BENCH_BANDIT_ROUNDS", 10_000, 1_000)
    seeds = knob("BENCH_BANDIT_SEEDS", 20, 2)
    ours, theirs = [], []
    for seed in range(seeds):
        draws = np.random.default_rng(1_000 + seed).random((rounds, len(RATES)))
        ours.append(_ours(rounds, seed, draws))
        theirs.append(_mabwiser(rounds, seed, draws))
    regret = float(np.mean([r for r, _ in ours]))
    base = float(np.mean([r for r, _ in theirs]))
    us, base_us = (float(np.mean([t for _, t in x]) * 1e6) for x in (ours, theirs))
    return Result(
        name="bandit_regret",
        value=round(regret, 2),
        unit="regret",
        baseline="MABWiser ThompsonSampling, same seeds and reward draws",
        baseline_value=round(base, 2),
        ratio=round(regret / base, 3) if base else 0.0,
        target="regret within 1.2x of MABWiser's Thompson sampling",
        params={
            "rates": list(RATES),
            "rounds": rounds,
            "seeds": seeds,
            "regret_per_seed": [round(r, 2) for r, _ in ours],
            "baseline_regret_per_seed": [round(r, 2) for r, _ in theirs],
            "us_per_decision": round(us, 1),
            "baseline_us_per_decision": round(base_us, 1),
            "time_ratio": round(us / base_us, 3) if base_us else 0.0,
            "propensity_grid": bandit.GRID + bandit.LOCAL * len(RATES),
        },
    )


_BASELINE_INSERT = sa.text(
    "INSERT INTO decisions.decisions (tenant_id, id, experiment_id, arm, user_key, cell,"
    " context, propensity, policy, decided_at, expires_at)"
    " VALUES (:t, :id, :e, :arm, :uk, :cell, CAST(:ctx AS jsonb), :p, :pol, :at, :exp)"
)


def decide_p99_us(server: DatabaseTarget) -> Result:
    iterations = knob("BENCH_DECIDE_ITERATIONS", 5_000, 300)
    target = database(server, scaled_name("bench_bandit"), fresh=True)
    db = open_database(target=target, master=BENCH_MASTER)
    arms = ("a", "b", "c", "d")
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug="bandit",
            legal_name="Bandit Bench GmbH",
            vertical=Vertical.RESTAURANT,
            legal_form=LegalForm.GMBH,
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        exp = create_experiment(
            uow, ExperimentSpec(slot="welcome", arms=arms, floor=0.02, context=("persona",))
        )
        for persona in PERSONAS:
            for i, arm in enumerate(arms):
                uow.session.execute(
                    sa.text(
                        "INSERT INTO decisions.posteriors (tenant_id, id, experiment_id, arm,"
                        " cell, successes, failures) VALUES (:t, :id, :e, :a, :c, :s, :f)"
                    ),
                    {
                        "t": tenant.id,
                        "id": uow.ids(),
                        "e": exp.id,
                        "a": arm,
                        "c": Context(persona=persona).key(("persona",)),
                        "s": 20 + 5 * i,
                        "f": 80,
                    },
                )
        uow.commit()
        experiment_id = exp.id
    profiles = [
        Profile(uuid.uuid4(), f"uk_{i:06d}", True, Context(persona=PERSONAS[i % len(PERSONAS)]))
        for i in range(iterations)
    ]
    rng = np.random.default_rng(7)
    ours: list[float] = []
    commits: list[float] = []
    batch = 50
    for start in range(0, iterations, batch):
        with db.tenant_uow(tenant.id, actor="bench") as uow:
            for p in profiles[start : start + batch]:
                began = time.perf_counter()
                decide(uow, "welcome", p, rng=rng)
                ours.append(time.perf_counter() - began)
            began = time.perf_counter()
            uow.commit()
            commits.append(time.perf_counter() - began)
    base: list[float] = []
    for start in range(0, iterations, batch):
        with db.tenant_uow(tenant.id, actor="bench") as uow:
            for p in profiles[start : start + batch]:
                began = time.perf_counter()
                arm = arms[int(rng.integers(len(arms)))]
                now = uow.clock.now()
                uow.session.execute(
                    _BASELINE_INSERT,
                    {
                        "t": tenant.id,
                        "id": uow.ids(),
                        "e": experiment_id,
                        "arm": arm,
                        "uk": p.user_key,
                        "cell": p.context.key(("persona",)),
                        "ctx": json.dumps({"persona": p.context.persona}),
                        "p": 0.25,
                        "pol": "uniform",
                        "at": now,
                        "exp": now,
                    },
                )
                base.append(time.perf_counter() - began)
            uow.commit()
    hit: list[float] = []
    miss: list[float] = []
    counts = [(40, 80), (45, 80), (50, 80), (55, 80)]
    for i in range(min(iterations, 2_000)):
        began = time.perf_counter()
        bandit.choose(counts, floor=0.02, min_events=30, rng=rng)
        hit.append(time.perf_counter() - began)
        fresh = [(40 + i, 80), (45, 80 + i), (50, 80), (55, 80)]
        began = time.perf_counter()
        bandit.choose(fresh, floor=0.02, min_events=30, rng=rng)
        miss.append(time.perf_counter() - began)
    db.dispose()

    def us(samples: list[float], p: float) -> float:
        return round(percentile(samples, p) * 1e6, 1)

    p99, base_p99 = us(ours, 0.99), us(base, 0.99)
    return Result(
        name="decide_p99_us",
        value=p99,
        unit="us",
        baseline="uniform random choice and the same insert",
        baseline_value=base_p99,
        ratio=round(p99 / base_p99, 3) if base_p99 else 0.0,
        target="p99 <= 1,000 us",
        params={
            "iterations": iterations,
            "p50_us": round(median(ours) * 1e6, 1),
            "baseline_p50_us": round(median(base) * 1e6, 1),
            "commit_per_50_p50_us": round(median(commits) * 1e6, 1),
            "policy_step_cached_p50_us": us(hit, 0.5),
            "policy_step_cached_p99_us": us(hit, 0.99),
            "policy_step_uncached_p50_us": us(miss, 0.5),
            "policy_step_uncached_p99_us": us(miss, 0.99),
            "arms": len(arms),
            "cells": len(PERSONAS),
            "propensity_grid": bandit.GRID + bandit.LOCAL * 4,
        },
    )
