"""Receiving one Stripe webhook for a tenant: secrets, signature, event, hand-on.

Runs in a unit of work bound to the tenant the webhook URL names: its active signing secrets
are read there (a tenant that does not exist simply has none, so it is refused exactly like a
wrong signature), the signature is checked on the raw body before it is parsed, and a payment
event's `Notice` is recorded by payment intake (`intake.record_notices`, which recognises a
redelivered event) in the same unit of work. The caller commits; an error while recording
propagates, so nothing is acknowledged that was not stored. No FastAPI here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tenantry.db.uow import UnitOfWork
from tenantry.models.enums import MembershipRole
from tenantry.payments.endpoints import active_secrets
from tenantry.payments.intake import record_notices
from tenantry.payments.matching import Policy
from tenantry.payments.stripe import Ignored, event_notice, parse_event, verify_signature
from tenantry.services.principal import Principal

__all__ = ["WEBHOOK_ACTOR", "Receipt", "receive_stripe"]

WEBHOOK_ACTOR = "webhook:stripe"


@dataclass(frozen=True)
class Receipt:
    """What the endpoint answers Stripe (ids and states only)."""

    event_id: str | None
    event_type: str
    ignored: bool
    status: str | None = None  # the store's verdict: matched | needs_review | rejected | duplicate
    notification_id: uuid.UUID | None = None


def receive_stripe(
    uow: UnitOfWork,
    *,
    header: str | None,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
    policy: Policy,
) -> Receipt:
    """Verify and record one event; raises `WebhookRejectedError` when it is not genuine.

    `policy` is the matching policy the application runs with (`Policy.from_settings`).
    """
    verify_signature(
        header, body, active_secrets(uow), now=now, tolerance_seconds=tolerance_seconds
    )
    event = parse_event(body)
    event_id = event.get("id") if isinstance(event.get("id"), str) else None
    item = event_notice(body, event)
    if isinstance(item, Ignored):
        return Receipt(event_id, item.event_type, ignored=True)
    # Acting as a manager of the tenant: may record payments, nothing more.
    principal = Principal(tenant_id=uow.require_tenant(), role=MembershipRole.MANAGER)
    [outcome] = record_notices(uow, principal, [item], policy=policy)
    return Receipt(
        event_id,
        event["type"],
        ignored=False,
        status=outcome.status,
        notification_id=outcome.notification_id,
    )
