"""Data-subject requests: lifecycle and deadlines (GDPR Art. 12(3)).

A request is due one month after receipt (counted here as 30 days); it can be extended once by
up to two further months with a reason. The requester is identified by a keyed blind index of
the e-mail address, never the address itself. `overdue()` lists open requests past their
deadline. `register_request`, `get_request` and `list_requests` are the entrypoints' services
(they check the principal's `privacy` permission); the others are steps of the export and
erasure workflows, which check it themselves.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import IllegalTransitionError, NotFoundError, ValidationError
from tenantry.models import DsarRequest
from tenantry.models.enums import DsarKind, DsarStatus
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import email_index, find_subject
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Action, Principal

__all__ = [
    "DEADLINE",
    "MAX_EXTENSION",
    "close_request",
    "extend_request",
    "get_request",
    "list_requests",
    "open_request",
    "overdue",
    "register_request",
]

DEADLINE = timedelta(days=30)
MAX_EXTENSION = timedelta(days=60)
_OPEN = (DsarStatus.RECEIVED, DsarStatus.VERIFIED, DsarStatus.IN_PROGRESS)


def open_request(
    uow: UnitOfWork, ring: KeyRing, *, kind: DsarKind | str, email: str
) -> DsarRequest:
    try:
        kind = DsarKind(kind)
    except ValueError as exc:
        raise ValidationError(f"invalid value: {exc}") from exc
    now = uow.clock.now()
    subject = find_subject(uow, ring, email=email)
    request = DsarRequest(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        kind=kind,
        status=DsarStatus.RECEIVED,
        requester_bidx=email_index(ring, email),
        subject_id=subject.id if subject else None,
        received_at=now,
        due_at=now + DEADLINE,
    )
    uow.session.add(request)
    uow.flush()
    return request


def _get(uow: UnitOfWork, request_id: uuid.UUID) -> DsarRequest:
    request = uow.session.get(DsarRequest, (uow.require_tenant(), request_id))
    if request is None:
        raise NotFoundError("data-subject request not found")
    return request


def extend_request(
    uow: UnitOfWork, request_id: uuid.UUID, *, days: int, reason: str
) -> DsarRequest:
    request = _get(uow, request_id)
    if request.status not in _OPEN:
        raise IllegalTransitionError("a closed request cannot be extended")
    if request.extended_due_at is not None:
        raise IllegalTransitionError("the deadline has already been extended once")
    if not 0 < days <= MAX_EXTENSION.days or not reason.strip():
        raise ValidationError("extend by 1 to 60 days, with a reason")
    request.extended_due_at = request.due_at + timedelta(days=days)
    request.extension_reason = reason
    uow.flush()
    return request


def close_request(
    uow: UnitOfWork, request: DsarRequest, *, status: DsarStatus, outcome: str
) -> DsarRequest:
    if request.status not in _OPEN:
        raise IllegalTransitionError(f"request is already {request.status.value}")
    if status not in (DsarStatus.COMPLETED, DsarStatus.REJECTED):
        raise ValidationError("close as completed or rejected")
    request.status, request.outcome, request.closed_at = status, outcome, uow.clock.now()
    uow.flush()
    return request


def overdue(uow: UnitOfWork) -> list[DsarRequest]:
    """Open requests past their (possibly extended) deadline, oldest first."""
    deadline = sa.func.coalesce(DsarRequest.extended_due_at, DsarRequest.due_at)
    stmt = (
        sa.select(DsarRequest)
        .where(
            DsarRequest.tenant_id == uow.require_tenant(),
            DsarRequest.status.in_(_OPEN),
            deadline < uow.clock.now(),
        )
        .order_by(deadline)
    )
    return list(uow.session.scalars(stmt))


def register_request(
    uow: UnitOfWork, principal: Principal, *, kind: DsarKind | str, email: str
) -> DsarRequest:
    """Record a data-subject request as received (its deadline starts now)."""
    principal.require(Action.PRIVACY)
    return open_request(uow, keyring(uow), kind=kind, email=email)


def get_request(uow: UnitOfWork, principal: Principal, request_id: uuid.UUID) -> DsarRequest:
    principal.require(Action.PRIVACY)
    return _get(uow, request_id)


def list_requests(
    uow: UnitOfWork, principal: Principal, *, only_overdue: bool = False, limit: int = 200
) -> list[DsarRequest]:
    """The newest requests first, or the overdue ones (oldest deadline first)."""
    principal.require(Action.PRIVACY)
    if only_overdue:
        return overdue(uow)
    stmt = (
        sa.select(DsarRequest)
        .where(DsarRequest.tenant_id == uow.require_tenant())
        .order_by(DsarRequest.received_at.desc())
        .limit(limit)
    )
    return list(uow.session.scalars(stmt))
