"""`POST /v1/events`: a batch of product events (seed 001 payload) into the event pipeline.

Each event gets its own outcome: accepted, duplicate (its `event_id` is already stored, so a
retried batch is harmless), suppressed (its subject has no analytics consent) or rejected
(with the field and reason, never the value). Invalid events never block the valid ones; the
response is 200 whenever the batch itself was readable. The relay moves accepted events into
the lake (`tenantry events relay`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tenantry.api.deps import CtxDep, Renderer, json_response
from tenantry.api.resources.common import ERRORS
from tenantry.api.routing import ResourceRouter
from tenantry.errors import ValidationError
from tenantry.events.ingest import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    BatchTooLargeError,
    ingest_batch,
)
from tenantry.privacy.vault import keyring
from tenantry.services.idempotency import commit_once
from tenantry.services.principal import Action

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1/events", tags=["events"], responses=ERRORS)
RENDERERS: dict[str, Renderer] = {}


class EventOutcomeOut(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    event_id: str | None
    status: Literal["accepted", "duplicate", "suppressed", "rejected"]
    reason: str | None = Field(default=None, description="Why it was rejected: field and rule.")


class IngestOut(BaseModel):
    accepted: int
    duplicate: int
    suppressed: int
    rejected: int
    results: list[EventOutcomeOut]


_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A seed-001 event: event_id (UUIDv7), timestamp, event_type, user_id,"
    " account_id, location_id, external_ids, properties. See docs/events.md.",
    "required": ["event_id", "timestamp", "event_type"],
    "properties": {
        "event_id": {"type": "string", "format": "uuid"},
        "timestamp": {"type": "string", "format": "date-time"},
        "event_type": {"type": "string"},
        "user_id": {"type": "string", "format": "uuid"},
        "account_id": {"type": "string", "format": "uuid"},
        "location_id": {"type": "string", "format": "uuid"},
        "external_ids": {"type": "object", "additionalProperties": {"type": "string"}},
        "properties": {"type": "object"},
    },
}


@router.post(
    "",
    response_model=IngestOut,
    summary="Ingest a batch of events (at most 500 events, 500 KB)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": MAX_BATCH_EVENTS,
                        "items": _EVENT_SCHEMA,
                    }
                }
            },
        }
    },
)
async def post_events(request: Request, ctx: CtxDep) -> Response:
    ctx.principal.require(Action.INGEST_EVENTS)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise BatchTooLargeError()  # refused before the body is read into memory
    raw = await request.body()
    if len(raw) > MAX_BATCH_BYTES:
        raise BatchTooLargeError()
    try:
        events = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError("the body must be a JSON array of events") from exc
    if not isinstance(events, list):
        raise ValidationError("the body must be a JSON array of events")

    def run() -> IngestOut:
        result = commit_once(
            ctx.uow, lambda uow: ingest_batch(uow, keyring(uow), events, size_bytes=len(raw))
        )
        return IngestOut.model_validate(result.as_json())

    return json_response(await run_in_threadpool(run))
