"""Threads and their messages: open a thread with a customer or lead, change its status or
subject, post a message, read a thread's messages in time order.

A message goes where its channel says: chat (web, sms, social, voice) into the monthly
partitions of `engage.chat_messages`, e-mail into `engage.messages`. A thread's messages are
read from both, merged by `(sent_at, id)`. Bodies are sealed under the data subject of the
thread's customer or lead (the sealer follows `thread_id`). Nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.domain.conversations import is_chat
from tenantry.errors import ConflictError, ValidationError
from tenantry.models import ChatMessage, Customer, Lead, Location, Message, Thread
from tenantry.models.enums import AuthorKind, Channel, Direction, ThreadStatus
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = [
    "AnyMessage",
    "TimeCursor",
    "list_messages",
    "open_thread",
    "parse_choice",
    "post_message",
    "update_thread",
]

AnyMessage = Message | ChatMessage
TimeCursor = tuple[datetime, uuid.UUID]  # (sent_at, id) of the last message of a page
MAX_BODY = 20_000


E = TypeVar("E", bound=StrEnum)


def parse_choice(kind: type[E], value: object, what: str) -> E:
    """`value` as a member of `kind`, or a validation error naming the allowed values."""
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValidationError(f"unknown {what} {value!r}; one of: {allowed}") from None


def _stamp(uow: UnitOfWork, obj: Any) -> Any:
    now = uow.clock.now()
    obj.tenant_id, obj.id = uow.require_tenant(), uow.ids()
    obj.created_at = obj.updated_at = now
    uow.session.add(obj)
    return obj


def open_thread(
    uow: UnitOfWork,
    principal: Principal,
    *,
    channel: Channel | str,
    customer_id: uuid.UUID | None = None,
    lead_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    subject: str | None = None,
) -> Thread:
    """A new open thread with a customer or a lead (or both: a lead of that customer).

    The location defaults to the lead's, else the customer's home location.
    """
    principal.require(Action.WRITE_CRM)
    channel = parse_choice(Channel, channel, "channel")
    if customer_id is None and lead_id is None:
        raise ValidationError("a thread needs a customer_id or a lead_id")
    customer: Customer | None = None
    lead: Lead | None = None
    if customer_id is not None:
        customer = get_record(uow, principal, KINDS["customer"], customer_id)
    if lead_id is not None:
        lead = get_record(uow, principal, KINDS["lead"], lead_id)
        if customer is not None and lead.customer_id not in (None, customer.id):
            raise ValidationError("the lead belongs to another customer")
        # An unconverted lead joins a customer's thread only as the same person: a thread
        # links the correspondence of its people, which an export or erasure follows.
        if (
            customer is not None
            and lead.customer_id is None
            and (lead.subject_id is None or lead.subject_id != customer.subject_id)
        ):
            raise ValidationError("the lead is not this customer's (convert it first)")
    if location_id is not None:
        location: Location = get_record(uow, principal, KINDS["location"], location_id)
        location_id = location.id
    else:
        location_id = lead.location_id if lead else customer.home_location_id if customer else None
    principal.require_location(location_id, "location")
    thread = _stamp(
        uow,
        Thread(
            location_id=location_id,
            customer_id=customer_id,
            lead_id=lead_id,
            channel=channel,
            subject=subject,
            status=ThreadStatus.OPEN,
        ),
    )
    uow.flush()
    return thread  # type: ignore[no-any-return]


def update_thread(
    uow: UnitOfWork,
    principal: Principal,
    thread_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    precondition: Callable[[Thread], None] | None = None,
) -> Thread:
    """Change a thread's status or subject; `precondition` sees the locked row first (ETag)."""
    principal.require(Action.WRITE_CRM)
    thread: Thread = get_record(uow, principal, KINDS["thread"], thread_id, for_update=True)
    if precondition is not None:
        precondition(thread)
    unknown = set(changes) - {"status", "subject"}
    if unknown:
        raise ValidationError(f"field(s) cannot be changed: {', '.join(sorted(unknown))}")
    if not changes:  # an empty PATCH writes nothing (as `services.edits.apply_changes`)
        return thread
    if "status" in changes:
        thread.status = parse_choice(ThreadStatus, changes["status"], "status")
    if "subject" in changes:
        thread.subject = changes["subject"]
    thread.updated_at = uow.clock.now()
    uow.flush()
    return thread


def post_message(
    uow: UnitOfWork,
    principal: Principal,
    thread_id: uuid.UUID,
    *,
    body: str,
    direction: Direction | str,
    channel: Channel | str | None = None,
    author_kind: AuthorKind | str | None = None,
) -> AnyMessage:
    """Add a message to an open or pending thread; it becomes the thread's last message.

    The channel defaults to the thread's; the author to the customer (inbound) or the acting
    staff member (outbound).
    """
    principal.require(Action.WRITE_CRM)
    direction = parse_choice(Direction, direction, "direction")
    if not body or not body.strip():
        raise ValidationError("a message needs a body")
    if len(body) > MAX_BODY:
        raise ValidationError(f"a message body is at most {MAX_BODY} characters")
    thread: Thread = get_record(uow, principal, KINDS["thread"], thread_id, for_update=True)
    if thread.status is ThreadStatus.CLOSED:
        raise ConflictError("the thread is closed: reopen it (status open) to add messages")
    chosen: Channel = (
        thread.channel if channel is None else parse_choice(Channel, channel, "channel")
    )
    if author_kind is None:
        author = AuthorKind.CUSTOMER if direction is Direction.INBOUND else AuthorKind.STAFF
    else:
        author = parse_choice(AuthorKind, author_kind, "author_kind")
    now = uow.clock.now()
    model: type[AnyMessage] = ChatMessage if is_chat(chosen) else Message
    message = _stamp(
        uow,
        model(
            thread_id=thread.id,
            user_id=principal.user_id if author is AuthorKind.STAFF else None,
            channel=chosen,
            direction=direction,
            author_kind=author,
            body=body,
            sent_at=now,
        ),
    )
    if thread.last_message_at is None or thread.last_message_at < now:
        thread.last_message_at = now
    thread.updated_at = now
    uow.flush()
    return message  # type: ignore[no-any-return]


def _page_of(
    uow: UnitOfWork, model: type[AnyMessage], thread: Thread, after: TimeCursor | None, n: int
) -> list[AnyMessage]:
    stmt = sa.select(model).where(model.tenant_id == thread.tenant_id, model.thread_id == thread.id)
    if after is not None:
        stmt = stmt.where(sa.tuple_(model.sent_at, model.id) > sa.tuple_(*after))
    stmt = stmt.order_by(model.sent_at, model.id).limit(n)
    return list(uow.session.scalars(stmt))


def list_messages(
    uow: UnitOfWork,
    principal: Principal,
    thread_id: uuid.UUID,
    *,
    after: TimeCursor | None = None,
    limit: int = 50,
) -> tuple[list[AnyMessage], bool]:
    """The thread's messages after the cursor, oldest first, and whether more follow."""
    thread: Thread = get_record(uow, principal, KINDS["thread"], thread_id)
    merged = _page_of(uow, ChatMessage, thread, after, limit + 1)
    merged += _page_of(uow, Message, thread, after, limit + 1)
    merged.sort(key=lambda m: (m.sent_at, m.id))
    return merged[:limit], len(merged) > limit
