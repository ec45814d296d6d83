"""The customer timeline: bookings, payments, messages (correspondence and chat, of the
customer's threads and of the threads of leads converted into the customer) and the
interactions with those leads, newest first, in one list.

One `UNION ALL` query reads a page of items (type, time, id, a short summary of codes and
figures, never personal data), keyset-paged by `(time, id)`; the sealed texts of the page's
messages and interactions are then opened with one query per table, not one per item. A
principal limited to locations sees only items of its locations. Reading needs `read`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from tenantry.conversations.threads import TimeCursor
from tenantry.db.uow import UnitOfWork
from tenantry.models import ChatMessage, Customer, LeadInteraction, Message
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, SCOPE_TYPE, get_record

__all__ = ["TimelineItem", "customer_timeline"]


@dataclass(frozen=True)
class TimelineItem:
    type: str  # booking | payment | message | chat_message | interaction
    at: datetime
    id: uuid.UUID
    summary: str
    text: str | None = None
    ref: uuid.UUID | None = None  # a payment's booking, a message's thread, an interaction's lead


# :scoped is false for a principal that sees every location; :scope is its location ids.
_IN_SCOPE = "(NOT :scoped OR {loc} = ANY(:scope))"
_TIMELINE = f"""
WITH leads AS (
    SELECT l.id FROM crm.leads l
     WHERE l.tenant_id = :t AND l.customer_id = :c AND l.deleted_at IS NULL
       AND {_IN_SCOPE.format(loc="l.location_id")}
), threads AS (
    SELECT th.id FROM engage.threads th
     WHERE th.tenant_id = :t AND (th.customer_id = :c OR th.lead_id IN (SELECT id FROM leads))
       AND {_IN_SCOPE.format(loc="th.location_id")}
), bookings AS (
    SELECT b.id, b.kind, b.status, b.starts_at, b.created_at FROM commerce.bookings b
     WHERE b.tenant_id = :t AND b.customer_id = :c AND b.deleted_at IS NULL
       AND {_IN_SCOPE.format(loc="b.location_id")}
), items AS (
    SELECT 'booking' AS type, b.created_at AS at, b.id,
           b.kind || ' ' || b.status || ' for ' || to_char(b.starts_at AT TIME ZONE 'UTC',
           'YYYY-MM-DD HH24:MI') || ' UTC' AS summary, NULL::uuid AS ref
      FROM bookings b
    UNION ALL
    SELECT 'payment', coalesce(p.paid_at, p.created_at), p.id,
           p.kind || ' ' || p.method || ' ' || p.status || ' ' || p.amount_cents || ' '
           || p.currency || ' (cents)', p.booking_id
      FROM commerce.payments p
     WHERE p.tenant_id = :t AND p.booking_id IN (SELECT id FROM bookings)
    UNION ALL
    SELECT 'message', m.sent_at, m.id, m.channel || ' ' || m.direction || ' from ' || m.author_kind,
           m.thread_id
      FROM engage.messages m
     WHERE m.tenant_id = :t AND m.thread_id IN (SELECT id FROM threads)
    UNION ALL
    SELECT 'chat_message', m.sent_at, m.id,
           m.channel || ' ' || m.direction || ' from ' || m.author_kind, m.thread_id
      FROM engage.chat_messages m
     WHERE m.tenant_id = :t AND m.thread_id IN (SELECT id FROM threads)
    UNION ALL
    SELECT 'interaction', i.occurred_at, i.id,
           i.kind || coalesce(' ' || i.direction, '') || coalesce(' by ' || i.channel, '')
           || coalesce(': ' || i.outcome, ''), i.lead_id
      FROM crm.lead_interactions i
     WHERE i.tenant_id = :t AND i.lead_id IN (SELECT id FROM leads)
)
SELECT type, at, id, summary, ref FROM items
 WHERE NOT :paged OR (at, id) < (:before_at, :before_id)
 ORDER BY at DESC, id DESC
 LIMIT :n
"""


def _texts(uow: UnitOfWork, rows: list[sa.Row[tuple[object, ...]]]) -> dict[uuid.UUID, str | None]:
    """The sealed texts of the page's items: one query per table (opened in one batch each)."""
    texts: dict[uuid.UUID, str | None] = {}
    wanted: dict[str, list[uuid.UUID]] = {}
    for row in rows:
        wanted.setdefault(str(row.type), []).append(row.id)
    tables: list[tuple[type[Message | ChatMessage | LeadInteraction], str, str]] = [
        (Message, "body", "message"),
        (ChatMessage, "body", "chat_message"),
        (LeadInteraction, "summary", "interaction"),
    ]
    for model, field, kind in tables:
        ids = wanted.get(kind)
        if not ids:
            continue
        stmt = sa.select(model).where(model.tenant_id == uow.require_tenant(), model.id.in_(ids))
        for obj in uow.session.scalars(stmt):
            texts[obj.id] = getattr(obj, field)  # type: ignore[attr-defined]
    return texts


def customer_timeline(
    uow: UnitOfWork,
    principal: Principal,
    customer_id: uuid.UUID,
    *,
    before: TimeCursor | None = None,
    limit: int = 50,
) -> tuple[list[TimelineItem], bool]:
    """A page of the customer's timeline (newest first) and whether more follow."""
    customer: Customer = get_record(uow, principal, KINDS["customer"], customer_id)
    scope = principal.location_ids
    epoch = datetime.fromtimestamp(0).astimezone()
    stmt = sa.text(_TIMELINE).bindparams(
        sa.bindparam("scope", type_=SCOPE_TYPE),
        sa.bindparam("before_at", type_=sa.DateTime(timezone=True)),
        sa.bindparam("before_id", type_=sa.Uuid()),
    )
    rows = list(
        uow.session.execute(
            stmt,
            {
                "t": customer.tenant_id,
                "c": customer.id,
                "scoped": scope is not None,
                "scope": sorted(scope or ()),
                "paged": before is not None,
                "before_at": before[0] if before else epoch,
                "before_id": before[1] if before else uuid.UUID(int=0),
                "n": limit + 1,
            },
        )
    )
    page = rows[:limit]
    texts = _texts(uow, page)
    items = [
        TimelineItem(
            type=str(r.type),
            at=r.at,
            id=r.id,
            summary=str(r.summary),
            text=texts.get(r.id),
            ref=r.ref,
        )
        for r in page
    ]
    return items, len(rows) > limit
