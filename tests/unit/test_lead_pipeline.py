"""Every legal and every illegal transition of the lead pipeline."""

from __future__ import annotations

import itertools

import pytest

from tenantry.domain.leads import LEAD_PIPELINE, clamp_score
from tenantry.errors import IllegalTransitionError
from tenantry.models.enums import LeadStatus as L

LEGAL = {
    (L.NEW, L.CONTACTED),
    (L.NEW, L.LOST),
    (L.CONTACTED, L.QUALIFIED),
    (L.CONTACTED, L.LOST),
    (L.QUALIFIED, L.CONVERTED),
    (L.QUALIFIED, L.LOST),
}
ALL_PAIRS = list(itertools.product(L, L))


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_lead_transition_is_allowed(current: L, target: L) -> None:
    assert LEAD_PIPELINE.check(current, target) is target


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_illegal_lead_transition_is_refused_with_the_allowed_ones_named(
    current: L, target: L
) -> None:
    with pytest.raises(IllegalTransitionError) as info:
        LEAD_PIPELINE.check(current, target)
    assert current.value in info.value.message and target.value in info.value.message


def test_converted_and_lost_are_terminal() -> None:
    assert LEAD_PIPELINE.is_terminal(L.CONVERTED) and LEAD_PIPELINE.is_terminal(L.LOST)
    assert not LEAD_PIPELINE.is_terminal(L.NEW)


@pytest.mark.parametrize(("raw", "clamped"), [(-5, 0), (0, 0), (57, 57), (100, 100), (130, 100)])
def test_scores_are_clamped_to_0_100(raw: int, clamped: int) -> None:
    assert clamp_score(raw) == clamped
