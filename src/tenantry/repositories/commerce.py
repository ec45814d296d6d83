"""Repositories of the `commerce` schema: bookings (with items) and payments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tenantry.models import Booking, BookingItem, Payment
from tenantry.models.enums import PaymentKind, PaymentStatus
from tenantry.repositories.base import TenantRepository

if TYPE_CHECKING:
    from tenantry.db.uow import UnitOfWork

__all__ = ["BookingRepository", "PaymentRepository", "paid_cents_expression"]


class BookingRepository(TenantRepository[Booking]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, Booking)

    def add_item(self, item: BookingItem) -> BookingItem:
        item.tenant_id = self.tenant_id
        item.id = self.uow.ids()
        self.session.add(item)
        return item

    def lock_many(self, ids: Sequence[uuid.UUID]) -> list[Booking]:
        """These bookings (not deleted), locked for update in id order."""
        stmt = (
            sa.select(Booking)
            .where(
                Booking.tenant_id == self.tenant_id,
                Booking.id.in_(list(ids)),
                Booking.deleted_at.is_(None),
            )
            .order_by(Booking.id)
            .with_for_update()
        )
        return list(self.session.scalars(stmt)) if ids else []

    def items(self, booking_id: uuid.UUID) -> list[BookingItem]:
        stmt = sa.select(BookingItem).where(
            BookingItem.tenant_id == self.tenant_id, BookingItem.booking_id == booking_id
        )
        return list(self.session.scalars(stmt.order_by(BookingItem.id)))


class PaymentRepository(TenantRepository[Payment]):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, Payment)

    def for_booking(self, booking_id: uuid.UUID) -> list[Payment]:
        stmt = sa.select(Payment).where(
            Payment.tenant_id == self.tenant_id, Payment.booking_id == booking_id
        )
        return list(self.session.scalars(stmt.order_by(Payment.id)))

    def paid_cents_of(self, booking_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """`paid_cents` of many bookings in one query (absent: nothing paid)."""
        if not booking_ids:
            return {}
        stmt = (
            sa.select(Payment.booking_id, sa.func.sum(paid_cents_expression()))
            .where(
                Payment.tenant_id == self.tenant_id,
                Payment.booking_id.in_(list(booking_ids)),
                Payment.status == PaymentStatus.SUCCEEDED,
            )
            .group_by(Payment.booking_id)
        )
        return {booking: int(paid or 0) for booking, paid in self.session.execute(stmt)}

    def paid_cents(self, booking_id: uuid.UUID) -> int:
        """Succeeded payments toward the booking total, net of refunds (tips excluded)."""
        stmt = sa.select(sa.func.coalesce(sa.func.sum(paid_cents_expression()), 0)).where(
            Payment.tenant_id == self.tenant_id,
            Payment.booking_id == booking_id,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
        return int(self.session.scalar(stmt) or 0)


def paid_cents_expression() -> sa.ColumnElement[int]:
    """A payment's contribution to its booking's paid amount: refunds count against it, tips
    not at all (sum it over the booking's succeeded payments)."""
    return sa.case(
        (Payment.kind == PaymentKind.REFUND, -Payment.amount_cents),
        (Payment.kind == PaymentKind.TIP, 0),
        else_=Payment.amount_cents,
    )
