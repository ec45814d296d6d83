"""The context a decision may use, and the profile of a user it comes from.

Seed 001 allows explicit preferences and behaviour only: the owner persona, the communication
preferences (tone x form of address) and the onboarding-day bucket. `CONTEXT_ATTRIBUTES` is
that whitelist; `SENSITIVE` names attributes that are refused wherever a context is declared
or sent (an experiment's definition, a decide request), with a clear error, never ignored.
This module holds values and the `ProfileSource` protocol only; it does no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from tenantry.db.uow import UnitOfWork
from tenantry.lake.vocabulary import ADDRESS_FORMS, PERSONAS, TONES

__all__ = [
    "COMM_PREFS",
    "CONTEXT_ATTRIBUTES",
    "CONTEXT_VALUES",
    "ONB_DAY_BUCKETS",
    "PERSONAS",
    "SENSITIVE",
    "Context",
    "Profile",
    "ProfileSource",
    "is_sensitive",
]

CONTEXT_ATTRIBUTES = ("persona", "comm_prefs", "onb_day")
# tone/address, as seed 001 writes them: encouraging/facts/brief x sie/du/neutral
COMM_PREFS = tuple(f"{tone}/{form}" for tone in TONES for form in ADDRESS_FORMS)
ONB_DAY_BUCKETS = ("0", "1-3", "4-7", "8-14", "15+")
# The values each whitelisted attribute may take.
CONTEXT_VALUES: dict[str, tuple[str, ...]] = {
    "persona": PERSONAS,
    "comm_prefs": COMM_PREFS,
    "onb_day": ONB_DAY_BUCKETS,
}
# Never a context attribute (seed 001 guardrails: no gender, origin, age), in any spelling
# a caller is likely to use.
SENSITIVE = frozenset(
    {
        "gender",
        "sex",
        "origin",
        "ethnicity",
        "ethnic_origin",
        "race",
        "nationality",
        "age",
        "age_group",
        "birth_date",
        "date_of_birth",
        "birthday",
        "religion",
        "disability",
        "health",
        "sexual_orientation",
        "political_opinion",
        "trade_union",
    }
)


def is_sensitive(name: str) -> bool:
    """Whether an attribute name is one of `SENSITIVE`, in any case and with blanks around."""
    return name.strip().lower() in SENSITIVE


@dataclass(frozen=True, slots=True)
class Context:
    """The whitelisted context of one decision; None where it is unknown."""

    persona: str | None = None
    comm_prefs: str | None = None
    onb_day: str | None = None

    def key(self, attributes: tuple[str, ...] = CONTEXT_ATTRIBUTES) -> str:
        """The posterior's cell: the named attributes' values, `*` where unknown or unused."""
        return "|".join(
            (getattr(self, a) or "*") if a in attributes else "*" for a in CONTEXT_ATTRIBUTES
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """What the decision services know of one user of the tenant (`identity.users`).

    `user_key` is the user's data subject's pseudonym (the lake's `user_key`); None when the
    user has no subject. `consents`: the subject has active consent for `personalisation`
    now. The segment and feature values come from the lake's latest `segments`,
    `ml_user_features` and `dim_user` rows (None where the pipeline has none).
    """

    user_id: uuid.UUID
    user_key: str | None
    consents: bool
    context: Context
    engagement_level: str | None = None
    preferred_comm_tone: str | None = None


class ProfileSource(Protocol):
    """Finds a user's profile; raises `NotFoundError` for a user who is not the tenant's."""

    def profile(self, uow: UnitOfWork, user_id: uuid.UUID) -> Profile: ...
