"""Rules of conversations as data: which channels are chat, the escalation lifecycle, and
which lead interactions count as having contacted the lead. No I/O."""

from __future__ import annotations

from tenantry.domain.statemachine import StateMachine
from tenantry.models.enums import Channel, Direction, EscalationStatus, InteractionKind

__all__ = [
    "CHAT_RETENTION_DAYS",
    "ESCALATION_LIFECYCLE",
    "INTERACTION_CHANNEL",
    "contacts_the_lead",
    "is_chat",
]

CHAT_RETENTION_DAYS = 90  # seed 002: chat messages are kept 90 days

_E = EscalationStatus
ESCALATION_LIFECYCLE: StateMachine[EscalationStatus] = StateMachine(
    "escalation",
    {
        _E.OPEN: frozenset({_E.ACKNOWLEDGED, _E.RESOLVED}),
        _E.ACKNOWLEDGED: frozenset({_E.RESOLVED, _E.OPEN}),
        _E.RESOLVED: frozenset({_E.OPEN}),
    },
)

# The channel an interaction of a kind has when none is given (None: it has no channel).
INTERACTION_CHANNEL: dict[InteractionKind, Channel | None] = {
    InteractionKind.CALL: Channel.VOICE,
    InteractionKind.EMAIL: Channel.EMAIL,
    InteractionKind.MESSAGE: None,  # must be given: web, sms, social
    InteractionKind.VISIT: None,
    InteractionKind.MEETING: None,
    InteractionKind.NOTE: None,
}


def is_chat(channel: Channel) -> bool:
    """Chat is every channel but e-mail: web chat, SMS, social, voice transcripts."""
    return channel is not Channel.EMAIL


def contacts_the_lead(kind: InteractionKind, direction: Direction | None) -> bool:
    """Whether the business has reached the lead: a call, e-mail or message it sent, or a
    visit or meeting. A note, or only hearing from the lead, does not."""
    if kind is InteractionKind.NOTE:
        return False
    if kind in (InteractionKind.VISIT, InteractionKind.MEETING):
        return True
    return direction is Direction.OUTBOUND
