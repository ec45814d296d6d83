"""`partner_routing_assigned`: leads placed by the one minimum-cost assignment of
`tenantry.decisions.matching` beside first-come routing, on the same generated city.

A city of BENCH_ROUTING_PARTNERS partners (radius 5-25 km, capacity 1-6, a third serving one
category, some without credits for more than a lead or two) and BENCH_ROUTING_LEADS open
leads scattered around its centre, with a category each (seed 12345). The baseline takes the
leads in arrival order and gives each the cheapest partner (same cost function) that can
still take it: what routing without a global assignment does. Both obey the same hard limits;
the figure is how many leads each places, with the mean cost per placed lead and the time of
the assignment in the parameters. Pure computation: no database.
"""

from __future__ import annotations

import time
import uuid

import numpy as np

from bench.common import Result, knob
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions.matching import Candidate, LeadPoint, Weights, eligibility, solve

__all__ = ["run"]

CATEGORIES = ("catering", "tyres", "events", "cleaning")


def _city(n_leads: int, n_partners: int) -> tuple[list[LeadPoint], list[Candidate]]:
    rng = np.random.default_rng(12345)
    leads = [
        LeadPoint(
            uuid.UUID(int=10**6 + i),
            float(52.52 + rng.normal(0, 0.12)),
            float(13.40 + rng.normal(0, 0.18)),
            str(rng.choice(CATEGORIES)),
        )
        for i in range(n_leads)
    ]
    partners = []
    for j in range(n_partners):
        capacity = int(rng.integers(1, 7))
        affordable = int(rng.integers(1, 3)) if rng.random() < 0.2 else capacity
        serves = frozenset({str(rng.choice(CATEGORIES))}) if rng.random() < 0.33 else frozenset()
        partners.append(
            Candidate(
                id=uuid.UUID(int=2 * 10**6 + j),
                latitude=float(52.52 + rng.normal(0, 0.1)),
                longitude=float(13.40 + rng.normal(0, 0.15)),
                categories=serves,
                radius_km=float(rng.uniform(5, 25)),
                slots=min(capacity, affordable),
                price_credits=int(rng.integers(1, 10)),
                quality=float(rng.uniform(0.3, 1.0)),
                capacity_left=capacity,
                affordable=affordable,
            )
        )
    return leads, partners


def _first_come(
    leads: list[LeadPoint], partners: list[Candidate], weights: Weights
) -> tuple[int, float]:
    allowed, dist, _why = eligibility(leads, partners)
    radius = np.array([p.radius_km for p in partners])
    price = np.array([p.price_credits for p in partners]) / max(p.price_credits for p in partners)
    quality = np.array([p.quality for p in partners])
    cost = (
        weights.distance * dist / radius
        + weights.price * price[None, :]
        + weights.quality * (1 - quality)[None, :]
    )
    left = np.array([p.slots for p in partners])
    placed, total = 0, 0.0
    for i in range(len(leads)):
        options = np.where(allowed[i] & (left > 0), cost[i], np.inf)
        j = int(np.argmin(options))
        if np.isfinite(options[j]):
            left[j] -= 1
            placed += 1
            total += float(options[j])
    return placed, total


def run(_server: DatabaseTarget) -> Result:
    n_leads = knob("BENCH_ROUTING_LEADS", 1500, 200)
    n_partners = knob("BENCH_ROUTING_PARTNERS", 400, 30)
    leads, partners = _city(n_leads, n_partners)
    weights = Weights()
    started = time.perf_counter()
    outcome = solve(leads, partners, weights=weights)
    seconds = time.perf_counter() - started
    placed = len(outcome.matches)
    cost = sum(m.cost for m in outcome.matches)
    greedy, greedy_cost = _first_come(leads, partners, weights)
    return Result(
        name="partner_routing_assigned",
        value=placed,
        unit="leads",
        baseline="first-come routing (arrival order, cheapest partner with room)",
        baseline_value=greedy,
        ratio=round(placed / greedy, 4) if greedy else 0.0,
        target=">= 1 (never fewer leads placed than first-come)",
        params={
            "leads": n_leads,
            "partners": n_partners,
            "slots": sum(p.slots for p in partners),
            "assignment_seconds": round(seconds, 3),
            "mean_cost_assignment": round(cost / placed, 4) if placed else None,
            "mean_cost_first_come": round(greedy_cost / greedy, 4) if greedy else None,
        },
    )
