"""The partner matching, checked against independent computations.

Random instances (fixed seeds): every match respects category, radius (distance recomputed
with the spherical law of cosines, not the haversine under test), the partner's slots, an
earlier decline, and each lead is matched at most once. Small instances: the solver's
assignment is as large and as cheap as the best one found by brute force. The bounding box
contains every point within the radius (points placed by the direct geodesic formula).
"""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import replace

import numpy as np
import pytest

from tenantry.decisions.geo import bounding_box, haversine_km
from tenantry.decisions.matching import Candidate, LeadPoint, Weights, eligibility, solve
from tenantry.domain.leads import round_coordinate

R = 6371.0088
CATEGORIES = ("catering", "tyres", "events")


def _cosine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(
        math.radians(lon2 - lon1)
    )
    return R * math.acos(max(-1.0, min(1.0, c)))


def _destination(lat: float, lon: float, bearing: float, km: float) -> tuple[float, float]:
    d, p1, l1 = km / R, math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


def _instance(
    rng: np.random.Generator, n_leads: int, n_partners: int, max_slots: int = 3
) -> tuple[list[LeadPoint], list[Candidate], frozenset[tuple[uuid.UUID, uuid.UUID]]]:
    leads = [
        LeadPoint(
            uuid.UUID(int=1000 + i),
            float(52.5 + rng.normal(0, 0.3)),
            float(13.4 + rng.normal(0, 0.5)),
            None if rng.random() < 0.2 else str(rng.choice(CATEGORIES)),
        )
        for i in range(n_leads)
    ]
    partners = []
    for j in range(n_partners):
        slots = int(rng.integers(0, max_slots + 1))
        cats = frozenset(rng.choice(CATEGORIES, size=int(rng.integers(0, 3)), replace=False))
        partners.append(
            Candidate(
                id=uuid.UUID(int=2000 + j),
                latitude=float(52.5 + rng.normal(0, 0.3)),
                longitude=float(13.4 + rng.normal(0, 0.5)),
                categories=frozenset(str(c) for c in cats),
                radius_km=float(rng.uniform(5, 60)),
                slots=slots,
                price_credits=int(rng.integers(1, 10)),
                quality=float(rng.uniform(0, 1)),
                capacity_left=slots,
                affordable=slots,
            )
        )
    declined = frozenset((x.id, p.id) for x in leads for p in partners if rng.random() < 0.1)
    return leads, partners, declined


def _allowed(
    lead: LeadPoint, p: Candidate, declined: frozenset[tuple[uuid.UUID, uuid.UUID]]
) -> bool:
    assert lead.latitude is not None and lead.longitude is not None
    serves = lead.category is None or not p.categories or lead.category in p.categories
    near = _cosine_km(lead.latitude, lead.longitude, p.latitude, p.longitude) <= p.radius_km + 1e-6
    return serves and near and (lead.id, p.id) not in declined and p.slots > 0


@pytest.mark.parametrize("seed", range(60))
def test_matching_never_exceeds_capacity_radius_or_category(seed: int) -> None:
    rng = np.random.default_rng(seed)
    leads, partners, declined = _instance(rng, int(rng.integers(1, 25)), int(rng.integers(1, 6)))
    outcome = solve(leads, partners, declined)
    by_id = {p.id: p for p in partners}
    lead_by_id = {x.id: x for x in leads}
    matched = [m.lead_id for m in outcome.matches]
    assert len(matched) == len(set(matched))
    assert set(matched).isdisjoint(outcome.unassigned)
    assert set(matched) | set(outcome.unassigned) == set(lead_by_id)
    per_partner: dict[uuid.UUID, int] = {}
    for m in outcome.matches:
        p, lead = by_id[m.partner_id], lead_by_id[m.lead_id]
        assert _allowed(lead, p, declined), (lead, p)
        assert lead.latitude is not None and lead.longitude is not None
        assert m.distance_km == pytest.approx(
            _cosine_km(lead.latitude, lead.longitude, p.latitude, p.longitude), abs=1e-3
        )
        per_partner[p.id] = per_partner.get(p.id, 0) + 1
    for pid, n in per_partner.items():
        assert n <= by_id[pid].slots
    # A lead left open while a partner that could take it has a free slot: never.
    for lead_id, _reason in outcome.unassigned.items():
        lead = lead_by_id[lead_id]
        for p in partners:
            if _allowed(lead, p, declined):
                assert per_partner.get(p.id, 0) == p.slots


def _brute_force(
    leads: list[LeadPoint],
    partners: list[Candidate],
    declined: frozenset[tuple[uuid.UUID, uuid.UUID]],
    weights: Weights,
) -> tuple[int, float]:
    max_price = max(p.price_credits for p in partners)

    def cost(lead: LeadPoint, p: Candidate) -> float:
        assert lead.latitude is not None and lead.longitude is not None
        d = _cosine_km(lead.latitude, lead.longitude, p.latitude, p.longitude)
        return (
            weights.distance * d / p.radius_km
            + weights.price * p.price_credits / max_price
            + weights.quality * (1 - p.quality)
        )

    best = (0, 0.0)
    options = [[None, *[p for p in partners if _allowed(x, p, declined)]] for x in leads]
    for choice in itertools.product(*options):
        used: dict[uuid.UUID, int] = {}
        for p in choice:
            if p is not None:
                used[p.id] = used.get(p.id, 0) + 1
        if any(used[p.id] > p.slots for p in partners if p.id in used):
            continue
        count = sum(p is not None for p in choice)
        total = sum(cost(x, p) for x, p in zip(leads, choice, strict=True) if p is not None)
        if count > best[0] or (count == best[0] and total < best[1]):
            best = (count, total)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_the_assignment_is_optimal_on_small_instances(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    leads, partners, declined = _instance(
        rng, int(rng.integers(1, 6)), int(rng.integers(1, 4)), max_slots=2
    )
    weights = Weights(
        distance=1.0, price=float(rng.uniform(0, 1)), quality=float(rng.uniform(0, 1))
    )
    outcome = solve(leads, partners, declined, weights)
    count, total = _brute_force(leads, partners, declined, weights)
    assert len(outcome.matches) == count
    assert sum(m.cost for m in outcome.matches) == pytest.approx(total, abs=1e-6)


def test_a_lead_goes_to_the_nearer_partner_and_not_first_come() -> None:
    near = Candidate(uuid.UUID(int=1), 52.52, 13.40, frozenset(), 50, 1, 5, 0.7, 1, 1)
    far = Candidate(uuid.UUID(int=2), 52.60, 13.80, frozenset(), 50, 1, 5, 0.7, 1, 1)
    # Lead a is near both; lead b only reaches `near`. First-come would give `near` to a.
    a = LeadPoint(uuid.UUID(int=10), 52.55, 13.60, None)
    b = LeadPoint(uuid.UUID(int=11), 52.30, 13.10, None)
    outcome = solve([a, b], [near, far])
    assert {(m.lead_id, m.partner_id) for m in outcome.matches} == {(a.id, far.id), (b.id, near.id)}


def test_reasons_name_the_limit_that_leaves_a_lead_open() -> None:
    p = Candidate(uuid.UUID(int=1), 52.52, 13.40, frozenset({"catering"}), 10, 0, 5, 0.7, 0, 3)
    leads = [
        LeadPoint(uuid.UUID(int=10), None, None, "catering"),
        LeadPoint(uuid.UUID(int=11), 52.52, 13.40, "tyres"),
        LeadPoint(uuid.UUID(int=12), 53.55, 10.00, "catering"),
        LeadPoint(uuid.UUID(int=13), 52.52, 13.41, "catering"),
    ]
    _allowed_pairs, _dist, why = eligibility(leads, [p])
    assert why == {
        leads[0].id: "no_coordinates",
        leads[1].id: "no_category",
        leads[2].id: "out_of_range",
        leads[3].id: "no_capacity",
    }
    broke = Candidate(uuid.UUID(int=1), 52.52, 13.40, frozenset(), 10, 0, 5, 0.7, 4, 0)
    assert eligibility(leads[3:], [broke])[2] == {leads[3].id: "no_credits"}
    able = replace(broke, slots=1, affordable=1)
    declined = frozenset({(leads[3].id, able.id)})
    assert eligibility(leads[3:], [able], declined)[2] == {leads[3].id: "declined"}


@pytest.mark.parametrize("seed", range(20))
def test_the_bounding_box_holds_every_point_within_the_radius(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lat, lon = float(rng.uniform(-85, 85)), float(rng.uniform(-180, 180))
    radius = float(rng.uniform(0.5, 500))
    box = bounding_box(lat, lon, radius)
    for _ in range(200):
        plat, plon = _destination(
            lat, lon, float(rng.uniform(0, 2 * math.pi)), radius * float(rng.random())
        )
        assert box.contains(plat, plon), (lat, lon, radius, plat, plon)


def test_the_bounding_box_wraps_at_the_antimeridian_and_covers_a_pole() -> None:
    box = bounding_box(0.0, 179.9, 50)
    assert box.wraps and box.contains(0.0, -179.9) and not box.contains(0.0, 170.0)
    polar = bounding_box(89.9, 0.0, 50)
    assert polar.min_lon == -180 and polar.max_lon == 180


def test_haversine_agrees_with_known_distances_and_vectorises() -> None:
    berlin, munich = (52.5200, 13.4050), (48.1351, 11.5820)
    d = haversine_km(berlin[0], berlin[1], munich[0], munich[1])
    assert float(d) == pytest.approx(_cosine_km(*berlin, *munich), rel=1e-9)
    assert 500 < float(d) < 510
    many = haversine_km(
        np.array([berlin[0]] * 3), berlin[1], np.array([52.52, 48.1351, 0]), [13.405, 11.582, 0]
    )
    assert many.shape == (3,) and many[0] == pytest.approx(0, abs=1e-9)


def test_a_place_is_rounded_to_about_100_metres() -> None:
    assert str(round_coordinate(52.520008)) == "52.520"
    assert str(round_coordinate(-13.40549)) == "-13.405"
    assert round_coordinate(None) is None
