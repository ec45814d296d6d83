"""The open bookings of a tenant, loaded once per batch, and the lookups a notice needs.

`OpenBook.load` reads every booking that can still take money (confirmed, deposit paid, paid
with a balance left) with what was paid on it, and opens the names of its customer and of the
lead who booked, in one batch. In memory it indexes them by every amount a single payment
would plausibly be (deposit, balance, all), by booking code, by data subject, by customer and
by surname, so a notice finds its candidates without a query. `clues_for` resolves, for a
whole batch at once, the payers' e-mail addresses, phone numbers and confirmed aliases to
subjects and customers through blind indexes: nothing is decrypted to find them.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.domain.bookings import PAYABLE_STATES, booking_code
from tenantry.errors import ValidationError
from tenantry.models import Booking, Customer, Lead, PayerAlias, Payment, Subject
from tenantry.models.enums import KeyPurpose, PaymentStatus
from tenantry.payments.matching import (
    Clues,
    OpenBooking,
    Person,
    Policy,
    amount_weight,
    mention_weight,
)
from tenantry.payments.names import name_key, tokens
from tenantry.payments.notices import Notice
from tenantry.privacy.crypto import blind_index, key_version_of
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.sealing import FetchedKeys
from tenantry.privacy.subjects import email_index, phone_index
from tenantry.privacy.vault import keyring
from tenantry.repositories.commerce import paid_cents_expression
from tenantry.services.reads import subject_key_lateral

__all__ = ["OpenBook", "alias_key", "clues_for"]

_CODE = re.compile(r"\b([0-9A-Fa-f]{8})\b")
_PHONE = re.compile(r"\+?\d[\d ()./-]{6,18}\d")
# A surname shared by more bookings than this is no way to find candidates (it still scores);
# an amount shared by more than this many brings only the bookings whose surname was named.
_NAME_BUCKET_LIMIT = 40
_AMOUNT_BUCKET_LIMIT = 60


def alias_key(ring: KeyRing, payer_name: str) -> bytes:
    """The keyed hash under which a confirmed payer's name is remembered."""
    return blind_index(ring.field_index_key("payer_name"), name_key(payer_name))


@dataclass
class OpenBook:
    """Open bookings with in-memory indexes for candidate lookup."""

    bookings: dict[uuid.UUID, OpenBooking] = field(default_factory=dict)
    # Each index maps a key to the bookings that carry it, by id (cheap to add and drop).
    by_amount: dict[tuple[str, int], dict[uuid.UUID, OpenBooking]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    by_code: dict[str, dict[uuid.UUID, OpenBooking]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    by_subject: dict[uuid.UUID, dict[uuid.UUID, OpenBooking]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    by_customer: dict[uuid.UUID, dict[uuid.UUID, OpenBooking]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    by_surname: dict[str, dict[uuid.UUID, OpenBooking]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    @classmethod
    def load(cls, uow: UnitOfWork, *, only: Iterable[uuid.UUID] | None = None) -> OpenBook:
        """Every booking of the tenant that can take money now (or just those in `only`)."""
        tenant = uow.require_tenant()
        # One pass over the tenant's payments (a hash join), whatever the planner knows.
        paid = (
            sa.select(Payment.booking_id, sa.func.sum(paid_cents_expression()).label("cents"))
            .where(Payment.tenant_id == tenant, Payment.status == PaymentStatus.SUCCEEDED)
            .group_by(Payment.booking_id)
            .subquery("paid")
        )
        stmt = (
            sa.select(
                Booking.id,
                Booking.customer_id,
                Booking.subject_id,
                Booking.lead_id,
                Booking.total_cents,
                Booking.deposit_cents,
                Booking.currency,
                Booking.starts_at,
                Booking.created_at,
                sa.func.coalesce(paid.c.cents, 0).label("paid"),
            )
            .outerjoin(paid, paid.c.booking_id == Booking.id)
            .where(
                Booking.tenant_id == tenant,
                Booking.status.in_([s.value for s in PAYABLE_STATES]),
                Booking.deleted_at.is_(None),
            )
        )
        if only is not None:
            stmt = stmt.where(Booking.id.in_(list(only)))
        rows = uow.session.execute(stmt).all()
        book = cls()
        customers = {r.customer_id for r in rows}
        leads = {r.lead_id for r in rows if r.lead_id is not None}
        people = _people(uow, customers, leads)
        for r in rows:
            if int(r.paid) >= r.total_cents:
                continue
            who = [people[r.customer_id]] if r.customer_id in people else []
            lead = people.get(r.lead_id) if r.lead_id else None
            if lead is not None and lead not in who:
                who.append(lead)
            book.add(
                OpenBooking(
                    id=r.id,
                    customer_id=r.customer_id,
                    subject_id=r.subject_id,
                    code=booking_code(r.id),
                    total_cents=r.total_cents,
                    deposit_cents=r.deposit_cents,
                    paid_cents=int(r.paid),
                    currency=r.currency,
                    starts_at=r.starts_at,
                    created_at=r.created_at,
                    people=tuple(who),
                )
            )
        return book

    def refresh(self, uow: UnitOfWork, booking_ids: Iterable[uuid.UUID]) -> None:
        """Read these bookings again (after payments were recorded on them)."""
        wanted = set(booking_ids)
        for booking_id in wanted:
            old = self.bookings.pop(booking_id, None)
            if old is not None:
                for index, key in self._keys(old):
                    index.get(key, {}).pop(old.id, None)
        for booking in OpenBook.load(uow, only=wanted).bookings.values():
            self.add(booking)

    def _keys(self, booking: OpenBooking) -> Iterator[tuple[dict[Any, Any], Any]]:
        """Every index entry of the booking."""
        for _part, cents in booking.parts():
            yield self.by_amount, (booking.currency, cents)
        yield self.by_code, booking.code
        if booking.subject_id is not None:
            yield self.by_subject, booking.subject_id
        yield self.by_customer, booking.customer_id
        for person in booking.people:
            for word in tokens(person.last_name):
                if len(word) >= 3:
                    yield self.by_surname, word

    def add(self, booking: OpenBooking) -> None:
        self.bookings[booking.id] = booking
        for index, key in self._keys(booking):
            index[key][booking.id] = booking

    def candidates(self, notice: Notice, clues: Clues, policy: Policy) -> list[OpenBooking]:
        """Bookings worth scoring for the notice.

        Always those its booking code, its payer's contact data or a confirmed alias point
        to. Then the bookings an amount fits, all of them while they are few; where many share
        the amount (per-guest prices make that common), only those whose people's surname the
        payer's name or the memo carries. Bookings of a rare surname come in on the name
        alone (a partial payment by the customer).
        """
        found: dict[uuid.UUID, OpenBooking] = {}
        for code in clues.codes:
            found.update(self.by_code.get(code, {}))
        for subject in clues.subjects:
            found.update(self.by_subject.get(subject, {}))
        for customer in clues.alias_customers:
            found.update(self.by_customer.get(customer, {}))
        amounts = [
            bucket
            for cents in _plausible_parts(notice, policy)
            if (bucket := self.by_amount.get((notice.currency, cents)))
        ]
        words = {w for w in (*tokens(notice.payer_name), *tokens(notice.memo)) if len(w) >= 3}
        names = [bucket for w in words if (bucket := self.by_surname.get(w))]
        if sum(len(bucket) for bucket in amounts) <= _AMOUNT_BUCKET_LIMIT:
            for bucket in amounts:
                found.update(bucket)
        else:
            for bucket in names:
                for fit in amounts:  # set intersections of the two id views, in C
                    found.update((i, bucket[i]) for i in bucket.keys() & fit.keys())
        for bucket in names:
            if len(bucket) <= _NAME_BUCKET_LIMIT:
                found.update(bucket)
        return list(found.values())

    def amount(self, currency: str, cents: int) -> float:
        """The weight of a payment of exactly `cents` (see `matching.amount_weight`)."""
        return amount_weight(len(self.by_amount.get((currency, cents), ())), len(self.bookings))

    def surname(self, last_name: str | None, share: float = 0.3) -> float:
        """The weight of evidence naming this surname (see `matching.mention_weight`)."""
        words = [w for w in tokens(last_name) if len(w) >= 3]
        sharing = min((len(self.by_surname.get(w, ())) for w in words), default=0)
        return mention_weight(sharing, len(self.bookings), share)

    def codes_in(self, *texts: str | None) -> frozenset[str]:
        """Booking codes of open bookings written in these texts."""
        found = {m.upper() for text in texts if text for m in _CODE.findall(text)}
        return frozenset(c for c in found if c in self.by_code)


def _plausible_parts(notice: Notice, policy: Policy) -> set[int]:
    """Part amounts this notice may settle: itself, before or after a fee, or twice it."""
    a = notice.amount_cents
    out = {a, 2 * a - 1, 2 * a, 2 * a + 1, a + notice.fee_cents}
    for fee in policy.fees.get(notice.provider, ()):
        rate = fee.rate_bp / 10_000
        for guess in ((a + fee.fixed_cents) / (1 - rate), (a - fee.fixed_cents) / (1 + rate)):
            centre = round(guess)
            out.update(range(centre - 2, centre + 3))
    return {c for c in out if c > 0}


def _people(
    uow: UnitOfWork, customers: set[uuid.UUID], leads: set[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """First and last names of these customers and leads, keys read in the same query.

    Tens of thousands of names open here per batch: rows are read as tuples with their subject
    key (no ORM objects), and each key is unwrapped once (`FetchedKeys`).
    """
    tenant = uow.require_tenant()
    ring = keyring(uow)
    out: dict[uuid.UUID, Person] = {}
    for model, ids in ((Customer, customers), (Lead, leads)):
        table = model.__table__
        key = subject_key_lateral(table)
        stmt = (
            sa.select(
                table.c.id,
                table.c.subject_id,
                table.c.first_name,
                table.c.last_name,
                key.c.version,
                key.c.wrapping_version,
                key.c.wrapped_key,
            )
            .select_from(table.outerjoin(key, sa.true()))
            .where(table.c.tenant_id == tenant, table.c.id == sa.func.any(sa.bindparam("ids")))
        )
        rows = uow.session.execute(stmt, {"ids": list(ids)}).all() if ids else []
        versions = {r.wrapping_version for r in rows if r.wrapped_key is not None}
        versions |= {
            key_version_of(r.first_name) for r in rows if r.subject_id is None and r.first_name
        }
        wrapping = {v: ring.tenant_key(KeyPurpose.WRAPPING, v) for v in versions}
        keys = FetchedKeys(tenant, wrapping)
        name = model.__tablename__
        name = f"{table.schema}.{name}"
        for r in rows:
            if r.subject_id is not None and r.version is not None:
                keys.add_subject(r.subject_id, r.version, r.wrapping_version, r.wrapped_key)
            opened = keys.open_row(
                name, r.id, r.subject_id, (("first_name", r.first_name), ("last_name", r.last_name))
            )
            out[r.id] = Person(opened["first_name"], opened["last_name"])
    return out


def _phones(notice: Notice) -> list[str]:
    found = [notice.payer_phone] if notice.payer_phone else []
    for text in (notice.memo, notice.reference):
        if text:
            found += [m.group(0) for m in _PHONE.finditer(text)]
    return found


def clues_for(
    uow: UnitOfWork, ring: KeyRing, book: OpenBook, notices: Sequence[Notice]
) -> list[Clues]:
    """For each notice: the subjects its payer's contact data points to, aliases, codes."""
    tenant = uow.require_tenant()
    emails: dict[int, bytes] = {}
    phones: dict[int, list[bytes]] = defaultdict(list)
    aliases: dict[int, bytes] = {}
    for i, n in enumerate(notices):
        if n.payer_email:
            with contextlib.suppress(ValidationError):
                emails[i] = email_index(ring, n.payer_email)
        for raw in _phones(n):
            try:
                phones[i].append(phone_index(ring, raw)[0])
            except ValidationError:
                continue
        if n.payer_name and name_key(n.payer_name):
            aliases[i] = alias_key(ring, n.payer_name)
    by_email: dict[bytes, uuid.UUID] = {}
    by_phone: dict[bytes, set[uuid.UUID]] = defaultdict(set)
    if emails:
        for sid, bidx in uow.session.execute(
            sa.select(Subject.id, Subject.email_bidx).where(
                Subject.tenant_id == tenant,
                Subject.erased_at.is_(None),
                Subject.email_bidx.in_(set(emails.values())),
            )
        ):
            if bidx is not None:
                by_email[bidx] = sid
    wanted_phones = {p for ps in phones.values() for p in ps}
    if wanted_phones:
        for sid, bidx in uow.session.execute(
            sa.select(Subject.id, Subject.phone_bidx).where(
                Subject.tenant_id == tenant,
                Subject.erased_at.is_(None),
                Subject.phone_bidx.in_(wanted_phones),
            )
        ):
            if bidx is not None:
                by_phone[bidx].add(sid)
    by_alias: dict[bytes, set[uuid.UUID]] = defaultdict(set)
    if aliases:
        for customer, key in uow.session.execute(
            sa.select(PayerAlias.customer_id, PayerAlias.payer_key).where(
                PayerAlias.tenant_id == tenant, PayerAlias.payer_key.in_(set(aliases.values()))
            )
        ):
            by_alias[key].add(customer)
    out = []
    for i, n in enumerate(notices):
        subjects = {by_email[emails[i]]} if emails.get(i) in by_email else set()
        for p in phones.get(i, ()):
            subjects |= by_phone.get(p, set())
        out.append(
            Clues(
                subjects=frozenset(subjects),
                alias_customers=frozenset(by_alias.get(aliases[i], ()))
                if i in aliases
                else (frozenset()),
                codes=book.codes_in(n.memo, n.reference),
            )
        )
    return out
