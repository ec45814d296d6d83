"""The credits ledger of partners: purchases in expiring lots, consumption, refunds, expiry.

Every change of a partner's credits happens under the row lock of its `credit_balances` row,
in the caller's transaction, together with the append-only `credit_entries` that explain it
and the lots it touches; the balance's CHECK (balance >= 0) is the last line of defence, the
lock is what makes two concurrent spends see each other. Callers take that lock before their
transaction's first write (the audit trail's chain head is held from there to the commit),
so two credit changes never wait for each other in opposite order. Consumption takes from
the lot that expires first. Lots past their expiry are expired (an `expiry` entry for their unspent
remainder) whenever a balance is locked and by `expire_due`. A refund returns credits to the
lots the assignment consumed. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, NotFoundError, ValidationError
from tenantry.models.partners import CreditBalance, CreditEntry, CreditEntryKind, CreditLot, Partner

__all__ = [
    "DEFAULT_VALID_DAYS",
    "MAX_PURCHASE",
    "Balance",
    "InsufficientCreditsError",
    "balance_of",
    "consume",
    "expire_due",
    "history",
    "lock_balance",
    "lock_balances",
    "purchase",
    "refund",
    "refundable",
]

DEFAULT_VALID_DAYS = 365
MAX_PURCHASE = 1_000_000


class InsufficientCreditsError(ConflictError):
    """The partner has not enough credits for this."""


@dataclass(frozen=True)
class Balance:
    partner_id: uuid.UUID
    location_id: uuid.UUID
    balance: int
    spendable: int  # without the lots past their expiry that no expiry run has written off yet


def _add(uow: UnitOfWork, obj: sa.orm.DeclarativeBase) -> None:
    obj.tenant_id = uow.require_tenant()  # type: ignore[attr-defined]
    obj.id = uow.ids()  # type: ignore[attr-defined]
    uow.session.add(obj)


def _positive(amount: int, what: str = "amount") -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationError(f"{what} must be a positive whole number of credits")
    if amount > MAX_PURCHASE:
        raise ValidationError(f"{what} must be at most {MAX_PURCHASE:,} credits")


def lock_balances(
    uow: UnitOfWork, partners: list[Partner], now: datetime, actor: str
) -> dict[uuid.UUID, CreditBalance]:
    """The partners' balance rows, locked to the end of the transaction in partner order (all
    before any write), then their lots past expiry expired."""
    ids = sorted(p.id for p in partners)
    if not ids:
        return {}
    t = uow.require_tenant()
    stmt = (
        sa.select(CreditBalance)
        .where(CreditBalance.tenant_id == t, CreditBalance.partner_id.in_(ids))
        .order_by(CreditBalance.partner_id)
        .with_for_update()
    )
    rows = {b.partner_id: b for b in uow.session.scalars(stmt)}
    missing = [pid for pid in ids if pid not in rows]
    if missing:
        # A partner made before its balance row (set_partner makes both): create it now; a
        # concurrent creator makes one of the two fail on the unique key.
        for pid in missing:
            row = CreditBalance(partner_id=pid, balance=0)
            _add(uow, row)
        uow.session.flush()
        rows = {b.partner_id: b for b in uow.session.scalars(stmt)}
    for pid in ids:
        _expire_locked(uow, rows[pid], now, actor)
    return rows


def lock_balance(uow: UnitOfWork, partner: Partner, now: datetime, actor: str) -> CreditBalance:
    """The partner's balance row, locked to the end of the transaction, with due lots expired."""
    return lock_balances(uow, [partner], now, actor)[partner.id]


def _entry(
    uow: UnitOfWork,
    bal: CreditBalance,
    kind: CreditEntryKind,
    amount: int,
    lot: CreditLot,
    actor: str,
    assignment_id: uuid.UUID | None = None,
) -> CreditEntry:
    bal.balance += amount
    if bal.balance < 0:
        raise InsufficientCreditsError()
    entry = CreditEntry(
        partner_id=bal.partner_id,
        kind=kind,
        amount=amount,
        balance_after=bal.balance,
        lot_id=lot.id,
        assignment_id=assignment_id,
        actor=actor,
    )
    _add(uow, entry)
    return entry


def _locked_lots(
    uow: UnitOfWork, bal: CreditBalance, expiry: sa.ColumnElement[bool]
) -> Sequence[CreditLot]:
    """The partner's lots with credits left whose expiry passes `expiry`, expiring first,
    locked."""
    return uow.session.scalars(
        sa.select(CreditLot)
        .where(
            CreditLot.tenant_id == bal.tenant_id,
            CreditLot.partner_id == bal.partner_id,
            CreditLot.remaining > 0,
            expiry,
        )
        .order_by(CreditLot.expires_at, CreditLot.id)
        .with_for_update()
    ).all()


def _expire_locked(uow: UnitOfWork, bal: CreditBalance, now: datetime, actor: str) -> int:
    lots = _locked_lots(uow, bal, CreditLot.expires_at <= now)
    expired = 0
    for lot in lots:
        _entry(uow, bal, CreditEntryKind.EXPIRY, -lot.remaining, lot, actor)
        expired += lot.remaining
        lot.remaining = 0
    if lots:
        uow.session.flush()
    return expired


def purchase(
    uow: UnitOfWork,
    partner: Partner,
    amount: int,
    *,
    now: datetime,
    actor: str,
    valid_days: int = DEFAULT_VALID_DAYS,
) -> CreditEntry:
    """Add a lot of `amount` credits that expires after `valid_days`."""
    _positive(amount)
    if not 1 <= valid_days <= 3660:
        raise ValidationError("valid_days must be between 1 and 3660")
    bal = lock_balance(uow, partner, now, actor)
    lot = CreditLot(
        partner_id=partner.id,
        amount=amount,
        remaining=amount,
        purchased_at=now,
        expires_at=now + timedelta(days=valid_days),
    )
    _add(uow, lot)
    uow.session.flush()
    entry = _entry(uow, bal, CreditEntryKind.PURCHASE, amount, lot, actor)
    uow.session.flush()
    return entry


def consume(
    uow: UnitOfWork,
    bal: CreditBalance,
    amount: int,
    assignment_id: uuid.UUID,
    *,
    now: datetime,
    actor: str,
) -> list[CreditEntry]:
    """Spend `amount` credits on an assignment, from the lots expiring first (`bal` locked)."""
    _positive(amount)
    if bal.balance < amount:
        raise InsufficientCreditsError()
    lots = _locked_lots(uow, bal, CreditLot.expires_at > now)
    entries, left = [], amount
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.remaining)
        lot.remaining -= take
        left -= take
        entries.append(
            _entry(uow, bal, CreditEntryKind.CONSUMPTION, -take, lot, actor, assignment_id)
        )
    if left:
        raise InsufficientCreditsError()
    uow.session.flush()
    return entries


def _spent_per_lot(
    uow: UnitOfWork, partner: Partner, assignment_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Per lot, the net credits an assignment moved (consumption negative, refunds positive)."""
    rows = uow.session.execute(
        sa.select(CreditEntry.lot_id, sa.func.sum(CreditEntry.amount))
        .where(
            CreditEntry.tenant_id == partner.tenant_id,
            CreditEntry.partner_id == partner.id,
            CreditEntry.assignment_id == assignment_id,
            CreditEntry.kind.in_([CreditEntryKind.CONSUMPTION, CreditEntryKind.REFUND]),
        )
        .group_by(CreditEntry.lot_id)
    ).all()
    return {lot_id: int(total) for lot_id, total in rows}


def refundable(uow: UnitOfWork, partner: Partner, assignment_id: uuid.UUID) -> int:
    """The credits of an assignment not yet given back (0 once refunded in full)."""
    return -sum(t for t in _spent_per_lot(uow, partner, assignment_id).values() if t < 0)


def refund(
    uow: UnitOfWork,
    partner: Partner,
    assignment_id: uuid.UUID,
    *,
    now: datetime,
    actor: str,
    amount: int | None = None,
) -> list[CreditEntry]:
    """Give back (part of) what an assignment consumed, to the lots it came from."""
    if amount is not None:
        _positive(amount)
    bal = lock_balance(uow, partner, now, actor)
    per_lot = _spent_per_lot(uow, partner, assignment_id)
    open_by_lot = {lot_id: -total for lot_id, total in per_lot.items() if total < 0}
    open_total = sum(open_by_lot.values())
    if not per_lot:
        raise NotFoundError("this partner spent no credits on that assignment")
    wanted = open_total if amount is None else amount
    if wanted == 0 or wanted > open_total:
        raise ValidationError(f"at most {open_total} credits of that assignment can be refunded")
    entries, left = [], wanted
    lots = uow.session.scalars(
        sa.select(CreditLot)
        .where(CreditLot.tenant_id == partner.tenant_id, CreditLot.id.in_(list(open_by_lot)))
        .order_by(CreditLot.expires_at.desc(), CreditLot.id)
        .with_for_update()
    ).all()
    for lot in lots:
        if left == 0:
            break
        back = min(left, open_by_lot[lot.id])
        lot.remaining += back
        left -= back
        entries.append(_entry(uow, bal, CreditEntryKind.REFUND, back, lot, actor, assignment_id))
    uow.session.flush()
    return entries


def expire_due(uow: UnitOfWork, now: datetime, actor: str) -> dict[uuid.UUID, int]:
    """Expire the unspent remainder of every lot past its expiry; credits per partner."""
    partner_ids = uow.session.scalars(
        sa.select(CreditLot.partner_id)
        .where(
            CreditLot.tenant_id == uow.require_tenant(),
            CreditLot.remaining > 0,
            CreditLot.expires_at <= now,
        )
        .distinct()
        .order_by(CreditLot.partner_id)
    ).all()
    if not partner_ids:
        return {}
    t = uow.require_tenant()
    before = dict(
        uow.session.execute(
            sa.select(CreditBalance.partner_id, CreditBalance.balance).where(
                CreditBalance.tenant_id == t, CreditBalance.partner_id.in_(partner_ids)
            )
        ).all()
    )
    found = uow.session.scalars(
        sa.select(Partner).where(Partner.tenant_id == t, Partner.id.in_(partner_ids))
    ).all()
    after = lock_balances(uow, list(found), now, actor)
    return {pid: int(before.get(pid) or 0) - bal.balance for pid, bal in after.items()}


def balance_of(uow: UnitOfWork, partner: Partner, now: datetime) -> Balance:
    bal = uow.session.scalar(
        sa.select(CreditBalance.balance).where(
            CreditBalance.tenant_id == partner.tenant_id, CreditBalance.partner_id == partner.id
        )
    )
    stale = uow.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditLot.remaining), 0)).where(
            CreditLot.tenant_id == partner.tenant_id,
            CreditLot.partner_id == partner.id,
            CreditLot.remaining > 0,
            CreditLot.expires_at <= now,
        )
    )
    total = int(bal or 0)
    return Balance(partner.id, partner.location_id, total, total - int(stale or 0))


def history(uow: UnitOfWork, partner: Partner, limit: int = 100) -> list[CreditEntry]:
    """The partner's ledger entries, newest first."""
    return list(
        uow.session.scalars(
            sa.select(CreditEntry)
            .where(CreditEntry.tenant_id == partner.tenant_id, CreditEntry.partner_id == partner.id)
            .order_by(CreditEntry.created_at.desc(), CreditEntry.id.desc())
            .limit(limit)
        )
    )
