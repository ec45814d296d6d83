"""Recording a batch of notices: recognise re-deliveries, match, record payments, queue the rest.

`record_notices` is the one way notices enter the store, whatever their source (e-mail files,
a mailbox, a Stripe webhook, a bank statement). Per tenant one batch runs at a time (an
advisory lock), so two imports never assign the same open balance twice. Everything happens in
the caller's unit of work: nothing is written unless it commits.

A notice is a duplicate when its raw bytes (SHA-256) or its provider's transaction id were seen
before, in the store or earlier in the batch: it changes nothing and reports the earlier
record. Matched notices become succeeded payments through the booking ledger (deposit,
balance, overpayment refused); a notice the ledger refuses goes to review instead.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.domain.bookings import Ledger, kind_of_payment
from tenantry.domain.money import MAX_CENTS
from tenantry.errors import PermissionDeniedError
from tenantry.models import MatchDecision, Payment, PaymentNotification
from tenantry.models.enums import (
    MatchAction,
    MatchStatus,
    NotificationSource,
    NotificationTrust,
    PaymentMethod,
    PaymentStatus,
)
from tenantry.payments.book import OpenBook, clues_for
from tenantry.payments.matching import (
    Decision,
    Policy,
    Reason,
    Scored,
    assign,
    rank,
)
from tenantry.payments.notices import Notice, Rejected
from tenantry.payments.sources.money import ISO_4217
from tenantry.privacy.vault import keyring
from tenantry.services.bookings import PaymentEntry, record_payments
from tenantry.services.principal import Action, Principal

__all__ = [
    "MATCHER",
    "Outcome",
    "admissible",
    "lock_payments",
    "payment_method",
    "record_notices",
]

MATCHER = "matcher"
_METHOD = {
    "venmo": PaymentMethod.VENMO,
    "zelle": PaymentMethod.ZELLE,
    "stripe": PaymentMethod.STRIPE,
    "paypal": PaymentMethod.PAYPAL,
    "bank": PaymentMethod.BANK_TRANSFER,
}
_CANDIDATES_KEPT = 3


def payment_method(provider: str) -> PaymentMethod:
    """How a provider's payment is recorded on the booking (bank transfer for any other)."""
    return _METHOD.get(provider, PaymentMethod.BANK_TRANSFER)


@dataclass(frozen=True)
class Outcome:
    """What became of one input (the `--json` line of `tenantry payments import`)."""

    origin: str | None
    status: str  # matched | needs_review | rejected | duplicate
    notification_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None  # the booking paid (matched only)
    score: float | None = None
    reasons: tuple[str, ...] = ()
    candidate_id: uuid.UUID | None = None  # the best candidate of a notice left for review
    runner_up: float | None = None
    provider: str | None = None
    amount_cents: int | None = None
    currency: str | None = None
    trust: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.origin,
            "status": self.status,
            "notification_id": str(self.notification_id) if self.notification_id else None,
            "booking_id": str(self.booking_id) if self.booking_id else None,
            "score": self.score,
            "runner_up": self.runner_up,
            "candidate_booking_id": str(self.candidate_id) if self.candidate_id else None,
            "reasons": list(self.reasons),
            "provider": self.provider,
            "amount_cents": self.amount_cents,
            "currency": self.currency,
            "trust": self.trust,
            **self.extra,
        }


def lock_payments(uow: UnitOfWork) -> None:
    """Serialise matching per tenant until the transaction ends."""
    uow.session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"tenantry:payments:{uow.require_tenant()}"},
    )


def _texts(reasons: Sequence[Reason]) -> tuple[str, ...]:
    return tuple(f"{r.feature}: {r.detail} ({r.weight:+g})" for r in reasons)


def _score(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 3)))


def record_notices(
    uow: UnitOfWork,
    principal: Principal,
    items: Sequence[Notice | Rejected],
    *,
    policy: Policy | None = None,
    book: OpenBook | None = None,
) -> list[Outcome]:
    """Record the batch; one outcome per item, in input order.

    `book`: the open bookings as a caller keeps them across batches (see
    `tenantry.payments.importer`); read afresh when not given.
    """
    principal.require(Action.WRITE_PAYMENTS, "record payment notifications")
    if principal.location_ids is not None:
        raise PermissionDeniedError("payment notifications are handled for the whole tenant")
    policy = policy or Policy()
    lock_payments(uow)
    outcomes: list[Outcome | None] = [None] * len(items)
    fresh: list[tuple[int, Notice]] = []
    for i, given in enumerate(items):
        item = given if isinstance(given, Rejected) else admissible(given)
        if isinstance(item, Rejected):
            outcomes[i] = Outcome(item.origin, "rejected", reasons=(item.reason,))
        else:
            fresh.append((i, item))
    fresh = _drop_duplicates(uow, fresh, outcomes)
    if fresh:
        _match_and_store(uow, principal, fresh, outcomes, policy, book)
    return [o if o is not None else Outcome(None, "rejected") for o in outcomes]


# The stored limits of the personal-data fields (`PaymentNotification`): longer text is clipped
# (a name, memo or reference), an address or number that long is no address and is dropped.
_CLIPPED = {"payer_name": 200, "memo": 500, "reference": 500}
_DROPPED = {"payer_email": 320, "payer_phone": 40}
_ID_LENGTH = 255  # PaymentNotification.transaction_id


def _storable(text: str | None) -> bool:
    """Whether PostgreSQL can keep `text` in a plain column: no NUL, no lone surrogate."""
    if text is None:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _cleaned(text: str | None) -> str | None:
    if text is None:
        return None
    out = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8").strip()
    return out or None


def admissible(notice: Notice) -> Notice | Rejected:
    """The notice as the store can keep it, or why it cannot be recorded at all.

    Parsers are lenient; this is the one gate before the store, whatever the source. An amount
    must be positive and at most `MAX_CENTS`, the currency ISO 4217, the identifiers storable;
    payer fields longer than their columns are clipped (names, memos) or dropped (addresses).
    """

    def no(reason: str) -> Rejected:
        return Rejected(reason, origin=notice.origin, raw=notice.raw)

    if not 0 < notice.amount_cents <= MAX_CENTS:
        return no("amount out of range")
    if not 0 <= notice.fee_cents <= MAX_CENTS:
        return no("fee out of range")
    if notice.currency not in ISO_4217:
        return no("currency is not ISO 4217")
    plain = (notice.provider, notice.transaction_id, notice.bank, notice.trust.domain)
    if not notice.transaction_id or not all(_storable(v) for v in plain):
        return no("transaction id cannot be stored")
    changes: dict[str, Any] = {}
    if len(notice.transaction_id) > _ID_LENGTH:
        # Stored clipped, so compared clipped: a re-delivery is then recognised as one.
        changes["transaction_id"] = notice.transaction_id[:_ID_LENGTH]
    for name, limit in _CLIPPED.items():
        value: str | None = getattr(notice, name)
        fitted = _cleaned(value)
        fitted = fitted[:limit].rstrip() if fitted else None
        if fitted != value:
            changes[name] = fitted
    for name, limit in _DROPPED.items():
        value = getattr(notice, name)
        fitted = _cleaned(value)
        fitted = fitted if fitted and len(fitted) <= limit else None
        if fitted != value:
            changes[name] = fitted
    if not _storable(notice.trust.reason):
        changes["trust"] = dataclasses.replace(
            notice.trust, reason=_cleaned(notice.trust.reason) or ""
        )
    return dataclasses.replace(notice, **changes) if changes else notice


def _drop_duplicates(
    uow: UnitOfWork, fresh: list[tuple[int, Notice]], outcomes: list[Outcome | None]
) -> list[tuple[int, Notice]]:
    """Report re-deliveries (in the store or earlier in the batch); keep the rest."""
    if not fresh:
        return fresh
    hashes = {n.sha256 for _i, n in fresh}
    pairs = {(n.provider, n.transaction_id) for _i, n in fresh}
    t = PaymentNotification
    rows = uow.session.execute(
        sa.select(
            t.id, t.raw_sha256, t.provider, t.transaction_id, t.match_status, t.matched_booking_id
        ).where(
            t.tenant_id == uow.require_tenant(),
            sa.or_(t.raw_sha256.in_(hashes), sa.tuple_(t.provider, t.transaction_id).in_(pairs)),
        )
    ).all()
    seen: dict[object, tuple[uuid.UUID | None, str, uuid.UUID | None]] = {}
    for r in rows:
        known = (r.id, str(r.match_status), r.matched_booking_id)
        if r.raw_sha256:
            seen[r.raw_sha256] = known
        seen[(r.provider, r.transaction_id)] = known
    kept = []
    for i, n in fresh:
        earlier = seen.get(n.sha256) or seen.get((n.provider, n.transaction_id))
        if earlier is not None:
            note_id, status, booking = earlier
            outcomes[i] = Outcome(
                n.origin,
                "duplicate",
                notification_id=note_id,
                booking_id=booking,
                reasons=(f"already received (recorded as {status})",),
                provider=n.provider,
                amount_cents=n.amount_cents,
                currency=n.currency,
                trust=n.trust.level.value,
            )
            continue
        marker = (None, "part of this batch", None)
        seen[n.sha256] = marker
        seen[(n.provider, n.transaction_id)] = marker
        kept.append((i, n))
    return kept


def _match_and_store(
    uow: UnitOfWork,
    principal: Principal,
    fresh: list[tuple[int, Notice]],
    outcomes: list[Outcome | None],
    policy: Policy,
    book: OpenBook | None,
) -> None:
    notices = [n for _i, n in fresh]
    book = book if book is not None else OpenBook.load(uow)
    clues = clues_for(uow, keyring(uow), book, notices)
    ranked = [
        rank(n, book.candidates(n, c, policy), c, policy, book)
        for n, c in zip(notices, clues, strict=True)
    ]
    decisions = assign(ranked, [n.trust.verified for n in notices], policy)
    decisions, payments = _record_payments(uow, principal, notices, decisions)
    now = uow.clock.now()
    stored: list[tuple[PaymentNotification, Decision, list[Scored]]] = []
    for k, ((i, notice), decision, scored) in enumerate(zip(fresh, decisions, ranked, strict=True)):
        row = _notification(uow, notice, decision, payments.get(k), now)
        stored.append((row, decision, scored))
        best = decision.best
        outcomes[i] = Outcome(
            notice.origin,
            str(row.match_status),
            notification_id=row.id,
            booking_id=row.matched_booking_id,
            score=None if best is None else round(best.score, 3),
            reasons=_texts(decision.reasons),
            candidate_id=None if decision.matched or best is None else best.booking.id,
            runner_up=None if decision.runner_up is None else round(decision.runner_up, 3),
            provider=notice.provider,
            amount_cents=notice.amount_cents,
            currency=notice.currency,
            trust=notice.trust.level.value,
        )
    uow.flush()  # the notifications before the decisions that reference them
    for row, decision, scored in stored:
        uow.session.add(_decision_row(uow, row, decision, scored, now))
    uow.flush()


def _record_payments(
    uow: UnitOfWork, principal: Principal, notices: list[Notice], decisions: list[Decision]
) -> tuple[list[Decision], dict[int, uuid.UUID]]:
    """Record the matched notices as payments, earliest first; refused ones go to review.

    Returns the decisions as they stand afterwards and the payment recorded per position.
    """
    order = sorted(
        (i for i, d in enumerate(decisions) if d.matched), key=lambda i: notices[i].occurred_at
    )
    if not order:
        return decisions, {}
    entries = []
    # What each booking has received so far in this batch: the part a payment settles is
    # decided against it, so a second deposit payment of a shared deposit is still a deposit
    # and a payment beyond the deposit a balance.
    running: dict[uuid.UUID, int] = {}
    for i in order:
        best = decisions[i].best
        assert best is not None  # a matched decision names its booking
        n = notices[i]
        booking = best.booking
        paid = running.get(booking.id, booking.paid_cents)
        running[booking.id] = paid + best.apply_cents
        entries.append(
            PaymentEntry(
                booking_id=booking.id,
                kind=kind_of_payment(
                    Ledger(booking.total_cents, booking.deposit_cents, paid), best.apply_cents
                ),
                method=payment_method(n.provider),
                amount_cents=best.apply_cents,
                provider=n.provider,
                provider_ref=n.transaction_id[:255],
                payer_name=n.payer_name,
                payment_id=uow.ids(),
            )
        )
    taken = _recorded_refs(uow, entries)
    out = list(decisions)
    keep: list[tuple[int, PaymentEntry]] = []
    for i, entry in zip(order, entries, strict=True):
        if (entry.provider, entry.provider_ref) in taken:
            out[i] = _demoted(decisions[i], "a payment with this transaction id is recorded")
        else:
            keep.append((i, entry))
    results = record_payments(uow, principal, [e for _i, e in keep])
    payments: dict[int, uuid.UUID] = {}
    for (i, _entry), result in zip(keep, results, strict=True):
        if isinstance(result, Payment):
            payments[i] = result.id
        else:
            out[i] = _demoted(decisions[i], f"ledger refused: {result}")
    return out, payments


def _recorded_refs(uow: UnitOfWork, entries: list[PaymentEntry]) -> set[tuple[str | None, str]]:
    refs = {(e.provider, e.provider_ref) for e in entries if e.provider_ref}
    if not refs:
        return set()
    rows = uow.session.execute(
        sa.select(Payment.provider, Payment.provider_ref).where(
            Payment.tenant_id == uow.require_tenant(),
            Payment.status != PaymentStatus.CANCELLED,
            sa.tuple_(Payment.provider, Payment.provider_ref).in_(refs),
        )
    )
    return {(p, r) for p, r in rows if r is not None}


def _demoted(decision: Decision, why: str) -> Decision:
    return Decision(
        False, decision.best, decision.runner_up, (*decision.reasons, Reason("decision", why, 0.0))
    )


def _notification(
    uow: UnitOfWork,
    notice: Notice,
    decision: Decision,
    payment_id: uuid.UUID | None,
    now: Any,
) -> PaymentNotification:
    best = decision.best
    matched = decision.matched and best is not None
    row = PaymentNotification(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        provider=notice.provider,
        transaction_id=notice.transaction_id[:255],
        amount_cents=notice.amount_cents,
        currency=notice.currency,
        received_at=now,
        occurred_at=notice.occurred_at,
        source=NotificationSource(notice.source.value),
        bank=notice.bank,
        fee_cents=notice.fee_cents,
        trust=NotificationTrust(notice.trust.level.value),
        trust_reason=notice.trust.reason[:200],
        signing_domain=notice.trust.domain,
        raw_sha256=notice.sha256,
        match_status=MatchStatus.MATCHED if matched else MatchStatus.NEEDS_REVIEW,
        matched_booking_id=best.booking.id if matched and best else None,
        # Sealed under the paid booking's subject (known here: no lookup when sealing).
        subject_id=best.booking.subject_id if matched and best else None,
        matched_payment_id=payment_id if matched else None,
        match_kind=best.part if matched and best else None,
        match_confidence=_score(best.score if best else None),
        runner_up_confidence=_score(decision.runner_up),
        reasons=decision.reasons_json(),
        decided_at=now if matched else None,
        decided_by=MATCHER if matched else None,
        created_at=now,
        updated_at=now,
    )
    row.sender_name = notice.payer_name
    row.sender_phone = notice.payer_phone
    row.payer_email = notice.payer_email
    row.memo = notice.memo
    row.reference = notice.reference
    row.raw_message = base64.b64encode(notice.raw).decode("ascii")
    uow.session.add(row)
    return row


def _decision_row(
    uow: UnitOfWork,
    row: PaymentNotification,
    decision: Decision,
    ranked: list[Scored],
    now: Any,
) -> MatchDecision:
    reasons = decision.reasons_json()
    if not decision.matched:
        reasons += [
            {"feature": "candidate", "booking_id": str(s.booking.id), "score": round(s.score, 3)}
            for s in ranked[:_CANDIDATES_KEPT]
        ]
    best = decision.best
    return MatchDecision(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        notification_id=row.id,
        booking_id=best.booking.id if best else None,
        action=MatchAction.AUTO_MATCHED if decision.matched else MatchAction.QUEUED,
        confidence=_score(best.score if best else None),
        runner_up_confidence=_score(decision.runner_up),
        reasons=reasons,
        decided_by=MATCHER,
        decided_at=now,
        created_at=now,
        updated_at=now,
    )
