"""The assignment of open leads to partners: one minimum-cost matching, not first-come.

Each partner offers as many identical *slots* as it can still take (remaining capacity in the
period and the leads its credits pay for); each lead also gets an *unassigned* column of its
own. `scipy.optimize.linear_sum_assignment` then picks, over the whole set at once, the
matching of least total cost. The unassigned cost exceeds the cost of any set of real
assignments, so the matching first assigns as many leads as the hard limits (category,
radius, capacity, credits, an earlier decline) allow, and among those the cheapest. The cost
of a pair mixes distance (as a share of the partner's radius), price (as a share of the
dearest partner's) and the partner's past lead quality. Pure computation, no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

from tenantry.decisions.geo import haversine_km

__all__ = [
    "REASONS",
    "Candidate",
    "LeadPoint",
    "Match",
    "Outcome",
    "Weights",
    "eligibility",
    "solve",
    "takes_category",
]


@dataclass(frozen=True, slots=True)
class LeadPoint:
    id: uuid.UUID
    latitude: float | None
    longitude: float | None
    category: str | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A partner as routing sees it: `slots` leads it can still take in this run."""

    id: uuid.UUID
    latitude: float
    longitude: float
    categories: frozenset[str]
    radius_km: float
    slots: int
    price_credits: int
    quality: float  # 0..1, the share of good leads it reported (smoothed)
    capacity_left: int = 0
    affordable: int = 0


@dataclass(frozen=True, slots=True)
class Weights:
    distance: float = 1.0
    price: float = 0.5
    quality: float = 0.5


@dataclass(frozen=True, slots=True)
class Match:
    lead_id: uuid.UUID
    partner_id: uuid.UUID
    distance_km: float
    cost: float


@dataclass
class Outcome:
    matches: list[Match] = field(default_factory=list)
    unassigned: dict[uuid.UUID, str] = field(default_factory=dict)


REASONS = {
    "no_coordinates": "the lead has no coordinates",
    "no_category": "no partner serves the lead's category",
    "out_of_range": "no partner serving the category is within its radius",
    "declined": "every partner in range declined the lead",
    "no_capacity": "no partner in range has capacity left this period",
    "no_credits": "no partner in range has the credits for it",
    "taken": "the partners in range took other leads at a lower total cost",
}


def takes_category(c: Candidate, category: str | None) -> bool:
    """Whether the partner takes leads of this category (no category: any partner)."""
    return category is None or not c.categories or category in c.categories


def eligibility(
    leads: list[LeadPoint],
    partners: list[Candidate],
    declined: frozenset[tuple[uuid.UUID, uuid.UUID]] = frozenset(),
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], dict[uuid.UUID, str]]:
    """Which (lead, partner) pairs the hard limits allow, their distances, and for each lead
    that no partner can take, why (the first limit that leaves it with none)."""
    n, m = len(leads), len(partners)
    lat = np.array([x.latitude if x.latitude is not None else np.nan for x in leads], float)
    lon = np.array([x.longitude if x.longitude is not None else np.nan for x in leads], float)
    plat = np.array([p.latitude for p in partners], float)
    plon = np.array([p.longitude for p in partners], float)
    dist = haversine_km(lat[:, None], lon[:, None], plat[None, :], plon[None, :]).reshape(n, m)
    located = ~np.isnan(lat)
    serves = np.array(
        [[takes_category(p, x.category) for p in partners] for x in leads], bool
    ).reshape(n, m)
    radius = np.array([p.radius_km for p in partners], float)
    in_range = serves & located[:, None] & (np.nan_to_num(dist, nan=np.inf) <= radius[None, :])
    not_declined = np.array(
        [[(x.id, p.id) not in declined for p in partners] for x in leads], bool
    ).reshape(n, m)
    has_capacity = np.array([p.capacity_left > 0 for p in partners], bool)
    allowed = in_range & not_declined & (np.array([p.slots for p in partners]) > 0)[None, :]
    why: dict[uuid.UUID, str] = {}
    for i, lead in enumerate(leads):
        if allowed[i].any():
            continue
        if not located[i]:
            why[lead.id] = "no_coordinates"
        elif not serves[i].any():
            why[lead.id] = "no_category"
        elif not in_range[i].any():
            why[lead.id] = "out_of_range"
        elif not (in_range[i] & not_declined[i]).any():
            why[lead.id] = "declined"
        elif not (in_range[i] & not_declined[i] & has_capacity).any():
            why[lead.id] = "no_capacity"
        else:
            why[lead.id] = "no_credits"
    return allowed, dist, why


def solve(
    leads: list[LeadPoint],
    partners: list[Candidate],
    declined: frozenset[tuple[uuid.UUID, uuid.UUID]] = frozenset(),
    weights: Weights | None = None,
) -> Outcome:
    """The minimum-cost assignment of `leads` to the partners' slots (see the module doc)."""
    weights = weights or Weights()
    outcome = Outcome()
    if not leads:
        return outcome
    allowed, dist, why = eligibility(leads, partners, declined)
    outcome.unassigned.update(why)
    rows = np.array([i for i, lead in enumerate(leads) if lead.id not in why], dtype=np.intp)
    if rows.size == 0 or not partners:
        return outcome
    max_price = max(p.price_credits for p in partners) or 1
    radius = np.array([p.radius_km for p in partners], float)
    price = np.array([p.price_credits for p in partners], float) / max_price
    quality = np.array([p.quality for p in partners], float)
    pair_cost = (
        weights.distance * dist / radius[None, :]
        + weights.price * price[None, :]
        + weights.quality * (1.0 - quality)[None, :]
    )
    # Slots: a partner never needs more than the leads it may take.
    slots = [min(p.slots, int(allowed[rows, j].sum())) for j, p in enumerate(partners)]
    owner = np.repeat(np.arange(len(partners)), slots)
    k = len(rows)
    worst = float(weights.distance + weights.price + weights.quality)
    unassigned_cost = (worst + 1.0) * (k + 1)
    forbidden = unassigned_cost * 10
    sub_allowed = allowed[np.ix_(rows, owner)] if owner.size else np.zeros((k, 0), bool)
    sub_cost = pair_cost[np.ix_(rows, owner)] if owner.size else np.zeros((k, 0))
    real = np.where(sub_allowed, sub_cost, forbidden)
    own = np.full((k, k), forbidden)
    np.fill_diagonal(own, unassigned_cost)
    matrix = np.hstack([real, own])
    r_idx, c_idx = linear_sum_assignment(matrix)
    for r, c in zip(r_idx, c_idx, strict=True):
        i = int(rows[r])
        if c < owner.size and sub_allowed[r, c]:
            j = int(owner[c])
            outcome.matches.append(
                Match(leads[i].id, partners[j].id, float(dist[i, j]), float(pair_cost[i, j]))
            )
        else:
            outcome.unassigned[leads[i].id] = "taken"
    return outcome
