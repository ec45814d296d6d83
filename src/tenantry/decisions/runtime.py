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
from tenantry.decisions.context import Profile
from tenantry.decisions.experiments import Decision, arms_of, decide, live_experiment
from tenantry.decisions.personalize import apply_overrides, match_rule
from tenantry.decisions.profiles import Fetch, LakeProfileSource
from tenantry.models.experiments import ArmStatus

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


@dataclass(frozen=True, slots=True)
class _Slot:
    experiment_id: uuid.UUID
    default_arm: str
    rules: dict[str, str]


class Personalization:
    """The runtime of one process: its profile source and what it keeps of each slot.

    A slot's live experiment (its id, default arm, and the rules whose arm is active) is
    kept per tenant and slot for `slot_ttl` seconds (2 by default), so an answer by a rule, or
    the default arm for a user without consent, needs no query about the slot: within that
    time an experiment just stopped still answers those. The bandit's own decisions always
    read the experiment's current state (`decide`).

    `quick_profile` and `answer` serve a request without a unit of work where they can (the
    user's subject known, the slot kept): the API runs the one statement on its pipelined
    reader and answers rules and defaults from memory; only the bandit's decisions, which
    write, need the unit of work.
    """

    def __init__(self, profiles: LakeProfileSource, *, slot_ttl: float = 2.0) -> None:
        self.profiles = profiles
        self._slots: ExpiringCache[tuple[uuid.UUID, str], _Slot] = ExpiringCache(10_000, slot_ttl)

    def kept(self, tenant_id: uuid.UUID, slot: str) -> bool:
        """Whether the slot's experiment is kept (rules and defaults need no query)."""
        return self._slots.get((tenant_id, slot)) is not None

    def keep(self, uow: UnitOfWork, slot: str) -> None:
        """Read the slot's live experiment and keep it; NotFoundError if there is none."""
        self._slot(uow, slot)

    def _slot(self, uow: UnitOfWork, slot: str) -> _Slot:
        key = (uow.require_tenant(), slot)
        found = self._slots.get(key)
        if found is None:
            exp = live_experiment(uow, slot)
            # A rule whose arm is paused (by a guardrail) is skipped like one not named: a
            # paused arm is never shown, by the bandit or by a rule.
            active = {a.key for a in arms_of(uow, exp.id) if a.status == ArmStatus.ACTIVE}
            rules = {str(k): str(v) for k, v in exp.rules.items() if v in active}
            found = _Slot(exp.id, exp.default_arm, rules)
            self._slots.put(key, found)
        return found

    async def quick_profile(
        self, fetch: Fetch, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> Profile | None:
        """The user's profile without a unit of work, or None (see `LakeProfileSource`)."""
        return await self.profiles.quick_profile(fetch, tenant_id, user_id)

    def answer(self, tenant_id: uuid.UUID, slot: str, profile: Profile) -> Personalized | None:
        """A rule's answer or the default arm (no consent) from what is kept of the slot;
        None: the bandit decides, or the slot is not kept."""
        kept = self._slots.get((tenant_id, slot))
        if kept is None:
            return None
        return _without_bandit(kept, slot, profile)

    def default_decision(
        self, tenant_id: uuid.UUID, slot: str, profile: Profile
    ) -> Decision | None:
        """The default arm for a user without consent, from what is kept of the slot (as
        `decide` answers it: nothing written); None otherwise."""
        kept = self._slots.get((tenant_id, slot))
        if kept is None or profile.consents:
            return None
        return Decision(None, kept.experiment_id, slot, kept.default_arm, None, "default", _NO)

    def decide(
        self,
        uow: UnitOfWork,
        slot: str,
        user_id: uuid.UUID,
        *,
        overrides: Mapping[str, str] | None = None,
        rng: np.random.Generator | None = None,
        profile: Profile | None = None,
    ) -> Decision:
        """The bandit's decision for the user in `slot` (logged unless the default arm);
        `profile`: the user's, if already known."""
        profile = profile or self.profiles.profile(uow, user_id)
        self._slot(uow, slot)  # keeps the slot for the next requests
        return decide(uow, slot, apply_overrides(profile, overrides or {}), rng=rng)

    def personalize(
        self,
        uow: UnitOfWork,
        slot: str,
        user_id: uuid.UUID,
        *,
        rng: np.random.Generator | None = None,
        profile: Profile | None = None,
    ) -> Personalized:
        """Seed 001's runtime for the user in `slot`: a rule's arm, else the bandit's."""
        profile = profile or self.profiles.profile(uow, user_id)
        answered = _without_bandit(self._slot(uow, slot), slot, profile)
        if answered is not None:
            return answered
        d = decide(uow, slot, profile, rng=rng)
        source: Source = "bandit" if d.decision_id is not None else "default"
        return Personalized(d.arm, source, None, d.decision_id, d.propensity, d.policy, d.reason)


_NO = "no_consent"


def _without_bandit(kept: _Slot, slot: str, profile: Profile) -> Personalized | None:
    if not profile.consents:
        return Personalized(kept.default_arm, "default", None, None, None, "default", _NO)
    match = match_rule(profile, kept.rules)
    if match is not None:
        return Personalized(match.arm, "rule", match.rule, None, None, "rule")
    return None
