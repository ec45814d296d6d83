"""The lead pipeline: new -> contacted -> qualified -> converted, and lost from any open state.

Converted and lost are terminal. Conversion needs a customer (created or linked by the service);
losing a lead needs a reason. A prospect's place is kept as coordinates rounded to 3 decimals
(about 100 m): enough to route the lead to a partner nearby, no more (`round_coordinate`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from tenantry.domain.statemachine import StateMachine
from tenantry.models.enums import LeadStatus

__all__ = ["LEAD_PIPELINE", "OPEN_LEAD_STATES", "clamp_score", "round_coordinate"]

_S = LeadStatus

LEAD_PIPELINE: StateMachine[LeadStatus] = StateMachine(
    "lead",
    {
        _S.NEW: frozenset({_S.CONTACTED, _S.LOST}),
        _S.CONTACTED: frozenset({_S.QUALIFIED, _S.LOST}),
        _S.QUALIFIED: frozenset({_S.CONVERTED, _S.LOST}),
        _S.CONVERTED: frozenset(),
        _S.LOST: frozenset(),
    },
)

OPEN_LEAD_STATES = frozenset({_S.NEW, _S.CONTACTED, _S.QUALIFIED})


def clamp_score(score: int) -> int:
    """Scores live in 0..100."""
    return max(0, min(100, score))


def round_coordinate(value: float | Decimal | None) -> Decimal | None:
    """A latitude or longitude rounded to 3 decimals (about 110 m of latitude), or None."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
