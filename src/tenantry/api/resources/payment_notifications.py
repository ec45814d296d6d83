"""`/v1/payment-notifications`: the received payment notifications and their review queue.

Notifications arrive through `tenantry payments import|watch`, the Stripe webhook or the raw
upload below (`POST /v1/payment-notifications` with the e-mail as `message/rfc822`).
`GET /v1/payment-notifications?status=needs_review` is the review queue; a reviewer matches a
notice to a booking, reassigns a matched one, or rejects it. Every answer carries the
matcher's score, the runner-up's and the reasons (features and weights). Payment
notifications are handled for the whole tenant: members limited to some locations get 403.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, json_response
from tenantry.api.idempotency import Written
from tenantry.api.keyset import decode_keyset, encode_keyset
from tenantry.api.problems import problem_response
from tenantry.api.resources.common import (
    ERRORS,
    Boolean,
    Cents,
    IdempotencyKey,
    In,
    tagged,
    write,
)
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import PaymentNotification
from tenantry.models.enums import (
    MatchedPart,
    MatchStatus,
    NotificationSource,
    NotificationTrust,
)
from tenantry.payments import review as svc
from tenantry.payments.intake import Outcome, record_notices
from tenantry.payments.matching import Policy
from tenantry.payments.notices import Rejected
from tenantry.payments.sources import MAX_MESSAGE_BYTES, parse_email
from tenantry.payments.trust import DkimVerifier
from tenantry.services.idempotency import commit_once
from tenantry.services.principal import Principal

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)
_TAG: list[str | Enum] = ["payment notifications"]


class Reason(BaseModel):
    model_config = ConfigDict(extra="allow")

    feature: str
    detail: str | None = None
    weight: float | None = None


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: uuid.UUID
    source: NotificationSource
    provider: str
    bank: str | None
    transaction_id: str
    amount_cents: int
    currency: str
    fee_cents: int
    occurred_at: datetime | None
    received_at: datetime
    status: MatchStatus = Field(validation_alias="match_status")
    trust: NotificationTrust
    trust_reason: str | None
    signing_domain: str | None
    payer_name: str | None = Field(validation_alias="sender_name")
    payer_email: str | None
    payer_phone: str | None = Field(validation_alias="sender_phone")
    memo: str | None
    reference: str | None
    booking_id: uuid.UUID | None = Field(validation_alias="matched_booking_id")
    payment_id: uuid.UUID | None = Field(validation_alias="matched_payment_id")
    kind: MatchedPart | None = Field(validation_alias="match_kind")
    score: float | None = Field(validation_alias="match_confidence")
    runner_up: float | None = Field(validation_alias="runner_up_confidence")
    reasons: list[Reason]
    decided_at: datetime | None
    decided_by: str | None
    raw_sha256: str | None


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    booking_id: uuid.UUID | None
    score: float | None = Field(validation_alias="confidence")
    runner_up: float | None = Field(validation_alias="runner_up_confidence")
    reasons: list[Reason]
    decided_by: str
    decided_at: datetime


class Candidate(BaseModel):
    booking_id: uuid.UUID
    score: float


class NotificationDetailOut(NotificationOut):
    candidates: list[Candidate] = Field(description="The matcher's best bookings, best first.")
    decisions: list[DecisionOut]


class MatchIn(In):
    booking_id: uuid.UUID
    amount_cents: Cents | None = Field(
        default=None,
        description="What the booking receives; default the notice's amount (set it where a "
        "provider fee was kept or added).",
    )
    remember_payer: Boolean = Field(
        default=True, description="Remember a payer who is not the customer (a friend)."
    )


class RejectIn(In):
    reason: svc.RejectReason


def _out(note: PaymentNotification) -> NotificationOut:
    return NotificationOut.model_validate(note)


def _detail(uow: UnitOfWork, note: PaymentNotification) -> NotificationDetailOut:
    decisions = svc.decisions_of(uow, note.id)
    return NotificationDetailOut.model_validate(
        {
            **_out(note).model_dump(),
            "candidates": [
                {"booking_id": c["booking_id"], "score": c["score"]}
                for c in svc.candidates_of(decisions)
            ],
            "decisions": [DecisionOut.model_validate(d) for d in decisions],
        }
    )


@router.get(
    "/payment-notifications",
    response_model=Page[NotificationOut],
    tags=_TAG,
    summary="List payment notifications (the review queue with status=needs_review)",
)
def list_payment_notifications(
    ctx: CtxDep,
    status: Annotated[MatchStatus | None, Query()] = None,
    provider: Annotated[str | None, Query(max_length=40)] = None,
    booking_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    after = decode_keyset("tu", cursor)
    with ctx.read() as uow:
        rows, more = svc.list_notifications(
            uow,
            ctx.principal,
            status=status,
            provider=provider,
            booking_id=booking_id,
            after=(after[0], after[1]) if after else None,
            limit=limit,
        )
        items: list[Any] = [_out(r) for r in rows]
    nxt = encode_keyset("tu", rows[-1].received_at, rows[-1].id) if more and rows else None
    return json_response(Page[Any](items=items, next_cursor=nxt))


@router.get(
    "/payment-notifications/{notification_id}",
    response_model=NotificationDetailOut,
    tags=_TAG,
    summary="A notification with its candidates and decisions",
)
def get_payment_notification(notification_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        note = svc.get_notification(uow, ctx.principal, notification_id)
        return tagged(_detail(uow, note))


@router.get(
    "/payment-notifications/{notification_id}/raw",
    tags=_TAG,
    summary="The message as received (message/rfc822, JSON for webhooks)",
    response_class=Response,
)
def get_payment_notification_raw(notification_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        note = svc.get_notification(uow, ctx.principal, notification_id)
        raw = base64.b64decode(note.raw_message) if note.raw_message else b""
        source = str(note.source)
    media = "message/rfc822" if source == NotificationSource.EMAIL.value else "text/plain"
    if source == NotificationSource.WEBHOOK.value:
        media = "application/json"
    # What anyone may have sent to the mailbox: never rendered or sniffed as a page.
    headers = {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "attachment",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    return Response(content=raw, media_type=media, headers=headers)


def _action(
    ctx: CtxDep,
    request: Request,
    body: BaseModel,
    key: str | None,
    act: Any,
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        done = act(uow)
        return Written(200, _out(done.notification), "payment_notification", done.notification.id)

    return write(ctx, request, body, key, run)


@router.post(
    "/payment-notifications/{notification_id}/match",
    response_model=NotificationOut,
    tags=_TAG,
    summary="Match a notification from the queue to a booking (records the payment)",
)
def match_payment_notification(
    notification_id: uuid.UUID,
    body: MatchIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def act(uow: UnitOfWork) -> svc.Reviewed:
        return svc.match_notification(uow, ctx.principal, notification_id, **body.model_dump())

    return _action(ctx, request, body, idempotency_key, act)


@router.post(
    "/payment-notifications/{notification_id}/reassign",
    response_model=NotificationOut,
    tags=_TAG,
    summary="Move a matched notification's payment to another booking",
)
def reassign_payment_notification(
    notification_id: uuid.UUID,
    body: MatchIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def act(uow: UnitOfWork) -> svc.Reviewed:
        return svc.match_notification(
            uow, ctx.principal, notification_id, **body.model_dump(), reassign=True
        )

    return _action(ctx, request, body, idempotency_key, act)


@router.post(
    "/payment-notifications/{notification_id}/reject",
    response_model=NotificationOut,
    tags=_TAG,
    summary="Reject a notification (a matched one gives its payment back)",
)
def reject_payment_notification(
    notification_id: uuid.UUID,
    body: RejectIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def act(uow: UnitOfWork) -> svc.Reviewed:
        return svc.reject_notification(uow, ctx.principal, notification_id, body.reason)

    return _action(ctx, request, body, idempotency_key, act)


_RAW_TYPES = ("message/rfc822", "application/octet-stream")


@router.post(
    "/payment-notifications",
    status_code=201,
    tags=_TAG,
    summary="Hand in one provider e-mail as received (message/rfc822)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def post_payment_notification(request: Request, ctx: CtxDep) -> Response:
    """For a mail server or relay that forwards the provider's e-mails: the same parsing, DKIM
    check and matching as `tenantry payments import`. A re-delivery answers 200 `duplicate`."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _RAW_TYPES:
        return problem_response(
            request, 415, "unsupported-media-type", "Unsupported media type",
            "send the e-mail as it was received, with Content-Type: message/rfc822",
        )  # fmt: skip
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_MESSAGE_BYTES:
        return _too_large(request)
    raw = await request.body()
    if len(raw) > MAX_MESSAGE_BYTES:
        return _too_large(request)
    settings = ctx.state.settings
    policy = Policy.from_settings(settings)

    def run() -> Outcome:
        item = parse_email(raw, verifier=DkimVerifier.from_settings(settings), origin="api")
        if isinstance(item, Rejected):
            raise ValidationError(f"not a payment notification: {item.reason}")
        [outcome] = commit_once(
            ctx.uow, lambda uow: record_notices(uow, ctx.principal, [item], policy=policy)
        )
        if outcome.status == "rejected":  # refused by the store's gate: nothing was written
            why = outcome.reasons[0] if outcome.reasons else "it cannot be recorded"
            raise ValidationError(f"not a payment notification: {why}")
        return outcome

    outcome = await run_in_threadpool(run)
    status = 200 if outcome.status == "duplicate" else 201
    return JSONResponse(outcome.as_json(), status_code=status)


def _too_large(request: Request) -> Response:
    return problem_response(
        request, 413, "payload-too-large", "Payload too large",
        f"an e-mail is at most {MAX_MESSAGE_BYTES} bytes",
    )  # fmt: skip


def _render(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
    return _out(svc.get_notification(uow, principal, id_))


RENDERERS = {"payment_notification": _render}
