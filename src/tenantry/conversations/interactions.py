"""Lead interactions: record a call, e-mail, visit, note, message or meeting with a lead, and
read a lead's interactions newest first.

Recording one that reaches the lead (see `domain.conversations.contacts_the_lead`) moves a new
lead to contacted, through the lead pipeline's own use case, as `POST /v1/leads/{id}/contact`
does. The summary is sealed under the lead's data subject. Nothing here commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from tenantry.conversations.threads import TimeCursor, parse_choice
from tenantry.db.uow import UnitOfWork
from tenantry.domain.conversations import INTERACTION_CHANNEL, contacts_the_lead
from tenantry.errors import ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import Lead, LeadInteraction
from tenantry.models.enums import Channel, Direction, InteractionKind, LeadStatus
from tenantry.services.leads import advance_lead
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = ["list_interactions", "record_interaction"]

# A clock may run a little ahead of the server's; anything later is a mistake.
_FUTURE_SLACK = timedelta(minutes=5)


def record_interaction(
    uow: UnitOfWork,
    principal: Principal,
    lead_id: uuid.UUID,
    *,
    kind: InteractionKind | str,
    channel: Channel | str | None = None,
    direction: Direction | str | None = None,
    summary: str | None = None,
    outcome: str | None = None,
    occurred_at: datetime | None = None,
) -> LeadInteraction:
    """Record a touchpoint with a lead the principal may see."""
    principal.require(Action.WRITE_CRM)
    kind = parse_choice(InteractionKind, kind, "kind")
    lead: Lead = get_record(uow, principal, KINDS["lead"], lead_id, for_update=True)
    chosen = (
        parse_choice(Channel, channel, "channel")
        if channel is not None
        else INTERACTION_CHANNEL[kind]
    )
    if kind is InteractionKind.MESSAGE and chosen is None:
        raise ValidationError("a message interaction needs a channel (web, sms, social)")
    if kind is InteractionKind.EMAIL and chosen is not Channel.EMAIL:
        raise ValidationError("an e-mail interaction has channel email")
    if direction is not None:
        way: Direction | None = parse_choice(Direction, direction, "direction")
    else:
        way = Direction.OUTBOUND if kind in _DIRECTED else None
    now = uow.clock.now()
    when = occurred_at or now
    if when.tzinfo is None:
        raise ValidationError("occurred_at needs a time zone")
    if when > now + _FUTURE_SLACK:
        raise ValidationError("occurred_at lies in the future")
    interaction = LeadInteraction(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        lead_id=lead.id,
        user_id=principal.user_id,
        kind=kind,
        channel=chosen,
        direction=way,
        summary=summary,
        outcome=outcome,
        occurred_at=when,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(interaction)
    # Ids only: the scoring projection rescores the lead (never in this request).
    record_change(
        uow,
        "lead",
        lead.id,
        "lead.interaction_recorded",
        {"interaction_id": str(interaction.id), "kind": kind.value},
    )
    if lead.status is LeadStatus.NEW and contacts_the_lead(kind, way):
        advance_lead(uow, principal, lead.id, LeadStatus.CONTACTED)
    uow.flush()
    return interaction


_DIRECTED = frozenset({InteractionKind.CALL, InteractionKind.EMAIL, InteractionKind.MESSAGE})


def list_interactions(
    uow: UnitOfWork,
    principal: Principal,
    lead_id: uuid.UUID,
    *,
    before: TimeCursor | None = None,
    limit: int = 50,
) -> tuple[list[LeadInteraction], bool]:
    """The lead's interactions, newest first, before the cursor; and whether more follow."""
    lead: Lead = get_record(uow, principal, KINDS["lead"], lead_id)
    stmt = sa.select(LeadInteraction).where(
        LeadInteraction.tenant_id == lead.tenant_id, LeadInteraction.lead_id == lead.id
    )
    if before is not None:
        stmt = stmt.where(
            sa.tuple_(LeadInteraction.occurred_at, LeadInteraction.id) < sa.tuple_(*before)
        )
    stmt = stmt.order_by(LeadInteraction.occurred_at.desc(), LeadInteraction.id.desc())
    rows = list(uow.session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], len(rows) > limit
