"""The rules of conversations as data: which channels are chat, which interactions reach a
lead, and every legal and illegal step of an escalation."""

from __future__ import annotations

import itertools

import pytest

from tenantry.domain.conversations import (
    ESCALATION_LIFECYCLE,
    INTERACTION_CHANNEL,
    contacts_the_lead,
    is_chat,
)
from tenantry.errors import IllegalTransitionError
from tenantry.models.enums import Channel, Direction, EscalationStatus, InteractionKind

_E = EscalationStatus
LEGAL = {
    (_E.OPEN, _E.ACKNOWLEDGED),
    (_E.OPEN, _E.RESOLVED),
    (_E.ACKNOWLEDGED, _E.RESOLVED),
    (_E.ACKNOWLEDGED, _E.OPEN),
    (_E.RESOLVED, _E.OPEN),
}


def test_every_channel_but_e_mail_is_chat() -> None:
    assert {c for c in Channel if is_chat(c)} == set(Channel) - {Channel.EMAIL}


@pytest.mark.parametrize("pair", list(itertools.product(EscalationStatus, repeat=2)))
def test_escalation_steps_are_exactly_the_table(pair: tuple[_E, _E]) -> None:
    current, target = pair
    if pair in LEGAL:
        assert ESCALATION_LIFECYCLE.check(current, target) is target
    else:
        with pytest.raises(IllegalTransitionError):
            ESCALATION_LIFECYCLE.check(current, target)


def test_a_lead_is_reached_by_what_the_business_sends_or_a_visit_not_by_a_note() -> None:
    reached = {
        (kind, way)
        for kind in InteractionKind
        for way in (Direction.INBOUND, Direction.OUTBOUND, None)
        if contacts_the_lead(kind, way)
    }
    sent = {InteractionKind.CALL, InteractionKind.EMAIL, InteractionKind.MESSAGE}
    met = {InteractionKind.VISIT, InteractionKind.MEETING}
    assert reached == {(k, Direction.OUTBOUND) for k in sent} | {
        (k, w) for k in met for w in (Direction.INBOUND, Direction.OUTBOUND, None)
    }


def test_every_interaction_kind_has_a_default_channel_rule() -> None:
    assert set(INTERACTION_CHANNEL) == set(InteractionKind)
    assert INTERACTION_CHANNEL[InteractionKind.CALL] is Channel.VOICE
    assert INTERACTION_CHANNEL[InteractionKind.EMAIL] is Channel.EMAIL
