"""The personalization rules of seed 001 and the context a caller may set: pure functions.

Seed 001 "Personalization Runtime": a user whose engagement level is `low` gets encouraging
copy; otherwise a user whose preferred tone is `facts` gets factual copy; everyone else gets
what the slot's bandit chooses. Which arm is "encouraging" or "factual" copy is the slot's
experiment's business (`experiment_rules`: rule name -> arm key); a rule the experiment does
not name is skipped, and so is a rule naming an arm that is paused (`slot_rules` leaves it
out): the next rule applies, else the bandit. Rules only apply to a user who consents to
personalisation.

`context_overrides` checks the context attributes a caller sends with a decide request:
only the whitelisted ones (`CONTEXT_ATTRIBUTES`) with a known value; a sensitive attribute
(`SENSITIVE`) or any other name is refused by name. This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from tenantry.decisions.context import (
    CONTEXT_ATTRIBUTES,
    CONTEXT_VALUES,
    Profile,
    is_sensitive,
)
from tenantry.errors import ValidationError

__all__ = [
    "FACTS_TONE",
    "LOW_ENGAGEMENT",
    "RULES",
    "ContextAttributeError",
    "RuleMatch",
    "apply_overrides",
    "context_overrides",
    "match_rule",
]

LOW_ENGAGEMENT = "low_engagement"
FACTS_TONE = "facts_tone"
RULES = (LOW_ENGAGEMENT, FACTS_TONE)  # in the order they are tried


class ContextAttributeError(ValidationError):
    """A context attribute is not allowed."""

    def __init__(self, attribute: str, message: str) -> None:
        attribute = attribute[:64]  # the caller's text: named, but never at any length
        super().__init__(f"{attribute}: {message}")
        self.attribute = attribute

    def extensions(self) -> dict[str, object]:
        return {"attribute": self.attribute}


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """The rule that decided and the arm it names."""

    rule: str
    arm: str


def match_rule(profile: Profile, rules: Mapping[str, str]) -> RuleMatch | None:
    """The first seed-001 rule that applies to `profile` and that `rules` names an arm for;
    None: the bandit decides (also for a user without consent, who gets the default arm)."""
    if not profile.consents:
        return None
    if profile.engagement_level == "low" and LOW_ENGAGEMENT in rules:
        return RuleMatch(LOW_ENGAGEMENT, rules[LOW_ENGAGEMENT])
    if profile.preferred_comm_tone == "facts" and FACTS_TONE in rules:
        return RuleMatch(FACTS_TONE, rules[FACTS_TONE])
    return None


def context_overrides(
    params: Iterable[tuple[str, str]],
    *,
    allowed_other: Iterable[str] = (),
    attributes: tuple[str, ...] = CONTEXT_ATTRIBUTES,
) -> dict[str, str]:
    """The context attributes among `params` (name, value), checked.

    Names in `allowed_other` (the request's own parameters, such as `slot` and `user`) are
    skipped; `attributes` are the context attributes the caller may set (a subset of
    `CONTEXT_ATTRIBUTES`; none where a request takes its context from the profile only). A
    sensitive or any other name, a repeated attribute or a value outside the attribute's
    vocabulary raises `ContextAttributeError` naming the attribute (never echoing the value).
    """
    other = tuple(allowed_other)
    out: dict[str, str] = {}
    for name, value in params:
        if name in other:
            continue
        if is_sensitive(name):
            raise ContextAttributeError(name, "a sensitive attribute is never used for decisions")
        if name not in attributes:
            known = ", ".join((*other, *attributes))
            raise ContextAttributeError(name, f"not an accepted parameter (accepted: {known})")
        if name in out:
            raise ContextAttributeError(name, "given more than once")
        if value not in CONTEXT_VALUES[name]:
            raise ContextAttributeError(name, f"must be one of {', '.join(CONTEXT_VALUES[name])}")
        out[name] = value
    return out


def apply_overrides(profile: Profile, overrides: Mapping[str, str]) -> Profile:
    """`profile` with its context's attributes replaced by the checked `overrides`."""
    if not overrides:
        return profile
    return replace(profile, context=replace(profile.context, **overrides))
