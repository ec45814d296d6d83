"""The personalization runtime: a user's decision and copy in a slot, from their profile.

`Personalization.decide` is the bandit's choice for a member of the tenant (`decide` with the
profile a `ProfileSource` finds, the caller's checked context overrides applied).
`Personalization.personalize` is seed 001's runtime: the rules first
(`personalize.match_rule`: low engagement -> the slot's encouraging arm, facts tone -> its
factual arm), the bandit otherwise. A rule's answer is not a bandit decision: nothing is
logged for it (`decision_id` None), so the experiment learns only from the arms it chose
itself. A user without personalisation consent gets the slot's default arm, no rule, and
nothing is written. Unknown users and slots raise NotFoundError. Never commits: the caller
owns the unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tenantry.cache import ExpiringCache
from tenantry.db.uow import UnitOfWork
from tenantry.decisions.context import ProfileSource
from tenantry.decisions.experiments import Decision, decide, experiment_rules
from tenantry.decisions.personalize import apply_overrides, match_rule

__all__ = ["Personalization", "Personalized"]

Source = Literal["rule", "bandit", "default"]


@dataclass(frozen=True, slots=True)
class Personalized:
    """The copy (an arm key) a user gets in a slot and where it came from."""

    copy: str
    source: Source
    rule: str | None
    decision_id: uuid.UUID | None
    propensity: float | None
    policy: str
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "copy": self.copy,
            "source": self.source,
            "rule": self.rule,
            "decision_id": str(self.decision_id) if self.decision_id else None,
            "propensity": self.propensity,
            "policy": self.policy,
            "reason": self.reason,
        }


class Personalization:
    """The runtime of one process: its profile source, and each slot's rules.

    A slot's rules (`experiment_rules`: set when its experiment is created) are kept per
    tenant and slot for `rules_ttl` seconds (2 by default): a request answered by a rule then
    needs no query for them. Within that time, a rule still answers for an experiment just
    stopped; the bandit's own decisions always read the experiment's current state.
    """

    def __init__(self, profiles: ProfileSource, *, rules_ttl: float = 2.0) -> None:
        self.profiles = profiles
        self._rules: ExpiringCache[tuple[uuid.UUID, str], dict[str, str]] = ExpiringCache(
            10_000, rules_ttl
        )

    def rules(self, uow: UnitOfWork, slot: str) -> dict[str, str]:
        key = (uow.require_tenant(), slot)
        found = self._rules.get(key)
        if found is None:
            found = experiment_rules(uow, slot)
            self._rules.put(key, found)
        return found

    def decide(
        self,
        uow: UnitOfWork,
        slot: str,
        user_id: uuid.UUID,
        *,
        overrides: Mapping[str, str] | None = None,
        rng: np.random.Generator | None = None,
    ) -> Decision:
        """The bandit's decision for the user in `slot` (logged unless the default arm)."""
        profile = apply_overrides(self.profiles.profile(uow, user_id), overrides or {})
        return decide(uow, slot, profile, rng=rng)

    def personalize(
        self,
        uow: UnitOfWork,
        slot: str,
        user_id: uuid.UUID,
        *,
        rng: np.random.Generator | None = None,
    ) -> Personalized:
        """Seed 001's runtime for the user in `slot`: a rule's arm, else the bandit's."""
        profile = self.profiles.profile(uow, user_id)
        match = match_rule(profile, self.rules(uow, slot)) if profile.consents else None
        if match is not None:
            return Personalized(match.arm, "rule", match.rule, None, None, "rule")
        d = decide(uow, slot, profile, rng=rng)
        source: Source = "bandit" if d.decision_id is not None else "default"
        return Personalized(d.arm, source, None, d.decision_id, d.propensity, d.policy, d.reason)
