"""`/v1/threads` (and their messages), `/v1/escalations` (of threads and reviews),
`/v1/leads/{id}/interactions` and `/v1/customers/{id}/timeline`.

Threads and escalations are records like the others (ETag on reads, `If-Match` on PATCH).
Messages, interactions and the timeline are paged by time: the cursor carries the last item's
`(time, id)`. Bodies, summaries and reasons are sealed at rest and readable through the API by
every role that may read (`read`), like the other sealed fields.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, json_response
from tenantry.api.idempotency import Written
from tenantry.api.keyset import decode_keyset, encode_keyset
from tenantry.api.resources.common import (
    ERRORS,
    IdempotencyKey,
    IfMatch,
    In,
    Instant,
    Out,
    Patch,
    get_one,
    list_page,
    renderer,
    require_match,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.conversations import escalations as esc_svc
from tenantry.conversations import interactions as int_svc
from tenantry.conversations import threads as svc
from tenantry.conversations.timeline import customer_timeline
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError
from tenantry.models import ChatMessage, LeadInteraction, Message
from tenantry.models.enums import (
    AuthorKind,
    Channel,
    Direction,
    EscalationStatus,
    InteractionKind,
    ThreadStatus,
)
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, get_record

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)


# -- time cursors ------------------------------------------------------------------------
# The last item's (time, id), in the shared keyset codec (`tenantry.api.keyset`).


def decode_time_cursor(cursor: str | None) -> svc.TimeCursor | None:
    position = decode_keyset("tu", cursor)
    return (position[0], position[1]) if position is not None else None


# -- schemas -----------------------------------------------------------------------------


class ThreadIn(In):
    customer_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = Field(
        default=None, description="Default: the lead's location, else the customer's home."
    )
    channel: Channel
    subject: str | None = Field(default=None, max_length=300)


class ThreadPatch(Patch):
    status: ThreadStatus | None = None
    subject: str | None = Field(default=None, max_length=300)
    __not_null__ = ("status",)
    __read_only__ = (*Patch.__read_only__, "customer_id", "lead_id", "channel", "last_message_at")


class ThreadOut(Out):
    location_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    channel: Channel
    subject: str | None
    status: ThreadStatus
    last_message_at: datetime | None


class MessageIn(In):
    body: str = Field(min_length=1, max_length=svc.MAX_BODY)
    direction: Direction
    channel: Channel | None = Field(default=None, description="Default: the thread's channel.")
    author_kind: AuthorKind | None = None


class MessageOut(Out):
    thread_id: uuid.UUID
    user_id: uuid.UUID | None
    channel: Channel
    direction: Direction
    author_kind: AuthorKind
    body: str | None
    sent_at: datetime
    storage: str = Field(description="chat (kept 90 days) or correspondence (legal period)")


class EscalateIn(In):
    reason: str = Field(min_length=1, max_length=500)
    assignee_id: uuid.UUID | None = Field(default=None, description="A user of the tenant.")


class EscalationPatch(Patch):
    assignee_id: uuid.UUID | None = None
    status: EscalationStatus | None = None
    __not_null__ = ("status",)
    __read_only__ = (*Patch.__read_only__, "thread_id", "reason", "escalated_by")


class EscalationOut(Out):
    location_id: uuid.UUID | None
    thread_id: uuid.UUID | None
    review_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    reason: str | None
    status: EscalationStatus
    escalated_by: str
    acknowledged_at: datetime | None
    resolved_at: datetime | None


class InteractionIn(In):
    kind: InteractionKind
    channel: Channel | None = None
    direction: Direction | None = None
    summary: str | None = Field(default=None, max_length=5000)
    outcome: str | None = Field(default=None, max_length=60)
    occurred_at: Instant | None = None


class InteractionOut(Out):
    lead_id: uuid.UUID
    user_id: uuid.UUID | None
    kind: InteractionKind
    channel: Channel | None
    direction: Direction | None
    summary: str | None
    outcome: str | None
    occurred_at: datetime


class TimelineItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str
    at: datetime
    id: uuid.UUID
    summary: str = Field(description="Codes and figures only, never personal data.")
    text: str | None = Field(description="The message body or interaction summary, if any.")
    ref: uuid.UUID | None = Field(description="Booking, thread or lead the item belongs to.")


def _message_out(m: svc.AnyMessage) -> MessageOut:
    storage = "chat" if isinstance(m, ChatMessage) else "correspondence"
    data: dict[str, Any] = {k: getattr(m, k) for k in MessageOut.model_fields if k != "storage"}
    return MessageOut.model_validate({**data, "storage": storage})


def _timed_page(items: list[BaseModel], key: tuple[datetime, uuid.UUID] | None) -> Response:
    cursor = encode_keyset("tu", *key) if key else None
    return json_response(Page[Any](items=items, next_cursor=cursor))


# -- threads -----------------------------------------------------------------------------


@router.post(
    "/threads", status_code=201, response_model=ThreadOut, tags=["threads"], summary="Open a thread"
)
def post_thread(
    body: ThreadIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        t = svc.open_thread(uow, ctx.principal, **body.model_dump())
        return Written(201, ThreadOut.model_validate(t), "thread", t.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/threads/{thread_id}", response_model=ThreadOut, tags=["threads"], summary="Get a thread"
)
async def get_thread(thread_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "thread", ThreadOut, thread_id)


@router.get("/threads", response_model=Page[ThreadOut], tags=["threads"], summary="List threads")
async def list_threads(
    ctx: CtxDep,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    lead_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[ThreadStatus | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"customer_id": customer_id, "lead_id": lead_id, "status": status, "channel": channel}
    return await list_page(ctx, "thread", ThreadOut, filters, cursor, limit)


@router.patch(
    "/threads/{thread_id}",
    response_model=ThreadOut,
    tags=["threads"],
    summary="Change a thread's status or subject",
)
def patch_thread(
    thread_id: uuid.UUID,
    body: ThreadPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        t = svc.update_thread(
            uow,
            ctx.principal,
            thread_id,
            body.changes(),
            precondition=lambda cur: require_match(if_match, ThreadOut.model_validate(cur)),
        )
        return Written(200, ThreadOut.model_validate(t), "thread", t.id)

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/threads/{thread_id}/messages",
    status_code=201,
    response_model=MessageOut,
    tags=["threads"],
    summary="Add a message to a thread",
)
def post_message(
    thread_id: uuid.UUID,
    body: MessageIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        m = svc.post_message(uow, ctx.principal, thread_id, **body.model_dump())
        return Written(201, _message_out(m), "message", m.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/threads/{thread_id}/messages",
    response_model=Page[MessageOut],
    tags=["threads"],
    summary="A thread's messages, oldest first (paged by time)",
)
def list_thread_messages(
    thread_id: uuid.UUID, ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    with ctx.read() as uow:
        rows, more = svc.list_messages(
            uow, ctx.principal, thread_id, after=decode_time_cursor(cursor), limit=limit
        )
        items: list[BaseModel] = [_message_out(m) for m in rows]
    key = (rows[-1].sent_at, rows[-1].id) if more else None
    return _timed_page(items, key)


@router.post(
    "/threads/{thread_id}/escalate",
    status_code=201,
    response_model=EscalationOut,
    tags=["escalations"],
    summary="Escalate a thread to a person",
)
def escalate_thread(
    thread_id: uuid.UUID,
    body: EscalateIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        e = esc_svc.escalate_thread(uow, ctx.principal, thread_id, **body.model_dump())
        return Written(201, EscalationOut.model_validate(e), "escalation", e.id)

    return write(ctx, request, body, idempotency_key, run)


# -- escalations -------------------------------------------------------------------------


@router.post(
    "/reviews/{review_id}/escalate",
    status_code=201,
    response_model=EscalationOut,
    tags=["escalations"],
    summary="Escalate a review to a person",
)
def escalate_review(
    review_id: uuid.UUID,
    body: EscalateIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        e = esc_svc.escalate_review(uow, ctx.principal, review_id, **body.model_dump())
        return Written(201, EscalationOut.model_validate(e), "escalation", e.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/escalations/{escalation_id}",
    response_model=EscalationOut,
    tags=["escalations"],
    summary="Get an escalation",
)
async def get_escalation(escalation_id: uuid.UUID, ctx: CtxDep) -> Response:
    return await get_one(ctx, "escalation", EscalationOut, escalation_id)


@router.get(
    "/escalations",
    response_model=Page[EscalationOut],
    tags=["escalations"],
    summary="List escalations",
)
async def list_escalations(
    ctx: CtxDep,
    status: Annotated[EscalationStatus | None, Query()] = None,
    assignee: Annotated[uuid.UUID | None, Query(description="The assignee's user id.")] = None,
    thread_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    filters = {"status": status, "assignee_id": assignee, "thread_id": thread_id}
    return await list_page(ctx, "escalation", EscalationOut, filters, cursor, limit)


@router.patch(
    "/escalations/{escalation_id}",
    response_model=EscalationOut,
    tags=["escalations"],
    summary="Reassign an escalation or change its status",
)
def patch_escalation(
    escalation_id: uuid.UUID,
    body: EscalationPatch,
    request: Request,
    ctx: CtxDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        e = esc_svc.update_escalation(
            uow,
            ctx.principal,
            escalation_id,
            body.changes(),
            precondition=lambda cur: require_match(if_match, EscalationOut.model_validate(cur)),
        )
        return Written(200, EscalationOut.model_validate(e), "escalation", e.id)

    return write(ctx, request, body, idempotency_key, run)


# -- lead interactions -------------------------------------------------------------------


@router.post(
    "/leads/{lead_id}/interactions",
    status_code=201,
    response_model=InteractionOut,
    tags=["leads"],
    summary="Record an interaction with a lead (a new lead it reaches becomes contacted)",
)
def post_interaction(
    lead_id: uuid.UUID,
    body: InteractionIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        i = int_svc.record_interaction(uow, ctx.principal, lead_id, **body.model_dump())
        return Written(201, InteractionOut.model_validate(i), "interaction", i.id)

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/leads/{lead_id}/interactions",
    response_model=Page[InteractionOut],
    tags=["leads"],
    summary="A lead's interactions, newest first (paged by time)",
)
def list_lead_interactions(
    lead_id: uuid.UUID, ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    with ctx.read() as uow:
        rows, more = int_svc.list_interactions(
            uow, ctx.principal, lead_id, before=decode_time_cursor(cursor), limit=limit
        )
        items: list[BaseModel] = [InteractionOut.model_validate(i) for i in rows]
    key = (rows[-1].occurred_at, rows[-1].id) if more else None
    return _timed_page(items, key)


# -- customer timeline -------------------------------------------------------------------


@router.get(
    "/customers/{customer_id}/timeline",
    response_model=Page[TimelineItemOut],
    tags=["customers"],
    summary="Bookings, payments, messages and interactions of a customer, newest first",
)
def get_timeline(
    customer_id: uuid.UUID, ctx: CtxDep, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    with ctx.read() as uow:
        rows, more = customer_timeline(
            uow, ctx.principal, customer_id, before=decode_time_cursor(cursor), limit=limit
        )
    items: list[BaseModel] = [TimelineItemOut.model_validate(r) for r in rows]
    key = (rows[-1].at, rows[-1].id) if more else None
    return _timed_page(items, key)


# -- replays -----------------------------------------------------------------------------


def _render_message(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    tenant = uow.require_tenant()
    for model in (ChatMessage, Message):
        stmt = sa.select(model).where(model.tenant_id == tenant, model.id == id_)
        found: svc.AnyMessage | None = uow.session.scalars(stmt).first()  # type: ignore[assignment]
        if found is not None:
            get_record(uow, principal, KINDS["thread"], found.thread_id)
            return _message_out(found)
    raise NotFoundError("message not found")


def _render_interaction(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    found = uow.session.get(LeadInteraction, {"tenant_id": uow.require_tenant(), "id": id_})
    if found is None:
        raise NotFoundError("interaction not found")
    get_record(uow, principal, KINDS["lead"], found.lead_id)
    return InteractionOut.model_validate(found)


RENDERERS = {
    "thread": renderer("thread", ThreadOut),
    "escalation": renderer("escalation", EscalationOut),
    "message": _render_message,
    "interaction": _render_interaction,
}
