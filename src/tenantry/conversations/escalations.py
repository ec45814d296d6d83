"""Escalations: a thread or a review handed to a person of the tenant, with an assignee, a
reason and a status (open -> acknowledged -> resolved, reopened when needed).

The assignee must be an active member of the tenant; one thread or review has at most one
escalation that is not resolved. The reason is sealed under the data subject of the thread or
review (it may quote the customer). Escalating a review also sets its `escalated` flag.
Nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.domain.conversations import ESCALATION_LIFECYCLE
from tenantry.errors import ConflictError, ValidationError
from tenantry.models import Escalation, Membership, MembershipLocation, Review, Thread
from tenantry.models.enums import EscalationStatus
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = ["escalate_review", "escalate_thread", "update_escalation"]


def _require_member(uow: UnitOfWork, user_id: uuid.UUID, location_id: uuid.UUID | None) -> None:
    """The assignee is an active member who may work at the escalation's location (a member
    limited to other locations could not even read what they are handed)."""
    tenant = uow.require_tenant()
    scoped = sa.select(MembershipLocation.membership_id).where(
        MembershipLocation.tenant_id == tenant, MembershipLocation.membership_id == Membership.id
    )
    reach = ~scoped.exists()
    if location_id is not None:
        reach = reach | scoped.where(MembershipLocation.location_id == location_id).exists()
    member = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(
            Membership.tenant_id == tenant,
            Membership.user_id == user_id,
            Membership.is_active,
        )
    )
    if not member:
        raise ValidationError("the assignee is not a member of this tenant")
    reaching = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(
            Membership.tenant_id == tenant,
            Membership.user_id == user_id,
            Membership.is_active,
            reach,
        )
    )
    if not reaching:
        raise ValidationError("the assignee may not work at this location")


def _escalate(
    uow: UnitOfWork,
    principal: Principal,
    target: Thread | Review,
    reason: str,
    assignee_id: uuid.UUID | None,
) -> Escalation:
    if assignee_id is not None:
        _require_member(uow, assignee_id, target.location_id)
    column = Escalation.thread_id if isinstance(target, Thread) else Escalation.review_id
    pending = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Escalation)
        .where(
            Escalation.tenant_id == target.tenant_id,
            column == target.id,
            Escalation.status != EscalationStatus.RESOLVED,
        )
    )
    if pending:
        what = "thread" if isinstance(target, Thread) else "review"
        raise ConflictError(f"the {what} already has an escalation that is not resolved")
    now = uow.clock.now()
    escalation = Escalation(
        tenant_id=target.tenant_id,
        id=uow.ids(),
        location_id=target.location_id,
        thread_id=target.id if isinstance(target, Thread) else None,
        review_id=target.id if isinstance(target, Review) else None,
        assignee_id=assignee_id,
        reason=reason,
        status=EscalationStatus.OPEN,
        escalated_by=principal.actor,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(escalation)
    uow.flush()
    return escalation


def _reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise ValidationError("an escalation needs a reason")


def escalate_thread(
    uow: UnitOfWork,
    principal: Principal,
    thread_id: uuid.UUID,
    *,
    reason: str,
    assignee_id: uuid.UUID | None = None,
) -> Escalation:
    """Escalate a thread to a person (or to whoever picks it up, without an assignee)."""
    principal.require(Action.WRITE_CRM)
    _reason(reason)
    thread: Thread = get_record(uow, principal, KINDS["thread"], thread_id, for_update=True)
    return _escalate(uow, principal, thread, reason, assignee_id)


def escalate_review(
    uow: UnitOfWork,
    principal: Principal,
    review_id: uuid.UUID,
    *,
    reason: str,
    assignee_id: uuid.UUID | None = None,
) -> Escalation:
    """Escalate a review (a bad rating, a complaint) to a person; flags the review."""
    principal.require(Action.WRITE_CRM)
    _reason(reason)
    review: Review = get_record(uow, principal, KINDS["review"], review_id, for_update=True)
    escalation = _escalate(uow, principal, review, reason, assignee_id)
    review.escalated = True
    uow.flush()
    return escalation


def update_escalation(
    uow: UnitOfWork,
    principal: Principal,
    escalation_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    precondition: Callable[[Escalation], None] | None = None,
) -> Escalation:
    """Reassign an escalation or move its status; `precondition` sees the locked row first."""
    principal.require(Action.WRITE_CRM)
    esc: Escalation = get_record(
        uow, principal, KINDS["escalation"], escalation_id, for_update=True
    )
    if precondition is not None:
        precondition(esc)
    unknown = set(changes) - {"assignee_id", "status"}
    if unknown:
        raise ValidationError(f"field(s) cannot be changed: {', '.join(sorted(unknown))}")
    if not changes:  # an empty PATCH writes nothing (as `services.edits.apply_changes`)
        return esc
    now = uow.clock.now()
    if "assignee_id" in changes:
        if changes["assignee_id"] is not None:
            _require_member(uow, changes["assignee_id"], esc.location_id)
        esc.assignee_id = changes["assignee_id"]
    if "status" in changes and changes["status"] != esc.status:
        try:
            target = EscalationStatus(changes["status"])
        except ValueError:
            raise ValidationError(f"unknown status {changes['status']!r}") from None
        ESCALATION_LIFECYCLE.check(esc.status, target)
        esc.status = target
        if target is EscalationStatus.ACKNOWLEDGED:
            esc.acknowledged_at = now
        elif target is EscalationStatus.RESOLVED:
            esc.resolved_at = now
            esc.acknowledged_at = esc.acknowledged_at or now
        else:  # reopened
            esc.resolved_at = None
    esc.updated_at = now
    uow.flush()
    return esc
