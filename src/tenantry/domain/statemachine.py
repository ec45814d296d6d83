"""A small, explicit state machine: a table of allowed transitions, checked in one place.

Each lifecycle (leads, bookings) declares its transitions as data, so tests can enumerate every
legal and illegal pair and documentation can print the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from tenantry.errors import IllegalTransitionError

__all__ = ["StateMachine"]

S = TypeVar("S", bound=StrEnum)


class StateMachine(Generic[S]):
    """Allowed transitions between the states of one lifecycle."""

    def __init__(self, name: str, transitions: Mapping[S, frozenset[S]]) -> None:
        self.name = name
        self.transitions = transitions

    def allowed(self, current: S) -> frozenset[S]:
        return self.transitions.get(current, frozenset())

    def can(self, current: S, target: S) -> bool:
        return target in self.allowed(current)

    def is_terminal(self, state: S) -> bool:
        return not self.allowed(state)

    def check(self, current: S, target: S) -> S:
        """Return `target` if the transition is legal, else raise `IllegalTransitionError`."""
        if not self.can(current, target):
            allowed = ", ".join(sorted(self.allowed(current))) or "none (terminal state)"
            raise IllegalTransitionError(
                f"{self.name}: cannot go from {current.value} to {target.value}; "
                f"allowed from {current.value}: {allowed}",
                current=current.value,
                target=target.value,
            )
        return target
