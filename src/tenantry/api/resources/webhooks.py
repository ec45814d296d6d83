"""`POST /v1/webhooks/stripe?tenant=<uuid>`: payment events Stripe sends a tenant.

Stripe cannot send an API key, so the tenant is named in the URL the tenant registers at
Stripe, and the request is authenticated by its `Stripe-Signature` alone (checked against the
tenant's active signing secrets, `tenantry payments stripe-secret set`). The raw body is read
and size-capped before anything parses it. Every refusal (no or malformed tenant, unknown
tenant, missing or wrong signature, stale timestamp, a body that is no event) is one 400
problem that never says whether the tenant exists; repeated refusals from one address are
throttled like failed logins. A payment event is recorded by payment intake under the matching
policy of the app's settings (a redelivered one is recognised); other event types are
acknowledged and ignored. A failure while recording is a 5xx, so Stripe sends the event again.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from tenantry.api.deps import ApiState, Renderer
from tenantry.api.problems import PROBLEM_RESPONSES, problem_response
from tenantry.api.routing import ResourceRouter
from tenantry.payments.matching import Policy
from tenantry.payments.stripe import MAX_EVENT_BYTES, WebhookRejectedError
from tenantry.payments.webhook import WEBHOOK_ACTOR, Receipt, receive_stripe
from tenantry.services.idempotency import commit_once

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1/webhooks", tags=["webhooks"])
RENDERERS: dict[str, Renderer] = {}

_THROTTLED = "too many refused webhooks from this address; retry later"
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Received: `status` is the store's verdict on a payment event;"
        " `ignored` names an event type that is no payment.",
        "content": {
            "application/json": {
                "example": {"received": True, "event_id": "evt_1", "status": "needs_review"}
            }
        },
    },
    400: {
        **PROBLEM_RESPONSES[400],
        "description": "Not signed with an active secret of the named tenant, stale, or no event",
    },
    413: PROBLEM_RESPONSES[413],
    # The API's guard refuses text no database can store (NUL, lone surrogates) before any
    # route runs, webhooks included.
    422: PROBLEM_RESPONSES[422],
    429: PROBLEM_RESPONSES[429],
}
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Stripe event (https://docs.stripe.com/api/events/object) as Stripe"
    " sent it: checked on its raw bytes against the Stripe-Signature, then read.",
    "required": ["id", "type", "data"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "data": {"type": "object"},
    },
}


def _receipt_json(receipt: Receipt) -> dict[str, Any]:
    if receipt.ignored:
        return {"received": True, "ignored": receipt.event_type}
    body: dict[str, Any] = {
        "received": True,
        "event_id": receipt.event_id,
        "status": receipt.status,
    }
    if receipt.notification_id is not None:
        body["notification_id"] = str(receipt.notification_id)
    return body


@router.post(
    "/stripe",
    summary="Receive a Stripe event (authenticated by its Stripe-Signature)",
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _EVENT_SCHEMA}},
        }
    },
)
async def stripe_webhook(
    request: Request,
    tenant: Annotated[
        str | None,
        Query(max_length=64, description="The tenant's id, as registered in the URL at Stripe."),
    ] = None,
) -> Response:
    state: ApiState = request.app.state.api
    address = request.client.host if request.client is not None else "unknown"
    state.auth_failures.check(address, _THROTTLED)

    def refuse(detail: str) -> JSONResponse:
        state.auth_failures.hit(address)
        return problem_response(request, 400, "webhook-rejected", "Webhook rejected", detail)

    try:
        tenant_id = uuid.UUID(tenant or "")
    except ValueError:
        return refuse("the webhook URL must name the tenant: ?tenant=<tenant id>")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_EVENT_BYTES:
        return _too_large(request)
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        return _too_large(request)
    header = request.headers.get("stripe-signature")
    policy = Policy.from_settings(state.settings)

    def run() -> Receipt:
        return commit_once(
            lambda: state.db.tenant_uow(tenant_id, actor=WEBHOOK_ACTOR),
            lambda uow: receive_stripe(
                uow,
                header=header,
                body=raw,
                now=state.db.clock.now(),
                tolerance_seconds=state.settings.stripe_webhook_tolerance_seconds,
                policy=policy,
            ),
        )

    try:
        receipt = await run_in_threadpool(run)
    except WebhookRejectedError as exc:
        return refuse(exc.message)
    return JSONResponse(_receipt_json(receipt))


def _too_large(request: Request) -> JSONResponse:
    return problem_response(
        request,
        413,
        "payload-too-large",
        "Payload too large",
        f"a Stripe event is at most {MAX_EVENT_BYTES} bytes",
    )
