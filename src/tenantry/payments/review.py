"""The review queue: what the matcher left to a person, and what a person decides.

A reviewer may match a notice to a booking, reassign a matched notice to another booking, or
reject a notice (not a payment for us, forged, refunded at the source, ...). Matching records
the payment through the booking ledger; reassigning and rejecting a matched notice first
reverse its payment (cancelled, the booking's status recomputed). With `remember_payer`, a
payer whose name is not the customer's is remembered as an alias of that customer, so the
next payment from the same friend matches on its own. Every action writes a decision row.

Payment notifications are handled for the whole tenant: a member limited to some locations
cannot review them (the notice's booking is not known until it is decided).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.domain.bookings import Ledger, kind_of_payment, status_after_refund
from tenantry.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from tenantry.models import Customer, MatchDecision, PayerAlias, Payment, PaymentNotification
from tenantry.models.enums import (
    MatchAction,
    MatchedPart,
    MatchStatus,
    PaymentStatus,
)
from tenantry.payments.book import alias_key
from tenantry.payments.intake import lock_payments, payment_method
from tenantry.payments.matching import most_received
from tenantry.payments.names import NameAgreement, agreement
from tenantry.privacy.vault import keyring
from tenantry.services.bookings import PaymentEntry, record_payments
from tenantry.services.principal import Action, Principal

__all__ = [
    "RejectReason",
    "Reviewed",
    "candidates_of",
    "decisions_of",
    "get_notification",
    "list_notifications",
    "match_notification",
    "reject_notification",
]

_OPEN = (MatchStatus.NEEDS_REVIEW, MatchStatus.UNMATCHED)


class RejectReason(StrEnum):
    """Why a reviewer rejects a notice (a code, so no personal data lands in the log)."""

    NOT_OURS = "not_ours"  # a payment for something else, or not a payment at all
    FORGED = "forged"
    DUPLICATE = "duplicate"  # the same money reported another way
    REFUNDED = "refunded"  # sent back at the provider
    OTHER = "other"


@dataclass(frozen=True)
class Reviewed:
    notification: PaymentNotification
    payment_id: uuid.UUID | None
    remembered_payer: bool


def _require(principal: Principal, write: bool) -> None:
    principal.require(Action.WRITE_PAYMENTS if write else Action.READ, "review payments")
    if principal.location_ids is not None:
        raise PermissionDeniedError("payment notifications are handled for the whole tenant")


def list_notifications(
    uow: UnitOfWork,
    principal: Principal,
    *,
    status: MatchStatus | None = None,
    provider: str | None = None,
    booking_id: uuid.UUID | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> tuple[list[PaymentNotification], bool]:
    """Newest first; keyset paged by `(received_at, id)`."""
    _require(principal, write=False)
    t = PaymentNotification
    stmt = sa.select(t).where(t.tenant_id == uow.require_tenant())
    if status is not None:
        stmt = stmt.where(t.match_status == status)
    if provider is not None:
        stmt = stmt.where(t.provider == provider)
    if booking_id is not None:
        stmt = stmt.where(t.matched_booking_id == booking_id)
    if after is not None:
        stmt = stmt.where(sa.tuple_(t.received_at, t.id) < sa.tuple_(*after))
    rows = list(
        uow.session.scalars(stmt.order_by(t.received_at.desc(), t.id.desc()).limit(limit + 1))
    )
    return rows[:limit], len(rows) > limit


def get_notification(
    uow: UnitOfWork, principal: Principal, notification_id: uuid.UUID, *, for_update: bool = False
) -> PaymentNotification:
    _require(principal, write=for_update)
    stmt = sa.select(PaymentNotification).where(
        PaymentNotification.tenant_id == uow.require_tenant(),
        PaymentNotification.id == notification_id,
    )
    if for_update:
        # Locked and read afresh: the session may hold the row as it was before the lock.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = uow.session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFoundError("payment notification not found")
    return row


def decisions_of(uow: UnitOfWork, notification_id: uuid.UUID) -> list[MatchDecision]:
    stmt = (
        sa.select(MatchDecision)
        .where(
            MatchDecision.tenant_id == uow.require_tenant(),
            MatchDecision.notification_id == notification_id,
        )
        .order_by(MatchDecision.decided_at, MatchDecision.id)
    )
    return list(uow.session.scalars(stmt))


def candidates_of(decisions: Sequence[MatchDecision]) -> list[dict[str, Any]]:
    """The matcher's best candidates, as it recorded them when it queued the notice."""
    for d in reversed(decisions):
        if str(d.action) == MatchAction.QUEUED.value:
            return [r for r in d.reasons if r.get("feature") == "candidate"]
    return []


def match_notification(
    uow: UnitOfWork,
    principal: Principal,
    notification_id: uuid.UUID,
    booking_id: uuid.UUID,
    *,
    amount_cents: int | None = None,
    remember_payer: bool = True,
    reassign: bool = False,
) -> Reviewed:
    """Match an open notice to a booking, recording the payment; with `reassign`, move a
    matched notice's payment to another booking."""
    _require(principal, write=True)
    lock_payments(uow)
    note = get_notification(uow, principal, notification_id, for_update=True)
    if reassign != (note.match_status == MatchStatus.MATCHED):
        raise ConflictError(
            "only a matched notification can be reassigned: match it"
            if reassign
            else "the notification is matched: reassign it instead"
        )
    action = MatchAction.MATCHED
    if note.match_status == MatchStatus.MATCHED:
        if note.matched_booking_id == booking_id:
            raise ConflictError("the notification is already matched to this booking")
        _reverse(uow, principal, note)
        action = MatchAction.REASSIGNED
    elif note.match_status not in _OPEN:
        raise ConflictError(f"a {note.match_status} notification cannot be matched")
    cents = amount_cents if amount_cents is not None else note.amount_cents
    if cents <= 0:
        raise ValidationError("amount_cents must be positive")
    if cents > most_received(note.amount_cents, note.fee_cents, note.provider):
        raise ValidationError(
            "amount_cents exceeds what the notice reports, with the provider's fee"
        )
    booking = uow.repos.bookings.get(booking_id)
    if booking.currency != note.currency:
        raise ValidationError(
            f"the notification is in {note.currency}, the booking in {booking.currency}"
        )
    payment_id = uow.ids()
    [result] = record_payments(
        uow,
        principal,
        [
            PaymentEntry(
                booking_id=booking_id,
                kind=kind_of_payment(
                    Ledger(
                        booking.total_cents,
                        booking.deposit_cents,
                        uow.repos.payments.paid_cents(booking.id),
                    ),
                    cents,
                ),
                method=payment_method(note.provider),
                amount_cents=cents,
                provider=note.provider,
                provider_ref=note.transaction_id,
                payer_name=note.sender_name,
                payment_id=payment_id,
            )
        ],
    )
    if not isinstance(result, Payment):
        if isinstance(result, ValidationError) and "not found" in str(result):
            raise NotFoundError("booking not found")
        raise result
    now = uow.clock.now()
    note.match_status = MatchStatus.MATCHED
    note.matched_booking_id = booking_id
    note.matched_payment_id = payment_id
    note.match_kind = MatchedPart(result.kind.value)  # deposit, balance or full alike
    note.decided_at, note.decided_by = now, principal.actor
    note.updated_at = now
    remembered = remember_payer and _remember(uow, principal, note, result.customer_id)
    _decide(uow, note, action, booking_id, principal.actor, remembered=remembered)
    uow.flush()
    return Reviewed(note, payment_id, remembered)


def reject_notification(
    uow: UnitOfWork, principal: Principal, notification_id: uuid.UUID, reason: RejectReason
) -> Reviewed:
    """Reject a notice; a matched one gives its payment back first."""
    _require(principal, write=True)
    lock_payments(uow)
    note = get_notification(uow, principal, notification_id, for_update=True)
    if note.match_status == MatchStatus.REJECTED:
        raise ConflictError("the notification is already rejected")
    if note.match_status == MatchStatus.MATCHED:
        _reverse(uow, principal, note)
    now = uow.clock.now()
    note.match_status = MatchStatus.REJECTED
    note.matched_booking_id = None
    note.matched_payment_id = None
    note.match_kind = None
    note.decided_at, note.decided_by = now, principal.actor
    note.updated_at = now
    _decide(uow, note, MatchAction.REJECTED, None, principal.actor, reason=reason.value)
    uow.flush()
    return Reviewed(note, None, False)


def _reverse(uow: UnitOfWork, principal: Principal, note: PaymentNotification) -> None:
    """Take back the payment a matched notice recorded; the booking's status follows."""
    if note.matched_payment_id is None or note.matched_booking_id is None:
        return
    locked = uow.repos.bookings.lock_many([note.matched_booking_id])
    payment = uow.session.get(Payment, (note.tenant_id, note.matched_payment_id))
    if not locked or payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return
    booking = locked[0]
    principal.require_location(booking.location_id, "booking")
    refunds = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Payment)
        .where(
            Payment.tenant_id == note.tenant_id,
            Payment.refund_of_payment_id == payment.id,
            Payment.status != PaymentStatus.CANCELLED,
        )
    )
    if refunds:
        # Cancelling it would leave its refunds standing alone: the booking would owe less
        # than nothing. The refunds are money that went back; they cannot be taken back here.
        raise ConflictError(
            "the notification's payment was refunded (in part): it cannot be taken back"
        )
    payment.status = PaymentStatus.CANCELLED
    payment.updated_at = uow.clock.now()
    uow.flush()
    ledger = Ledger(
        booking.total_cents, booking.deposit_cents, uow.repos.payments.paid_cents(booking.id)
    )
    # Taking a wrongly matched payment back moves the booking back as a refund does.
    booking.status = status_after_refund(booking.status, ledger)
    booking.updated_at = uow.clock.now()


def _remember(
    uow: UnitOfWork, principal: Principal, note: PaymentNotification, customer_id: uuid.UUID | None
) -> bool:
    """Keep a payer who is not the customer as the customer's alias (True if remembered)."""
    payer = note.sender_name
    if not payer or customer_id is None:
        return False
    customer = uow.session.get(Customer, (note.tenant_id, customer_id))
    if customer is None:
        return False
    if agreement(payer, customer.first_name, customer.last_name) >= NameAgreement.SURNAME_ONLY:
        return False  # the customer (or family) by name: nothing to learn
    key = alias_key(keyring(uow), payer)
    exists = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(PayerAlias)
        .where(
            PayerAlias.tenant_id == note.tenant_id,
            PayerAlias.customer_id == customer_id,
            PayerAlias.payer_key == key,
        )
    )
    if exists:
        return True
    now = uow.clock.now()
    alias = PayerAlias(
        customer_id=customer_id,
        payer_key=key,
        notification_id=note.id,
        confirmed_by=principal.actor,
        created_at=now,
        updated_at=now,
    )
    alias.payer_name = payer
    _add(uow, alias)
    return True


def _add(uow: UnitOfWork, row: Any) -> None:
    row.tenant_id = uow.require_tenant()
    row.id = uow.ids()
    uow.session.add(row)


def _decide(
    uow: UnitOfWork,
    note: PaymentNotification,
    action: MatchAction,
    booking_id: uuid.UUID | None,
    actor: str,
    *,
    reason: str | None = None,
    remembered: bool = False,
) -> None:
    reasons: list[dict[str, Any]] = [{"feature": "reviewer", "detail": action.value, "weight": 0}]
    if reason is not None:
        reasons.append({"feature": "reject", "detail": reason, "weight": 0})
    if remembered:
        reasons.append({"feature": "payer", "detail": "remembered for the customer", "weight": 0})
    now = uow.clock.now()
    uow.session.add(
        MatchDecision(
            tenant_id=uow.require_tenant(),
            id=uow.ids(),
            notification_id=note.id,
            booking_id=booking_id,
            action=action,
            confidence=None,
            runner_up_confidence=None,
            reasons=reasons,
            decided_by=actor,
            decided_at=now,
            created_at=now,
            updated_at=now,
        )
    )
