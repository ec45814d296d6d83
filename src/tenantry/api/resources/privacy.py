"""`/v1/privacy`: consent, double opt-in, data-subject requests, export, erasure, register.

E-mail addresses travel only in request bodies, never in URLs (which end up in logs). Roles:
recording consent and opt-ins needs `write_crm`, checking consent and reading the register
`read`; data-subject requests and exports need `privacy` (owner, dpo); erasure needs `erase`,
which only the dpo role has. The services check every one of these rules, as they do for the
CLI; this module passes the caller's principal. An opt-in token
is returned once: an idempotent replay returns `token: null`.
Exports are not replayed: each call produces a fresh bundle and is recorded as an access
request; the bundle is returned and nothing of it is kept.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenantry.api.deps import CtxDep, Cursor, Limit, Page, decode_cursor, json_response, page_of
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import ERRORS, Email, IdempotencyKey, In, Instant, tagged, write
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.models import DsarRequest
from tenantry.models.enums import (
    ConsentDecision,
    ConsentPurpose,
    DsarKind,
    DsarStatus,
)
from tenantry.privacy import catalog
from tenantry.services.idempotency import commit_once
from tenantry.services.principal import Action
from tenantry.services.privacy.consent import Notice, read_consent, record_consent
from tenantry.services.privacy.doi import confirm_opt_in, start_opt_in
from tenantry.services.privacy.dsar import get_request, register_request
from tenantry.services.privacy.erasure import erase_subject
from tenantry.services.privacy.export import export_subject
from tenantry.services.records import KINDS, list_records

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1/privacy", tags=["privacy"], responses=ERRORS)
_EMAIL = Field(description="Never echoed back.")


class NoticeIn(In):
    notice_version: str = Field(min_length=1, max_length=40)
    notice_text: str = Field(min_length=1, max_length=20_000)

    def notice(self) -> Notice:
        return Notice(self.notice_version, self.notice_text)


class ConsentIn(NoticeIn):
    email: Email = _EMAIL
    purpose: ConsentPurpose
    decision: ConsentDecision
    source: str = Field(min_length=1, max_length=40)
    expires_at: Instant | None = None


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subject_id: uuid.UUID
    purpose: ConsentPurpose
    decision: ConsentDecision
    source: str
    notice_version: str
    recorded_at: datetime
    expires_at: datetime | None


class ConsentCheckIn(In):
    email: Email = _EMAIL
    purpose: ConsentPurpose


class ConsentStatusOut(BaseModel):
    purpose: ConsentPurpose
    active: bool = Field(description="Whether processing for the purpose is allowed now.")
    reason: str
    decision: ConsentDecision | None
    recorded_at: datetime | None
    expires_at: datetime | None


class OptInIn(NoticeIn):
    email: Email = _EMAIL
    purpose: ConsentPurpose


class OptInOut(BaseModel):
    token_id: uuid.UUID
    subject_id: uuid.UUID
    token: str | None = Field(
        description="Send it to the subject in the confirmation link; shown only once."
    )


class ConfirmIn(NoticeIn):
    token: str = Field(min_length=1, max_length=200)
    email: Email | None = None


class DsarIn(In):
    kind: DsarKind
    email: Email = _EMAIL


class DsarOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: DsarKind
    status: DsarStatus
    subject_found: bool
    received_at: datetime
    due_at: datetime
    extended_due_at: datetime | None
    closed_at: datetime | None
    outcome: str | None

    @classmethod
    def of(cls, r: DsarRequest) -> DsarOut:
        return cls(
            id=r.id,
            kind=r.kind,
            status=r.status,
            subject_found=r.subject_id is not None,
            received_at=r.received_at,
            due_at=r.due_at,
            extended_due_at=r.extended_due_at,
            closed_at=r.closed_at,
            outcome=r.outcome,
        )


class SubjectIn(In):
    email: Email = _EMAIL


class ErasureOut(BaseModel):
    receipt_id: uuid.UUID
    request_id: uuid.UUID
    performed_at: datetime
    replacement: str
    summary: dict[str, dict[str, int]]
    keys_destroyed: int
    scan_hits: int
    receipt_hash: str


class RegisterEntry(BaseModel):
    table: str
    column: str
    category: str
    personal: bool
    purpose: str
    legal_basis: str
    subjects: str
    retention: str


class RegisterOut(BaseModel):
    record_of_processing_activities: list[RegisterEntry]


@router.post("/consents", status_code=201, response_model=ConsentOut, summary="Record consent")
def post_consent(
    body: ConsentIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        entry = record_consent(
            uow,
            ctx.principal,
            email=body.email,
            purpose=body.purpose,
            decision=body.decision,
            source=body.source,
            notice=body.notice(),
            expires_at=body.expires_at,
        )
        return Written(201, ConsentOut.model_validate(entry))

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/consents/check",
    response_model=ConsentStatusOut,
    summary="Whether processing for a purpose is allowed now (read-only)",
)
def check_consent(body: ConsentCheckIn, ctx: CtxDep) -> Response:
    with ctx.uow() as uow:
        (s,) = read_consent(uow, ctx.principal, email=body.email, purposes=(body.purpose,)).states
    out = ConsentStatusOut(
        purpose=s.purpose,
        active=s.active,
        reason=s.reason,
        decision=s.decision,
        recorded_at=s.recorded_at,
        expires_at=s.expires_at,
    )
    return json_response(out)  # read-only: the unit of work rolls back (keys exist from birth)


@router.post(
    "/opt-ins",
    status_code=201,
    response_model=OptInOut,
    summary="Start a double opt-in (returns the confirmation token once)",
)
def post_opt_in(
    body: OptInIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        pending = start_opt_in(
            uow, ctx.principal, email=body.email, purpose=body.purpose, notice=body.notice()
        )
        out = OptInOut(
            token_id=pending.token_id, subject_id=pending.subject_id, token=pending.token
        )
        return Written(201, out, stored=out.model_copy(update={"token": None}))

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/opt-ins/confirm",
    response_model=ConsentOut,
    summary="Confirm a double opt-in with the token from the link",
)
def confirm(
    body: ConfirmIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def run(uow: UnitOfWork) -> Written:
        entry = confirm_opt_in(
            uow, ctx.principal, body.token, notice=body.notice(), email=body.email
        )
        return Written(200, ConsentOut.model_validate(entry))

    return write(ctx, request, body, idempotency_key, run)


@router.post(
    "/dsar", status_code=201, response_model=DsarOut, summary="Register a data-subject request"
)
def post_dsar(
    body: DsarIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    ctx.principal.require(Action.PRIVACY)  # before the idempotency machinery; checked again below

    def run(uow: UnitOfWork) -> Written:
        r = register_request(uow, ctx.principal, kind=body.kind, email=body.email)
        return Written(201, DsarOut.of(r))

    return write(ctx, request, body, idempotency_key, run)


@router.get("/dsar/{request_id}", response_model=DsarOut, summary="Status of a request")
def get_dsar(request_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        out = DsarOut.of(get_request(uow, ctx.principal, request_id))
    return tagged(out)


@router.get("/dsar", response_model=Page[DsarOut], summary="List data-subject requests")
def list_dsar(
    ctx: CtxDep,
    status: Annotated[DsarStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    after = decode_cursor(cursor)
    with ctx.read() as uow:
        rows = list_records(
            uow,
            ctx.principal,
            KINDS["dsar"],
            where={"status": status},
            after=after,
            limit=limit + 1,
        )
        items = [DsarOut.of(r) for r in rows]
    return json_response(page_of(items, [r.id for r in rows], limit))


@router.post(
    "/exports",
    response_class=Response,
    summary="Export everything about a subject as a zip (GDPR Art. 15 and 20)",
    responses={
        200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def post_export(body: SubjectIn, ctx: CtxDep) -> Response:
    # Nothing is kept: the bundle goes to the caller and leaves tenantry's custody.
    result = commit_once(
        ctx.uow,
        lambda uow: export_subject(
            uow, ctx.principal, body.email, lake_home=ctx.state.settings.home
        ),
    )
    return Response(
        result.bundle,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="dsar-{result.request_id}.zip"',
            "X-Dsar-Request-Id": str(result.request_id),
        },
    )


@router.post(
    "/erasures",
    status_code=201,
    response_model=ErasureOut,
    summary="Erase a subject and return the receipt (dpo role only)",
)
def post_erasure(
    body: SubjectIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    ctx.principal.require(Action.ERASE)  # before the idempotency machinery; checked again below

    def run(uow: UnitOfWork) -> Written:
        result = erase_subject(uow, ctx.principal, body.email, lake_home=ctx.state.settings.home)
        return Written(201, ErasureOut.model_validate(result.as_json()))

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/register",
    response_model=RegisterOut,
    summary="The record of processing activities (every column, classified)",
)
def get_register(ctx: CtxDep) -> Response:
    ctx.principal.require(Action.READ)
    entries = [RegisterEntry(**e.__dict__) for e in catalog.register()]
    return json_response(RegisterOut(record_of_processing_activities=entries))


RENDERERS: dict[str, Any] = {}
